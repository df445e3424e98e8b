"""SLA compliance reports (kind ``sla``) of the it_support app, from a scenario driven through the API
with a frozen clock: figures per priority, per assignee and per month, row rules narrowing them,
targets running past their deadline counted as breached, and the report page with its chart data."""
from __future__ import annotations

import decimal
import re

import pytest

from runtime import clock
from runtime.data.records import Actor
from runtime.data.reports import SlaFigures, find_report, run_report
from runtime.errors import Forbidden
from tests.apps.test_it_support import T0, Support, local
from tests.conftest import APPS

from .conftest import Browser

APP = "it_support"
PASSWORD = "report-pass-1"


@pytest.fixture
def scenario(loom, tmp_path):
    """Thursday 17:30: ticket a (P2) and b (P1) by req1, c (P1) by req2, an improvement wish by req3
    (no SLA). Monday 10:00, after the 09:30 reaction deadline of the P1s has fired: a is taken
    (reaction met), c is resolved (reaction breached, resolution met), b waits."""
    from runtime.core.config import Settings
    from runtime.web import create_app
    clock.freeze(T0)
    try:
        loom.store.install(APPS / APP, author="tester")
        support = Support(loom, create_app(Settings(tmp_path, loom.database_url), loom))
        support.a = support.ticket(priority="2")
        support.b = support.ticket(priority="1")
        support.c = support.ticket(requester="req2", priority="1")
        support.ticket(requester="req3", question_type="improvement", title="Выгрузка в Excel")
        support.at(local(2026, 6, 15, 10, 0))
        support.fire("take", support.a, client="l2a")
        support.fire("resolve", support.c, resolution="Перезапущен сервис")
        yield support
    finally:
        clock.thaw()


def actor(support, name: str) -> Actor:
    return support.loom.accounts.actor_for_id(support.users[name])


def run(support, name: str, who) -> object:
    return run_report(support.loom, APP, find_report(support.loom, APP, name), who)


def figures(result) -> dict:
    """{(row key, target): (total, met, breached, in progress, compliance)}"""
    return {(rk, target): (f.total, f.met, f.breached, f.in_progress, f.compliance)
            for (rk, target), f in result.cells.items()}


D = decimal.Decimal


def test_compliance_per_priority_and_target(scenario):
    result = run(scenario, "sla_by_priority", actor(scenario, "line2_lead"))
    assert result.col_keys == ["reaction", "resolution"]
    assert result.row_keys == [("1",), ("2",)]  # the larger group first
    assert figures(result) == {
        (("1",), "reaction"): (2, 0, 2, 0, D("0.0")),
        (("1",), "resolution"): (2, 1, 0, 1, D("100.0")),
        (("2",), "reaction"): (1, 1, 0, 0, D("100.0")),
        (("2",), "resolution"): (1, 0, 0, 1, None),  # nothing decided yet
    }
    reaction = result.col_totals["reaction"]
    assert (reaction.total, reaction.met, reaction.breached, reaction.compliance) == (3, 1, 2, D("33.3"))
    assert result.total == 6  # target rows: the improvement wish has none


def test_a_target_running_past_its_deadline_counts_as_breached_before_its_timer_fires(scenario):
    clock.freeze(local(2026, 6, 17, 15, 0))  # b's resolution was due Wednesday 14:30; no timer has run
    result = run(scenario, "sla_by_priority", actor(scenario, "line2_lead"))
    assert figures(result)[(("1",), "resolution")] == (2, 1, 1, 0, D("50.0"))
    assert figures(result)[(("2",), "resolution")][:4] == (1, 0, 0, 1)  # a's is due Thursday 17:30


def test_each_requester_counts_only_their_own_tickets(scenario):
    mine = run(scenario, "sla_by_priority", actor(scenario, "req1"))  # a and b
    assert figures(mine) == {
        (("1",), "reaction"): (1, 0, 1, 0, D("0.0")),
        (("1",), "resolution"): (1, 0, 0, 1, None),
        (("2",), "reaction"): (1, 1, 0, 0, D("100.0")),
        (("2",), "resolution"): (1, 0, 0, 1, None),
    }
    theirs = run(scenario, "sla_by_priority", actor(scenario, "req2"))  # c
    assert figures(theirs) == {(("1",), "reaction"): (1, 0, 1, 0, D("0.0")),
                               (("1",), "resolution"): (1, 1, 0, 0, D("100.0"))}
    assert run(scenario, "sla_by_priority", actor(scenario, "req3")).cells == {}  # only the wish


def test_a_user_who_may_not_read_tickets_gets_no_report(scenario):
    uid = scenario.loom.accounts.create_user("outsider", None, roles=[])
    with pytest.raises(Forbidden):
        run(scenario, "sla_by_priority", scenario.loom.accounts.actor_for_id(uid))


def test_compliance_and_resolved_tickets_per_assignee(scenario):
    who = actor(scenario, "line2_lead")
    assignees = {name: scenario.get(getattr(scenario, name))["assignee"] for name in "abc"}
    expected: dict = {}
    for name, reaction, resolution in (("a", (1, 0), (0, 0)), ("b", (0, 1), (0, 0)), ("c", (0, 1), (1, 0))):
        for target, (met, breached) in (("reaction", reaction), ("resolution", resolution)):
            expected.setdefault(((assignees[name],), target), SlaFigures()).add(SlaFigures(1, met, breached))
    result = run(scenario, "sla_by_assignee", who)
    assert result.cells == expected
    kpi = run(scenario, "assignee_kpi", who)
    assert kpi.cells[(assignees["c"], "done")] == 1
    assert sum(kpi.cells.get((assignees[n], "done"), 0) for n in "ab" if assignees[n] != assignees["c"]) == 0


def test_a_report_of_one_target_per_month(scenario):
    result = run(scenario, "sla_by_month", actor(scenario, "line2_lead"))
    assert result.row_keys == [("2026-06-01",)]
    assert figures(result)[(("2026-06-01",), "resolution")] == (3, 1, 0, 2, D("100.0"))
    only = run(scenario, "resolution_by_system", actor(scenario, "line2_lead"))
    assert only.col_keys == ["resolution"] and {target for _, target in only.cells} == {"resolution"}
    assert only.row_keys == [(scenario.crm["id"],)]


def _cells(html: str, target: str, part: str) -> list[list[str]]:
    table = re.search(rf'<table[^>]*data-target="{target}".*?</table>', html, re.S).group(0)
    section = re.search(rf"<{part}>(.*?)</{part}>", table, re.S).group(1)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)]


def test_the_report_page_shows_a_table_per_target_and_a_chart(scenario):
    scenario.loom.accounts.set_password("line2_lead", PASSWORD)
    page = Browser(scenario.app.test_client())
    assert page.login("line2_lead", PASSWORD).status_code == 302
    html = page.get("/ui/it_support/reports/sla_by_priority").get_data(as_text=True)
    assert _cells(html, "reaction", "tbody") == [["1 Критический", "2", "0", "2", "0", "0,0"],
                                                 ["2 Высокий", "1", "1", "0", "0", "100,0"]]
    assert _cells(html, "reaction", "tfoot") == [["Итого", "3", "1", "2", "0", "33,3"]]
    assert _cells(html, "resolution", "tbody")[1] == ["2 Высокий", "1", "0", "0", "1", "—"]
    assert "Соблюдение, %" in html and 'id="report-canvas"' in html
    data = page.get("/ui/it_support/reports/sla_by_priority/data").get_json()
    assert data["percent"] is True and data["labels"] == ["1 Критический", "2 Высокий"]
    assert data["datasets"] == [{"label": "Реакция", "data": [0, 100]}, {"label": "Решение", "data": [100, None]}]
    month = page.get("/ui/it_support/reports/sla_by_month").get_data(as_text=True)
    assert "июнь 2026" in month
    listing = page.get("/ui/it_support/reports").get_data(as_text=True)
    assert 'id="report-sla_by_assignee"' in listing


def test_the_requesters_report_page_counts_their_tickets_only(scenario):
    scenario.loom.accounts.set_password("req2", PASSWORD)
    page = Browser(scenario.app.test_client())
    assert page.login("req2", PASSWORD).status_code == 302
    data = page.get("/ui/it_support/reports/sla_by_priority/data").get_json()
    assert data["labels"] == ["1 Критический"]
    assert data["datasets"] == [{"label": "Реакция", "data": [0]}, {"label": "Решение", "data": [100]}]
