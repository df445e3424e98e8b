"""Acceptance: every module of the state IT service desk (DOMAIN §3) walked through the REST API
with a frozen clock, on SQLite and PostgreSQL, over the shipped demo data and staff:
calendar-plan works once per period, contract and licence expiry notices, requests finding their
contract (a client's too), least-loaded assignment, SLA escalation, a problem informing its
requests' requesters, an RFC approved by 2 of the board, CMDB health from monitoring, analytics."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from runtime import clock
from runtime.behaviour.scheduler import Scheduler
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.data.fixtures import load_fixtures
from runtime.data.reports import find_report, run_report
from runtime.web import create_app
from tests.api.conftest import Client  # noqa: F401
from tests.apps.users import as_user, ok, uid  # noqa: F401

APP = "service_desk"
API = f"/api/v1/{APP}"
UTC = dt.timezone.utc
MONDAY = dt.datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 10:00 in Moscow, a working Monday
OPEN = ("registered", "in_work", "waiting")


@pytest.fixture
def desk(service_desk, tmp_path):
    clock.freeze(MONDAY)
    load_fixtures(service_desk, APP)
    web = create_app(Settings(tmp_path, service_desk.database_url), service_desk)
    yield service_desk, web
    clock.thaw()


def one(api, entity, **where) -> dict:
    query = "&".join(f"{k}={v}" for k, v in where.items())
    [found] = ok(api.get(f"{API}/{entity}?{query}"))["items"]
    return found


def notices(loom, username, kind=None) -> list[str]:
    """A user's in-app notices from templates, or (``kind``) their personal ones of that kind."""
    n = platform.notification
    which = n.c.kind.is_(None) if kind is None else n.c.kind == kind
    with loom.engine.connect() as c:
        return list(c.execute(select(n.c.title).where(n.c.user_id == uid(loom, username), which)
                              .order_by(n.c.id)).scalars())


def mails(loom, template) -> list[str]:
    o = platform.outbox
    with loom.engine.connect() as c:
        return sorted(c.execute(select(o.c.recipient).where(o.c.template == template)).scalars())


# ---------------------------------------------------------------------- contracts and calendar plans
def test_calendar_plan_works_once_per_period_and_contract_and_licence_notices(desk):
    loom, _ = desk
    dispatcher = as_user(desk, "morozova")
    first = loom.generators.run(APP, "calendar_plan_works", dt.date(2026, 3, 2))
    again = loom.generators.run(APP, "calendar_plan_works", dt.date(2026, 3, 2))
    assert first["created"] >= 4 and first["failed"] == 0
    assert (again["created"], again["existing"]) == (0, first["created"])
    works = ok(dispatcher.get(f"{API}/planned_work?limit=100"))["items"]
    assert len(works) == first["created"]
    weekly = [w for w in works if w["work"] == "Проверка резервных копий базы СЭД"]
    assert [(w["period_start"], w["due"]) for w in weekly] == [("2026-03-02", "2026-03-06")]
    # the draft plan makes nothing
    assert not [w for w in works if w["work"] == "Проверка правил межсетевого экрана"]

    # contracts: ГК-2026/033 (owner belova) ends on 2026-07-31; notices 30 and 7 days ahead, once each
    assert loom.notices.run(APP, "contract_expiry", dt.date(2026, 6, 30))["sent"] == 0
    assert loom.notices.run(APP, "contract_expiry", dt.date(2026, 7, 1))["sent"] == 1
    assert loom.notices.run(APP, "contract_expiry", dt.date(2026, 7, 2))["sent"] == 0
    assert loom.notices.run(APP, "contract_expiry", dt.date(2026, 7, 24))["sent"] == 1
    assert notices(loom, "belova") == ["Договор ГК-2026/033 истекает через 30 дн. (2026-07-31)",
                                       "Договор ГК-2026/033 истекает через 7 дн. (2026-07-31)"]
    assert mails(loom, "contract_expiring") == ["belova@it-center.example"] * 2
    assert len([t for t in notices(loom, "sokolov") if "ГК-2026/033" in t]) == 2  # the department's head is copied

    # CMDB: the mail antivirus licence ends 2026-05-01, 60 days after this Monday: the daily slot warns
    clock.freeze(dt.datetime(2026, 3, 2, 5, 0, 10, tzinfo=UTC))  # 08:00:10 in Moscow
    assert Scheduler(loom).tick()["schedules"] >= 3
    assert Scheduler(loom).tick()["schedules"] == 0  # every slot runs once
    assert notices(loom, "popova") == ["Лицензия «Лицензия антивируса для почты» истекает через 60 дн. (2026-05-01)"]
    assert loom.notices.run(APP, "licence_expiry", dt.date(2026, 4, 1))["sent"] == 1  # 30 days
    assert loom.notices.run(APP, "licence_expiry", dt.date(2026, 4, 2))["sent"] == 1  # СЭД licences: 60 days
    assert len(notices(loom, "popova")) == 2 and len(notices(loom, "belova")) == 3
    # the expired support of the mail gateway warns nobody: its date has passed
    assert loom.notices.run(APP, "support_expiry", dt.date(2026, 3, 2))["sent"] == 0


# ---------------------------------------------------------------------- requests: contract, routing, SLA
def open_load(api, group_members) -> dict[str, int]:
    load = {}
    for name, user_id in group_members.items():
        items = ok(api.get(f"{API}/request?assignee={user_id}&status__in={','.join(OPEN)}&limit=200"))["items"]
        load[name] = len(items)
    return load


def test_a_clients_request_finds_its_contract_goes_to_the_least_loaded_specialist_and_escalates(desk):
    loom, _ = desk
    dispatcher = as_user(desk, "morozova")
    org = one(dispatcher, "organization", short_name="Минздрав области")
    loom.accounts.create_user("client", "pass-word-123", email="client@minzdrav.example",
                              roles=["service_desk:client"], organization=f"{APP}.organization:{org['id']}")
    client = as_user(desk, "client")
    module = one(dispatcher, "module", code="EDMS")
    service = one(dispatcher, "service", name="Восстановление работоспособности")
    contract = one(dispatcher, "contract", code="ГК-2026/014")
    members = {n: uid(loom, n) for n in ("sokolov", "belova", "zaitsev")}
    before = open_load(dispatcher, members)
    assert client.get(f"{API}/contract").status_code == 403

    made = ok(client.post(f"{API}/request", {
        "subject": "Не открывается СЭД", "description": "Ошибка входа с утра у всего отдела",
        "organization": org["id"], "module": module["id"], "service": service["id"], "priority": "1"}), 201)
    stored = ok(dispatcher.get(f"{API}/request/{made['id']}"))
    assert stored["contract"] == contract["id"]  # found for a client who may not read contracts
    assert stored["department"] == contract["department"]
    group = ok(dispatcher.get(f"{API}/department/{contract['department']}"))["group"]
    assert stored["support_group"] == group
    chosen = next(n for n, i in members.items() if i == stored["assignee"])
    assert before[chosen] == min(before.values())  # the least loaded member of the department's group
    assert notices(loom, chosen, kind="assignment")[-1].startswith(f"Вам назначено: {stored['number']}")
    after = open_load(dispatcher, members)
    assert after[chosen] == before[chosen] + 1
    second = ok(client.post(f"{API}/request", {
        "subject": "Не формируется реестр", "description": "Реестр документов пустой",
        "organization": org["id"], "module": module["id"], "service": service["id"]}), 201)
    assignee = ok(dispatcher.get(f"{API}/request/{second['id']}"))["assignee"]
    assert after[next(n for n, i in members.items() if i == assignee)] == min(after.values())

    # a request no contract covers goes to the group of the module's department
    hr = one(dispatcher, "module", code="HR")
    stray = ok(dispatcher.post(f"{API}/request", {"subject": "Кадры: вопрос", "description": "Нет договора",
                                                  "organization": org["id"], "module": hr["id"]}), 201)
    assert stray["contract"] is None and stray["assignee"] in (uid(loom, "volkova"), uid(loom, "nikitin"))

    # SLA: a critical request must be taken within 1 working hour; at 100% the group's lead hears, at 110%
    # the department's head
    sla = ok(dispatcher.get(f"{API}/request/{made['id']}/sla"))
    reaction = next(t for t in sla if t["target"] == "reaction") if isinstance(sla, list) else None
    assert reaction is None or reaction["due_at"].startswith("2026-03-02T08:00")
    clock.freeze(MONDAY + dt.timedelta(minutes=61))
    loom.timers.fire_due()
    escalations = [t for t in notices(loom, "sokolov") if made["number"] in t]
    assert escalations == [f"[Эскалация 1] {made['number']}: истёк срок реакции"]
    clock.freeze(MONDAY + dt.timedelta(minutes=67))
    loom.timers.fire_due()
    assert [t for t in notices(loom, "sokolov") if made["number"] in t][-1] == \
        f"[Эскалация 2] {made['number']}: 110% срока реакции"
    # taken at 11:07: 1.12 working hours of reaction, on the record and in the analytics
    specialist = as_user(desk, chosen)
    taken = ok(specialist.post(f"{API}/request/{made['id']}/transitions/take", {}))
    assert taken["reaction_hours"] in ("1.12", 1.12)
    result = run_report(loom, APP, find_report(loom, APP, "reaction_by_department"), loom.actor("morozova"))
    assert float(result.cells[(contract["department"], None)]) == pytest.approx(1.12)
    compliance = run_report(loom, APP, find_report(loom, APP, "sla_by_department"), loom.actor("morozova"))
    figures = compliance.cells[((contract["department"],), "reaction")]
    assert figures.breached >= 1


# ---------------------------------------------------------------------- problems
def test_resolving_a_problem_informs_the_requesters_of_its_requests(desk):
    loom, _ = desk
    agent = as_user(desk, "belova")
    problem = one(agent, "problem", title="Ошибка 500 при открытии карточек СЭД после обновления браузеров")
    # a dispatcher links one more request, still registered, to the problem
    spare = ok(agent.get(f"{API}/request?subject=Зависает регистрация входящего письма&status=registered"))["items"][0]
    ok(as_user(desk, "morozova").patch(f"{API}/request/{spare['id']}",
                                       {"row_version": spare["row_version"], "problem": problem["id"]}))
    linked = ok(agent.get(f"{API}/request?problem={problem['id']}&limit=50"))["items"]
    assert len(linked) >= 3
    registered = next(r for r in linked if r["status"] == "registered")
    in_work = [r for r in linked if r["status"] == "in_work"]
    assert in_work
    resolved = ok(agent.post(f"{API}/problem/{problem['id']}/transitions/resolve",
                             {"solution": "Обновлена библиотека просмотра вложений до версии 3.2"}))
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    for request in in_work:
        now = ok(agent.get(f"{API}/request/{request['id']}"))
        assert now["status"] == "done" and problem["number"] in now["solution"]
    assert ok(agent.get(f"{API}/request/{registered['id']}"))["status"] == "registered"
    told = {r["requester_email"] for r in linked if r["status"] in OPEN}
    assert set(mails(loom, "problem_solved")) == told


# ---------------------------------------------------------------------- changes and the change board
def test_an_rfc_is_approved_by_two_of_the_board_and_implemented(desk):
    loom, _ = desk
    author = as_user(desk, "zaitsev")
    service = one(author, "service", name="Восстановление работоспособности")
    server = one(author, "ci", name="Сервер приложений СЭД")
    bad = author.post(f"{API}/change", {"title": "Окно наоборот", "planned_start": "2026-03-07T06:00:00Z",
                                        "planned_end": "2026-03-07T05:00:00Z"})
    assert bad.status_code == 422 and "Окно работ" in str(bad.get_json())
    rfc = ok(author.post(f"{API}/change", {"title": "Замена дисков сервера приложений СЭД"}), 201)
    refused = author.post(f"{API}/change/{rfc['id']}/transitions/submit", {})
    assert refused.status_code == 422  # the plans, the risk and the window are required to submit
    ok(author.patch(f"{API}/change/{rfc['id']}", {
        "row_version": rfc["row_version"], "kind": "modify", "object_type": "hardware",
        "service": service["id"], "cis": [server["id"]], "risk": "high",
        "implementation_plan": "Замена дисков по одному с перестроением массива",
        "backout_plan": "Возврат старых дисков, восстановление из резервной копии",
        "planned_start": "2026-03-07T06:00:00Z", "planned_end": "2026-03-07T10:00:00Z"}))
    assert ok(author.post(f"{API}/change/{rfc['id']}/transitions/submit", {}))["status"] == "approval"
    [opened] = ok(as_user(desk, "sokolov").get(f"{API}/change/{rfc['id']}/approvals"))
    assert (opened["need"], opened["approvers"]) == (2, 4)
    assert f"Согласуйте изменение {rfc['number']}: Замена дисков сервера приложений СЭД" in notices(loom, "lebedev")
    assert author.post(f"{API}/change/{rfc['id']}/transitions/approve", {}).status_code == 403
    for member in ("sokolov", "lebedev"):
        ok(as_user(desk, member).post(f"{API}/change/{rfc['id']}/approvals/cab/votes",
                                      {"decision": "approve", "comment": "Риск принят"}))
    assert ok(author.get(f"{API}/change/{rfc['id']}"))["status"] == "approved"
    ok(author.post(f"{API}/change/{rfc['id']}/transitions/schedule", {"implementer": uid(loom, "zaitsev")}))
    ok(author.post(f"{API}/change/{rfc['id']}/transitions/start", {}))
    ok(author.post(f"{API}/change/{rfc['id']}/transitions/implement", {"result": "Диски заменены, массив исправен"}))
    assert ok(as_user(desk, "grigoriev").post(f"{API}/change/{rfc['id']}/transitions/close", {}))["status"] == "closed"


# ---------------------------------------------------------------------- CMDB
def test_monitoring_sets_health_through_the_api_and_nothing_else(desk):
    loom, _ = desk
    monitor = as_user(desk, "monitoring")
    gateway = one(monitor, "ci", name="Почтовый шлюз")
    assert gateway["health"] == "down"
    changed = ok(monitor.patch(f"{API}/ci/{gateway['id']}", {
        "row_version": gateway["row_version"], "health": "ok", "health_note": "SMTP отвечает",
        "health_checked_at": "2026-03-02T07:00:00Z"}))
    assert changed["health"] == "ok"
    refused = monitor.patch(f"{API}/ci/{gateway['id']}", {"row_version": changed["row_version"], "cost": "1.00"})
    assert refused.status_code == 403 and "cost" in str(refused.get_json())
    assert monitor.post(f"{API}/ci", {"name": "Новый сервер", "ci_type": "hardware"}).status_code == 403
    assert monitor.get(f"{API}/request").status_code == 403
    # relations: what the СЭД software runs on and depends on
    agent = as_user(desk, "belova")
    edms = one(agent, "ci", name="СЭД «Дело» 4.1")
    relations = ok(agent.get(f"{API}/ci_relation?source={edms['id']}&limit=20"))["items"]
    assert sorted(r["kind"] for r in relations) == ["depends_on", "depends_on", "part_of", "runs_on"]
    runs_on = next(r["target"] for r in relations if r["kind"] == "runs_on")
    twice = agent.post(f"{API}/ci_relation", {"source": edms["id"], "kind": "runs_on", "target": runs_on})
    assert twice.status_code == 422 and "Такая связь уже есть" in str(twice.get_json())
    itself = agent.post(f"{API}/ci_relation", {"source": edms["id"], "kind": "depends_on", "target": edms["id"]})
    assert itself.status_code == 422
    # requests, problems and changes point at items
    with loom.engine.connect() as c:
        t = loom.entity_tables(APP, "request").main
        assert c.execute(select(func.count()).where(t.c.ci == edms["id"])).scalar() >= 1
    problem = one(agent, "problem", title="Ошибка 500 при открытии карточек СЭД после обновления браузеров")
    assert ok(agent.get(f"{API}/problem/{problem['id']}"))["cis"] == [edms["id"]]
