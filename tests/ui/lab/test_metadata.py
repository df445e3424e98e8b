"""A link filter, a graph or a tasks declaration naming something wrong is refused at publish,
with the file, the line and the path of the wrong name, and what would be right."""
from __future__ import annotations

import shutil

import pytest

from metamodel import MetadataError, load_app

from .conftest import LAB


@pytest.fixture
def app_dir(tmp_path):
    folder = tmp_path / "cmdb_lab"
    shutil.copytree(LAB, folder)
    return folder


def refused(folder, name, old, new):
    path = folder / "entities" / name
    good = path.read_text(encoding="utf-8")
    assert old in good, old
    path.write_text(good.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MetadataError) as info:
        load_app(folder)
    return info.value.problems, good[:good.index(old)].count("\n") + 1


def test_the_lab_loads(app_dir):
    app = load_app(app_dir)
    assert app.entities["ci"].spec["graph"]["relation"] == "ci_relation"


@pytest.mark.parametrize("name, old, new, path, message", [
    ("ticket.yaml", '"organization == $organization"', '"organization == $organisation"', "fields.ci.filter",
     "unknown field $organisation of the record"),
    ("ticket.yaml", '"organization == $organization"', '"organisation == $organization"', "fields.ci.filter",
     "unknown field 'organisation'"),
    ("ticket.yaml", '"organization == $organization"', '"name == $organization"', "fields.ci.filter",
     "name of ci and $organization (a link to organization) hold different records"),
    ("ticket.yaml", '"organization == $organization"', '"organization + 1 == $organization"', "fields.ci.filter",
     "one side must be a field"),
    ("ticket.yaml", '"active == True"', '"active == True and kind == 1"', "fields.service.filter",
     "unknown field 'kind'"),
    ("ticket.yaml", "filters.py:contracted_services", "filtres.py:contracted_services",
     "fields.service.filter_script", "no script scripts/filtres.py"),
    ("ticket.yaml", "  deadline: {type: date,", "  deadline: {type: date, filter: \"x == 1\",",
     "fields.deadline.filter", "filter applies to link and multilink fields, not to a date field"),
    ("ticket.yaml", "    filter_script: filters.py:department_members", "    filter: \"id == 1\"",
     "fields.assignee.filter", "narrow users or groups with filter_script"),
    ("ticket.yaml", "  assignee: assignee\n", "  assignee: asignee\n", "tasks.assignee",
     "unknown field 'asignee'; did you mean 'assignee'?"),
    ("ticket.yaml", "  assignee: assignee\n", "  assignee: subject\n", "tasks.assignee",
     "'subject' is a string field; the assignee is a user field (assignee)"),
    ("ticket.yaml", "  due: deadline\n", "  due: subject\n", "tasks.due", "a due date is a date or datetime field"),
    ("ticket.yaml", "  open: [new, in_work]", "  open: [new, in_wrok]", "tasks.open[1]",
     "unknown status of ticket 'in_wrok'; did you mean 'in_work'?"),
    ("ci.yaml", "  relation: ci_relation", "  relation: ci_relations", "graph.relation",
     "unknown entity 'ci_relations'; did you mean 'ci_relation'?"),
    ("ci.yaml", "  from: source", "  from: sourse", "graph.from",
     "unknown field of ci_relation 'sourse'; did you mean 'source'?"),
    ("ci.yaml", "  to: target", "  to: kind", "graph.to", "ci_relation.kind is not a link to ci"),
    ("ci.yaml", "  label: kind", "  label: knd", "graph.label", "unknown field of ci_relation 'knd'"),
])
def test_a_wrong_name_is_refused_with_file_line_and_path(app_dir, name, old, new, path, message):
    problems, line = refused(app_dir, name, old, new)
    [p] = [p for p in problems if p.path == path] or problems
    assert (p.file, p.path) == (f"entities/{name}", path), problems
    assert p.line in (line, line - 1, line + 1), (p.line, line)
    assert message in p.message, p.message


def test_graph_depth_is_bounded_by_the_schema(app_dir):
    problems, _ = refused(app_dir, "ci.yaml", "  depth: 2", "  depth: 9")
    assert problems[0].path == "graph.depth" and "9" in problems[0].message
