"""The IT support regulation (DOMAIN §2) walked through the API with a frozen clock.

Working days 09:00-18:00 in Asia/Yekaterinburg (UTC+5), Russian public holidays.
The expected deadlines below are worked out by hand from the regulation's table,
not by the calendar code under test.
"""
from __future__ import annotations

import datetime as dt

import holidays
import pytest
from sqlalchemy import select

from runtime import clock
from runtime.behaviour.calendars import country_days
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app
from tests.api.conftest import Client
from tests.conftest import APPS

YEKT = dt.timezone(dt.timedelta(hours=5))


def local(y, m, d, hh, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=YEKT)


# Thursday 11 June 2026, 16:30 local, half an hour before the end of the day: Friday 12 June is
# Russia Day (then a weekend), so Thursday is its eve and an hour short (09:00-17:00).
T0 = local(2026, 6, 11, 16, 30)
EXPECTED = {  # priority: (reaction due, resolution due), in business hours from T0
    "1": (local(2026, 6, 15, 9, 30), local(2026, 6, 17, 14, 30)),    # 1 h, 24 h
    "2": (local(2026, 6, 15, 12, 30), local(2026, 6, 18, 17, 30)),   # 4 h, 36 h
    "3": (local(2026, 6, 17, 14, 30), local(2026, 6, 22, 11, 30)),   # 24 h, 48 h
    "4": (local(2026, 6, 22, 11, 30), local(2026, 6, 24, 17, 30)),   # 48 h, 72 h
}


def parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(T0)
    yield
    clock.thaw()


def test_the_calendar_facts_the_expectations_rely_on():
    ru = holidays.country_holidays("RU", years=2026)
    assert dt.date(2026, 6, 12) in ru
    assert dt.date(2026, 6, 11) in country_days("RU", 2026)[2]  # the eve of a holiday is short
    for day in range(13, 27):
        d = dt.date(2026, 6, day)
        assert d not in ru and d not in ru.weekend_workdays


class Support:
    """The it_support app with its people: lines with leads, system owners, requesters."""

    def __init__(self, loom, app):
        self.loom, self.app = loom, app
        accounts = loom.accounts
        g = platform.group
        with loom.reader.connect() as c:
            self.groups = dict(c.execute(select(g.c.name, g.c.id)).all())
        self.users, self.clients = {}, {}

        def person(name, roles, group=None, lead=False, skills=None):
            uid = accounts.create_user(name, None, email=f"{name}@corp.example",
                                       roles=[f"it_support:{role}" for role in roles],
                                       lang="en" if name == "req4" else "ru")
            self.users[name] = uid
            if skills:
                with loom.engine.begin() as c:
                    c.execute(platform.user.update().where(platform.user.c.id == uid).values(skills=skills))
            if group:
                accounts.add_to_group(uid, self.groups[group])
                if lead:
                    accounts.update_group(self.groups[group], lead_id=uid)
            self.clients[name] = Client(app.test_client(), accounts.issue_token(uid))

        for line in ("line1", "line2", "adjacent", "development", "infrastructure"):
            accounts.update_group(self.groups[line], email=f"{line}@corp.example")
            person(f"{line}_lead", ["lead"], line, lead=True)
        for name in ("l1a", "l1b"):
            person(name, ["agent"], "line1")
        for name in ("l2a", "l2b", "l2c"):
            person(name, ["agent"], "line2")
        person("adj_crm", ["agent"], "adjacent", skills=["CRM"])
        person("adj_erp", ["agent"], "adjacent", skills=["ERP"])
        person("dev1", ["agent"], "development")
        person("tech_owner", ["lead"])
        person("biz_owner", ["lead"])
        for name in ("req1", "req2", "req3", "req4"):
            person(name, ["requester"])
        admin_id = accounts.create_user("admin", None, is_admin=True)
        self.admin = Client(app.test_client(), accounts.issue_token(admin_id))
        self.crm = self.admin.post("/api/v1/it_support/system", {
            "name": "CRM", "technical_owner": self.users["tech_owner"],
            "business_owner": self.users["biz_owner"]}).get_json()
        self.erp = self.admin.post("/api/v1/it_support/system", {"name": "ERP"}).get_json()

    def ticket(self, requester="req1", **fields) -> dict:
        data = {"title": "Не открывается карточка клиента", "contact_name": "Иван Петров", "phone": "+79120000001",
                "description": "Ошибка 500 при открытии", "question_type": "technical", "system": self.crm["id"],
                **fields}
        response = self.clients[requester].post("/api/v1/it_support/ticket", data)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def fire(self, name, ticket, client="admin", **data) -> dict:
        response = self.clients[client].post(
            f"/api/v1/it_support/ticket/{ticket['id']}/transitions/{name}", data) if client != "admin" else \
            self.admin.post(f"/api/v1/it_support/ticket/{ticket['id']}/transitions/{name}", data)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def get(self, ticket) -> dict:
        return self.admin.get(f"/api/v1/it_support/ticket/{ticket['id']}").get_json()

    def sla(self, ticket) -> dict:
        response = self.admin.get(f"/api/v1/it_support/ticket/{ticket['id']}/sla")
        assert response.status_code == 200, response.get_json()
        return {t["target"]: t for t in response.get_json()}

    def mails(self, ticket=None, template=None) -> list:
        o = platform.outbox
        query = select(o).order_by(o.c.id)
        if ticket is not None:
            query = query.where(o.c.record_id == ticket["id"], o.c.entity == "ticket")
        if template is not None:
            query = query.where(o.c.template == template)
        with self.loom.reader.connect() as c:
            return c.execute(query).all()

    def inbox(self, user, template=None) -> list:
        n = platform.notification
        query = select(n).where(n.c.user_id == self.users[user])
        if template:
            query = query.where(n.c.template == template)
        with self.loom.reader.connect() as c:
            return c.execute(query.order_by(n.c.id)).all()

    def at(self, moment: dt.datetime) -> int:
        """Move the clock to ``moment`` and fire whatever timers are due; return how many fired."""
        clock.freeze(moment)
        return self.loom.timers.fire_due()


@pytest.fixture
def support(loom, tmp_path):
    loom.store.install(APPS / "it_support", author="tester")
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    return Support(loom, app)


# ---------------------------------------------------------------------- routing
def test_each_question_type_routes_to_its_line(support):
    g, u = support.groups, support.users
    technical = support.ticket(question_type="technical")
    assert technical["support_group"] == g["line2"]
    assert technical["assignee"] in {u["l2a"], u["l2b"], u["l2c"], u["line2_lead"]}

    access = support.ticket(question_type="access", requester="req2")
    assert access["support_group"] == g["line1"]
    assert access["assignee"] in {u["l1a"], u["l1b"], u["line1_lead"]}

    adjacent = support.ticket(question_type="adjacent", requester="req3")
    assert adjacent["support_group"] == g["adjacent"]
    assert adjacent["assignee"] == u["adj_crm"]  # the one whose skills name the ticket's system

    wish = support.ticket(question_type="improvement", title="Добавить выгрузку в Excel")
    assert wish["support_group"] == g["development"]
    assert wish["assignee"] is None  # manual: the development group takes it itself
    mails = support.mails(wish, "improvement_wish")
    assert {m.recipient for m in mails} >= {"development@corp.example", "dev1@corp.example"}
    assert support.sla(wish) == {}  # improvement wishes are outside the SLA
    assert set(support.sla(technical)) == {"reaction", "resolution"}


def test_least_loaded_spreads_technical_tickets_evenly(support):
    line2 = {support.users[n] for n in ("l2a", "l2b", "l2c", "line2_lead")}
    got = [support.ticket(requester=f"req{1 + i % 3}", symptom=None)["assignee"] for i in range(8)]
    assert set(got) == line2
    assert all(got.count(uid) == 2 for uid in line2)


def test_passing_a_ticket_to_another_group_reassigns_and_informs_the_requester(support):
    ticket = support.ticket()
    moved = support.admin.patch(f"/api/v1/it_support/ticket/{ticket['id']}",
                                {"support_group": support.groups["line1"], "row_version": ticket["row_version"]})
    assert moved.status_code == 200, moved.get_json()
    moved = moved.get_json()
    assert moved["support_group"] == support.groups["line1"]
    assert moved["assignee"] in {support.users[n] for n in ("l1a", "l1b", "line1_lead")}
    notices = support.mails(ticket, "ticket_moved")
    assert [m.recipient for m in notices] == ["req1@corp.example"]
    assert "Первая линия" in notices[0].subject
    assert support.inbox("req1", "ticket_moved")
    audit = support.admin.get(f"/api/v1/it_support/ticket/{ticket['id']}")  # still readable, history kept
    assert audit.status_code == 200


# ---------------------------------------------------------------------- SLA deadlines
@pytest.mark.parametrize("priority", ["1", "2", "3", "4"])
def test_reaction_and_resolution_deadlines_follow_the_table(support, priority):
    ticket = support.ticket(priority=priority)
    sla = support.sla(ticket)
    reaction, resolution = EXPECTED[priority]
    assert parse(sla["reaction"]["due_at"]) == reaction
    assert parse(sla["resolution"]["due_at"]) == resolution
    assert sla["reaction"]["state"] == "running"


def test_taking_the_ticket_meets_the_reaction_target(support):
    ticket = support.ticket(priority="2")
    support.at(local(2026, 6, 15, 10, 0))  # Monday, 1.5 business hours used of 4
    support.fire("take", ticket, client="l2a")
    sla = support.sla(ticket)
    assert sla["reaction"]["state"] == "met"
    assert sla["reaction"]["used_seconds"] == 90 * 60
    assert sla["resolution"]["state"] == "running"


def test_priority_change_recomputes_targets_from_the_start(support):
    ticket = support.ticket(priority="4")
    support.at(local(2026, 6, 15, 10, 0))
    fresh = support.get(ticket)
    changed = support.admin.patch(f"/api/v1/it_support/ticket/{ticket['id']}",
                                  {"priority": "1", "row_version": fresh["row_version"]}).get_json()
    assert changed["priority"] == "1"
    sla = support.sla(ticket)
    assert parse(sla["reaction"]["due_at"]) == EXPECTED["1"][0]  # from T0, not from the change
    assert parse(sla["resolution"]["due_at"]) == EXPECTED["1"][1]
    assert sla["reaction"]["state"] == "breached"  # 1.5 h used of 1 h


# ---------------------------------------------------------------------- escalations
def test_escalations_at_100_and_110_percent_fire_once_with_the_right_recipients(support):
    ticket = support.ticket(priority="1")  # line2; reaction due Monday 09:30, 110 % at 09:36
    assert support.at(local(2026, 6, 15, 9, 29)) == 0
    assert support.mails(ticket, "escalation_1") == []

    support.at(local(2026, 6, 15, 9, 30))
    level1 = support.mails(ticket, "escalation_1")
    assert len(level1) == 1
    assert level1[0].recipient == "line2_lead@corp.example"
    # The target by its title, the deadline as the desk's clock on the wall shows it (UTC+5).
    assert "не уложилось в срок «Реакция» (2026-06-15 09:30)" in level1[0].body, level1[0].body
    assert set(level1[0].cc) == {"line2@corp.example", "l2a@corp.example", "l2b@corp.example",
                                 "l2c@corp.example"}
    assert support.mails(ticket, "escalation_2") == []
    assert support.sla(ticket)["reaction"]["level"] == 1
    assert support.sla(ticket)["reaction"]["breached"] is True

    support.at(local(2026, 6, 15, 9, 36))
    level2 = support.mails(ticket, "escalation_2")
    assert sorted(m.recipient for m in level2) == ["biz_owner@corp.example", "tech_owner@corp.example"]
    assert set(level2[0].cc) >= {"line2_lead@corp.example", "line2@corp.example", "l2a@corp.example"}
    assert support.inbox("line2_lead", "escalation_1") and support.inbox("tech_owner", "escalation_2")

    # later ticks find nothing left to do: each level once
    assert support.at(local(2026, 6, 15, 12, 0)) == 0
    assert len(support.mails(ticket, "escalation_1")) == 1
    assert len(support.mails(ticket, "escalation_2")) == 2


def test_taking_the_ticket_in_time_prevents_the_escalation(support):
    ticket = support.ticket(priority="1")
    support.at(local(2026, 6, 15, 9, 10))
    support.fire("take", ticket, client="l2a")
    support.at(local(2026, 6, 15, 9, 40))
    assert support.mails(ticket, "escalation_1") == []
    assert support.sla(ticket)["reaction"]["state"] == "met"


# ---------------------------------------------------------------------- waiting, silence
def test_waiting_for_the_user_pauses_the_resolution_clock(support):
    ticket = support.ticket(priority="3")  # resolution due Monday 22 June 11:30
    support.at(local(2026, 6, 15, 9, 0))
    support.fire("take", ticket, client="l2a")
    support.at(local(2026, 6, 15, 10, 0))
    support.fire("ask_user", ticket, client="l2a", question="Пришлите скриншот ошибки")
    assert support.mails(ticket, "question_to_user")[0].recipient == "req1@corp.example"
    assert support.sla(ticket)["resolution"]["state"] == "paused"
    support.at(local(2026, 6, 16, 15, 0))  # 14 business hours later (Mon 10-18, Tue 9-15)
    support.fire("user_replied", ticket, client="req1")
    resolution = support.sla(ticket)["resolution"]
    assert resolution["state"] == "running"
    # 22 June 11:30 plus 14 business hours: Mon 22 11:30-18:00 (6.5 h), Tue 23 9:00-16:30 (7.5 h)
    assert parse(resolution["due_at"]) == local(2026, 6, 23, 16, 30)


def test_five_working_days_of_silence_close_the_ticket(support):
    ticket = support.ticket(priority="3")
    support.at(local(2026, 6, 15, 10, 0))
    support.fire("take", ticket, client="l2a")
    support.fire("ask_user", ticket, client="l2a", question="Уточните номер договора")
    # 5 business days from Monday 10:00 is the next Monday 10:00
    support.at(local(2026, 6, 22, 9, 59))
    assert support.get(ticket)["status"] == "waiting_user"
    support.at(local(2026, 6, 22, 10, 0))
    closed = support.get(ticket)
    assert closed["status"] == "closed"
    assert "нет ответа" in closed["resolution"]
    history = support.admin.get(f"/api/v1/it_support/ticket/{ticket['id']}/history").get_json()
    assert [h["to"] for h in history] == ["in_work", "waiting_user", "closed"]
    assert history[-1]["transition"] == "timer:auto_close" and history[-1]["user"] == "system"
    assert support.mails(ticket, "closed_no_answer")


def test_the_record_page_shows_how_long_the_ticket_stayed_in_each_status(support):
    """Status history on the record page: each status with when it was entered, by what, and for how long."""
    import re

    from tests.ui.conftest import Browser
    ticket = support.ticket(priority="3")  # Thursday 11 June 16:30
    support.at(local(2026, 6, 15, 10, 0))
    support.fire("take", ticket, client="l2a")
    support.fire("ask_user", ticket, client="l2a", question="Уточните номер договора")
    support.at(local(2026, 6, 22, 10, 0))  # the silence timer closes it
    support.at(local(2026, 6, 22, 12, 30))
    support.loom.accounts.set_password("l2a", "agent-pass-123")
    page = Browser(support.app.test_client())
    assert page.post("/login", {"username": "l2a", "password": "agent-pass-123"}).status_code == 302
    html = page.get(f"/ui/it_support/ticket/{ticket['id']}").get_data(as_text=True)
    table = re.search(r'<table class="status-history" id="status-history">(.*?)</table>', html, re.S).group(1)
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]
    assert len(rows) == 4, rows
    assert rows[0].startswith("Зарегистрировано 3 д 17 ч ") and rows[0].endswith("создано · req1")
    assert rows[1].startswith("В работе 0 с ") and rows[1].endswith("Взять в работу · l2a")
    assert rows[2].startswith("Ожидает ответа пользователя 7 д ")
    assert rows[3].startswith("Закрыто 2 ч 30 мин пока ") and rows[3].endswith("(по таймеру) · system")
    assert '<tr class="current">' in table and table.count('class="current"') == 1


def test_an_answer_stops_the_silence_timer(support):
    ticket = support.ticket(priority="3")
    support.at(local(2026, 6, 15, 10, 0))
    support.fire("take", ticket, client="l2a")
    support.fire("ask_user", ticket, client="l2a", question="Уточните номер договора")
    support.at(local(2026, 6, 17, 10, 0))
    support.fire("user_replied", ticket, client="req1")
    support.at(local(2026, 6, 29, 10, 0))
    assert support.get(ticket)["status"] == "in_work"


def test_invalid_transitions_are_refused_with_the_reason(support):
    ticket = support.ticket()
    response = support.clients["l2a"].post(f"/api/v1/it_support/ticket/{ticket['id']}/transitions/confirm", {})
    assert response.status_code == 409
    assert "registered" in response.get_json()["detail"]
    response = support.clients["l2a"].post(f"/api/v1/it_support/ticket/{ticket['id']}/transitions/resolve", {})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "resolution"


# ---------------------------------------------------------------------- mass incidents
def test_three_users_with_the_same_symptom_make_a_mass_incident_resolved_together(support):
    first = support.ticket("req1", symptom="unavailable")
    support.at(T0 + dt.timedelta(minutes=20))
    second = support.ticket("req2", symptom="unavailable")
    same_user = support.ticket("req2", symptom="unavailable")
    assert support.get(first)["mass_incident"] is None  # two users so far
    support.at(T0 + dt.timedelta(minutes=50))
    third = support.ticket("req3", symptom="unavailable")
    parent_id = support.get(third)["mass_incident"]
    assert parent_id is not None
    parent = support.admin.get(f"/api/v1/it_support/ticket/{parent_id}").get_json()
    assert parent["is_mass"] is True and parent["priority"] == "1"
    members = {first["id"], second["id"], same_user["id"], third["id"]}
    assert {support.get({"id": i})["mass_incident"] for i in members} == {parent_id}

    other_symptom = support.ticket("req4", symptom="slow")
    assert support.get(other_symptom)["mass_incident"] is None
    support.at(T0 + dt.timedelta(hours=3))
    late = support.ticket("req4", symptom="unavailable")  # an open mass incident absorbs later tickets
    assert support.get(late)["mass_incident"] == parent_id

    support.fire("resolve", {"id": parent_id}, client="l2a", resolution="Перезапущен сервер приложений")
    for ticket_id in members | {late["id"]}:
        member = support.get({"id": ticket_id})
        assert member["status"] == "resolved"
        assert member["resolution"] == "Перезапущен сервер приложений"
    assert support.get(other_symptom)["status"] == "registered"


def test_tickets_spread_over_more_than_an_hour_are_not_a_mass_incident(support):
    support.ticket("req1", symptom="error")
    support.at(T0 + dt.timedelta(minutes=40))
    support.ticket("req2", symptom="error")
    support.at(T0 + dt.timedelta(minutes=70))
    third = support.ticket("req3", symptom="error")
    assert support.get(third)["mass_incident"] is None


def test_a_monitoring_alert_that_came_first_absorbs_later_tickets(support):
    alert = support.ticket("req1", title="Мониторинг: CRM недоступна", is_mass=True, source="monitoring",
                           symptom="unavailable", priority="1")
    ticket = support.ticket("req2", symptom="unavailable")
    assert support.get(ticket)["mass_incident"] == alert["id"]


# ---------------------------------------------------------------------- planned works
def test_planned_works_notice_is_refused_less_than_two_working_days_ahead(support):
    lead = support.clients["line2_lead"]
    base = {"name": "Обновление CRM до 5.2", "system": support.crm["id"], "reason": "Плановое обновление",
            "interruption": "2 часа", "responsible": support.users["line2_lead"],
            "technical_description": "Миграция схемы БД"}
    # now: Thursday 11 June 16:30; Friday is a holiday, so 2 working days ahead is Tuesday 16 June 16:30
    early = lead.post("/api/v1/it_support/planned_work", {**base, "start_at": local(2026, 6, 16, 10).isoformat(),
                                                          "end_at": local(2026, 6, 16, 12).isoformat()}).get_json()
    refused = lead.post(f"/api/v1/it_support/planned_work/{early['id']}/transitions/announce", {})
    assert refused.status_code in (409, 422), (refused.get_json(), support.loom)
    assert "2 рабочих дня" in refused.get_json()["detail"]
    assert lead.get(f"/api/v1/it_support/planned_work/{early['id']}").get_json()["status"] == "draft"

    ok = lead.post("/api/v1/it_support/planned_work", {**base, "start_at": local(2026, 6, 16, 18).isoformat(),
                                                       "end_at": local(2026, 6, 16, 20).isoformat()}).get_json()
    announced = lead.post(f"/api/v1/it_support/planned_work/{ok['id']}/transitions/announce", {})
    assert announced.status_code == 200, announced.get_json()
    o = platform.outbox
    with support.loom.reader.connect() as c:
        mails = c.execute(select(o).where(o.c.entity == "planned_work", o.c.record_id == ok["id"])).all()
    assert {m.recipient for m in mails} == {f"req{i}@corp.example" for i in range(1, 5)}
    english = next(m for m in mails if m.recipient == "req4@corp.example")
    assert "Planned works" in english.subject and "Expected interruption: 2 часа" in english.body
    russian = next(m for m in mails if m.recipient == "req1@corp.example")
    assert "Ожидаемый перерыв: 2 часа" in russian.body and "Миграция схемы БД" in russian.body


# ---------------------------------------------------------------------- the record page
def test_the_record_page_shows_sla_badges_and_status_history(support):
    from tests.ui.conftest import Browser
    support.loom.accounts.set_password("l2a", "agent-pass-123")
    ticket = support.ticket(priority="1")
    support.at(local(2026, 6, 15, 9, 15))  # reaction: 15 business minutes left
    page = Browser(support.app.test_client())
    assert page.post("/login", {"username": "l2a", "password": "agent-pass-123"}).status_code == 302
    html = page.get(f"/ui/it_support/ticket/{ticket['id']}").get_data(as_text=True)
    assert 'data-sla="reaction"' in html and "осталось 15 мин" in html
    support.at(local(2026, 6, 15, 10, 0))
    html = page.get(f"/ui/it_support/ticket/{ticket['id']}").get_data(as_text=True)
    assert "просрочено на 30 мин" in html
    support.fire("take", ticket, client="l2a")
    html = page.get(f"/ui/it_support/ticket/{ticket['id']}").get_data(as_text=True)
    assert "срок нарушен" in html  # the reaction target was missed, for good
