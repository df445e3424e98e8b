"""Loading broken metadata: one clear message per problem, with file, line and path.

Every case edits a copy of the shipped service desk app, so the rest of the
app is realistic and must stay free of complaints: each test asserts the
exact number of problems, not just that some error was raised.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from metamodel import MetadataError, Problem, load_app
from metamodel.validate import FIELD_TYPES
from runtime.data import tables as platform

SERVICE_DESK = Path(__file__).resolve().parents[2] / "apps_config" / "service_desk"


@pytest.fixture
def app_dir(tmp_path) -> Path:
    folder = tmp_path / "service_desk"
    shutil.copytree(SERVICE_DESK, folder)
    return folder


def edit(folder: Path, rel: str, old: str, new: str) -> int:
    """Replace the first ``old`` by ``new`` in ``rel``; return the 1-based line where ``new`` starts."""
    path = folder / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not found in {rel}: the demo app changed, update the test"
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
    return text[:at].count("\n") + 1


def line_of(folder: Path, rel: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate((folder / rel).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in {rel}")


def problems(folder: Path) -> list[Problem]:
    with pytest.raises(MetadataError) as info:
        load_app(folder)
    found = info.value.problems
    # The exception text lists every problem, one per line, each naming its file and line.
    assert str(info.value).splitlines() == [str(p) for p in found]
    return found


def only(folder: Path) -> Problem:
    found = problems(folder)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def test_the_shipped_app_loads_cleanly():
    app = load_app(SERVICE_DESK)
    assert app.name == "service_desk"
    assert {"request", "organization", "contract"} <= set(app.entities)


def test_yaml_syntax_error_names_file_and_line(app_dir):
    line = edit(app_dir, "entities/request.yaml", "    required: true\n    min_length: 5",
                "    required: [true\n    min_length: 5")
    p = only(app_dir)
    assert p.file == "entities/request.yaml"
    assert p.line in (line, line + 1)  # where the bracket opens or where the parser trips
    assert "syntax" in p.message.lower()
    assert str(p).startswith(f"entities/request.yaml:{p.line}")


def test_tab_indentation_is_a_syntax_error_in_the_right_file(app_dir):
    line = edit(app_dir, "entities/organization.yaml", "  full_name:\n    type: text",
                "  full_name:\n\ttype: text")
    p = only(app_dir)
    assert (p.file, p.line) == ("entities/organization.yaml", line + 1)


def test_unknown_field_type_lists_allowed_types_and_suggests(app_dir):
    line = edit(app_dir, "entities/request.yaml", "  description:\n    type: text",
                "  description:\n    type: txt")
    p = only(app_dir)
    assert (p.file, p.line, p.path) == ("entities/request.yaml", line + 1, "fields.description.type")
    assert "'txt'" in p.message
    assert all(t in p.message for t in FIELD_TYPES)
    assert "did you mean 'text'" in p.message


def test_dangling_link_names_the_missing_entity_and_suggests(app_dir):
    line = edit(app_dir, "entities/request.yaml", "    entity: organization\n",
                "    entity: organisation\n")
    p = only(app_dir)
    assert (p.file, p.line, p.path) == ("entities/request.yaml", line, "fields.organization.entity")
    assert "unknown entity 'organisation'" in p.message
    assert "did you mean 'organization'" in p.message


def test_link_to_another_app_without_depends_on_says_what_to_add(app_dir):
    edit(app_dir, "entities/request.yaml", "    entity: organization\n", "    entity: crm.organization\n")
    p = only(app_dir)
    assert p.path == "fields.organization.entity"
    assert "depends_on" in p.message


def test_duplicate_field_names_both_lines(app_dir):
    first = line_of(app_dir, "entities/request.yaml", "  subject:")
    second = edit(app_dir, "entities/request.yaml", "  description:\n",
                  "  subject:\n    type: string\n  description:\n")
    p = only(app_dir)
    assert (p.file, p.line) == ("entities/request.yaml", second)
    assert p.path == "fields.subject"
    assert "duplicate key 'subject'" in p.message
    assert f"line {first}" in p.message


def test_unknown_key_in_a_field_suggests_the_right_key(app_dir):
    field_line = line_of(app_dir, "entities/request.yaml", "  subject:")
    key_line = edit(app_dir, "entities/request.yaml", "    min_length: 5", "    min_lenght: 5")
    p = only(app_dir)
    assert p.file == "entities/request.yaml"
    assert p.line in (field_line, key_line)
    assert p.path in ("fields.subject", "fields.subject.min_lenght")
    assert "unknown key 'min_lenght'" in p.message
    assert "did you mean 'min_length'" in p.message


def test_form_naming_a_missing_field(app_dir):
    line = edit(app_dir, "entities/request.yaml", "fields: [requester_email, requester_phone]",
                "fields: [requester_email, requester_fone]")
    p = only(app_dir)
    assert (p.file, p.line) == ("entities/request.yaml", line)
    assert p.path == "form.tabs[0].sections[2].fields[1]"
    assert "unknown field 'requester_fone'" in p.message
    assert "did you mean 'requester_phone'" in p.message


def test_transition_naming_a_missing_status(app_dir):
    line = edit(app_dir, "entities/request.yaml", "    to: in_work\n    roles: [agent, dispatcher]",
                "    to: in_wrk\n    roles: [agent, dispatcher]")
    p = only(app_dir)
    assert (p.file, p.line, p.path) == ("entities/request.yaml", line, "transitions[0].to")
    assert "unknown status 'in_wrk'" in p.message
    assert "did you mean 'in_work'" in p.message


def test_transition_from_a_missing_status(app_dir):
    edit(app_dir, "entities/request.yaml", "    from: done\n", "    from: dne\n")
    p = only(app_dir)
    assert p.path.startswith("transitions[3].from")
    assert "unknown status 'dne'" in p.message


@pytest.mark.parametrize("expression, expected", [
    ("labor_hours.__class__", "'labor_hours.__class__' is not allowed"),
    ("labor_hours.x", "'labor_hours' is a decimal field, so 'labor_hours.x' cannot follow it"),
    ("labor_hours[0]", "Subscript is not allowed"),
    ("__import__('os')", "only these functions"),
    ("[x for x in labor_hours]", "not allowed"),
    ("labor_hours ** 1000", "Pow is not allowed"),
    ("labor_hour * hourly_rate", "unknown field 'labor_hour'; did you mean 'labor_hours'?"),
])
def test_computed_expression_disallowed_construct_or_unknown_field(app_dir, expression, expected):
    line = edit(app_dir, "entities/request.yaml", "expression: labor_hours * hourly_rate",
                f"expression: \"{expression}\"")
    p = only(app_dir)
    assert (p.file, p.line, p.path) == ("entities/request.yaml", line, "fields.labor_cost.expression")
    assert expected in p.message


def test_computed_fields_in_a_cycle(app_dir):
    edit(app_dir, "entities/request.yaml", "expression: labor_hours * hourly_rate",
         "expression: labor_hours * hourly_rate + twice\n  twice:\n    type: computed\n"
         "    expression: labor_cost * 2")
    found = problems(app_dir)
    assert found and all("cycle" in p.message for p in found)
    assert {p.path for p in found} <= {"fields.labor_cost.expression", "fields.twice.expression"}


def test_bad_regex_pattern(app_dir):
    line = edit(app_dir, "entities/organization.yaml", r"pattern: '^\d{10}(\d{2})?$'", r"pattern: '^\d{10}(\d{2}?$'")
    p = only(app_dir)
    assert (p.file, p.line, p.path) == ("entities/organization.yaml", line, "fields.inn.pattern")
    assert "not a valid regular expression" in p.message


def test_syntax_errors_in_several_files_are_all_reported(app_dir):
    l1 = edit(app_dir, "entities/request.yaml", "title_field: subject", "title_field: [subject")
    l2 = edit(app_dir, "entities/contract.yaml", "number: CTR-{00000}", "number: 'CTR-{00000}")
    l3 = edit(app_dir, "app.yaml", "version: \"1.0\"", "version: \"1.0\"\n  bad: indent")
    found = problems(app_dir)
    files = sorted(p.file for p in found)
    assert files == ["app.yaml", "entities/contract.yaml", "entities/request.yaml"], "\n".join(map(str, found))
    by_file = {p.file: p for p in found}
    assert by_file["entities/request.yaml"].line >= l1
    assert by_file["entities/contract.yaml"].line >= l2
    assert by_file["app.yaml"].line in (l3, l3 + 1)


def test_reference_problems_in_several_files_are_all_reported(app_dir):
    expected = {
        ("entities/request.yaml", edit(app_dir, "entities/request.yaml", "    entity: module\n",
                                        "    entity: modul\n"), "fields.module.entity"),
        ("entities/request.yaml", edit(app_dir, "entities/request.yaml", "    to: waiting\n",
                                        "    to: waitin\n"), "transitions[1].to"),
        ("entities/contract.yaml", edit(app_dir, "entities/contract.yaml",
                                        "fields: [code, organization, department, owner,",
                                        "fields: [code, organisation, department, owner,"),
         "form.sections[0].fields[1]"),
        ("entities/organization.yaml", edit(app_dir, "entities/organization.yaml", r"'^\d{10}(\d{2})?$'",
                                            r"'^\d{10}(\d{2}?$'"), "fields.inn.pattern"),
        ("app.yaml", edit(app_dir, "app.yaml", "  - entity: contract\n", "  - entity: contrakt\n"),
         "navigation[1].entity"),
    }
    found = problems(app_dir)
    assert {(p.file, p.line, p.path) for p in found} == expected, "\n".join(map(str, found))
    assert all(p.message for p in found)


def test_schema_problems_in_several_files_are_all_reported(app_dir):
    expected = {
        ("entities/request.yaml", "fields.description.type"),
        ("entities/contract.yaml", "fields.code"),
        ("entities/module.yaml", "title_field"),
    }
    edit(app_dir, "entities/request.yaml", "  description:\n    type: text", "  description:\n    type: txt")
    edit(app_dir, "entities/contract.yaml", "    unique: true\n", "    uniq: true\n")
    edit(app_dir, "entities/module.yaml", "title_field: name", "title_field: [name]")
    found = problems(app_dir)
    assert {(p.file, p.path) for p in found} == expected, "\n".join(map(str, found))
    assert all(p.line for p in found)


def test_problem_as_dict_for_the_designer(app_dir):
    line = edit(app_dir, "entities/request.yaml", "    entity: organization\n", "    entity: organisation\n")
    assert only(app_dir).as_dict() == {
        "file": "entities/request.yaml", "line": line, "path": "fields.organization.entity",
        "message": "unknown entity 'organisation'; did you mean 'organization'?"}


def test_missing_app_yaml(tmp_path):
    (tmp_path / "entities").mkdir()
    with pytest.raises(MetadataError) as info:
        load_app(tmp_path)
    assert "app.yaml" in str(info.value)


# ---------------------------------------------------------------- nothing is installed

def _installed(loom, name: str):
    a, v = platform.app, platform.app_version
    with loom.engine.connect() as c:
        apps = c.execute(select(a.c.name).where(a.c.name == name)).all()
        versions = c.execute(select(v.c.number).where(v.c.app == name)).all()
    return apps, versions


@pytest.mark.parametrize("breakage", ["syntax", "reference"])
def test_install_of_a_broken_app_installs_nothing(loom, app_dir, breakage):
    if breakage == "syntax":
        edit(app_dir, "entities/request.yaml", "title_field: subject", "title_field: [subject")
    else:
        edit(app_dir, "entities/request.yaml", "    entity: organization\n", "    entity: organisation\n")
    with pytest.raises(MetadataError) as info:
        loom.store.install(app_dir, author="tester")
    assert all(p.file == "entities/request.yaml" and p.line for p in info.value.problems)
    assert _installed(loom, "service_desk") == ([], [])
    assert "service_desk" not in loom.live
    # The same folder, repaired, installs.
    shutil.rmtree(app_dir)
    shutil.copytree(SERVICE_DESK, app_dir)
    published = loom.store.install(app_dir, author="tester")
    assert published.number == 1
    assert _installed(loom, "service_desk") == ([("service_desk",)], [(1,)])


@pytest.mark.parametrize("column", ["position", "parent_id"])
def test_a_table_column_named_like_the_rows_own_columns_is_refused(tmp_path, column):
    folder = tmp_path / "housing"
    shutil.copytree(SERVICE_DESK.parent / "housing", folder)
    line = edit(folder, "entities/account.yaml", "      connected_on: {type: date",
                f"      {column}: {{type: integer}}\n      connected_on: {{type: date")
    p = only(folder)
    assert (p.file, p.line, p.path) == ("entities/account.yaml", line, f"fields.services.fields.{column}")
    assert p.message.startswith(f"{column!r} is a column of every table row")
