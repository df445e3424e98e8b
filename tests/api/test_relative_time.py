"""Relative times through the REST API, on SQLite and PostgreSQL: in a list view's filters, in
``field__op=value`` arguments and in a row rule's condition, each resolved against the platform
clock when the query runs, with the days of the app's time zone."""
from __future__ import annotations

import datetime as dt

import pytest

from runtime import clock
from runtime.core.config import Settings
from runtime.web import create_app
from tests.api.conftest import Client

UTC = dt.timezone.utc
# Wednesday 2026-03-18 21:30 UTC is already Thursday the 19th, 02:30, in Yekaterinburg.
NOW = dt.datetime(2026, 3, 18, 21, 30, tzinfo=UTC)

DEADLINES = {
    "app": {"name": "deadlines", "title": "Deadlines", "timezone": "Asia/Yekaterinburg",
            "roles": [{"name": "manager"}, {"name": "viewer"}]},
    "entities": {"task": {
        "title": "Task",
        "fields": {"title": {"type": "string"}, "due_at": {"type": "datetime"}, "due_date": {"type": "date"}},
        "statuses": [{"name": "open", "initial": True}, {"name": "done", "category": "done"}],
        "transitions": [{"name": "finish", "from": "open", "to": "done"}],
        "views": [
            {"name": "overdue", "columns": ["title", "due_at"], "sort": ["due_at"],
             "filters": [{"field": "status", "value": "open"}, {"field": "due_at", "op": "lt", "value": "now"}]},
            {"name": "this_month", "columns": ["title", "due_date"],
             "filters": [{"field": "due_date", "op": "between", "value": ["start_of_month", "end_of_month"]}]},
        ],
        "permissions": {
            "read": ["manager", "viewer"], "create": ["manager"], "update": ["manager"],
            "rows": [{"roles": ["viewer"], "condition": "due_date >= today - 7d"}, {"roles": ["manager"]}],
        },
    }},
}
TASKS = {  # title: (due_at, due_date)
    "A": ("2026-03-18T21:00:00Z", "2026-03-19"),  # half an hour overdue; due today (there)
    "B": ("2026-03-18T22:00:00Z", "2026-03-01"),  # due in half an hour
    "C": ("2026-03-10T09:00:00Z", "2026-02-28"),  # long overdue, last month
    "D": (None, "2026-03-31"),
    "E": ("2026-03-20T09:00:00Z", "2026-03-18"),  # yesterday there, today in UTC
}


@pytest.fixture
def api(loom, tmp_path):
    loom.store.publish(DEADLINES, author="tester")
    http = create_app(Settings(tmp_path, loom.database_url), loom).test_client()
    admin = loom.accounts.create_user("admin", "admin-pass-1", is_admin=True)
    viewer = loom.accounts.create_user("vera", "vera-pass-1", roles=["deadlines:viewer"])
    clients = {"admin": Client(http, loom.accounts.issue_token(admin)),
               "viewer": Client(http, loom.accounts.issue_token(viewer))}
    with clock.frozen(NOW):
        for title, (due_at, due_date) in TASKS.items():
            made = clients["admin"].post("/api/v1/deadlines/task", {"title": title, "due_at": due_at,
                                                                    "due_date": due_date})
            assert made.status_code == 201, made.get_json()
        yield clients


def titles(client, query) -> list[str]:
    response = client.get("/api/v1/deadlines/task", query_string={"sort": "title", **query})
    assert response.status_code == 200, response.get_json()
    return [item["title"] for item in response.get_json()["items"]]


def test_a_view_filter_compares_with_now(api):
    assert titles(api["admin"], {"view": "overdue"}) == ["A", "C"]
    clock.advance(dt.timedelta(hours=1))
    assert titles(api["admin"], {"view": "overdue"}) == ["A", "B", "C"]


def test_a_view_filter_takes_the_month_of_the_app_time_zone(api):
    assert titles(api["admin"], {"view": "this_month"}) == ["A", "B", "D", "E"]


@pytest.mark.parametrize("query, expected", [
    ({"due_date__gte": "today"}, ["A", "D"]),                   # the 19th there, not the 18th of UTC
    ({"due_date": "today - 1d"}, ["E"]),
    ({"due_at__between": "today,today+1d"}, ["A", "B"]),       # "+" in a URL arrives as a space
    ({"due_at__gte": "now - 10d", "due_at__lt": "now"}, ["A", "C"]),
    ({"due_at__in": "now - 30m"}, ["A"]),
    ({"created_at__gte": "start_of_week"}, ["A", "B", "C", "D", "E"]),
    ({"due_date__lt": "start_of_month"}, ["C"]),
])
def test_query_arguments_take_relative_times(api, query, expected):
    assert titles(api["admin"], query) == expected


def test_a_wrong_relative_time_is_a_400_naming_the_field_and_the_fix(api):
    response = api["admin"].get("/api/v1/deadlines/task", query_string={"due_at__lt": "start_of_mnth"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == "due_at"
    assert "did you mean 'start_of_month'?" in body["detail"]
    hours = api["admin"].get("/api/v1/deadlines/task", query_string={"due_date__lt": "today - 3h"})
    assert hours.status_code == 400 and "a date has no time of day" in hours.get_json()["detail"]


def test_a_row_rule_with_a_relative_time_moves_with_the_clock(api):
    assert titles(api["viewer"], {}) == ["A", "D", "E"]  # due on or after the 12th there
    clock.advance(dt.timedelta(days=10))                 # now the 29th: on or after the 22nd
    assert titles(api["viewer"], {}) == ["D"]
    hidden = api["viewer"].get("/api/v1/deadlines/task/1")
    assert hidden.status_code == 404  # a single fetch agrees with the list


def test_find_in_scripts_takes_relative_times(loom, api):
    found = loom.records.find("deadlines", "task", where={"due_at__lt": "now", "due_date__gte": "start_of_month"},
                              sort=["title"])
    assert [r["title"] for r in found] == ["A"]
