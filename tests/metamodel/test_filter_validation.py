"""Filters that cannot run are refused at publish, each with file, line and path.

Before, a list view's filter was checked only for its field name: ``value: now`` on a datetime,
a choice that does not exist or a status the entity lacks published fine, and then every
opening of the list answered 400. Each case edits a copy of the shipped service desk and
expects exactly one problem; the last test publishes through the app store, on SQLite and
PostgreSQL (tests/api/test_relative_time.py lists through the API what passes).
"""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import pytest

from metamodel import MetadataError, Problem, load_app, validate_document
from tests.api.test_relative_time import DEADLINES

SERVICE_DESK = Path(__file__).resolve().parents[2] / "apps_config" / "service_desk"
REQUEST = "entities/request.yaml"
STATUS_FILTER = "      - {field: status, op: in, value: [registered, in_work, waiting]}\n"


@pytest.fixture
def app_dir(tmp_path) -> Path:
    folder = tmp_path / "service_desk"
    shutil.copytree(SERVICE_DESK, folder)
    return folder


def add_filter(folder: Path, text: str) -> int:
    """Add ``text`` (one filter line) after the open view's status filter; return its line."""
    path = folder / REQUEST
    source = path.read_text(encoding="utf-8")
    assert STATUS_FILTER in source, "the demo app changed, update the test"
    at = source.index(STATUS_FILTER) + len(STATUS_FILTER)
    path.write_text(source[:at] + f"      - {text}\n" + source[at:], encoding="utf-8")
    return source[:at].count("\n") + 1


def only(folder: Path) -> Problem:
    with pytest.raises(MetadataError) as info:
        load_app(folder)
    found = info.value.problems
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


@pytest.mark.parametrize("flt, path, message", [
    ("{field: due_at, op: lt, value: nw}", ".value", "'nw' is not an anchor of a relative time; did you mean 'now'?"),
    ("{field: due_at, op: lt, value: start_of_mnth}", ".value", "did you mean 'start_of_month'?"),
    ("{field: due_at, op: lt, value: 31.12.2026}", ".value", "is not a date and time (ISO 8601) nor a relative time"),
    ("{field: created_at, op: gte, value: now - 7 days}", ".value", "unknown unit 'days'"),
    ("{field: labor_hours, op: gt, value: много}", ".value", "'много' is not a number"),
    ("{field: priority, value: '5'}", ".value", "unknown choice of priority '5'"),
    ("{field: channel, op: in, value: [portal, emial]}", ".value[1]", "unknown choice of channel 'emial'; did you mean 'email'?"),
    ("{field: status, value: in_wrok}", ".value", "unknown status of request 'in_wrok'; did you mean 'in_work'?"),
    ("{field: organization, value: Минздрав}", ".value", "'Минздрав' is not a record id (a whole number)"),
    ("{field: organization.short_name, op: contains, value: мин}", None, None),  # fine: a control case
    ("{field: labor_hours, op: contains, value: '1'}", ".op", "contains looks for text, and 'labor_hours' is a decimal"),
    ("{field: assignee, op: gt, value: 1}", ".op", "'assignee' is a user field, which has no order for gt"),
    ("{field: due_at, op: between, value: [today]}", ".value", "between needs two values: [low, high]"),
    ("{field: priority, value: ['1', '2']}", ".value", "a list goes with in, not_in or between"),
    ("{field: due_at, op: eq}", "", "eq needs a value; to find records where 'due_at' is empty use op: isnull"),
    ("{field: due_at, op: isnull, value: 'no'}", ".value", "isnull takes true or false"),
    ("{field: works, op: isnull}", ".field", "'works' is a table field and has no column to filter by"),
    ("{field: module.department, value: today}", ".value", "is not a record id"),
])
def test_a_view_filter_that_cannot_run_is_refused_with_file_line_and_path(app_dir, flt, path, message):
    line = add_filter(app_dir, flt)
    if message is None:
        load_app(app_dir)
        return
    p = only(app_dir)
    assert p.file == REQUEST and p.line == line
    assert p.path == f"views[0].filters[1]{path}"
    assert message in p.message
    assert str(p).startswith(f"{REQUEST}:{line} views[0].filters[1]")


def test_an_unknown_operator_is_refused_naming_the_allowed_ones(app_dir):
    line = add_filter(app_dir, "{field: due_at, op: before, value: now}")
    p = only(app_dir)
    assert (p.file, p.line, p.path) == (REQUEST, line, "views[0].filters[1].op")
    assert "'before' is not one of eq, ne, lt" in p.message


@pytest.mark.parametrize("flt", [
    "{field: due_at, op: lt, value: now}",
    "{field: due_at, op: between, value: [today, today + 1d]}",
    "{field: created_at, op: gte, value: start_of_month - 1mo}",
    "{field: due_at, op: gte, value: '2026-01-31T09:00:00Z'}",
    "{field: due_at, op: isnull}",
    "{field: labor_hours, op: gte, value: '1.5'}",
    "{field: priority, op: in, value: [1, '2']}",
    "{field: organization, value: 3}",
    "{field: status, op: ne, value: closed}",
])
def test_filters_that_can_run_pass(app_dir, flt):
    add_filter(app_dir, flt)
    load_app(app_dir)


def test_a_report_filter_is_checked_the_same_way(app_dir):
    reports = app_dir / "reports.yaml"
    text = reports.read_text(encoding="utf-8")
    old = "      - {field: status, op: in, value: [registered, in_work, waiting]}\n    chart: none"
    assert old in text
    at = text.index(old)
    reports.write_text(text.replace(old, "      - {field: status, op: in, value: [registered, in_work, waiting]}\n"
                                         "      - {field: created_at, op: gte, value: start_of_yaer}\n    chart: none"),
                       encoding="utf-8")
    p = only(app_dir)
    assert p.file == "reports.yaml" and p.line == text[:at].count("\n") + 2
    assert p.path.endswith("filters[1].value") and "did you mean 'start_of_year'?" in p.message


def row_rule_problems(condition: str) -> list[Problem]:
    doc = {"app": {"name": "shop", "title": "Shop", "roles": [{"name": "clerk"}]},
           "entities": {"contract": {
               "title": "Contract", "fields": {"valid_to": {"type": "date"}, "amount": {"type": "money"}},
               "statuses": [{"name": "draft", "initial": True}, {"name": "active"}],
               "permissions": {"read": ["clerk"], "rows": [{"roles": ["clerk"], "condition": condition}]}}}}
    try:
        validate_document(doc)
    except MetadataError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize("condition, message", [
    ("valid_to >= today - 2h", "valid_to: 'today - 2h': a date has no time of day"),
    ("amount > now", "amount: 'now' is a relative time; only date and datetime fields take one"),
    ("status == 'actve'", "status: unknown status of contract 'actve'; did you mean 'active'?"),
    ("amount >= 'lots'", "amount: 'lots' is not a number"),
    ("valid_to >= today - 30d and status in ['draft', 'active'] and amount > 0", None),
])
def test_a_row_rule_takes_relative_times_and_values_its_fields_take(condition, message):
    found = row_rule_problems(condition)
    if message is None:
        assert found == []
        return
    assert len(found) == 1, found
    assert (found[0].file, found[0].path) == ("entities/contract.yaml", "permissions.rows[0].condition")
    assert message in found[0].message


def test_an_unknown_app_time_zone_is_refused(app_dir):
    path = app_dir / "app.yaml"
    text = re.sub(r"(?m)^timezone:.*\n", "", path.read_text(encoding="utf-8"))  # the app may name one already
    path.write_text(text + "timezone: Europe/Mosсow\n", encoding="utf-8")  # Cyrillic с
    p = only(app_dir)
    assert (p.file, p.path) == ("app.yaml", "timezone") and "unknown time zone" in p.message


def test_publishing_refuses_the_filter_and_publishes_nothing(loom):
    """Through the app store, on SQLite and PostgreSQL: the analyst's ``value: nw`` never goes live."""
    doc = copy.deepcopy(DEADLINES)
    doc["entities"]["task"]["views"][0]["filters"][1]["value"] = "nw"
    with pytest.raises(MetadataError) as info:
        loom.store.publish(doc, author="ann")
    p, = info.value.problems
    assert (p.file, p.path) == ("entities/task.yaml", "views[0].filters[1].value")
    assert "did you mean 'now'?" in p.message
    assert "deadlines" not in loom.live
