"""``set: {field: $user}``: the person who fires a transition (or its create action, or submits a
portal form) goes into a user field. Publishing refuses it anywhere else, with the file, line,
path and field: a field that is no user field, a transition the system fires, a rule nobody
fires; and the old trap, ``user`` (the login name, a text) set into a user field.

Each case edits a copy of the shipped service desk, whose problem's ``analyse`` sets its owner.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metamodel import MetadataError, load_app

SERVICE_DESK = Path(__file__).resolve().parents[2] / "apps_config" / "service_desk"
TAKE = "roles: [agent, dispatcher], set: {owner: $user}}"


@pytest.fixture
def app_dir(tmp_path) -> Path:
    folder = tmp_path / "service_desk"
    shutil.copytree(SERVICE_DESK, folder)
    return folder


def edit(folder: Path, file: str, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` in ``file``; the line ``new`` starts on."""
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[:text.index(old)].count("\n") + 1


def problems(folder: Path) -> list:
    with pytest.raises(MetadataError) as info:
        load_app(folder)
    return info.value.problems


def test_the_shipped_transition_sets_the_acting_user():
    app = load_app(SERVICE_DESK)
    [analyse] = [t for t in app.entities["problem"].spec["transitions"] if t["name"] == "analyse"]
    assert analyse["set"] == {"owner": "$user"}


def test_user_into_a_field_that_is_no_user_field_names_the_field(app_dir):
    line = edit(app_dir, "entities/problem.yaml", TAKE, "roles: [agent, dispatcher], set: {title: $user}}")
    [p] = problems(app_dir)
    assert (p.file, p.line, p.path) == ("entities/problem.yaml", line, "transitions[0].set.title")
    assert p.message == ("$user is the person who fires it, and 'title' is a string field; $user goes into a "
                         "user field (user fields here: owner)")


def test_the_login_name_into_a_user_field_points_to_user(app_dir):
    edit(app_dir, "entities/problem.yaml", TAKE, "roles: [agent, dispatcher], set: {owner: user}}")
    [p] = problems(app_dir)
    assert p.path == "transitions[0].set.owner"
    assert "'user' is the login name of the person (a text), and 'owner' is a user field; write $user" in p.message


def test_a_misspelt_value_form_is_refused_by_the_schema(app_dir):
    edit(app_dir, "entities/problem.yaml", TAKE, "roles: [agent, dispatcher], set: {owner: $usr}}")
    [p] = problems(app_dir)
    assert p.path == "transitions[0].set.owner"
    assert p.message.startswith("'$usr' does not fit: an expression") and "$user" in p.message


def test_a_transition_the_system_fires_has_nobody_to_set(app_dir):
    edit(app_dir, "entities/problem.yaml", TAKE,
         "roles: [agent, dispatcher], set: {owner: $user}, timer: {after: 3 days}}")
    [p] = problems(app_dir)
    assert p.path == "transitions[0].set.owner"
    assert "the system fires a timer transition: nobody to set" in p.message


def test_a_create_action_checks_the_target_field(app_dir):
    edit(app_dir, "entities/problem.yaml", TAKE, "roles: [agent, dispatcher], set: {owner: $user},\n"
         "     actions: [{create: {entity: planned_work, set: {work: $user}}}]}")
    found = problems(app_dir)
    assert [p.path for p in found] == ["transitions[0].actions[0].create.set.work"]
    assert "'work' is a string field; $user goes into a user field" in found[0].message


def test_a_portal_form_takes_user_for_a_user_field_only(app_dir):
    line = edit(app_dir, "portal.yaml", "channel: portal}", "channel: portal, subject: $user}")
    [p] = problems(app_dir)
    assert (p.file, p.line, p.path) == ("portal.yaml", line, "pages[1].set.subject")
    assert "'subject' is a string field; $user goes into a user field" in p.message


def test_a_generator_and_an_aggregation_rule_have_nobody_to_set(app_dir, tmp_path):
    edit(app_dir, "schedules.yaml", "        assignee: row.assignee", "        assignee: $user")
    [p] = problems(app_dir)
    assert (p.file, p.path) == ("schedules.yaml", "schedules[0].generate.set.assignee")
    assert "a schedule generates records as the system, so there is nobody to set" in p.message
    it_support = tmp_path / "it_support"
    shutil.copytree(SERVICE_DESK.parent / "it_support", it_support)
    edit(it_support, "entities/ticket.yaml", "        is_mass: \"True\"\n", "        is_mass: \"True\"\n        assignee: $user\n")
    [p] = problems(it_support)
    assert (p.file, p.path) == ("entities/ticket.yaml", "aggregations[0].parent.set.assignee")
    assert "the system applies an aggregation rule, so there is nobody to set" in p.message
