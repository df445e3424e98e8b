"""Acceptance: the municipal administration (DOMAIN §5) walked through the REST API with a frozen
clock, on SQLite and PostgreSQL, over the shipped demo data and staff: an assignment returned for
rework then accepted; co-executors' parts closing the whole; a stage exception raised when its
forecast passes tolerance, and the stage boundary approved by the board; affected houses counted
by resource; the appeal counter kept current on create, relink and delete; reminders before the
deadline and escalation after it; the KPI per executor."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from runtime import clock
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.data.fixtures import load_fixtures
from runtime.data.reports import find_report, run_report
from runtime.web import create_app
from tests.api.conftest import Client
from tests.api.test_record_files import PNG, multipart
from tests.apps.users import as_user, ok, uid  # noqa: F401
from tests.conftest import APPS

APP = "municipal"
API = f"/api/v1/{APP}"
UTC = dt.timezone.utc
MONDAY = dt.datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 09:00 in Yekaterinburg, a working Monday


@pytest.fixture
def city(loom, tmp_path):
    clock.freeze(MONDAY)
    loom.store.install(APPS / APP, author="tester")
    load_fixtures(loom, APP)
    web = create_app(Settings(tmp_path, loom.database_url), loom)
    yield loom, web
    clock.thaw()


def fire(api, entity, record_id, name, status=200, **values):
    return ok(api.post(f"{API}/{entity}/{record_id}/transitions/{name}", values), status)


def one(api, entity, **where) -> dict:
    query = "&".join(f"{k}={v}" for k, v in where.items())
    [found] = ok(api.get(f"{API}/{entity}?{query}"))["items"]
    return found


def notices(loom, username) -> list[str]:
    n = platform.notification
    with loom.engine.connect() as c:
        return list(c.execute(select(n.c.title).where(n.c.user_id == uid(loom, username)).order_by(n.c.id)).scalars())


def history(api, entity, record_id) -> list[str]:
    return [h["transition"] for h in ok(api.get(f"{API}/{entity}/{record_id}/history"))]


def new_assignment(api, loom, **values) -> dict:
    data = {"title": "Организовать вывоз снега с ул. Заводской", "executor": uid(loom, "kuzmin_aa"),
            "deadline": "2026-12-14", **values}
    return ok(api.post(f"{API}/assignment", data), 201)


# ---------------------------------------------------------------------- assignments
def test_an_assignment_returned_for_rework_then_accepted(city):
    loom, _ = city
    controller, executor = as_user(city, "petrov_dk"), as_user(city, "kuzmin_aa")
    appeal = one(controller, "appeal", subject="Не убран снег на остановке")
    assert (appeal["assignments"], appeal["status"]) == (0, "registered")
    made = new_assignment(controller, loom, appeal=appeal["id"])
    assert made["author"] == uid(loom, "petrov_dk") and made["status"] == "draft"
    # the appeal shows that an action was taken, as soon as the assignment exists
    appeal = ok(controller.get(f"{API}/appeal/{appeal['id']}"))
    assert (appeal["assignments"], appeal["status"]) == (1, "assigned")
    issued = fire(controller, "assignment", made["id"], "issue")
    assert (issued["status"], issued["issued_on"]) == ("in_work", "2026-12-07")
    assert f"Поручение {made['number']}: Организовать вывоз снега с ул. Заводской (срок 2026-12-14)" in \
        notices(loom, "kuzmin_aa")
    # the report needs a photo or a scan
    refused = executor.post(f"{API}/assignment/{made['id']}/transitions/report", {"report": "Снег вывезен"})
    assert refused.status_code == 422 and "report_files" in str(refused.get_json())
    clock.freeze(MONDAY + dt.timedelta(days=2))
    reported = multipart(executor, f"{API}/assignment/{made['id']}/transitions/report",
                         {"report": "Снег вывезен"}, report_files=("after.png", PNG))
    assert ok(reported)["status"] == "on_review"
    # returning it needs a reason
    no_reason = controller.post(f"{API}/assignment/{made['id']}/transitions/return", {})
    assert no_reason.status_code == 422 and "return_reason" in str(no_reason.get_json())
    back = fire(controller, "assignment", made["id"], "return",
                return_reason="Остановка «Заводская» не очищена, приложите фото остановки")
    assert (back["status"], back["returns"]) == ("rework", 1)
    assert f"На доработку: {made['number']} {made['title']}" in notices(loom, "kuzmin_aa")
    # a person cannot wipe the count of returns
    current = ok(controller.get(f"{API}/assignment/{made['id']}"))
    wiped = controller.patch(f"{API}/assignment/{made['id']}", {"returns": 0, "row_version": current["row_version"]})
    assert wiped.status_code == 403
    clock.freeze(MONDAY + dt.timedelta(days=3))
    again = multipart(executor, f"{API}/assignment/{made['id']}/transitions/report",
                      {"report": "Остановка очищена"}, report_files=("stop.png", PNG))
    assert ok(again)["status"] == "on_review"
    done = fire(controller, "assignment", made["id"], "accept")
    assert (done["status"], done["completed_on"], done["days_taken"], done["on_time"], done["returns"]) == \
        ("done", "2026-12-10", 3, True, 1)
    assert len(done["report_files"]) == 2
    assert history(controller, "assignment", made["id"]) == ["issue", "report", "return", "report", "accept"]
    # the executor's KPI counts it: done on time, one return, three days
    kpi = run_report(loom, APP, find_report(loom, APP, "executor_kpi"), loom.actor("zam_glavy"))
    kuzmin = uid(loom, "kuzmin_aa")
    assert kpi.cells[(kuzmin, "done_on_time")] == 1
    returns = run_report(loom, APP, find_report(loom, APP, "returns_by_executor"), loom.actor("zam_glavy"))
    assert returns.cells[(kuzmin, None)] == 2  # this one, and the demo assignment on rework
    days = run_report(loom, APP, find_report(loom, APP, "days_by_executor"), loom.actor("zam_glavy"))
    assert float(days.cells[(kuzmin, None)]) == 3


def test_co_executors_parts_close_the_whole(city):
    loom, _ = city
    controller = as_user(city, "petrov_dk")
    made = new_assignment(controller, loom, title="Подготовить дворы к Новому году", co_executors=[
        {"executor": uid(loom, "sidorova_en"), "task": "Установить ёлки во дворах"},
        {"executor": uid(loom, "orlova_mv"), "task": "Договориться со школами об утреннике"}])
    issued = fire(controller, "assignment", made["id"], "issue")
    assert (issued["parts_total"], issued["parts_open"]) == (2, 2)
    parts = ok(controller.get(f"{API}/assignment_part?assignment={made['id']}&sort=id"))["items"]
    assert [(p["executor"], p["deadline"], p["status"]) for p in parts] == [
        (uid(loom, "sidorova_en"), "2026-12-14", "in_work"), (uid(loom, "orlova_mv"), "2026-12-14", "in_work")]
    # the whole can be neither reported nor accepted while parts are open
    early = multipart(as_user(city, "kuzmin_aa"), f"{API}/assignment/{made['id']}/transitions/report",
                      {"report": "Всё готово"}, report_files=("x.png", PNG))
    assert early.status_code == 409 and "parts_open == 0" in early.get_json()["detail"]
    # each co-executor reports their own part; the last one sends the whole to review by itself
    fire(as_user(city, "sidorova_en"), "assignment_part", parts[0]["id"], "report", report="Ёлки установлены")
    assert ok(controller.get(f"{API}/assignment/{made['id']}"))["status"] == "in_work"
    fire(as_user(city, "orlova_mv"), "assignment_part", parts[1]["id"], "report", report="Утренник 25 декабря")
    whole = ok(controller.get(f"{API}/assignment/{made['id']}"))
    assert (whole["status"], whole["parts_open"]) == ("on_review", 0)
    assert history(controller, "assignment", made["id"])[-1] == "auto:parts_done"
    assert f"На проверку: {made['number']} {made['title']}" in notices(loom, "petrov_dk")
    # a part returned for rework reopens it: the whole cannot be accepted until it is done again
    fire(controller, "assignment_part", parts[1]["id"], "return", return_reason="Нужна дата и время утренника")
    refused = controller.post(f"{API}/assignment/{made['id']}/transitions/accept", {})
    assert refused.status_code == 409
    fire(as_user(city, "orlova_mv"), "assignment_part", parts[1]["id"], "report", report="25 декабря, 10:00")
    assert fire(controller, "assignment", made["id"], "accept")["status"] == "done"
    # the parts are tasks of their co-executors
    assert len(ok(controller.get(f"{API}/assignment_part?executor={uid(loom, 'orlova_mv')}&status=done"))["items"]) == 1


def test_cancelling_an_assignment_cancels_its_open_parts(city):
    loom, _ = city
    controller = as_user(city, "petrov_dk")
    made = new_assignment(controller, loom, co_executors=[{"executor": uid(loom, "lebedev_pa"), "task": "Техника"}])
    fire(controller, "assignment", made["id"], "issue")
    gone = fire(controller, "assignment", made["id"], "cancel")
    assert (gone["status"], gone["parts_total"], gone["parts_open"]) == ("cancelled", 0, 0)


def test_reminders_before_the_deadline_and_one_escalation_after_it(city):
    loom, _ = city
    controller = as_user(city, "petrov_dk")
    made = new_assignment(controller, loom, deadline="2026-12-10")
    fire(controller, "assignment", made["id"], "issue")
    result = loom.notices.run(APP, "assignment_reminders", dt.date(2026, 12, 7))  # 3 days before
    assert result["sent"] >= 1
    assert any("Через 3 дн. срок" in n for n in notices(loom, "kuzmin_aa"))
    assert loom.notices.run(APP, "assignment_reminders", dt.date(2026, 12, 7))["sent"] == 0  # once
    # two demo assignments are overdue already (due November 25 and December 1); ours is from the 11th
    clock.freeze(dt.datetime(2026, 12, 11, 5, 0, tzinfo=UTC))
    first = loom.hooks.run_scheduled(APP, "assignments.py:escalate_overdue")
    second = loom.hooks.run_scheduled(APP, "assignments.py:escalate_overdue")
    assert (first["result"], second["result"]) == (3, 0)
    assert ok(controller.get(f"{API}/assignment/{made['id']}"))["escalated"] is True
    assert sum("Просрочено:" in n for n in notices(loom, "petrov_dk")) == 3  # a controller hears of each, once
    assert f"Просрочено: {made['number']} {made['title']} (срок был 2026-12-10)" in notices(loom, "kuzmin_aa")


# ---------------------------------------------------------------------- appeals and correspondents
def test_the_appeal_counter_is_kept_current_on_create_relink_and_delete(city):
    loom, _ = city
    clerk, head = as_user(city, "ivanova_ov"), as_user(city, "glava")
    smirnova = one(clerk, "correspondent", q="912 301")  # found by phone
    assert (smirnova["name"], smirnova["appeal_count"]) == ("Смирнова Галина Петровна", 2)
    assert one(clerk, "correspondent", q="Заводская")["name"] == "Кравцов Сергей Иванович"  # by address
    newcomer = ok(clerk.post(f"{API}/correspondent", {"name": "Попов Артём Сергеевич", "phone": "+7 900 100-20-30",
                                                        "address": "ул. Садовая, д. 9"}), 201)
    assert newcomer["appeal_count"] == 0
    made = ok(clerk.post(f"{API}/appeal", {"correspondent": smirnova["id"], "topic": "housing",
                                            "subject": "Третье обращение о крыше"}), 201)
    assert made["received_at"] == "2026-12-07T04:00:00Z" and made["number"] == "ОБР-000009"
    assert ok(clerk.get(f"{API}/correspondent/{smirnova['id']}"))["appeal_count"] == 3
    # registered under the wrong correspondent: moved, both counters follow in the same change
    ok(clerk.patch(f"{API}/appeal/{made['id']}", {"correspondent": newcomer["id"], "row_version": made["row_version"]}))
    assert ok(clerk.get(f"{API}/correspondent/{smirnova['id']}"))["appeal_count"] == 2
    newcomer = ok(clerk.get(f"{API}/correspondent/{newcomer['id']}"))
    assert (newcomer["appeal_count"], newcomer["last_appeal_at"]) == (1, "2026-12-07T04:00:00Z")
    ok(head.delete(f"{API}/appeal/{made['id']}"))
    assert ok(clerk.get(f"{API}/correspondent/{newcomer['id']}"))["appeal_count"] == 0
    ok(head.post(f"{API}/appeal/{made['id']}/restore"))
    assert ok(clerk.get(f"{API}/correspondent/{newcomer['id']}"))["appeal_count"] == 1
    # the counter is the platform's: a clerk cannot set it
    refused = clerk.patch(f"{API}/correspondent/{newcomer['id']}", {"appeal_count": 10,
                                                                    "row_version": newcomer["row_version"]})
    assert refused.status_code == 403
    # frequent correspondents, and appeals per correspondent
    frequent = ok(clerk.get(f"{API}/correspondent?view=frequent"))["items"]
    assert [c["name"] for c in frequent] == ["Кравцов Сергей Иванович", "Смирнова Галина Петровна"]
    per = run_report(loom, APP, find_report(loom, APP, "appeals_by_correspondent"), loom.actor("glava"))
    assert per.cells[(smirnova["id"], None)] == 2


# ---------------------------------------------------------------------- projects (PRINCE2)
def test_a_stage_exception_is_raised_once_when_its_forecast_passes_tolerance(city):
    loom, _ = city
    pm, board = as_user(city, "sergeev_vi"), as_user(city, "glava")
    project = ok(pm.post(f"{API}/project", {"name": "Ремонт моста через р. Исеть", "manager": uid(loom, "sergeev_vi")}),
                 201)
    stage = ok(pm.post(f"{API}/stage", {"project": project["id"], "name": "Ремонт пролётов",
                                        "manager": uid(loom, "sergeev_vi"), "planned_start": "2026-12-01",
                                        "planned_end": "2027-03-31", "budget": "1000000", "cost_tolerance": "50000",
                                        "time_tolerance": 7}), 201)
    fire(pm, "stage", stage["id"], "start")
    wp = ok(pm.post(f"{API}/work_package", {"stage": stage["id"], "title": "Замена покрытия",
                                            "forecast_end": "2027-03-20", "forecast_cost": "900000"}), 201)
    stage = ok(pm.get(f"{API}/stage/{stage['id']}"))
    assert (stage["forecast_cost"], stage["status"]) == ("900000.00", "in_work")
    # 1,050,000 is still within 1,000,000 + 50,000
    wp = ok(pm.patch(f"{API}/work_package/{wp['id']}", {"forecast_cost": "1050000", "row_version": wp["row_version"]}))
    assert ok(pm.get(f"{API}/stage/{stage['id']}"))["status"] == "in_work"
    wp = ok(pm.patch(f"{API}/work_package/{wp['id']}", {"forecast_cost": "1050000.01",
                                                        "row_version": wp["row_version"]}))
    stage = ok(pm.get(f"{API}/stage/{stage['id']}"))
    assert stage["status"] == "exception"
    [raised] = ok(pm.get(f"{API}/project_exception?stage={stage['id']}"))["items"]
    assert (raised["kind"], raised["project"], raised["status"]) == ("cost", project["id"], "raised")
    assert "Прогноз затрат 1050000.01 при бюджете 1000000.00" in raised["description"]
    assert any("вышел за допуски" in n for n in notices(loom, "sergeev_vi"))
    # the forecast grows further: no second exception while the first stands
    ok(pm.post(f"{API}/work_package", {"stage": stage["id"], "title": "Освещение", "forecast_cost": "20000"}), 201)
    assert len(ok(pm.get(f"{API}/project_exception?stage={stage['id']}"))["items"]) == 1
    assert ok(pm.get(f"{API}/project/{project['id']}"))["exceptions"] == 1
    # the board approves an exception plan with a new tolerance; the stage is back in work
    refused = board.post(f"{API}/stage/{stage['id']}/transitions/replan", {})
    assert refused.status_code == 422 and "exception_plan" in str(refused.get_json())
    back = fire(board, "stage", stage["id"], "replan", exception_plan="Дополнительные средства из резерва",
                cost_tolerance="100000")
    assert back["status"] == "in_work"
    # then the time forecast slips past planned end + 7 days: a time exception
    wp = ok(pm.get(f"{API}/work_package/{wp['id']}"))
    ok(pm.patch(f"{API}/work_package/{wp['id']}", {"forecast_end": "2027-04-08", "row_version": wp["row_version"]}))
    kinds = sorted(e["kind"] for e in ok(pm.get(f"{API}/project_exception?stage={stage['id']}"))["items"])
    assert kinds == ["cost", "time"]


def test_the_board_approves_a_stage_boundary(city):
    loom, _ = city
    pm, board = as_user(city, "sergeev_vi"), as_user(city, "zam_glavy")
    stage = one(pm, "stage", name="Внедрение")
    refused = pm.post(f"{API}/stage/{stage['id']}/transitions/to_boundary", {"end_report": "Готово"})
    assert refused.status_code == 409  # two work packages are still open
    for wp in ok(pm.get(f"{API}/work_package?stage={stage['id']}"))["items"]:
        fire(pm, "work_package", wp["id"], "finish")
    fire(pm, "stage", stage["id"], "to_boundary", end_report="Интернет-приёмная работает, интеграция с СЭД сдана")
    ok(board.post(f"{API}/stage/{stage['id']}/approvals/stage_boundary/votes",
                  {"decision": "approve", "comment": "Этап принят"}))
    assert ok(pm.get(f"{API}/stage/{stage['id']}"))["status"] == "closed"


def test_highlight_reports_are_drafted_weekly_for_stages_in_work(city):
    loom, _ = city
    made = loom.generators.run(APP, "highlight_reports", dt.date(2026, 12, 7))
    again = loom.generators.run(APP, "highlight_reports", dt.date(2026, 12, 9))
    assert (made["created"], made["failed"], again["created"]) == (1, 0, 0)  # the other stage is in exception
    drafts = ok(as_user(city, "sergeev_vi").get(f"{API}/highlight_report?status=draft"))["items"]
    assert [(d["period_start"], d["period_end"]) for d in drafts] == [("2026-12-07", "2026-12-13")]


def test_the_demo_construction_stage_raised_its_exception_when_loaded(city):
    pm = as_user(city, "sergeev_vi")
    stage = one(pm, "stage", name="Строительство")
    assert (stage["status"], stage["forecast_cost"]) == ("exception", "12650000.00")
    project = ok(pm.get(f"{API}/project/{stage['project']}"))
    assert (project["forecast_cost"], project["exceptions"]) == ("15100000.00", 1)


# ---------------------------------------------------------------------- emergency dispatch log
def test_affected_houses_are_counted_by_resource(city):
    loom, _ = city
    dispatcher = as_user(city, "morozov_ip")

    def by_resource(report="houses_by_resource"):
        result = run_report(loom, APP, find_report(loom, APP, report), loom.actor("morozov_ip"))
        return {key: int(value) for (key, _), value in result.cells.items()}

    assert by_resource() == {"heat": 4, "water": 3, "electricity": 2}  # the demo log's active messages
    assert by_resource("social_by_resource") == {"heat": 2, "water": 1, "electricity": 1}
    outage = ok(dispatcher.post(f"{API}/incident", {
        "kind": "emergency", "resource": "electricity", "summary": "Нет света в домах по ул. Ленина",
        "reporter_kind": "resident", "reporter": "Смирнова Галина Петровна", "started_at": "2026-12-07T03:30:00Z"}), 201)
    houses = {h["address"]: h["id"] for h in ok(dispatcher.get(f"{API}/house?limit=100"))["items"]}
    for address in ("ул. Ленина, д. 12", "ул. Ленина, д. 14", "ул. Школьная, д. 1"):
        ok(dispatcher.post(f"{API}/affected_house", {"incident": outage["id"], "house": houses[address]}), 201)
    twice = dispatcher.post(f"{API}/affected_house", {"incident": outage["id"], "house": houses["ул. Ленина, д. 12"]})
    assert twice.status_code == 422  # a house is counted once per message
    outage = ok(dispatcher.get(f"{API}/incident/{outage['id']}"))
    assert (outage["houses"], outage["social_objects"], outage["residents"]) == (3, 1, 390)
    assert by_resource() == {"heat": 4, "water": 3, "electricity": 5}
    assert by_resource("social_by_resource")["electricity"] == 2
    # restored: it leaves the dashboard
    restored = fire(dispatcher, "incident", outage["id"], "restore")
    assert restored["restored_at"] == "2026-12-07T04:00:00Z"
    assert by_resource() == {"heat": 4, "water": 3, "electricity": 2}


# ---------------------------------------------------------------------- pages
def test_the_pages_show_counters_parts_and_the_dispatch_dashboard(city):
    from tests.ui.conftest import Browser
    loom, web = city
    web.config["TESTING"] = True
    browser = Browser(web.test_client())
    assert browser.login("glava", "demo-pass-1").status_code == 302
    smirnova = one(as_user(city, "glava"), "correspondent", q="912 301")
    page = browser.get(f"/ui/{APP}/correspondent/{smirnova['id']}").get_data(as_text=True)
    assert "Обращений" in page and "Протекает крыша над подъездом № 2" in page  # the earlier appeals
    listing = browser.get(f"/ui/{APP}/correspondent?view=frequent").get_data(as_text=True)
    assert "Кравцов Сергей Иванович" in listing and "Яковлева" not in listing
    whole = one(as_user(city, "glava"), "assignment", title="Освещение пешеходного перехода у школы № 3")
    page = browser.get(f"/ui/{APP}/assignment/{whole['id']}").get_data(as_text=True)
    assert "Части поручений" in page and "Уведомить администрацию школы о сроках работ" in page
    form = browser.get(f"/ui/{APP}/assignment/{whole['id']}/edit")
    assert form.status_code == 200
    dashboard = browser.get(f"/ui/{APP}/reports")
    text = dashboard.get_data(as_text=True)
    assert dashboard.status_code == 200
    assert "Дома без ресурса по видам ресурса" in text and "Теплоснабжение" in text
    assert "Показатели исполнителей (KPI)" in text and "Действующие отключения" in text
