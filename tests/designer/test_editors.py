"""The designer's editors over HTTP: every page renders, saves into the draft with the revision
check, refuses schema errors naming their path, keeps the analyst's edit on a conflict; scripts
are checked with line numbers and dry-run against a published record."""
from __future__ import annotations

import html as htmlmod
import json
import re

import pytest

from designer.drafts import Drafts
from designer.editors import COMMON_OPTIONS, TYPE_OPTIONS, entity_section_keys, inline_refs, resolved
from metamodel.schemas import schema as raw_schema
from tests.conftest import APPS

BASE = "/designer/apps/it_support"
TICKET = f"{BASE}/entities/ticket"


def page(response) -> str:
    return response.get_data(as_text=True)


def payload(text: str):
    """The JSON the page hands its widget (the hidden textarea)."""
    match = re.search(r'<textarea name="json" id="editor-json" hidden>(.*?)</textarea>', text, re.S)
    assert match, "the page has no JSON textarea"
    return json.loads(htmlmod.unescape(match.group(1)))


def revision(text: str) -> int:
    match = re.search(r'name="revision" value="(\d+)"', text)
    assert match, "the page has no revision field"
    return int(match.group(1))


def editor_data(text: str) -> dict:
    match = re.search(r'<script type="application/json" id="editor-data">(.*?)</script>', text, re.S)
    assert match, "the page has no editor data"
    return json.loads(match.group(1))


def save(browser, url, value, rev=None, **extra):
    """GET the editor, then POST ``value`` as its JSON with the page's revision (or ``rev``)."""
    text = page(browser.get(url))
    data = {"json": json.dumps(value), "revision": str(revision(text) if rev is None else rev), **extra}
    return browser.post(url, data, token_from=url)


def draft(loom, app="it_support"):
    return Drafts(loom).open(app)


@pytest.fixture
def it_support(designer_loom):
    designer_loom.store.install(APPS / "it_support", author="tester")
    return designer_loom


@pytest.fixture
def ann_it(it_support, ann):
    return ann


# ---------------------------------------------------------------------- schema helpers
def test_inline_refs_resolves_cross_file_refs_and_guards_recursion():
    entity = inline_refs("entity")
    text = json.dumps(entity)
    assert '"$ref"' not in text
    title = entity["properties"]["title"]
    assert [alt["type"] for alt in title["oneOf"]] == ["string", "object"]  # loom:common#/$defs/title inlined
    field = entity["properties"]["fields"]["additionalProperties"]
    # a table field's child fields are fields again: a marker, expanded once in $recursive_defs
    assert field["properties"]["fields"]["additionalProperties"] == {"$recursive": "loom:entity#/$defs/field"}
    assert entity["$recursive_defs"]["loom:entity#/$defs/field"]["properties"]["type"]["enum"][0] == "string"
    # siblings of a $ref win: the description of previous_names stays
    assert "renames the column" in field["properties"]["previous_names"]["description"]
    assert field["properties"]["previous_names"]["items"]["pattern"].startswith("^[a-z]")


def test_inline_refs_on_a_mutual_recursion_terminates():
    docs = {"a": {"$defs": {"x": {"type": "object", "properties": {"y": {"$ref": "loom:b#/$defs/y"}}}},
                  "properties": {"root": {"$ref": "#/$defs/x"}}},
            "b": {"$defs": {"y": {"type": "array", "items": {"$ref": "loom:a#/$defs/x"}}}}}
    out = inline_refs("a", load=docs.__getitem__)
    assert out["properties"]["root"]["properties"]["y"]["items"] == {"$recursive": "loom:a#/$defs/x"}
    assert out["$recursive_defs"]["loom:a#/$defs/x"]["properties"]["y"]["type"] == "array"


def test_every_field_type_of_the_schema_has_its_options():
    field = resolved("entity", "/$defs/field")
    assert set(TYPE_OPTIONS) == set(field["properties"]["type"]["enum"])
    for options in [*TYPE_OPTIONS.values(), COMMON_OPTIONS]:
        assert set(options) <= set(field["properties"]), options
    assert set(entity_section_keys()) >= {"permissions", "hooks", "aggregations", "checks"}
    assert {"pattern_message", "format"} <= set(TYPE_OPTIONS["string"]) and "format" not in TYPE_OPTIONS["email"]
    assert "layout" in raw_schema("entity")["$defs"]["status"]["properties"]


# ---------------------------------------------------------------------- pages render
EDITORS = [
    (f"{TICKET}/fields", "fields-editor", "entities/ticket.yaml"),
    (f"{TICKET}/form", "form-editor", "entities/ticket.yaml"),
    (f"{TICKET}/workflow", "workflow-editor", "entities/ticket.yaml"),
    (f"{TICKET}/views", "views-editor", "entities/ticket.yaml"),
    (f"{TICKET}/section/permissions", "schema-editor", "entities/ticket.yaml"),
    (f"{TICKET}/section/hooks", "schema-editor", "entities/ticket.yaml"),
    (f"{TICKET}/section/aggregations", "schema-editor", "entities/ticket.yaml"),
    *[(f"{BASE}/sections/{kind}", "schema-editor", "app.yaml" if kind == "app" else f"{kind}.yaml")
      for kind in ("app", "schedules", "notifications", "portal", "reports")],
    (f"{BASE}/sections/routing", "routing-editor", "routing.yaml"),
    (f"{BASE}/sections/routing?form=1", "schema-editor", "routing.yaml"),
    (f"{BASE}/sections/sla", "sla-editor", "sla.yaml"),
    (f"{BASE}/sections/sla?form=1", "schema-editor", "sla.yaml"),
    (f"{BASE}/scripts/tickets.py", "script-source", "scripts/tickets.py"),
]


def test_every_editor_renders_with_raw_yaml_link_and_revision(ann_it):
    for url, widget, item in EDITORS:
        response = ann_it.get(url)
        assert response.status_code == 200, url
        text = page(response)
        assert f'id="{widget}"' in text, url
        assert f'href="/designer/apps/it_support/raw/{item.replace("/", "%2F")}"' in text or \
            f'href="/designer/apps/it_support/raw/{item}"' in text, url
        assert revision(text) == 0 and 'name="csrf_token"' in text, url
        data = editor_data(text)
        assert data["i18n"]["Add"] == "Add" and data["lang"] == "en", url


def test_pages_hand_the_widget_the_current_item(ann_it, it_support):
    fields = payload(page(ann_it.get(f"{TICKET}/fields")))
    assert fields["number"] == "INC-{000000}" and fields["title_field"] == "title"
    names = [f["name"] for f in fields["fields"]]
    assert names[:3] == ["title", "contact_name", "phone"]
    assert all(f["was"] == f["name"] for f in fields["fields"])
    form = payload(page(ann_it.get(f"{TICKET}/form")))
    assert form["sections"][0]["fields"][0] == "title"
    wf = payload(page(ann_it.get(f"{TICKET}/workflow")))
    assert wf["statuses"][0]["name"] == "registered" and any(t["name"] == "take" for t in wf["transitions"])
    routing = payload(page(ann_it.get(f"{BASE}/sections/routing")))
    assert routing["entities"]["ticket"]["rules"][0]["name"] == "technical"
    data = editor_data(page(ann_it.get(f"{BASE}/sections/routing")))
    assert "$ref" not in json.dumps(data["schema"]) and "line1" in data["hints"]["group"]


def test_unknown_entity_kind_key_or_script_name_is_404_and_users_are_refused(ann_it, carl):
    assert ann_it.get(f"{BASE}/entities/nope/fields").status_code == 404
    assert ann_it.get(f"{BASE}/sections/secrets").status_code == 404
    assert ann_it.get(f"{TICKET}/section/fields").status_code == 404  # fields have their own editor
    assert ann_it.get(f"{BASE}/scripts/..%2Fetc.py").status_code == 404
    assert ann_it.get("/designer/apps/nope/entities/ticket/fields").status_code == 404
    assert carl.get(f"{TICKET}/fields").status_code == 403


# ---------------------------------------------------------------------- fields
@pytest.mark.parametrize("designer_loom", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_fields_add_rename_and_retitle_saved_into_the_draft(ann_it, it_support):
    value = payload(page(ann_it.get(f"{TICKET}/fields")))
    value["title"] = {"ru": "Обращение", "en": "Support ticket"}
    value["fields"][1]["name"] = "contact_person"  # renamed; it is live, so its data must follow
    value["fields"].append({"name": "severity", "was": None, "spec": {
        "type": "choice", "title": {"ru": "Важность", "en": "Severity"}, "required": True,
        "choices": [{"value": "low", "title": {"ru": "Низкая", "en": "Low"}}, "high"]}})
    value["fields"].append({"name": "lines", "was": None, "spec": {
        "type": "table", "fields": {"item": {"type": "string", "max_length": 80}, "qty": {"type": "integer", "min": 0}}}})
    response = save(ann_it, f"{TICKET}/fields", value)
    assert response.status_code == 302 and response.headers["Location"].endswith("/entities/ticket/fields")
    spec = draft(it_support).doc["entities"]["ticket"]
    assert spec["title"] == {"ru": "Обращение", "en": "Support ticket"}
    assert list(spec["fields"])[1] == "contact_person"
    assert spec["fields"]["contact_person"]["previous_names"] == ["contact_name"]
    assert spec["fields"]["severity"]["choices"][1] == "high"
    assert spec["fields"]["lines"]["fields"]["qty"] == {"type": "integer", "min": 0}
    # the renamed field keeps its place on the form; the new ones land at the end of the last section
    sections = spec["form"]["sections"]
    assert sections[1]["fields"] == ["contact_person", "phone", "email", "requester"]
    assert sections[-1]["fields"][-2:] == ["severity", "lines"]
    assert sum(sec["fields"].count("severity") for sec in sections) == 1
    assert draft(it_support).revision == 1
    after = page(ann_it.get(f"{TICKET}/fields"))
    assert "Saved to the draft (revision 1)" in after
    assert revision(after) == 1


def test_fields_schema_errors_name_their_path_and_keep_the_edit(ann_it, it_support):
    value = payload(page(ann_it.get(f"{TICKET}/fields")))
    value["fields"][0]["spec"]["type"] = "strng"
    value["fields"].append({"name": "kind", "was": None, "spec": {"type": "choice"}})  # no choices
    value["fields"].append({"name": "Bad Name", "was": None, "spec": {"type": "string"}})
    response = save(ann_it, f"{TICKET}/fields", value)
    assert response.status_code == 422
    text = page(response)
    assert 'data-error-path="fields.title.type"' in text
    assert "did you mean &#39;string&#39;?" in text or "did you mean 'string'?" in text
    assert 'data-error-path="fields.kind"' in text
    assert 'data-error-path="fields"' in text and "Bad Name" in text  # the field name pattern
    assert payload(text)["fields"][0]["spec"]["type"] == "strng"  # the analyst's edit is kept
    assert draft(it_support).revision == 0  # nothing saved


def test_removing_a_field_that_views_and_form_name_shows_the_resulting_problems(ann_it, it_support):
    value = payload(page(ann_it.get(f"{TICKET}/fields")))
    value["fields"] = [f for f in value["fields"] if f["name"] != "system"]
    response = save(ann_it, f"{TICKET}/fields", value)
    assert response.status_code == 302
    text = page(ann_it.get(response.headers["Location"]))
    problems = re.findall(r'<li class="ed-problem"><a href="([^"]+)"><code>([^<:]+)(?::\d+)?</code></a>', text)
    paths = [p for _, p in problems]
    assert any(p.startswith("views[") for p in paths), paths
    assert any(p.startswith("form.") for p in paths), paths
    links = dict((p, href) for href, p in problems)
    view_path = next(p for p in paths if p.startswith("views["))
    assert links[view_path] == f"{TICKET}/views#{view_path}"


# ---------------------------------------------------------------------- revision conflict
def test_a_stale_revision_is_a_conflict_that_keeps_the_edit(ann_it, it_support, designer_web, users):
    from tests.designer.conftest import sign_in
    bob = sign_in(designer_web, "bob")
    ann_page = page(ann_it.get(f"{TICKET}/views"))
    ann_rev = revision(ann_page)
    bobs = payload(page(bob.get(f"{TICKET}/views")))
    bobs["views"][0]["page_size"] = 25
    assert save(bob, f"{TICKET}/views", bobs).status_code == 302

    anns = payload(ann_page)
    anns["views"][0]["title"] = {"ru": "Мои открытые", "en": "My open"}
    response = ann_it.post(f"{TICKET}/views", {"json": json.dumps(anns), "revision": str(ann_rev)},
                           token_from=f"{TICKET}/views")
    assert response.status_code == 409
    text = page(response)
    assert 'id="conflict"' in text and "bob" in text and "Your edit is kept" in text
    assert payload(text)["views"][0]["title"] == {"ru": "Мои открытые", "en": "My open"}
    assert draft(it_support).doc["entities"]["ticket"]["views"][0]["page_size"] == 25  # bob's save stands
    # the conflict page carries the current revision: saving again is a deliberate choice
    assert revision(text) == 1
    again = ann_it.post(f"{TICKET}/views", {"json": json.dumps(anns), "revision": str(revision(text))},
                        token_from=f"{TICKET}/views")
    assert again.status_code == 302
    assert draft(it_support).doc["entities"]["ticket"]["views"][0]["title"]["en"] == "My open"


def test_a_post_without_revision_or_with_broken_json_is_refused(ann_it, it_support):
    url = f"{TICKET}/views"
    no_rev = ann_it.post(url, {"json": "{}"}, token_from=url)
    assert no_rev.status_code == 400 and "no draft revision" in page(no_rev)
    broken = ann_it.post(url, {"json": "{not json", "revision": "0"}, token_from=url)
    assert broken.status_code == 422 and "not JSON" in page(broken)
    assert draft(it_support).revision == 0


# ---------------------------------------------------------------------- form layout
def test_form_layout_with_tabs_columns_and_rules_saved(ann_it, it_support):
    layout = {"tabs": [
        {"title": {"ru": "Основное", "en": "Main"}, "sections": [
            {"title": {"en": "Ticket"}, "columns": 2, "fields": ["title", "system", "priority", "description"]}]},
        {"title": {"ru": "Контакты", "en": "Contacts"}, "sections": [
            {"fields": ["contact_name", "phone", "email"], "visible_if": "question_type == 'access'", "collapsed": True}]}],
        "rules": [{"field": "phone", "required_if": "email == None"}]}
    assert save(ann_it, f"{TICKET}/form", layout).status_code == 302
    form = draft(it_support).doc["entities"]["ticket"]["form"]
    assert form == layout
    data = editor_data(page(ann_it.get(f"{TICKET}/form")))
    assert {"visible_if", "required_if", "readonly_if"} <= set(data["ruleProps"]) and "visible_if" in data["sectionProps"]


def test_form_layout_schema_error_path(ann_it, it_support):
    response = save(ann_it, f"{TICKET}/form", {"sections": [{"title": "A", "columns": 7, "fields": ["title"]}]})
    assert response.status_code == 422
    assert 'data-error-path="form.sections[0].columns"' in page(response)
    assert "form" in draft(it_support).doc["entities"]["ticket"]
    assert draft(it_support).doc["entities"]["ticket"]["form"]["sections"][0].get("columns") != 7


def test_an_empty_layout_removes_the_form_key(ann_it, it_support):
    assert save(ann_it, f"{TICKET}/form", {}).status_code == 302
    assert "form" not in draft(it_support).doc["entities"]["ticket"]


# ---------------------------------------------------------------------- workflow
def test_workflow_statuses_with_layout_and_transitions_saved(ann_it, it_support):
    value = payload(page(ann_it.get(f"{TICKET}/workflow")))
    value["statuses"].append({"name": "escalated", "title": {"ru": "Эскалация", "en": "Escalated"},
                              "category": "in_work", "layout": {"x": 640, "y": 300}})
    value["transitions"].append({"name": "escalate", "from": ["registered", "in_work"], "to": "escalated",
                                 "roles": ["lead"], "groups": ["line2"], "condition": "priority == '1'",
                                 "required": ["system"], "timer": {"after": "2 business days"},
                                 "actions": [{"notify": {"template": "ticket_moved", "to": ["assignee"]}}]})
    assert save(ann_it, f"{TICKET}/workflow", value).status_code == 302
    spec = draft(it_support).doc["entities"]["ticket"]
    assert spec["statuses"][-1]["layout"] == {"x": 640, "y": 300}
    assert spec["transitions"][-1]["from"] == ["registered", "in_work"]
    assert spec["transitions"][-1]["timer"] == {"after": "2 business days"}


def test_workflow_errors_point_at_the_transition(ann_it, it_support):
    value = payload(page(ann_it.get(f"{TICKET}/workflow")))
    value["transitions"][0].pop("to")
    value["statuses"][1]["layout"] = {"x": "left", "y": 1}
    value["transitions"][1]["timer"] = {"after": "soon"}
    response = save(ann_it, f"{TICKET}/workflow", value)
    assert response.status_code == 422
    text = page(response)
    assert 'data-error-path="transitions[0]"' in text and "&#39;to&#39; is required" in text
    assert 'data-error-path="statuses[1].layout.x"' in text
    assert 'data-error-path="transitions[1].timer.after"' in text


# ---------------------------------------------------------------------- views
def test_views_columns_filters_and_sort_saved(ann_it, it_support):
    views = {"views": [{"name": "mine", "title": {"ru": "Мои", "en": "Mine"}, "default": True,
                        "columns": ["number", "title", "status"], "filters": [{"field": "priority", "op": "in",
                                                                              "value": ["1", "2"]}],
                        "sort": ["-created_at", "priority"], "page_size": 30},
                       {"name": "all", "columns": ["number", "title"]}]}
    assert save(ann_it, f"{TICKET}/views", views).status_code == 302
    assert draft(it_support).doc["entities"]["ticket"]["views"] == views["views"]


def test_views_errors(ann_it, it_support):
    views = {"views": [{"name": "a", "filters": [{"field": "x", "op": "like"}], "sort": ["Bad Sort"]},
                       {"name": "a"}]}
    response = save(ann_it, f"{TICKET}/views", views)
    assert response.status_code == 422
    text = page(response)
    assert 'data-error-path="views[0].filters[0].op"' in text
    assert 'data-error-path="views[0].sort[0]"' in text
    assert 'data-error-path="views[1].name"' in text and "Two views are named a" in text


# ---------------------------------------------------------------------- schema-driven sections
def test_routing_rule_edited_through_the_schema_editor(ann_it, it_support):
    routing = payload(page(ann_it.get(f"{BASE}/sections/routing")))
    routing["entities"]["ticket"]["rules"].insert(0, {"name": "vip", "title": {"ru": "VIP", "en": "VIP"},
                                                      "when": "priority == '1'", "group": "line2",
                                                      "strategy": "round_robin"})
    assert save(ann_it, f"{BASE}/sections/routing", routing).status_code == 302
    rules = draft(it_support).doc["routing"]["entities"]["ticket"]["rules"]
    assert rules[0]["name"] == "vip" and rules[0]["strategy"] == "round_robin"


def test_schema_editor_errors_with_paths_and_suggestions(ann_it, it_support):
    routing = payload(page(ann_it.get(f"{BASE}/sections/routing")))
    routing["entities"]["ticket"]["rules"][0]["strategy"] = "least_load"
    routing["entities"]["ticket"]["rules"][1]["grop"] = "line1"
    response = save(ann_it, f"{BASE}/sections/routing", routing)
    assert response.status_code == 422
    text = htmlmod.unescape(page(response))
    assert 'data-error-path="entities.ticket.rules[0].strategy"' in text
    assert "did you mean 'least_loaded'?" in text
    assert "unknown key 'grop' (did you mean 'group'?)" in text
    assert draft(it_support).revision == 0


def test_sla_calendar_and_policy_edited(ann_it, it_support):
    sla = payload(page(ann_it.get(f"{BASE}/sections/sla")))
    name = next(iter(sla["calendars"]))
    sla["calendars"][name]["exceptions"] = [{"date": "2026-12-31", "hours": ["09:00-14:00"]}]
    sla["policies"][0]["targets"][0]["duration"] = "2 business days"
    assert save(ann_it, f"{BASE}/sections/sla", sla).status_code == 302
    saved = draft(it_support).doc["sla"]
    assert saved["calendars"][name]["exceptions"] == [{"date": "2026-12-31", "hours": ["09:00-14:00"]}]
    assert saved["policies"][0]["targets"][0]["duration"] == "2 business days"
    bad = dict(sla, policies=[dict(sla["policies"][0], targets=[{"name": "x", "duration": "two days"}])])
    response = save(ann_it, f"{BASE}/sections/sla", bad)
    assert response.status_code == 422
    assert 'data-error-path="policies[0].targets[0].duration"' in page(response)


def test_schedules_and_notifications_sections(ann_it, it_support):
    schedules = {"schedules": [{"name": "nightly", "cron": "0 3 * * *", "script": "tickets.py:check_contact"}]}
    assert save(ann_it, f"{BASE}/sections/schedules", schedules).status_code == 302
    assert draft(it_support).doc["schedules"] == schedules
    notes = payload(page(ann_it.get(f"{BASE}/sections/notifications")))
    notes["templates"]["hello"] = {"subject": {"ru": "Привет", "en": "Hello"}, "body": "{{ record.number }}",
                                   "channels": ["inapp"]}
    assert save(ann_it, f"{BASE}/sections/notifications", notes).status_code == 302
    assert draft(it_support).doc["notifications"]["templates"]["hello"]["channels"] == ["inapp"]
    empty = save(ann_it, f"{BASE}/sections/schedules", {})
    assert empty.status_code == 302 and "schedules" not in draft(it_support).doc


def test_app_section_keeps_the_app_name(ann_it, it_support):
    app = payload(page(ann_it.get(f"{BASE}/sections/app")))
    app["name"] = "renamed"
    response = save(ann_it, f"{BASE}/sections/app", app)
    assert response.status_code == 422 and "The app name must stay it_support" in page(response)
    app["name"] = "it_support"
    app["title"] = {"ru": "Поддержка", "en": "Support"}
    assert save(ann_it, f"{BASE}/sections/app", app).status_code == 302
    assert draft(it_support).doc["app"]["title"]["en"] == "Support"


def test_entity_section_permissions_and_hooks(ann_it, it_support):
    perms = {"read": ["agent", "lead"], "rows": [{"roles": ["agent"], "own": True}]}
    assert save(ann_it, f"{TICKET}/section/permissions", perms).status_code == 302
    assert draft(it_support).doc["entities"]["ticket"]["permissions"] == perms
    response = save(ann_it, f"{TICKET}/section/hooks", {"validate": "tickets.py:check contact"})
    assert response.status_code == 422 and 'data-error-path="hooks.validate"' in page(response)
    # another key's problem does not block this editor: only the edited key is checked
    spec = draft(it_support).doc["entities"]["ticket"]
    assert spec["permissions"] == perms


# ---------------------------------------------------------------------- scripts
def check(browser, file, source):
    url = f"{BASE}/scripts/{file}/check"
    token = browser.token(f"{BASE}/scripts/{file}")
    return browser.http.post(url, json={"source": source}, headers={"X-CSRFToken": token})


def test_script_check_reports_compile_errors_with_line_numbers(ann_it):
    syntax = check(ann_it, "tickets.py", "def f(record):\n    x = 1\n    return (x\n\n")
    assert syntax.status_code == 200
    body = syntax.get_json()
    assert body["ok"] is False and body["problems"][0]["line"] == 3 and body["problems"][0]["severity"] == "error"
    restricted = check(ann_it, "tickets.py", "def f(record):\n    return record._secret\n").get_json()
    assert restricted["problems"][0]["line"] == 2 and "_secret" in restricted["problems"][0]["message"]
    imports = check(ann_it, "tickets.py", "import math\n\nimport os\n\ndef f(record):\n    return 1\n").get_json()
    assert [(p["line"], p["severity"]) for p in imports["problems"] if "os" in p["message"]] == [(3, "error")]
    fine = check(ann_it, "tickets.py", "def defaults(record):\n    return None\n").get_json()
    assert fine["ok"] is True
    # metadata names check_contact in this file: a warning says the source lost it
    assert any("check_contact" in p["message"] and p["severity"] == "warning" for p in fine["problems"])


def test_script_check_needs_the_csrf_token(ann_it):
    response = ann_it.http.post(f"{BASE}/scripts/tickets.py/check", json={"source": "x = 1\n"})
    assert response.status_code == 400


def test_script_saved_and_refused_with_the_line(ann_it, it_support):
    url = f"{BASE}/scripts/tickets.py"
    text = page(ann_it.get(url))
    assert "def check_contact(record):" in htmlmod.unescape(text)
    source = APPS.joinpath("it_support/scripts/tickets.py").read_text() + "\n\ndef extra(record):\n    return 42\n"
    response = ann_it.post(url, {"source": source, "revision": str(revision(text))}, token_from=url)
    assert response.status_code == 302
    assert draft(it_support).doc["scripts"]["tickets.py"].endswith("return 42\n")
    broken = ann_it.post(url, {"source": "def f(record):\n    return (\n", "revision": "1"}, token_from=url)
    assert broken.status_code == 422
    body = page(broken)
    assert "line 2" in body and "return (" in htmlmod.unescape(body)  # the source is kept
    assert draft(it_support).doc["scripts"]["tickets.py"].endswith("return 42\n")


def test_new_script_file_is_created_on_save(ann_it, it_support):
    response = ann_it.get(f"{BASE}/scripts/new?name=vacation_rules")
    assert response.status_code == 302 and response.headers["Location"].endswith("/scripts/vacation_rules.py")
    url = f"{BASE}/scripts/vacation_rules.py"
    text = page(ann_it.get(url))
    assert 'id="new-file"' in text and "def validate(record):" in text
    assert ann_it.get(f"{BASE}/scripts/new?name=Bad-Name").status_code == 302
    saved = ann_it.post(url, {"source": "def check(record):\n    return None\n", "revision": str(revision(text))},
                        token_from=url)
    assert saved.status_code == 302
    assert draft(it_support).doc["scripts"]["vacation_rules.py"] == "def check(record):\n    return None\n"
    assert 'id="new-file"' not in page(ann_it.get(url))


def dry_run(browser, file, body):
    token = browser.token(f"{BASE}/scripts/{file}")
    return browser.http.post(f"{BASE}/scripts/{file}/dry-run", json=body, headers={"X-CSRFToken": token})


DRAFT_SCRIPT = '''def shout(record):
    log("was", record.name)
    record.name = record.name.upper()
    return len(record.name)


def broken(record):
    x = 1
    return record.name + x
'''


@pytest.mark.parametrize("designer_loom", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_dry_run_runs_the_draft_source_against_a_live_record_without_committing(it_support, root):
    system = it_support.records.create("it_support", "system", {"name": "crm"})
    response = dry_run(root, "systems.py", {"source": DRAFT_SCRIPT, "function": "shout", "entity": "system",
                                           "record_id": system["id"]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True and body["result"] == 3
    assert body["changes"] == {"name": "CRM"}
    assert any("was" in line and "crm" in line for line in body["logs"])
    assert it_support.records.get("it_support", "system", system["id"], None)["name"] == "crm"  # rolled back
    assert "systems.py" not in draft(it_support).doc["scripts"]  # nothing saved either

    failed = dry_run(root, "systems.py", {"source": DRAFT_SCRIPT, "function": "broken", "entity": "system",
                                         "record_id": system["id"]}).get_json()
    assert failed["ok"] is False and failed["error"]["line"] == 9

    syntax = dry_run(root, "systems.py", {"source": "def f(record):\n  return (\n", "function": "f",
                                         "entity": "system", "record_id": system["id"]})
    assert syntax.status_code == 422 and syntax.get_json()["error"]["line"] == 2


def test_dry_run_explains_what_it_needs(it_support, ann_it, root):
    no_entity = dry_run(root, "tickets.py", {"function": "defaults", "entity": "vacation", "record_id": 1})
    assert no_entity.status_code == 422 and "publish vacation first" in no_entity.get_json()["error"]["detail"]
    no_function = dry_run(root, "tickets.py", {"entity": "system", "record_id": 1})
    assert "Choose the function" in no_function.get_json()["error"]["detail"]
    missing = dry_run(root, "tickets.py", {"function": "defaults", "entity": "system", "record_id": 999})
    assert missing.status_code == 404
    # the analyst has no role that may read systems: the permission check of the API applies
    forbidden = dry_run(ann_it, "tickets.py", {"function": "defaults", "entity": "system", "record_id": 1})
    assert forbidden.status_code == 403


def test_approvals_section_through_the_schema_editor(ann_it, it_support):
    """approvals.yaml is edited like any section: the form, a wrong name refused with its path, a save."""
    assert ann_it.get(f"{BASE}/sections/approvals").status_code == 200
    approval = {"name": "confirm_fix", "entity": "ticket", "start": "resolved", "approvers": {"fields": ["requester"]},
                "rule": "any", "on_approved": "confirm", "on_rejected": "reopen"}
    assert save(ann_it, f"{BASE}/sections/approvals", {"approvals": [{**approval, "on_rejected": "reopn"}]}) \
        .status_code == 302  # a draft may be wrong; validation says where
    problems = page(ann_it.get(f"{BASE}/validate"))
    assert "approvals.yaml" in problems and "approvals[0].on_rejected" in problems and "reopen" in problems
    assert save(ann_it, f"{BASE}/sections/approvals", {"approvals": [approval]}).status_code == 302
    assert draft(it_support).doc["approvals"] == {"approvals": [approval]}


def test_a_dry_run_whose_script_returns_no_json_is_a_4xx(it_support, root):
    system = it_support.records.create("it_support", "system", {"name": "crm"})
    source = "def odd(record):\n    return {1, 2}\n"
    response = dry_run(root, "systems.py", {"source": source, "function": "odd", "entity": "system",
                                           "record_id": system["id"]})
    assert response.status_code == 422, response.data[:300]  # the designer's answer to a bad dry run
    assert "cannot be shown as JSON" in response.get_json()["error"]["detail"]
