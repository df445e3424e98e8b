"""Time in status (``kind: time_in_status``): how long records stayed in each status, read from
the status history, per status and optionally per group; the stay a record is in now runs until
now; hours are wall-clock or the working hours of an sla.yaml calendar; row rules narrow it, the
API narrows it by query filters, the UI shows it as a table, and publishing names its mistakes.
On SQLite and PostgreSQL, with a frozen clock and known figures."""
from __future__ import annotations

import copy
import datetime as dt
import decimal

import pytest

from metamodel import MetadataError
from runtime.core.config import Settings
from runtime.data.records import SYSTEM
from runtime.data.reports import find_report, result_json, run_report
from runtime.web import create_app

D = decimal.Decimal
UTC = dt.timezone.utc
MONDAY = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
REPORT = {"name": "stays", "entity": "case", "kind": "time_in_status"}


def doc(*reports: dict) -> dict:
    return {
        "app": {"name": "cases", "title": "Cases", "roles": [{"name": "boss"}, {"name": "team_a"}]},
        "entities": {"case": {
            "title": "Case", "number": "C-{000}",
            "fields": {"team": {"type": "choice", "choices": [{"value": "a"}, {"value": "b"}]}},
            "statuses": [{"name": "new", "initial": True, "category": "open"}, {"name": "work", "category": "in_work"},
                         {"name": "wait", "category": "waiting"}, {"name": "done", "category": "done"}],
            "transitions": [{"name": "take", "from": "new", "to": "work"}, {"name": "hold", "from": "work", "to": "wait"},
                            {"name": "resume", "from": "wait", "to": "work"},
                            {"name": "close", "from": "work", "to": "done"}],
            "permissions": {"read": ["boss", "team_a"], "create": ["boss"], "update": ["boss"],
                            "rows": [{"roles": ["team_a"], "condition": "team == 'a'"}, {"roles": ["boss"]}]}}},
        "sla": {"calendars": {"office": {"timezone": "UTC", "hours": {d: ["09:00-18:00"] for d in
                                                                      ("mon", "tue", "wed", "thu", "fri")}}}},
        "reports": {"reports": [copy.deepcopy(r) for r in reports or (REPORT,)]},
    }


def at(hours: float) -> dt.datetime:
    return MONDAY + dt.timedelta(hours=hours)


@pytest.fixture
def cases(loom, frozen):
    """Case 1 (team a): new 2 h, work 4 h, wait Monday 15:00 to Tuesday 09:00 (18 h, 3 working),
    work 1 h, done since Tuesday 10:00. Case 2 (team b): new 0.5 h, in work since Monday 10:30.
    The report is read on Tuesday at 12:00."""
    loom.store.publish(doc(REPORT, {**REPORT, "name": "working", "calendar": "office", "group_by": ["team"],
                                    "statuses": ["work", "wait"]}), author="t")
    fire = loom.workflow.transition
    frozen(at(0))
    one = loom.records.create("cases", "case", {"team": "a"}, SYSTEM)["id"]
    frozen(at(1))
    two = loom.records.create("cases", "case", {"team": "b"}, SYSTEM)["id"]
    frozen(at(1.5))
    fire("cases", "case", two, "take")
    for hours, name in ((2, "take"), (6, "hold"), (24, "resume"), (25, "close")):
        frozen(at(hours))
        fire("cases", "case", one, name)
    frozen(at(27))
    loom.accounts.create_user("boss", "boss-pass-1", roles=["cases:boss"])
    loom.accounts.create_user("anna", "anna-pass-1", roles=["cases:team_a"])
    return loom


def rows(result) -> dict:
    return {keys: values for keys, values in result.rows}


def test_hours_in_each_status_with_the_current_stay_running_until_now(cases):
    result = run_report(cases, "cases", find_report(cases, "cases", "stays"), cases.actor("boss"))
    got = rows(result)
    assert list(got) == [("new",), ("work",), ("wait",), ("done",)]  # in the workflow's order
    assert got[("new",)] == {"stays": 2, "avg_hours": D("1.25"), "median_hours": D("1.25"), "max_hours": D("2"),
                             "total_hours": D("2.5")}
    # case 1: 4 h and 1 h; case 2: Monday 10:30 to Tuesday 12:00, still in work
    assert got[("work",)] == {"stays": 3, "avg_hours": D("10.17"), "median_hours": D("4"), "max_hours": D("25.5"),
                              "total_hours": D("30.5")}
    assert got[("wait",)]["total_hours"] == D("18") and got[("done",)]["total_hours"] == D("2")


def test_working_hours_of_a_calendar_per_group_and_chosen_statuses(cases):
    result = run_report(cases, "cases", find_report(cases, "cases", "working"), cases.actor("boss"))
    got = rows(result)
    assert list(got) == [("a", "work"), ("a", "wait"), ("b", "work")]
    assert got[("a", "work")]["total_hours"] == D("5")
    assert got[("a", "wait")]["total_hours"] == D("3")  # Monday 15:00-18:00; the night does not count
    assert got[("b", "work")]["total_hours"] == D("10.5")  # Monday 10:30-18:00 and Tuesday 09:00-12:00


def test_row_rules_narrow_it_and_the_api_filters_it(cases, tmp_path):
    mine = rows(run_report(cases, "cases", find_report(cases, "cases", "stays"), cases.actor("anna")))
    assert mine[("work",)]["stays"] == 2 and mine[("new",)]["total_hours"] == D("2")  # case 1 only
    client = create_app(Settings(tmp_path, cases.database_url), cases).test_client()
    token = cases.accounts.issue_token(cases.actor("boss").id)
    answer = client.get("/api/v1/cases/_reports/stays?team=b", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["kind"] == "time_in_status"
    assert [(r["group"], r["values"]["stays"], r["values"]["total_hours"]) for r in body["rows"]] == [
        ({"status": "new"}, 1, "0.5"), ({"status": "work"}, 1, "25.5")]
    assert result_json(run_report(cases, "cases", find_report(cases, "cases", "stays"), SYSTEM))["rows"][0][
        "values"]["median_hours"] == "1.25"


def test_the_report_page_shows_a_row_per_status_in_the_readers_language(cases, tmp_path):
    from tests.ui.conftest import Browser
    browser = Browser(create_app(Settings(tmp_path, cases.database_url), cases).test_client())
    assert browser.login("boss", "boss-pass-1").status_code == 302
    browser.get("/lang/ru")
    page = browser.get("/ui/cases/reports/working")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Медиана, ч" in html and "Всего, ч" in html
    assert html.index("work") < html.index("wait")  # status rows in the workflow's order
    assert "10,50" in html or "10.50" in html  # team b's working hours in work


@pytest.mark.parametrize("report, message", [
    ({**REPORT, "statuses": ["wrok"]}, r"reports\[0\]\.statuses\[0\]: unknown status of case 'wrok'; did you mean 'work'"),
    ({**REPORT, "calendar": "ofice"}, r"reports\[0\]\.calendar: unknown calendar of sla.yaml 'ofice'; did you mean "
                                      "'office'"),
    ({**REPORT, "measure": {"fn": "count"}}, "it takes no measure"),
    ({"name": "r", "entity": "case", "kind": "group", "group_by": ["team"], "calendar": "office"},
     "calendar belongs to time_in_status reports only"),
])
def test_publishing_names_the_mistakes(sqlite_loom, report, message):
    with pytest.raises(MetadataError, match=message):
        sqlite_loom.store.publish(doc(report), author="t")
