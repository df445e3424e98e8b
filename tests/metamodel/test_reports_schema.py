"""reports.yaml: the schema and the cross-checks of its fields, each problem with file and line."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metamodel import MetadataError, load_app

SERVICE_DESK = Path(__file__).resolve().parents[2] / "apps_config" / "service_desk"
IT_SUPPORT = SERVICE_DESK.parent / "it_support"


@pytest.fixture
def app_dir(tmp_path) -> Path:
    folder = tmp_path / "service_desk"
    shutil.copytree(SERVICE_DESK, folder)
    return folder


def write(folder: Path, text: str) -> None:
    (folder / "reports.yaml").write_text(text, encoding="utf-8")


def problems(folder: Path):
    with pytest.raises(MetadataError) as info:
        load_app(folder)
    return info.value.problems


def test_shipped_reports_are_valid():
    app = load_app(SERVICE_DESK)
    names = [r["name"] for r in app.section("reports")["reports"]]
    assert {"requests_by_status", "requests_by_organization", "open_by_module_priority", "requests_per_week",
            "assignee_kpi", "contracts_by_department"} <= set(names)


def test_a_good_report_file(app_dir):
    write(app_dir, """reports:
  - name: by_department_module
    title: {ru: Заявки, en: Requests}
    entity: request
    kind: table
    group_by: [module.department, priority]
    measure: {fn: avg, field: labor_hours}
    filters:
      - {field: status, op: in, value: [registered, in_work]}
      - {field: organization.short_name, op: contains, value: мин}
    chart: bar
  - name: per_month
    entity: request
    group_by: [created_at]
    period: month
    chart: line
  - name: kpi
    entity: request
    kind: kpi
    user_field: assignee
    due_field: due_at
    done_field: updated_at
""")
    assert len(load_app(app_dir).section("reports")["reports"]) == 3


def test_schema_errors_name_file_and_line(app_dir):
    write(app_dir, """reports:
  - name: a
    entity: request
    kind: pivot
    group_by: [status]
  - name: b
    entity: request
    group_by: [status]
    chart: donut
  - name: c
    entity: request
    group_by: [status]
    filters:
      - {field: status, op: like, value: x}
    colour: red
""")
    found = sorted((p.file, p.line, p.path) for p in problems(app_dir))
    assert found == [("reports.yaml", 4, "reports[0].kind"), ("reports.yaml", 9, "reports[1].chart"),
                     ("reports.yaml", 10, "reports[2]"), ("reports.yaml", 14, "reports[2].filters[0].op")]


def test_cross_check_errors_name_file_and_line(app_dir):
    write(app_dir, """reports:
  - name: bad_group
    entity: request
    group_by: [priorty]
  - name: bad_link_path
    entity: request
    group_by: [subject.name]
  - name: multi_value
    entity: request
    group_by: [works]
  - name: sum_of_text
    entity: request
    group_by: [status]
    measure: {fn: sum, field: subject}
  - name: bad_filter
    entity: request
    group_by: [status]
    filters:
      - {field: organization.nme, value: x}
  - name: period_without_date
    entity: request
    group_by: [status]
    period: week
  - name: kpi_bad_user
    entity: request
    kind: kpi
    user_field: organization
    due_field: subject
  - name: no_group
    entity: request
    kind: group
  - name: bad_group
    entity: contract
    group_by: [department]
    chart: pie
    user_field: owner
  - name: nowhere
    entity: ticket
""")
    found = {(p.line, p.path): p.message for p in problems(app_dir)}
    assert all(p.file == "reports.yaml" for p in problems(app_dir))
    assert "did you mean 'priority'" in found[(4, "reports[0].group_by[0]")]
    assert "not a link" in found[(7, "reports[1].group_by[0]")]
    assert "single-value" in found[(10, "reports[2].group_by[0]")]
    assert "not a number field" in found[(14, "reports[3].measure.field")]
    assert "unknown field of organization 'nme'" in found[(19, "reports[4].filters[0].field")]
    assert "period" in found[(23, "reports[5].period")]
    assert "not a user field" in found[(27, "reports[6].user_field")]
    assert "not a date" in found[(28, "reports[6].due_field")]
    assert "needs group_by" in found[(31, "reports[7].kind")]
    assert "defined twice" in found[(32, "reports[8].name")]
    assert "kpi reports only" in found[(36, "reports[8].user_field")]
    assert "unknown entity 'ticket'" in found[(38, "reports[9].entity")]
    assert len(found) == 12


def test_shipped_sla_reports_are_valid():
    reports = {r["name"]: r for r in load_app(IT_SUPPORT).section("reports")["reports"]}
    assert reports["sla_by_priority"]["kind"] == "sla" and reports["sla_by_assignee"]["group_by"] == ["assignee"]
    assert reports["resolution_by_system"]["targets"] == ["resolution"]


def test_sla_report_errors_name_file_and_line(tmp_path):
    folder = tmp_path / "it_support"
    shutil.copytree(IT_SUPPORT, folder)
    write(folder, """reports:
  - name: bad_target
    entity: ticket
    kind: sla
    targets: [reaction, resolutoin]
    group_by: [priority]
  - name: no_policy
    entity: system
    kind: sla
  - name: with_measure
    entity: ticket
    kind: sla
    measure: {fn: count}
  - name: targets_elsewhere
    entity: ticket
    group_by: [status]
    targets: [reaction]
  - name: bad_group
    entity: ticket
    kind: sla
    group_by: [asignee]
    chart: pie
""")
    found = {(p.file, p.line, p.path): p.message for p in problems(folder)}
    assert "did you mean 'resolution'" in found[("reports.yaml", 5, "reports[0].targets[1]")]
    assert "no SLA policy" in found[("reports.yaml", 8, "reports[1].entity")]
    assert "takes no measure" in found[("reports.yaml", 13, "reports[2].measure")]
    assert "sla reports only" in found[("reports.yaml", 17, "reports[3].targets")]
    assert "did you mean 'assignee'" in found[("reports.yaml", 21, "reports[4].group_by[0]")]
    assert "pie chart" in found[("reports.yaml", 22, "reports[4].chart")]
    assert len(found) == 6, found


def test_sla_targets_schema_errors_name_file_and_line(tmp_path):
    folder = tmp_path / "it_support"
    shutil.copytree(IT_SUPPORT, folder)
    write(folder, """reports:
  - name: empty_targets
    entity: ticket
    kind: sla
    targets: []
  - name: twice
    entity: ticket
    kind: sla
    targets: [reaction, reaction]
""")
    found = sorted((p.file, p.line, p.path) for p in problems(folder))
    assert found == [("reports.yaml", 5, "reports[0].targets"), ("reports.yaml", 9, "reports[1].targets")]


def test_a_record_list_report(app_dir):
    write(app_dir, """reports:
  - name: overdue
    entity: request
    kind: list
    columns: [number, subject, due_at, status]
    filters:
      - {field: due_at, op: lt, value: now}
    sort: [due_at, -id]
    limit: 20
  - name: default_columns
    entity: contract
    kind: list
""")
    assert [r["kind"] for r in load_app(app_dir).section("reports")["reports"]] == ["list", "list"]


def test_a_record_list_report_checks_its_columns_sort_and_keys(app_dir):
    write(app_dir, """reports:
  - name: overdue
    entity: request
    kind: list
    columns: [number, subjct, works]
    sort: [-due_att]
    group_by: [status]
    chart: bar
  - name: chart_with_columns
    entity: request
    group_by: [status]
    columns: [subject]
""")
    found = sorted((p.line, p.path, p.message) for p in problems(app_dir))
    assert [(line, path) for line, path, _ in found] == [
        (5, "reports[0].columns[1]"), (5, "reports[0].columns[2]"), (6, "reports[0].sort[0]"),
        (7, "reports[0].group_by"), (8, "reports[0].chart"), (12, "reports[1].columns")]
    messages = [m for _, _, m in found]
    assert "did you mean 'subject'?" in messages[0]
    assert "'works' is a table field" in messages[1]
    assert "did you mean 'due_at'?" in messages[2]
    assert "a list report shows records; group_by does not apply" in messages[3]
    assert messages[5] == "columns belong to list reports only"
