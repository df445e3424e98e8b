"""Acceptance: the grid company's consumer service (DOMAIN §1) walked through the REST API with a
frozen clock, on SQLite and PostgreSQL, over the shipped demo data and staff: appeals routed by
their topic's own route with its regulated deadline, the topic suggested by the classifier, the
draft answer verified and sent through the consumer's channel; an outage from the dispatch system
notifying exactly the consumers of the affected grid objects through their channels, with the
reports an emergency obliges; a reading refused as implausible; a protection-zone cost computed
and routed by category and kind of works; a queue ticket called to a window."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from sqlalchemy import select

from plugins.classifiers import service as classifiers
from runtime import clock
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.data.fixtures import load_fixtures
from runtime.extension.platform import Platform
from runtime.web import create_app
from tests.apps.servers import Gateway, Mailbox
from tests.apps.users import as_user, ok, uid
from tests.conftest import APPS
from tests.ui.conftest import Browser

APP = "utility"
API = f"/api/v1/{APP}"
UTC = dt.timezone.utc
MONDAY = dt.datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # 10:00 in Yekaterinburg, a working Monday
SECRET = "dispatch-secret"


@pytest.fixture
def grid(loom, tmp_path, monkeypatch):
    monkeypatch.setenv("UTILITY_DISPATCH_SECRET", SECRET)
    monkeypatch.setenv("UTILITY_CHANNELS_TOKEN", "channels-token")
    clock.freeze(MONDAY)
    loom.store.install(APPS / APP, author="tester")
    load_fixtures(loom, APP)
    web = create_app(Settings(tmp_path, loom.database_url, secret="utility-tests"), loom)
    yield loom, web
    clock.thaw()


def one(api, entity, **where) -> dict:
    query = "&".join(f"{k}={v}" for k, v in where.items())
    [found] = ok(api.get(f"{API}/{entity}?{query}"))["items"]
    return found


def fire(api, entity, record_id, name, status=200, **values):
    return ok(api.post(f"{API}/{entity}/{record_id}/transitions/{name}", values), status)


def gid(loom, name) -> int:
    g = platform.group
    with loom.engine.connect() as c:
        return c.execute(select(g.c.id).where(g.c.name == name)).scalar_one()


def group_members(loom, group) -> set[str]:
    g, m, u = platform.group, platform.user_group, platform.user
    with loom.engine.connect() as c:
        return set(c.execute(select(u.c.username).join(m, m.c.user_id == u.c.id).join(g, g.c.id == m.c.group_id)
                             .where(g.c.name == group)).scalars())


def outbox(loom, channel="email") -> list[dict]:
    o = platform.outbox
    with loom.engine.connect() as c:
        return [dict(r) for r in c.execute(select(o).where(o.c.channel == channel).order_by(o.c.id)).mappings()]


# ---------------------------------------------------------------------- appeals
def test_each_topic_routes_by_its_own_route_with_its_regulated_deadline(grid):
    loom, _ = grid
    operator = as_user(grid, "smirnova")
    topics = {t["code"]: t for t in ok(operator.get(f"{API}/topic?limit=100"))["items"]}
    assert len(topics) == 30
    consumer = one(operator, "consumer", account="6601000101")
    quality = ok(operator.post(f"{API}/appeal", {"consumer": consumer["id"], "channel": "telephony",
                                                  "topic": topics["power_quality"]["id"],
                                                  "text": "Вечером мигает свет и скачет напряжение"}), 201)
    # the topic's route: the power quality department, its least loaded specialist
    assert quality["support_group"] == gid(loom, "ut_quality")
    assert quality["assignee"] in {uid(loom, u) for u in group_members(loom, "ut_quality")}
    # 30 calendar days from Monday 7 December; the consumer's contacts came from the master record
    assert quality["due_on"] == "2027-01-06"
    assert (quality["email"], quality["applicant"]) == ("kuznetsova@mail.example", "Кузнецова Мария Ивановна")
    billing = ok(operator.post(f"{API}/appeal", {"consumer": consumer["id"], "channel": "chatbot",
                                                  "topic": topics["bill_dispute"]["id"],
                                                  "text": "Не согласна с начислением за ноябрь"}), 201)
    # another topic, another route; 10 working days skip two weekends
    assert billing["support_group"] == gid(loom, "ut_billing") and billing["integration"] == "Биллинг"
    assert billing["due_on"] == "2026-12-21"
    assert billing["channel"] == "chatbot"
    # an analyst moves a topic to another route: the next appeal follows the new route
    analyst = as_user(grid, "analyst_ut")
    topic = topics["bill_dispute"]
    ok(analyst.patch(f"{API}/topic/{topic['id']}", {"group": gid(loom, "ut_claims"), "row_version": topic["row_version"]}))
    again = ok(operator.post(f"{API}/appeal", {"consumer": consumer["id"], "topic": topic["id"],
                                                "text": "Снова неверная сумма в квитанции"}), 201)
    assert again["support_group"] == gid(loom, "ut_claims") and again["assignee"] == uid(loom, "orlova")
    # changing an appeal's topic routes it again
    moved = ok(operator.patch(f"{API}/appeal/{quality['id']}", {"topic": topics["grid_connection"]["id"],
                                                                 "row_version": quality["row_version"]}))
    assert moved["support_group"] == gid(loom, "ut_connection") and moved["assignee"] == uid(loom, "gusev")


def test_eleven_intake_channels_are_recorded(grid):
    operator = as_user(grid, "smirnova")
    spec = ok(operator.get(f"{API}/appeal?limit=1"))  # the list answers; the channel choices are the entity's
    assert spec is not None
    channels = ["in_person", "portal", "mobile_app", "telephony", "chatbot", "email", "post", "edms",
                "internet_reception", "service_112", "gosuslugi"]
    for channel in channels:
        made = ok(operator.post(f"{API}/appeal", {"channel": channel, "applicant": "Заявитель",
                                                   "text": "Прошу принять моё заявление"}), 201)
        assert made["channel"] == channel
    refused = operator.post(f"{API}/appeal", {"channel": "fax", "text": "Прошу принять"})
    assert refused.status_code == 422 and "channel" in str(refused.get_json())
    # the electronic channels arrive through the inbound endpoint, each recorded as itself
    _, web = grid
    answer = web.test_client().post(f"/hooks/{APP}/appeal", json={
        "id": "bot-77", "channel": "chatbot", "from": {"name": "Пётр", "email": "petr@mail.example"},
        "text": "Когда дадут свет? Нет света с утра"}, headers={"Authorization": "Bearer channels-token"})
    assert answer.status_code == 201, answer.get_json()
    came = ok(operator.get(f"{API}/appeal/{answer.get_json()['record_id']}"))
    assert (came["channel"], came["applicant"], came["email"], came["reply_channel"]) == (
        "chatbot", "Пётр", "petr@mail.example", "email")


def test_suggested_topic_draft_verified_and_sent_through_the_chosen_channel(grid):
    loom, _ = grid
    report = classifiers.train(Platform(loom), APP, "appeal_topic")
    assert report["examples"] == 360 and report["labels"] == 30
    assert report["accuracy"] > 3 * report["baseline"]
    operator, specialist = as_user(grid, "smirnova"), as_user(grid, "kovalev")
    consumer = one(operator, "consumer", account="6601000101")
    made = ok(operator.post(f"{API}/appeal", {"consumer": consumer["id"], "channel": "email",
                                               "text": "Добрый день! Скачет напряжение, лампы горят то ярко то тускло."}),
              201)
    suggested = ok(operator.get(f"{API}/topic/{made['suggested_topic']}"))
    assert suggested["code"] == "power_quality"
    # the reply channel is the intake channel, which answers may take
    assert made["reply_channel"] == "email"
    made = ok(operator.patch(f"{API}/appeal/{made['id']}", {"topic": suggested["id"],
                                                             "row_version": made["row_version"]}))
    assert made["support_group"] == gid(loom, "ut_quality")
    taken = fire(specialist, "appeal", made["id"], "take")
    ok(specialist.patch(f"{API}/appeal/{made['id']}", {"findings": "Напряжение восстановлено до 228 В.",
                                                        "row_version": taken["row_version"]}))
    drafted = ok(specialist.post(f"{API}/appeal/{made['id']}/actions/draft", {}))["record"]
    draft = drafted["draft_answer"]
    assert draft.startswith("Уважаемый(ая) Кузнецова Мария Ивановна! По вашему обращению о качестве электроэнергии "
                            "по адресу г. Энск, ул. Ленина, 10, кв. 5")
    assert "Напряжение восстановлено до 228 В." in draft and "ГОСТ 32144-2013" in draft  # the knowledge base
    # nothing leaves before a specialist verified it
    assert not [m for m in outbox(loom) if made["number"] in m["subject"]]
    fire(specialist, "appeal", made["id"], "to_verification")
    sent = fire(specialist, "appeal", made["id"], "answer")
    assert (sent["status"], sent["answer"], sent["verified_by"]) == ("answered", draft, uid(loom, "kovalev"))
    [mail] = [m for m in outbox(loom) if made["number"] in m["subject"]]
    assert mail["recipient"] == "kuznetsova@mail.example" and "ГОСТ 32144-2013" in mail["body"]


def test_an_answer_through_the_self_service_portal_is_an_in_app_notice(grid):
    loom, _ = grid
    specialist = as_user(grid, "kovalev")
    topic = one(specialist, "topic", code="low_voltage")
    made = ok(specialist.post(f"{API}/appeal", {"channel": "portal", "reply_channel": "inapp", "topic": topic["id"],
                                                 "applicant": "Иванов", "text": "Низкое напряжение"}), 201)
    fire(specialist, "appeal", made["id"], "take")
    fire(specialist, "appeal", made["id"], "to_verification", draft_answer="Замеры выполнены, напряжение в норме.")
    fire(specialist, "appeal", made["id"], "answer")
    n = platform.notification
    with loom.engine.connect() as c:
        titles = list(c.execute(select(n.c.title).where(n.c.user_id == uid(loom, "kovalev"))).scalars())
    assert f"Ответ на обращение {made['number']}" in titles
    assert not [m for m in outbox(loom) if made["number"] in m["subject"]]


# ---------------------------------------------------------------------- outages
def dispatch(web, payload: dict):
    body = json.dumps(payload, ensure_ascii=False).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return web.test_client().post(f"/hooks/{APP}/outage", data=body,
                                  headers={"Content-Type": "application/json", "X-Signature-256": signature})


def test_an_outage_notifies_exactly_the_consumers_of_the_affected_grid_objects(grid):
    loom, web = grid
    answer = dispatch(web, {"event_id": "oik-1", "outage": {
        "id": "OIK-2026-551", "kind": "planned", "works": "repair", "starts_at": "2026-12-09T04:00:00+00:00",
        "ends_at": "2026-12-09T10:00:00+00:00", "objects": "ТП-101, ТП-205", "text": "Замена трансформатора"}})
    assert answer.status_code == 201, answer.get_json()
    dispatcher = as_user(grid, "dispatcher")
    outage = ok(dispatcher.get(f"{API}/outage/{answer.get_json()['record_id']}"))
    objects = {o["code"]: o["id"] for o in ok(dispatcher.get(f"{API}/grid_object?limit=50"))["items"]}
    assert sorted(outage["grid_objects"]) == sorted([objects["ТП-101"], objects["ТП-205"]])
    run = dispatcher.post(f"{API}/_batches/outage_notices/runs",
                          json={"params": {"outage": outage["id"]}, "ids": outage["grid_objects"]})
    assert run.status_code == 202, run.get_json()
    state = ok(dispatcher.get(f"{API}/_batches/runs/{run.get_json()['id']}"))
    assert state["state"] == "done", state
    notices = ok(dispatcher.get(f"{API}/outage_notice?outage={outage['id']}&limit=100"))["items"]
    consumers = {c["id"]: c for c in ok(dispatcher.get(f"{API}/consumer?limit=100"))["items"]}
    got = sorted((consumers[n["consumer"]]["name"], n["channel"], n["address"]) for n in notices)
    # ТП-101 and ТП-205 supply five consumers; the one who asked not to be notified is not;
    # ТП-102 and ТП-206 are not affected
    assert got == [("Кузнецова Мария Ивановна", "sms", "+79120000101"),
                   ("Павлова Елена Андреевна", "sms", "+79120000106"),
                   ("Петров Сергей Николаевич", "email", "petrov.sn@mail.example"),
                   ("Сидоров Алексей Петрович", "push", "+79120000103")]
    assert all(n["text"].startswith("Плановое отключение электроэнергии с 09.12.2026 09:00") for n in notices)
    # a planned outage files no incident report
    assert ok(dispatcher.get(f"{API}/outage_report?outage={outage['id']}"))["items"] == []
    # the dispatch system sending it again makes no second outage; rerunning replaces the notices
    assert dispatch(web, {"event_id": "oik-1", "outage": {"id": "OIK-2026-551"}}).get_json()["outcome"] == "duplicate"
    dispatcher.post(f"{API}/_batches/outage_notices/runs",
                    json={"params": {"outage": outage["id"]}, "ids": outage["grid_objects"]})
    again = ok(dispatcher.get(f"{API}/outage_notice?outage={outage['id']}&limit=100"))["items"]
    assert len(again) == 4 and all(n["delivery"] == "queued" for n in again)
    # the replaced notices' messages, not sent yet, are cancelled; the new ones wait in the outbox
    o = platform.outbox
    with loom.engine.connect() as c:
        states = sorted(c.execute(select(o.c.state, o.c.record_id).where(o.c.entity == "outage_notice")).all())
    assert [state for state, _ in states] == ["cancelled"] * 4 + ["pending"] * 4
    assert {record for state, record in states if state == "pending"} == {n["id"] for n in again}


def test_an_emergency_outage_files_the_incident_report_and_informs_agencies(grid):
    loom, web = grid
    answer = dispatch(web, {"event_id": "oik-2", "outage": {
        "id": "OIK-2026-552", "kind": "emergency", "works": "failure", "starts_at": "2026-12-07T04:30:00+00:00",
        "objects": "ПС-35 Северная", "text": "Отключение ВЛ-110"}})
    assert answer.status_code == 201, answer.get_json()
    dispatcher = as_user(grid, "dispatcher")
    reports = ok(dispatcher.get(f"{API}/outage_report?outage={answer.get_json()['record_id']}"))["items"]
    assert sorted((r["kind"], r["agency"]) for r in reports) == [
        ("agency_info", "ГУ МЧС России по области"), ("agency_info", "ЕДДС муниципального образования"),
        ("incident_report", "Ростехнадзор")]
    # the agencies are informed by e-mail at once; the incident report is the dispatcher's to file
    assert sorted((r["kind"], r["channel"], r["delivery"]) for r in reports) == [
        ("agency_info", "email", "queued"), ("agency_info", "email", "queued"), ("incident_report", "edms", "manual")]
    mailbox = Mailbox()
    try:
        loom.smtp_url = mailbox.url
        loom.notifier.deliver_pending()
    finally:
        mailbox.close()
    assert sorted(to for to, _ in mailbox.messages) == [["cuks@mchs-region.example"], ["edds@enskadm.example"]]
    assert mailbox.messages[0][1]["Subject"] == "Донесение об аварийном отключении электроэнергии"
    reports = ok(dispatcher.get(f"{API}/outage_report?outage={answer.get_json()['record_id']}"))["items"]
    # delivered, the information is done by itself; the incident report waits for the dispatcher
    assert sorted((r["kind"], r["delivery"], r["status"]) for r in reports) == [
        ("agency_info", "sent", "sent"), ("agency_info", "sent", "sent"), ("incident_report", "manual", "to_send")]
    unknown = dispatch(web, {"event_id": "oik-3", "outage": {"id": "OIK-2026-553", "kind": "planned",
                                                             "starts_at": "2026-12-10T04:00:00+00:00",
                                                             "objects": "ТП-999"}})
    assert unknown.status_code == 422 and "ТП-999" in str(unknown.get_json())


@pytest.fixture
def gateways(grid, monkeypatch):
    """The SMS and push providers' gateway and the mail server, set up for the platform."""
    loom, _ = grid
    gateway, mailbox = Gateway(), Mailbox()
    monkeypatch.setenv("LOOM_SMS_GATEWAY_URL", gateway.url + "/sms")
    monkeypatch.setenv("LOOM_SMS_GATEWAY_TOKEN", "sms-token")
    monkeypatch.setenv("LOOM_PUSH_GATEWAY_URL", gateway.url + "/push")
    loom.smtp_url = mailbox.url
    yield gateway, mailbox
    gateway.close()
    mailbox.close()


def test_outage_notices_are_delivered_through_each_channel_with_the_delivery_recorded(grid, gateways):
    loom, web = grid
    gateway, mailbox = gateways
    gateway.answers["+79120000106"] = [503]  # Павлова's first SMS: the provider is busy
    answer = dispatch(web, {"event_id": "oik-7", "outage": {
        "id": "OIK-2026-560", "kind": "planned", "works": "maintenance", "starts_at": "2026-12-09T04:00:00+00:00",
        "ends_at": "2026-12-09T08:00:00+00:00", "objects": "ТП-101, ТП-102, ТП-205", "text": "Обслуживание"}})
    dispatcher = as_user(grid, "dispatcher")
    outage = ok(dispatcher.get(f"{API}/outage/{answer.get_json()['record_id']}"))
    ok(dispatcher.post(f"{API}/_batches/outage_notices/runs",
                       {"params": {"outage": outage["id"]}, "ids": outage["grid_objects"]}), 202)
    consumers = {c["id"]: c["name"] for c in ok(dispatcher.get(f"{API}/consumer?limit=100"))["items"]}

    def notices() -> dict:
        found = ok(dispatcher.get(f"{API}/outage_notice?outage={outage['id']}&limit=100"))["items"]
        return {consumers[n["consumer"]]: n for n in found}

    queued = notices()
    assert {name: (n["channel"], n["delivery"]) for name, n in queued.items()} == {
        "Кузнецова Мария Ивановна": ("sms", "queued"), "Петров Сергей Николаевич": ("email", "queued"),
        "Сидоров Алексей Петрович": ("push", "queued"), "ООО «Хлебный дом»": ("email", "queued"),
        "Морозов Дмитрий Сергеевич": ("voice", "manual"), "Павлова Елена Андреевна": ("sms", "queued")}
    # nothing leaves before the delivery runs; then each goes through its own channel
    assert gateway.messages == [] and mailbox.messages == []
    loom.notifier.deliver_pending()
    assert sorted((m["path"], m["to"]) for m in gateway.messages) == [
        ("/push", "+79120000103"), ("/sms", "+79120000101")]
    sms = next(m for m in gateway.messages if m["path"] == "/sms")
    assert sms["text"].startswith("Плановое отключение электроэнергии с 09.12.2026 09:00 (ТП-101)")
    assert sms["auth"] == "Bearer sms-token" and sms["key"].startswith("<") and sms["entity"] == "outage_notice"
    assert sorted(to for to, _ in mailbox.messages) == [["office@hleb.example"], ["petrov.sn@mail.example"]]
    assert mailbox.messages[0][1]["Subject"] == "Оповещение об отключении электроэнергии"
    done = notices()
    first = done["Кузнецова Мария Ивановна"]
    assert (first["delivery"], first["attempts"], first["delivered_at"]) == ("sent", 1, "2026-12-07T05:00:00Z")
    busy = done["Павлова Елена Андреевна"]
    assert (busy["delivery"], busy["attempts"], busy["delivered_at"]) == ("queued", 1, None)
    assert "HTTP 503 from the sms gateway" in busy["delivery_error"]
    # the retry waits its back-off, then goes
    loom.notifier.deliver_pending()
    assert notices()["Павлова Елена Андреевна"]["attempts"] == 1
    clock.freeze(MONDAY + dt.timedelta(minutes=2))
    loom.notifier.deliver_pending()
    again = notices()["Павлова Елена Андреевна"]
    assert (again["delivery"], again["attempts"], again["delivery_error"]) == ("sent", 2, None)
    assert [m["to"] for m in gateway.messages].count("+79120000106") == 1
    # the voice notice is on the operators' call list; the operator records the outcome
    operator = as_user(grid, "smirnova")
    calls = ok(operator.get(f"{API}/outage_notice?view=calls&limit=100"))["items"]
    assert [consumers[n["consumer"]] for n in calls] == ["Морозов Дмитрий Сергеевич"]
    called = ok(operator.post(f"{API}/outage_notice/{calls[0]['id']}/actions/reached", {}))["record"]
    assert (called["delivery"], called["delivered_at"]) == ("sent", "2026-12-07T05:02:00Z")
    refused = operator.post(f"{API}/outage_notice/{first['id']}/actions/not_reached", {})
    assert refused.status_code == 422 and "не в списке обзвона" in str(refused.get_json())
    # nobody writes the delivery by hand
    forced = operator.patch(f"{API}/outage_notice/{first['id']}", {"delivery": "failed",
                                                                    "row_version": first["row_version"]})
    assert forced.status_code == 403


def test_a_number_the_gateway_refuses_fails_at_once(grid, gateways):
    loom, web = grid
    gateway, _ = gateways
    gateway.answers["+79120000101"] = [400]
    answer = dispatch(web, {"event_id": "oik-8", "outage": {
        "id": "OIK-2026-561", "kind": "planned", "starts_at": "2026-12-09T04:00:00+00:00", "objects": "ТП-101"}})
    dispatcher = as_user(grid, "dispatcher")
    outage = ok(dispatcher.get(f"{API}/outage/{answer.get_json()['record_id']}"))
    ok(dispatcher.post(f"{API}/_batches/outage_notices/runs",
                       {"params": {"outage": outage["id"]}, "ids": outage["grid_objects"]}), 202)
    loom.notifier.deliver_pending()
    failed = ok(dispatcher.get(f"{API}/outage_notice?view=undelivered&limit=100"))["items"]
    assert [(n["address"], n["attempts"]) for n in failed] == [("+79120000101", 1)]
    assert "HTTP 400" in failed[0]["delivery_error"]


# ---------------------------------------------------------------------- readings and meters
def test_a_reading_refused_as_implausible(grid):
    loom, _ = grid
    operator = as_user(grid, "smirnova")
    meter = one(operator, "meter", serial="011234567")
    assert (meter["last_value"], meter["last_taken_on"]) == ("10475.00", "2026-11-25")
    # 10 days at 15 kW could not use 5,000 kWh
    huge = operator.post(f"{API}/reading", {"meter": meter["id"], "value": "15475", "taken_on": "2026-12-05",
                                            "channel": "chatbot"})
    assert huge.status_code == 422
    assert "Показание неправдоподобно: расход 5000.00 кВт·ч за 10 дн." in str(huge.get_json())
    lower = operator.post(f"{API}/reading", {"meter": meter["id"], "value": "10400", "taken_on": "2026-12-05"})
    assert lower.status_code == 422 and "меньше предыдущего 10475.00" in str(lower.get_json())
    good = ok(operator.post(f"{API}/reading", {"meter": meter["id"], "value": "10712.5", "taken_on": "2026-12-05",
                                               "channel": "mobile_app"}), 201)
    assert (good["consumption"], good["consumer"]) == ("237.50", meter["consumer"])
    assert ok(operator.get(f"{API}/meter/{meter['id']}"))["last_value"] == "10712.50"
    # accepted readings go on to billing: one outbound webhook message per reading
    billing = [m for m in outbox(loom, "webhook") if f'"record_id": {good["id"]}' in (m["body"] or "")
               or str(good["id"]) in (m["subject"] or "")]
    assert len(billing) == 1


def test_a_meter_replacement_makes_a_field_task_after_payment(grid):
    loom, _ = grid
    operator, metering = as_user(grid, "smirnova"), as_user(grid, "lapina")
    consumer = one(operator, "consumer", account="6601000101")
    made = ok(operator.post(f"{API}/meter_request", {"consumer": consumer["id"], "kind": "replace", "paid": True,
                                                      "price": "3500.00"}), 201)
    assert made["due_on"] == "2027-01-27"  # 30 working days: 31 December and the New Year holidays skipped
    unpaid = metering.post(f"{API}/meter_request/{made['id']}/transitions/schedule", {"visit_on": "2026-12-10"})
    assert unpaid.status_code == 422 and "договора и дату оплаты" in str(unpaid.get_json())
    current = ok(metering.get(f"{API}/meter_request/{made['id']}"))
    ok(metering.patch(f"{API}/meter_request/{made['id']}", {"contract_number": "ПУ-2026/118", "paid_on": "2026-12-07",
                                                             "row_version": current["row_version"]}))
    fire(metering, "meter_request", made["id"], "schedule", visit_on="2026-12-10")
    [task] = ok(metering.get(f"{API}/field_task?request={made['id']}"))["items"]
    assert (task["visit_on"], task["assignee"], task["address"]) == (
        "2026-12-10", uid(loom, "lapina"), "г. Энск, ул. Ленина, 10, кв. 5")


# ---------------------------------------------------------------------- protection zones
def test_a_protection_zone_cost_computed_and_routed_by_category_and_works(grid):
    loom, _ = grid
    operator = as_user(grid, "smirnova")
    capital = ok(operator.post(f"{API}/zone_approval", {
        "applicant": "ООО «Уралстрой»", "applicant_category": "company", "reason": "construction",
        "works_kind": "capital", "line_length_m": "80", "voltage_kv": "10", "urgent": True}), 201)
    # (12,000 + 80 m x 40) x 1.5
    assert capital["cost"] == "22800.00"
    assert (capital["support_group"], capital["assignee"]) == (gid(loom, "ut_zones"), uid(loom, "beliaev"))
    person = ok(operator.post(f"{API}/zone_approval", {
        "applicant": "Сидоров А. П.", "applicant_category": "person", "reason": "earthworks",
        "works_kind": "non_capital", "line_length_m": "12", "voltage_kv": "0.4"}), 201)
    assert person["cost"] == "2430.00"  # 4,500 / 2 + 12 m x 15
    assert person["support_group"] == gid(loom, "ut_quality")
    # a change of the length recomputes the cost
    changed = ok(operator.patch(f"{API}/zone_approval/{person['id']}", {"line_length_m": "20",
                                                                         "row_version": person["row_version"]}))
    assert changed["cost"] == "2550.00"
    # nobody writes the cost by hand
    forced = operator.patch(f"{API}/zone_approval/{person['id']}", {"cost": "1", "row_version": changed["row_version"]})
    assert forced.status_code == 403
    zones = as_user(grid, "beliaev")
    fire(zones, "zone_approval", capital["id"], "invoice")
    refused = zones.post(f"{API}/zone_approval/{capital['id']}/transitions/agree", {})
    assert refused.status_code == 422 and "paid_on" in str(refused.get_json())
    agreed = fire(zones, "zone_approval", capital["id"], "agree", paid_on="2026-12-08",
                  conditions="Работы вести под надзором представителя РЭС")
    assert agreed["status"] == "agreed"


# ---------------------------------------------------------------------- electronic queue
def test_a_queue_ticket_called_to_a_window(grid):
    loom, _ = grid
    front = as_user(grid, "titov")
    office = one(front, "office", name="Центральный офис обслуживания")
    first = ok(front.post(f"{API}/queue_ticket", {"office": office["id"], "service": "metering"}), 201)
    second = ok(front.post(f"{API}/queue_ticket", {"office": office["id"], "service": "metering"}), 201)
    other = ok(front.post(f"{API}/queue_ticket", {"office": office["id"], "service": "connection"}), 201)
    assert (first["ticket"], second["ticket"], other["ticket"]) == ("У-001", "У-002", "Т-001")
    assert ok(front.get(f"{API}/office/{office['id']}"))["waiting"] == 3
    window = one(front, "service_window", name="Окно 1", office=office["id"])
    clock.freeze(MONDAY + dt.timedelta(minutes=7))
    called = ok(front.post(f"{API}/service_window/{window['id']}/actions/call_next", {}))["record"]
    ticket = ok(front.get(f"{API}/queue_ticket/{first['id']}"))
    assert called["current_ticket"] == first["id"]
    assert (ticket["status"], ticket["window"], ticket["wait_minutes"]) == ("called", window["id"], 7)
    assert ok(front.get(f"{API}/office/{office['id']}"))["waiting"] == 2
    fire(front, "queue_ticket", first["id"], "serve")
    nxt = ok(front.post(f"{API}/service_window/{window['id']}/actions/call_next", {}))["record"]
    assert nxt["current_ticket"] == second["id"]
    # a clerk without the queue role cannot call
    assert as_user(grid, "kovalev").post(f"{API}/service_window/{window['id']}/actions/call_next", {}).status_code == 403


def test_an_appointment_slot_booked_once_and_checked_in_for_a_ticket(grid):
    _, web = grid
    front, operator = as_user(grid, "titov"), as_user(grid, "smirnova")
    office = one(front, "office", name="Центральный офис обслуживания")
    consumer = one(operator, "consumer", account="6601000101")
    # from the self-service portal (the API): meters and readings, one window takes bookings
    made = ok(operator.post(f"{API}/appointment", {"office": office["id"], "service": "metering", "channel": "portal",
                                                   "slot_at": "2026-12-07T06:00:00Z", "consumer": consumer["id"]}), 201)
    assert (made["status"], made["seat"]) == ("booked", 1)
    taken = operator.post(f"{API}/appointment", {"office": office["id"], "service": "metering",
                                                 "slot_at": "2026-12-07T06:00:00Z", "channel": "telephony"})
    assert taken.status_code == 422 and "Время 07.12.2026 11:00 уже занято" in str(taken.get_json())
    # consultations have two windows: the same time twice; grid connection only Tuesday and Thursday mornings
    seats = [ok(operator.post(f"{API}/appointment", {"office": office["id"], "service": "consult",
                                                     "slot_at": "2026-12-07T06:00:00Z"}), 201)["seat"] for _ in (1, 2)]
    assert seats == [1, 2]
    monday = operator.post(f"{API}/appointment", {"office": office["id"], "service": "connection",
                                                  "slot_at": "2026-12-07T06:00:00Z"})
    assert monday.status_code == 422 and "запись не ведётся" in str(monday.get_json())
    tuesday = ok(operator.post(f"{API}/appointment", {"office": office["id"], "service": "connection",
                                                      "slot_at": "2026-12-08T04:30:00Z"}), 201)
    assert tuesday["seat"] == 1
    # the slots of the day as the API gives them: the booked one counted
    kiosk = Browser(web.test_client())
    kiosk.post("/login", {"username": "titov", "password": "demo-pass-1"})
    base = f"/queue/utility/office_queue/{office['id']}"
    slots = kiosk.get(f"{base}/slots?choice=metering&day=2026-12-07").get_json()["slots"]
    eleven = next(s for s in slots if s["start"] == "2026-12-07T06:00:00+00:00")
    assert (eleven["capacity"], eleven["booked"], eleven["free"]) == (1, 1, 0)
    assert slots[0]["start"] == "2026-12-07T05:00:00+00:00" and slots[-1]["start"] == "2026-12-07T12:15:00+00:00"
    # a visitor walks in, then the booked one arrives and checks in at the terminal
    walk_in = ok(front.post(f"{API}/queue_ticket", {"office": office["id"], "service": "metering"}), 201)
    clock.freeze(MONDAY + dt.timedelta(minutes=55))  # 10:55
    page = kiosk.post(f"{base}/checkin", {"code": made["number"]}, token_from=f"{base}/terminal").get_data(as_text=True)
    assert 'id="queue-number">У-002<' in page
    arrived = ok(front.get(f"{API}/appointment/{made['id']}"))
    ticket = ok(front.get(f"{API}/queue_ticket/{arrived['ticket']}"))
    assert (arrived["status"], ticket["slot_at"], ticket["source"], ticket["consumer"], ticket["appointment"]) == (
        "arrived", "2026-12-07T06:00:00Z", "portal", consumer["id"], made["id"])
    # at 11:00 its time has come: the window calls it before the walk-in who came earlier
    clock.freeze(MONDAY + dt.timedelta(minutes=60))
    window = one(front, "service_window", name="Окно 1", office=office["id"])
    called = ok(front.post(f"{API}/service_window/{window['id']}/actions/call_next", {}))["record"]
    assert called["current_ticket"] == ticket["id"] != walk_in["id"]
    assert ok(front.get(f"{API}/queue_ticket/{ticket['id']}"))["wait_minutes"] == 0  # counted from the slot
    # a cancelled booking frees its seat for the next caller
    cancelled = fire(operator, "appointment", tuesday["id"], "cancel")
    assert (cancelled["status"], cancelled["seat"]) == ("cancelled", None)
    assert ok(operator.post(f"{API}/appointment", {"office": office["id"], "service": "connection",
                                                   "slot_at": "2026-12-08T04:30:00Z"}), 201)["seat"] == 1


def test_the_call_centre_books_by_phone_and_a_booking_nobody_kept_is_a_no_show(grid):
    loom, web = grid
    operator = Browser(web.test_client())
    operator.post("/login", {"username": "titov", "password": "demo-pass-1"})
    office = one(as_user(grid, "titov"), "office", name="Офис Южного РЭС")
    url = f"/queue/utility/office_queue/{office['id']}/book"
    page = operator.get(f"{url}?choice=consult&via=telephony&day=2026-12-08").get_data(as_text=True)
    assert "Запись на приём" in page and 'id="queue-slot-0830"' in page and 'id="queue-slot-0850"' in page  # 20 min
    done = operator.post(url, {"choice": "consult", "via": "telephony", "day": "2026-12-08",
                               "start": "2026-12-08T03:30:00+00:00"}, token_from=f"{url}?choice=consult")
    text = done.get_data(as_text=True)
    assert "Вы записаны" in text and "08.12.2026 08:30" in text
    [booked] = ok(as_user(grid, "titov").get(f"{API}/appointment?office={office['id']}"))["items"]
    assert (booked["channel"], booked["slot_at"]) == ("telephony", "2026-12-08T03:30:00Z")
    assert operator.get(f"{url}?choice=consult&via=fax").status_code == 400
    # nobody came by 08:45: a no-show
    from plugins.queue import booking
    clock.freeze(dt.datetime(2026, 12, 8, 3, 46, tzinfo=UTC))
    assert booking.no_shows(Platform(loom)) == {"no_shows": 1}
    assert ok(as_user(grid, "titov").get(f"{API}/appointment/{booked['id']}"))["status"] == "no_show"


def test_waiting_time_statistics_per_office_service_and_day(grid):
    front = as_user(grid, "titov")
    central = one(front, "office", name="Центральный офис обслуживания")
    south = one(front, "office", name="Офис Южного РЭС")
    w1, w2 = (one(front, "service_window", name=n, office=central["id"]) for n in ("Окно 1", "Окно 2"))
    s1 = one(front, "service_window", name="Окно 1", office=south["id"])

    def at(minutes, day=0):
        clock.freeze(MONDAY + dt.timedelta(days=day, minutes=minutes))

    def call(window):
        return ok(front.post(f"{API}/service_window/{window['id']}/actions/call_next", {}))["record"]["current_ticket"]

    def take(office, service="consult"):
        return ok(front.post(f"{API}/queue_ticket", {"office": office["id"], "service": service}), 201)["id"]

    # Monday: five consultations at the central office and two at the southern one at 10:00
    c = [take(central) for _ in range(5)]
    for _ in range(2):
        take(south)
    script = [(1, lambda: call(s1)), (2, lambda: call(w1)), (3, lambda: call(s1)), (4, lambda: call(w2)),
              (5, lambda: take(south, "metering")), (6, lambda: call(w1)), (7, lambda: fire(front, "queue_ticket", c[0], "serve")),
              (10, lambda: call(w2)), (11, lambda: fire(front, "queue_ticket", c[1], "serve")),
              (12, lambda: fire(front, "queue_ticket", c[3], "miss")), (15, lambda: fire(front, "queue_ticket", c[2], "serve")),
              (30, lambda: call(w1)), (33, lambda: fire(front, "queue_ticket", c[4], "serve"))]
    for minutes, step in script:
        at(minutes)
        step()
    # Tuesday: one more, waiting 12 minutes, served in 4
    at(0, day=1)
    tuesday = take(central)
    at(12, day=1)
    assert call(w1) == tuesday
    at(16, day=1)
    fire(front, "queue_ticket", tuesday, "serve")
    head = as_user(grid, "belova")  # the office head reads the statistics through the API
    report = ok(head.get(f"{API}/_reports/queue_waiting"))
    assert report["group_by"] == ["office", "service", "created_at"] and report["period"] == "day"
    rows = {(r["group"]["office"], r["group"]["service"], r["group"]["created_at"]): r["values"] for r in report["rows"]}
    figures = ("taken", "called", "wait_avg", "wait_median", "wait_p90", "serve_avg", "no_shows")
    got = {key: tuple(values[f] for f in figures) for key, values in rows.items()}
    assert got == {
        (central["id"], "consult", "2026-12-07"): (5, 5, "10.40", "6.00", "22.00", "6.00", 1),
        (central["id"], "consult", "2026-12-08"): (1, 1, "12.00", "12.00", "12.00", "4.00", 0),
        (south["id"], "consult", "2026-12-07"): (2, 2, "2.00", "2.00", "2.80", None, 0),
        (south["id"], "metering", "2026-12-07"): (1, 0, None, None, None, None, 0)}
    assert tuple(report["total"][f] for f in figures) == (9, 8, "8.50", "5.00", "17.40", "5.60", 1)
    # one office, one day: narrowed in the query
    narrowed = ok(head.get(f"{API}/_reports/queue_waiting?office={south['id']}&service=consult"))
    assert [r["values"]["wait_p90"] for r in narrowed["rows"]] == ["2.80"] and narrowed["total"]["taken"] == 2
    assert [r["name"] for r in ok(head.get(f"{API}/_reports"))] == ["queue_waiting", "appointments"]
    # the report page shows the same figures
    page = Browser(grid[1].test_client())
    page.post("/login", {"username": "belova", "password": "demo-pass-1"})
    html = page.get("/ui/utility/reports/queue_waiting").get_data(as_text=True)
    assert "Время ожидания в электронной очереди" in html and "90-й процентиль" in html and "22,00" in html
    # a consumer clerk without the role sees no report of tickets
    assert as_user(grid, "kovalev").get(f"{API}/_reports/queue_waiting").status_code == 403


# ---------------------------------------------------------------------- single window
def test_the_consumer_card_shows_source_records_and_history(grid):
    operator = as_user(grid, "smirnova")
    consumer = one(operator, "consumer", account="6601000101")
    sources = ok(operator.get(f"{API}/consumer_source?master={consumer['id']}&sort=source"))["items"]
    assert sorted((s["source"], s["source_id"]) for s in sources) == [
        ("billing", "ЛС-6601000101"), ("crm", "CRM-55120"), ("old_bpm", "BPM-7781")]
    appeals = ok(operator.get(f"{API}/appeal?consumer={consumer['id']}"))["items"]
    readings = ok(operator.get(f"{API}/reading?consumer={consumer['id']}"))["items"]
    assert len(appeals) == 1 and len(readings) == 2


# ---------------------------------------------------------------------- grid connection
def test_grid_connection_stages_with_their_regulated_deadlines(grid):
    operator, specialist = as_user(grid, "smirnova"), as_user(grid, "gusev")
    consumer = one(operator, "consumer", account="6602000201")
    made = ok(operator.post(f"{API}/grid_connection", {"consumer": consumer["id"], "channel": "gosuslugi",
                                                        "object_address": "г. Энск, ул. Ленина, 40",
                                                        "max_kw": "150"}), 201)
    assert (made["category"], made["received_on"], made["offer_due_on"]) == ("medium", "2026-12-07", "2026-12-21")
    refused = specialist.post(f"{API}/grid_connection/{made['id']}/transitions/offer", {})
    assert refused.status_code == 422 and "contract_number" in str(refused.get_json())
    fire(specialist, "grid_connection", made["id"], "offer", contract_number="ТП-26/0415")
    signed = fire(specialist, "grid_connection", made["id"], "sign", signed_on="2026-12-10")
    assert (signed["status"], signed["execution_due_on"]) == ("execution", "2027-06-10")
    clock.freeze(MONDAY + dt.timedelta(days=30))  # Wednesday 6 January 2027, a holiday week
    executed = fire(specialist, "grid_connection", made["id"], "execute")
    assert (executed["executed_on"], executed["documents_due_on"]) == ("2027-01-06", "2027-01-15")
    done = fire(specialist, "grid_connection", made["id"], "issue")
    assert (done["status"], done["documents_on"]) == ("connected", "2027-01-06")


# ---------------------------------------------------------------------- surveys
def test_survey_results_kept_current(grid):
    operator = as_user(grid, "smirnova")
    survey = one(operator, "survey", name="Удовлетворённость рассмотрением обращения")
    survey = ok(operator.get(f"{API}/survey/{survey['id']}"))
    assert len(survey["questions"]) == 3 and survey["responses"] == 0
    consumer = one(operator, "consumer", account="6601000101")
    for score in (5, 4, 2):
        ok(operator.post(f"{API}/survey_response", {"survey": survey["id"], "consumer": consumer["id"], "score": score,
                                                     "answers": [{"question": "Соблюдён ли срок?", "answer": "Да"}]}), 201)
    survey = ok(operator.get(f"{API}/survey/{survey['id']}"))
    assert (survey["responses"], survey["score_sum"]) == (3, 11)
    refused = operator.post(f"{API}/survey_response", {"survey": survey["id"], "score": 7})
    assert refused.status_code == 422 and "score" in str(refused.get_json())


# ---------------------------------------------------------------------- restriction and reconnection
def sla_of(api, entity, record_id) -> dict:
    return {t["target"]: t for t in ok(api.get(f"{API}/{entity}/{record_id}/sla"))}


def test_a_debtor_is_notified_restricted_after_the_term_and_reconnected_within_24_hours(grid):
    loom, _ = grid
    operator, limits = as_user(grid, "smirnova"), as_user(grid, "fedorov")
    company = one(operator, "consumer", account="6602000201")  # ООО «Хлебный дом»
    made = ok(operator.post(f"{API}/disconnect_request", {"consumer": company["id"], "reason": "debt",
                                                           "channel": "edms", "debt_amount": "12500.00"}), 201)
    assert (made["status"], made["initiator"], made["received_at"]) == ("registered", "billing", "2026-12-07T05:00:00Z")
    assert (made["address"], made["email"]) == ("г. Энск, ул. Ленина, 40", "office@hleb.example")
    # "take in work" makes whoever takes it the executor; a specialist of another department may not
    assert as_user(grid, "kovalev").post(f"{API}/disconnect_request/{made['id']}/transitions/take", {}).status_code == 403
    clock.freeze(MONDAY + dt.timedelta(hours=1))
    taken = fire(limits, "disconnect_request", made["id"], "take")
    assert (taken["status"], taken["executor"]) == ("in_work", uid(loom, "fedorov"))
    assert sla_of(limits, "disconnect_request", made["id"])["reaction"]["state"] == "met"
    # a debtor is notified before anything else; a company: no earlier than 10 working days after
    early = limits.post(f"{API}/disconnect_request/{made['id']}/transitions/schedule", {"visit_on": "2026-12-10"})
    assert early.status_code == 422 and "Сначала направьте потребителю уведомление" in str(early.get_json())
    noticed = fire(limits, "disconnect_request", made["id"], "notify")
    assert (noticed["status"], noticed["notice_sent_on"], noticed["restrict_not_before"]) == (
        "notified", "2026-12-07", "2026-12-21")
    [notice] = [m for m in outbox(loom) if made["number"] in m["subject"]]
    assert notice["recipient"] == "office@hleb.example" and "Уведомление о введении ограничения" in notice["subject"]
    assert "12500.00 руб." in notice["body"] and "не ранее 21.12.2026" in notice["body"]
    too_soon = limits.post(f"{API}/disconnect_request/{made['id']}/transitions/schedule", {"visit_on": "2026-12-18"})
    assert too_soon.status_code == 422 and "не ранее 21.12.2026" in str(too_soon.get_json())
    fire(limits, "disconnect_request", made["id"], "schedule", visit_on="2026-12-21")
    [task] = ok(limits.get(f"{API}/field_task?disconnect={made['id']}"))["items"]
    assert (task["kind"], task["visit_on"], task["assignee"], task["address"]) == (
        "restrict", "2026-12-21", uid(loom, "fedorov"), "г. Энск, ул. Ленина, 40")
    # the crew restricts on the day, with its act; the consumer is told
    clock.freeze(dt.datetime(2026, 12, 21, 6, 0, tzinfo=UTC))
    refused = limits.post(f"{API}/disconnect_request/{made['id']}/transitions/restrict", {})
    assert refused.status_code == 422 and "act_number" in str(refused.get_json())
    restricted = fire(limits, "disconnect_request", made["id"], "restrict", act_number="АО-118")
    assert (restricted["status"], restricted["restricted_at"]) == ("restricted", "2026-12-21T06:00:00Z")
    # the debt is paid: from the billing company's notice supply is back within 24 hours
    clock.freeze(dt.datetime(2026, 12, 23, 9, 0, tzinfo=UTC))
    cleared = fire(operator, "disconnect_request", made["id"], "clear")
    assert (cleared["status"], cleared["cleared_at"], cleared["reconnect_due_at"]) == (
        "reconnecting", "2026-12-23T09:00:00Z", "2026-12-24T09:00:00Z")
    reconnection = sla_of(limits, "disconnect_request", made["id"])["reconnection"]
    assert (reconnection["state"], reconnection["due_at"]) == ("running", "2026-12-24T09:00:00+00:00")
    tasks = ok(limits.get(f"{API}/field_task?disconnect={made['id']}&sort=id"))["items"]
    assert [(t["kind"], t["assignee"]) for t in tasks] == [("restrict", uid(loom, "fedorov")),
                                                           ("reconnect", uid(loom, "fedorov"))]  # the executor's
    clock.freeze(dt.datetime(2026, 12, 23, 15, 0, tzinfo=UTC))
    back = fire(limits, "disconnect_request", made["id"], "reconnect", reconnect_act="АВ-118")
    assert (back["status"], back["reconnected_at"]) == ("reconnected", "2026-12-23T15:00:00Z")
    assert sla_of(limits, "disconnect_request", made["id"])["reconnection"]["state"] == "met"
    subjects = [m["subject"] for m in outbox(loom) if made["number"] in m["subject"]]
    assert subjects == [f"[{made['number']}] Уведомление о введении ограничения режима потребления электроэнергии",
                        f"[{made['number']}] Введено ограничение режима потребления электроэнергии",
                        f"[{made['number']}] Подача электроэнергии возобновлена"]


def test_a_household_gets_20_days_and_paying_in_time_stops_the_procedure(grid):
    loom, _ = grid
    operator, limits = as_user(grid, "smirnova"), as_user(grid, "nikitina")
    person = one(operator, "consumer", account="6601000101")
    made = ok(operator.post(f"{API}/disconnect_request", {"consumer": person["id"], "reason": "debt",
                                                           "channel": "edms"}), 201)
    fire(limits, "disconnect_request", made["id"], "take")
    assert fire(limits, "disconnect_request", made["id"], "notify")["restrict_not_before"] == "2026-12-27"
    refused = operator.post(f"{API}/disconnect_request/{made['id']}/transitions/cancel", {})
    assert refused.status_code == 422 and "result" in str(refused.get_json())
    stopped = fire(operator, "disconnect_request", made["id"], "cancel", result="Задолженность погашена 10.12.2026")
    assert stopped["status"] == "cancelled"
    last = [m for m in outbox(loom) if made["number"] in m["subject"]][-1]
    assert last["recipient"] == "kuznetsova@mail.example" and "прекращена: Задолженность погашена" in last["body"]


def test_the_consumers_own_application_safety_and_a_reconnection_request(grid):
    loom, _ = grid
    operator, limits = as_user(grid, "smirnova"), as_user(grid, "fedorov")
    trader = one(operator, "consumer", account="6603000301")
    # the consumer's own application: on the date asked for, no notice
    own = ok(operator.post(f"{API}/disconnect_request", {"consumer": trader["id"], "reason": "own_request",
                                                          "channel": "in_person", "requested_on": "2026-12-15"}), 201)
    assert (own["initiator"], own["restrict_not_before"]) == ("consumer", "2026-12-15")
    fire(limits, "disconnect_request", own["id"], "take")
    assert limits.post(f"{API}/disconnect_request/{own['id']}/transitions/notify", {}).status_code == 409
    assert fire(limits, "disconnect_request", own["id"], "schedule", visit_on="2026-12-15")["status"] == "scheduled"
    # safety: at once, within 2 hours
    danger = ok(limits.post(f"{API}/disconnect_request", {"consumer": trader["id"], "reason": "safety",
                                                           "channel": "dispatch"}), 201)
    assert (danger["initiator"], danger["restrict_not_before"]) == ("grid", "2026-12-07")
    assert sla_of(limits, "disconnect_request", danger["id"])["restriction"]["due_at"] == "2026-12-07T07:00:00+00:00"
    fire(limits, "disconnect_request", danger["id"], "take")
    fire(limits, "disconnect_request", danger["id"], "schedule", visit_on="2026-12-07")
    clock.freeze(MONDAY + dt.timedelta(minutes=80))
    fire(limits, "disconnect_request", danger["id"], "restrict", act_number="АО-7")
    assert sla_of(limits, "disconnect_request", danger["id"])["restriction"]["state"] == "met"
    # a reconnection after payment restricted elsewhere: its 24 hours run from registration
    again = ok(operator.post(f"{API}/disconnect_request", {"consumer": trader["id"], "reason": "reconnect",
                                                           "channel": "edms"}), 201)
    assert (again["cleared_at"], again["reconnect_due_at"]) == ("2026-12-07T06:20:00Z", "2026-12-08T06:20:00Z")
    assert sla_of(limits, "disconnect_request", again["id"])["reconnection"]["due_at"] == "2026-12-08T06:20:00+00:00"
    fire(limits, "disconnect_request", again["id"], "take")
    assert limits.post(f"{API}/disconnect_request/{again['id']}/transitions/schedule",
                       {"visit_on": "2026-12-07"}).status_code == 409  # nothing to restrict
    going = fire(limits, "disconnect_request", again["id"], "clear")
    assert (going["status"], going["reconnect_due_at"]) == ("reconnecting", "2026-12-08T06:20:00Z")
    assert fire(limits, "disconnect_request", again["id"], "reconnect", reconnect_act="АВ-9")["status"] == "reconnected"


# ---------------------------------------------------------------------- single window
def test_the_single_window_shows_every_process_newest_first_as_each_reader_may(grid):
    loom, web = grid
    operator, analyst = as_user(grid, "smirnova"), as_user(grid, "analyst_ut")
    consumer = one(operator, "consumer", account="6601000101")  # her appeal and two readings are demo data
    at = lambda hours: clock.freeze(MONDAY + dt.timedelta(hours=hours))  # noqa: E731
    at(1)
    ok(operator.post(f"{API}/grid_connection", {"consumer": consumer["id"], "channel": "portal",
                                                 "object_address": "г. Энск, ул. Ленина, 10", "max_kw": "15"}), 201)
    at(2)
    ok(operator.post(f"{API}/meter_request", {"consumer": consumer["id"], "kind": "replace"}), 201)
    at(3)
    office = one(operator, "office", name="Центральный офис обслуживания")
    ok(as_user(grid, "titov").post(f"{API}/queue_ticket", {"office": office["id"], "service": "metering",
                                                           "source": "portal", "consumer": consumer["id"]}), 201)
    at(4)
    debt = ok(operator.post(f"{API}/disconnect_request", {"consumer": consumer["id"], "reason": "debt",
                                                           "channel": "edms"}), 201)
    at(5)
    survey = one(operator, "survey", name="Удовлетворённость рассмотрением обращения")
    ok(operator.post(f"{API}/survey_response", {"survey": survey["id"], "consumer": consumer["id"], "score": 5}), 201)
    at(6)
    answer = dispatch(web, {"event_id": "oik-9", "outage": {
        "id": "OIK-2026-600", "kind": "planned", "works": "repair", "starts_at": "2026-12-09T04:00:00+00:00",
        "ends_at": "2026-12-09T10:00:00+00:00", "objects": "ТП-101", "text": "Ремонт"}})
    assert answer.status_code == 201, answer.get_json()
    dispatcher = as_user(grid, "dispatcher")
    outage = ok(dispatcher.get(f"{API}/outage/{answer.get_json()['record_id']}"))
    run = dispatcher.post(f"{API}/_batches/outage_notices/runs",
                          json={"params": {"outage": outage["id"]}, "ids": outage["grid_objects"]})
    assert run.status_code == 202, run.get_json()
    at(7)
    ok(operator.post(f"{API}/zone_approval", {"applicant": "Кузнецова М. И.", "consumer": consumer["id"],
                                               "applicant_category": "person", "reason": "earthworks",
                                               "works_kind": "non_capital", "line_length_m": "5",
                                               "voltage_kv": "0.4"}), 201)
    page = ok(analyst.get(f"{API}/consumer/{consumer['id']}/timeline"))
    assert page["title"] == "Единое окно: история потребителя" and page["next"] is None
    assert [i["entity"] for i in page["items"]] == [
        "zone_approval", "outage_notice", "survey_response", "disconnect_request", "queue_ticket", "meter_request",
        "appeal", "grid_connection",  # registered on 7 December: the day's first instant, before the appeal's time
        "reading", "reading"]
    assert [i["date"] for i in page["items"]][-4:] == ["2026-12-07T05:00:00Z", "2026-12-07", "2026-11-25",
                                                       "2026-10-25"]
    entry = {i["entity"]: i for i in page["items"]}
    assert (entry["disconnect_request"]["process"], entry["disconnect_request"]["number"],
            entry["disconnect_request"]["channel_title"], entry["disconnect_request"]["status_title"],
            entry["disconnect_request"]["summary"]) == (
        "Заявка на ограничение / возобновление электроснабжения", debt["number"], "СЭД (от сбытовой компании)",
        "Зарегистрирована", "Задолженность по оплате")
    assert entry["appeal"]["channel_title"] == "Телефония (контакт-центр)"
    assert entry["outage_notice"]["channel_title"] == "SMS" and entry["queue_ticket"]["channel"] == "portal"
    assert entry["appeal"]["url"] == f"/ui/utility/appeal/{entry['appeal']['id']}"
    # paged: four at a time, the same entries in the same order
    seen, after = [], ""
    while True:
        part = ok(analyst.get(f"{API}/consumer/{consumer['id']}/timeline?limit=4{after}"))
        seen += [(i["entity"], i["id"]) for i in part["items"]]
        if not part["next"]:
            break
        after = f"&after={part['next']}"
    assert seen == [(i["entity"], i["id"]) for i in page["items"]]
    # each reader sees what their own lists show: no notices, tickets or restrictions for a metering
    # specialist, only the notices for the dispatcher, only the restrictions for their specialist
    metering = [i["entity"] for i in ok(as_user(grid, "lapina").get(f"{API}/consumer/{consumer['id']}/timeline"))["items"]]
    assert metering == ["zone_approval", "survey_response", "meter_request", "appeal", "grid_connection",
                        "reading", "reading"]
    assert [i["entity"] for i in ok(dispatcher.get(f"{API}/consumer/{consumer['id']}/timeline"))["items"]] == [
        "outage_notice"]
    assert [i["entity"] for i in ok(as_user(grid, "fedorov").get(f"{API}/consumer/{consumer['id']}/timeline"))["items"]
            ] == ["disconnect_request"]
