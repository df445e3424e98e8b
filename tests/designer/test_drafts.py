"""The draft service and the editor links, without HTTP."""
from __future__ import annotations

import pytest

from designer.drafts import BadItem, Drafts, check_text, item_kind, minimal_entity
from designer.links import editor_url
from metamodel import content_hash, write_folder
from runtime.errors import Conflict, LoomError, NotFound
from tests.conftest import APPS


@pytest.mark.parametrize("file, path, url", [
    ("entities/request.yaml", "fields.priority.choices[0]", "/designer/apps/sd/entities/request/fields#fields.priority.choices[0]"),
    ("entities/request.yaml", "title_field", "/designer/apps/sd/entities/request/fields#title_field"),
    ("entities/request.yaml", "indexes[1]", "/designer/apps/sd/entities/request/fields#indexes[1]"),
    ("entities/request.yaml", "form.sections[0]", "/designer/apps/sd/entities/request/form#form.sections[0]"),
    ("entities/request.yaml", "statuses[2].name", "/designer/apps/sd/entities/request/workflow#statuses[2].name"),
    ("entities/request.yaml", "transitions[0].to", "/designer/apps/sd/entities/request/workflow#transitions[0].to"),
    ("entities/request.yaml", "views[0].columns", "/designer/apps/sd/entities/request/views#views[0].columns"),
    ("entities/request.yaml", "permissions.read", "/designer/apps/sd/entities/request/section/permissions#permissions.read"),
    ("entities/request.yaml", "hooks.validate", "/designer/apps/sd/entities/request/section/hooks#hooks.validate"),
    ("entities/request.yaml", "", "/designer/apps/sd/entities/request/fields"),
    ("app.yaml", "roles[0]", "/designer/apps/sd/sections/app#roles[0]"),
    ("sla.yaml", "policies[0].targets", "/designer/apps/sd/sections/sla#policies[0].targets"),
    ("routing.yaml", "entities.request", "/designer/apps/sd/sections/routing#entities.request"),
    ("scripts/hooks.py", "", "/designer/apps/sd/scripts/hooks.py"),
    ("fixtures/module.yaml", "[3].name", "/designer/apps/sd/raw/fixtures/module.yaml#[3].name"),
    ("sd", "", "/designer/apps/sd/"),
])
def test_editor_url(file, path, url):
    assert editor_url("sd", file, path) == url


@pytest.fixture
def drafts(designer_loom):
    designer_loom.store.install(APPS / "service_desk", author="tester")
    return Drafts(designer_loom)


def test_items_are_exactly_the_files_of_the_folder(drafts, tmp_path):
    draft = drafts.open("service_desk")
    assert draft.revision == 0 and draft.live_version == 1
    items = drafts.items(draft.doc)
    written = write_folder(draft.doc, tmp_path)
    assert sorted(i["item"] for i in items) == sorted(p.relative_to(tmp_path).as_posix() for p in written)
    kinds = {i["item"]: i["kind"] for i in items}
    assert kinds["app.yaml"] == "app" and kinds["entities/request.yaml"] == "entity"
    assert kinds["reports.yaml"] == "reports" and any(k == "script" for k in kinds.values())
    assert any(i.startswith("fixtures/") and k == "fixture" for i, k in kinds.items())
    assert next(i for i in items if i["item"] == "entities/request.yaml")["title"]


def test_get_and_set_items(drafts):
    doc = drafts.open("service_desk").doc
    request = drafts.get_item(doc, "entities/request.yaml")
    assert "fields" in request
    script = next(i["item"] for i in drafts.items(doc) if i["kind"] == "script")
    assert isinstance(drafts.get_item(doc, script), str)
    assert drafts.get_item(doc, "sla.yaml") == doc["sla"]
    assert drafts.get_item({k: v for k, v in doc.items() if k != "sla"}, "sla.yaml") is None  # an absent section

    changed = drafts.set_item(doc, "entities/request.yaml", {**request, "plural": {"en": "Tickets"}})
    assert changed["entities"]["request"]["plural"] == {"en": "Tickets"}
    assert doc["entities"]["request"]["plural"] != {"en": "Tickets"}  # the original is not touched
    removed = drafts.set_item(doc, "reports.yaml", None)
    assert "reports" not in removed and "reports" in doc
    added = drafts.set_item(doc, "scripts/extra.py", "x = 1\n")
    assert added["scripts"]["extra.py"] == "x = 1\n"
    assert content_hash(drafts.set_item(doc, "entities/request.yaml", request)) == content_hash(doc)
    with pytest.raises(BadItem):
        drafts.get_item(doc, "../etc/passwd")
    with pytest.raises(BadItem):
        drafts.set_item(doc, "app.yaml", None)
    assert item_kind("entities/x.yaml") == "entity" and item_kind("fixtures/x.yaml") == "fixture"


def test_save_conflict_names_who_and_revision(drafts):
    draft = drafts.open("service_desk")
    assert drafts.save("service_desk", draft.doc, draft.revision, "ann") == 1
    with pytest.raises(Conflict) as exc:
        drafts.save("service_desk", draft.doc, draft.revision, "bob")
    assert "saved by ann" in exc.value.detail and "revision 1" in exc.value.detail
    assert "revision 0" in exc.value.detail
    assert drafts.open("service_desk").revision == 1


def test_create_and_open_a_draft_only_app(drafts):
    new = drafts.create("vacation", {"ru": "Отпуска", "en": " "}, "ann")
    assert new.live_version is None and new.revision == 1
    assert new.doc["app"] == {"name": "vacation", "title": {"ru": "Отпуска"}}
    assert drafts.open("vacation").doc == new.doc
    with pytest.raises(Conflict):
        drafts.create("vacation", {"en": "Again"}, "bob")
    with pytest.raises(LoomError):
        drafts.create("Vacation", {"en": "Bad"}, "ann")
    with pytest.raises(LoomError):
        drafts.create("vacation2", {"en": ""}, "ann")
    with pytest.raises(NotFound):
        drafts.open("nobody")
    doc = drafts.set_item(new.doc, "entities/request.yaml", minimal_entity({"en": "Request"}))
    assert drafts.problems("vacation", doc) == []


def test_problems_have_lines_paths_and_editors(drafts):
    doc = drafts.open("service_desk").doc
    request = drafts.get_item(doc, "entities/request.yaml")
    broken = {**request, "title_field": "no_such_field"}
    problems = drafts.problems("service_desk", drafts.set_item(doc, "entities/request.yaml", broken))
    assert problems, "a dangling title_field must be a problem"
    p = next(p for p in problems if p["path"] == "title_field")
    assert p["file"] == "entities/request.yaml" and isinstance(p["line"], int)
    assert p["editor"] == "/designer/apps/service_desk/entities/request/fields#title_field"
    renamed = drafts.set_item(doc, "app.yaml", {**doc["app"], "name": "other"})
    assert any(p["path"] == "name" and "service_desk" in p["message"] for p in drafts.problems("service_desk", renamed))


def test_check_text():
    value, problems = check_text("vacation", "entities/request.yaml", "title: T\nfields:\n  a: {type: string}\n")
    assert problems == [] and value["fields"]["a"]["type"] == "string"
    _, problems = check_text("vacation", "entities/request.yaml", "title: T\nfields:\n  a: {type: strng}\n")
    assert [(p.file, p.line, p.path) for p in problems] == [("entities/request.yaml", 3, "fields.a.type")]
    _, problems = check_text("vacation", "entities/request.yaml", "name: other\ntitle: T\nfields: {}\n")
    assert any(p.path == "name" and p.line == 1 for p in problems)
    _, problems = check_text("vacation", "app.yaml", "name: other\ntitle: T\n")
    assert any("must stay 'vacation'" in p.message for p in problems)
    _, problems = check_text("vacation", "scripts/h.py", "def f(:\n    pass\n")
    assert problems and problems[0].line == 1 and "syntax" in problems[0].message
    _, problems = check_text("vacation", "fixtures/request.yaml", "- a: 1\n-\n  b: [\n")
    assert problems and problems[0].line is not None
