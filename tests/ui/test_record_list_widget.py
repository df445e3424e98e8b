"""A record list on the dashboard (reports.yaml ``kind: list``): the shipped "overdue requests" of the
service desk shows the overdue requests its viewer may read, and no others, each row a link to
its record; ``due_at < now`` follows the platform clock. SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from runtime import clock
from runtime.data.records import SYSTEM, Actor
from runtime.data.reports import find_report, run_report

from .conftest import PASSWORD, Browser

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 18, 10, 0, tzinfo=UTC)
APP = "service_desk"


def request(loom, data, subject, org, due_at, status=None):
    values = {"subject": subject, "description": "Описание", "organization": data[org]["id"],
              "module": data["module"]["id"], "due_at": due_at}
    if status:
        values["status"] = status
    return loom.records.create(APP, "request", values, SYSTEM)


@pytest.fixture
def world(service_desk, data, ui_app):
    """Five requests around 'now'; a client of the first organisation and the agent of ``data``."""
    org = data["organization"]["id"]
    service_desk.accounts.create_user("clara", PASSWORD, roles=["service_desk:client"],
                                      organization=f"{APP}.organization:{org}")
    with clock.frozen(NOW):
        made = {
            "own_overdue": request(service_desk, data, "Просрочена своя", "organization", "2026-03-17T10:00:00Z"),
            "other_overdue": request(service_desk, data, "Просрочена чужая", "organization2", "2026-03-16T10:00:00Z"),
            "due_tomorrow": request(service_desk, data, "Срок завтра", "organization", "2026-03-19T10:00:00Z"),
            "cancelled": request(service_desk, data, "Отменена давно", "organization", "2026-03-10T10:00:00Z",
                                 status="cancelled"),
            "no_due": request(service_desk, data, "Срок не задан", "organization", None),
        }
        yield made


def signed_in(ui_app, username) -> Browser:
    b = Browser(ui_app.test_client())
    assert b.login(username).status_code == 302
    return b


def widget(html: str) -> str:
    found = re.search(r'<section class="card widget" id="report-overdue_requests">(.*?)</section>', html, re.DOTALL)
    assert found, "the dashboard has no overdue requests widget"
    return found.group(1)


def record_links(fragment: str) -> list[str]:
    return re.findall(r'href="(/ui/service_desk/request/\d+)"', fragment)


def test_the_dashboard_shows_the_overdue_requests_the_viewer_may_read(ui_app, world):
    url = lambda key: f"/ui/service_desk/request/{world[key]['id']}"  # noqa: E731
    client = widget(signed_in(ui_app, "clara").get("/ui/service_desk/reports").get_data(as_text=True))
    assert "Просрочена своя" in client
    for other in ("Просрочена чужая", "Срок завтра", "Отменена давно", "Срок не задан"):
        assert other not in client
    assert record_links(client) == [url("own_overdue")]

    agent_page = signed_in(ui_app, "agent").get("/ui/service_desk/reports").get_data(as_text=True)
    agent = widget(agent_page)
    assert record_links(agent) == [url("other_overdue"), url("own_overdue")]  # the longest overdue first
    assert 'id="report-contracts_expiring"' in agent_page  # agents read contracts; the client's page has no such widget
    assert agent_page.index('id="report-overdue_requests"') < agent_page.index('id="report-requests_by_status"')

    clock.advance(dt.timedelta(days=2))  # now the 20th: tomorrow's request is overdue too
    agent = widget(signed_in(ui_app, "agent").get("/ui/service_desk/reports").get_data(as_text=True))
    assert record_links(agent) == [url("other_overdue"), url("own_overdue"), url("due_tomorrow")]


def test_a_client_has_no_contract_widget(ui_app, world):
    page = signed_in(ui_app, "clara").get("/ui/service_desk/reports").get_data(as_text=True)
    assert 'id="report-contracts_expiring"' not in page


def test_the_widget_page_and_its_data(ui_app, world):
    b = signed_in(ui_app, "clara")
    page = b.get("/ui/service_desk/reports/overdue_requests")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Просрочена своя" in html and "Просрочена чужая" not in html and "flash error" not in html
    data = b.get("/ui/service_desk/reports/overdue_requests/data").get_json()
    assert data["type"] == "list" and data["total"] == 1
    assert [row["url"] for row in data["rows"]] == [f"/ui/service_desk/request/{world['own_overdue']['id']}"]
    assert data["rows"][0]["cells"][1] == "Просрочена своя"  # columns: number, subject, ...


def test_columns_hidden_from_the_viewer_are_left_out_and_the_limit_holds(service_desk, world):
    spec = {**find_report(service_desk, APP, "overdue_requests"), "columns": ["number", "subject", "hourly_rate"],
            "limit": 1}
    org = world["own_overdue"]["organization"]
    client = Actor(99, "clara", roles=("service_desk:client",), organization=f"{APP}.organization:{org}")
    mine = run_report(service_desk, APP, spec, client)
    assert mine.columns == ["number", "subject"]  # hourly_rate is hidden from clients
    assert [r["subject"] for r in mine.items] == ["Просрочена своя"] and mine.count == 1
    everyone = run_report(service_desk, APP, spec, SYSTEM)
    assert everyone.columns == ["number", "subject", "hourly_rate"]
    assert len(everyone.items) == 1 and everyone.count == 2  # limit 1 of 2


def test_the_list_page_takes_relative_times_in_its_arguments(ui_app, world):
    b = signed_in(ui_app, "agent")
    page = b.get("/ui/service_desk/request?view=all&due_at__lt=now&due_at__gte=today-1d").get_data(as_text=True)
    assert "flash error" not in page
    rows = record_links(page.split("<tbody>")[1])
    assert rows == [f"/ui/service_desk/request/{world['own_overdue']['id']}"]  # the 17th; the 16th is before yesterday (Moscow)
    assert "today - 1d" in page  # the chip
    tomorrow = b.get("/ui/service_desk/request?view=all&due_at__between=now,today+2d").get_data(as_text=True)
    assert record_links(tomorrow.split("<tbody>")[1]) == [f"/ui/service_desk/request/{world['due_tomorrow']['id']}"]
    assert "now, today + 2d" in tomorrow  # "+" arrived as a space, the chip shows what was meant
