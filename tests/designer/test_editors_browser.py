"""The designer's editors in real headless Chromium: drag a field into a form section, add two
statuses and draw a transition with the mouse, type a script with a syntax error and see its
line marked, edit fields and a routing rule — each saved and found in the draft. Screenshots
of every editor go to docs/screenshots/designer-<editor>.png (1280x800)."""
from __future__ import annotations

import threading

import pytest

from designer.drafts import Drafts
from runtime.core.config import Settings
from runtime.web import create_app

from ..conftest import APPS, make_loom
from ..ui.test_browser import ARGS, CHROMIUM, SHOTS, _need_browser, sign_in

PASSWORD = "analyst-pass-1"
BASE = "/designer/apps/it_support"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import make_server
    tmp = tmp_path_factory.mktemp("editors")
    loom = make_loom(f"sqlite:///{tmp / 'loom.db'}", tmp / "files")
    loom.store.install(APPS / "it_support", author="tester")
    loom.accounts.create_user("ann", PASSWORD, full_name="Ann Analyst", roles=["analyst", "it_support:lead"])
    system = loom.records.create("it_support", "system", {"name": "crm"})
    app = create_app(Settings(tmp, loom.database_url, secret="editors-browser"), loom)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", loom, system["id"]
    srv.shutdown()
    thread.join(5)
    loom.engine.dispose()


@pytest.fixture(scope="module")
def chromium():
    _need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(server, chromium):
    base = server[0]
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(pg, base, "ann", PASSWORD)  # waits: signed in before the language is set on the session
    pg.goto(f"{base}/lang/en")
    yield pg
    context.close()
    assert errors == [], errors  # no JavaScript error on any editor page


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"designer-{name}.png"))


def entity(loom, name):
    return Drafts(loom).open("it_support").doc["entities"][name]


def saved(page):
    from playwright.sync_api import expect
    page.click("#save")
    expect(page.locator(".flash.ok, .flash")).to_contain_text("Saved to the draft")


def test_drag_a_field_into_a_form_section(server, page):
    from playwright.sync_api import expect
    base, loom, system_id = server
    page.goto(f"{base}{BASE}/entities/ticket/form")
    expect(page.locator(".fm-section")).to_have_count(4)
    shot(page, "form")

    page.goto(f"{base}{BASE}/entities/system/form")  # no form yet: start with an empty section
    expect(page.locator(".fm-section")).to_have_count(0)
    page.click(".fm-add-section")
    zone = page.locator('.fm-section[data-sec="0"] .fm-drop')
    page.locator('.fm-pal-item[data-field="name"]').drag_to(zone)
    expect(zone.locator(".fm-chip")).to_have_count(1)
    # a second field dropped before the first one (on its left half)
    first = zone.locator('.fm-chip[data-field="name"]')
    page.locator('.fm-pal-item[data-field="business_owner"]').drag_to(first, target_position={"x": 5, "y": 8})
    expect(zone.locator(".fm-chip")).to_have_count(2)
    # and one by the buttons: choose the section, press +
    page.locator('.fm-pal-item[data-field="technical_owner"] .fm-add').click()
    expect(zone.locator(".fm-chip")).to_have_count(3)
    page.select_option('.fm-section[data-sec="0"] .fm-columns', "2")
    page.fill('.fm-section[data-sec="0"] .ed-title-en', "Owners")
    saved(page)
    form = entity(loom, "system")["form"]
    assert form == {"sections": [{"fields": ["business_owner", "name", "technical_owner"], "columns": 2,
                                  "title": {"en": "Owners"}}]}
    expect(page.locator('.fm-section[data-sec="0"] .fm-chip')).to_have_count(3)  # reloaded from the draft


def test_add_two_statuses_and_draw_a_transition_with_the_mouse(server, page):
    from playwright.sync_api import expect
    base, loom, system_id = server
    page.goto(f"{base}{BASE}/entities/ticket/workflow")
    expect(page.locator(".wf-node")).to_have_count(6)
    page.locator('.wf-edge[data-name="take"] .wf-hit').dispatch_event("pointerdown", {"button": 0})
    expect(page.locator("#wf-panel h3")).to_have_text("Transition take")
    shot(page, "workflow")

    page.goto(f"{base}{BASE}/entities/system/workflow")
    expect(page.locator(".wf-node")).to_have_count(0)
    page.click("#wf-add-status")  # one by the button ...
    expect(page.locator(".wf-node")).to_have_count(1)
    page.fill(".wf-status-name", "active")
    page.fill("#wf-panel .ed-title-en", "Active")
    canvas = page.locator("#wf-svg").bounding_box()
    page.mouse.dblclick(canvas["x"] + canvas["width"] * 0.7, canvas["y"] + 200)  # ... one by double-clicking
    expect(page.locator(".wf-node")).to_have_count(2)
    page.fill(".wf-status-name", "retired")
    page.select_option('#wf-panel select[name="statuses[1].category"]', "done")

    # draw: press on the dot of "active", move to "retired", release
    port = page.locator('.wf-node[data-status="active"] .wf-port').bounding_box()
    target = page.locator('.wf-node[data-status="retired"] .wf-box').bounding_box()
    page.mouse.move(port["x"] + port["width"] / 2, port["y"] + port["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2, steps=12)
    page.mouse.up()
    edge = page.locator('.wf-edge[data-from="active"][data-to="retired"]')
    expect(edge).to_have_count(1)
    expect(page.locator("#wf-panel h3")).to_have_text("Transition active_to_retired")
    page.fill(".wf-tr-name", "retire")
    page.fill("#wf-panel .ed-title-en", "Retire")
    page.locator(".wf-roles input[value=lead]").check()
    page.fill(".wf-timer-after", "30 days")

    # move "retired" with the mouse: its position is kept
    box = page.locator('.wf-node[data-status="retired"] .wf-box').bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 20, box["y"] + 140, steps=8)
    page.mouse.up()
    saved(page)

    spec = entity(loom, "system")
    names = [s["name"] for s in spec["statuses"]]
    assert names == ["active", "retired"]
    assert spec["statuses"][0]["initial"] is True and spec["statuses"][1]["category"] == "done"
    active, retired = spec["statuses"]
    assert retired["layout"]["y"] > active["layout"]["y"] + 80  # dragged down
    assert spec["transitions"] == [{"name": "retire", "from": "active", "to": "retired",
                                    "title": {"en": "Retire"}, "roles": ["lead"], "timer": {"after": "30 days"}}]
    expect(page.locator('.wf-edge[data-name="retire"]')).to_have_count(1)  # drawn again from the draft


def test_type_a_script_with_a_syntax_error_and_see_the_line(server, page):
    from playwright.sync_api import expect
    base, loom, system_id = server
    page.goto(f"{base}{BASE}/scripts/new?name=checks")
    expect(page.locator("#new-file")).to_be_visible()
    page.click(".CodeMirror")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("def check(record):\n")  # CodeMirror indents the body itself
    page.keyboard.type("x = len(record.name)\n")
    page.keyboard.type("return x +\n")
    mark = page.locator('.ed-gutter-mark.error[data-line="3"]')
    expect(mark).to_be_visible()
    expect(page.locator(".ed-line-error")).to_have_count(1)
    expect(page.locator("#check-problems")).to_contain_text("Line 3")
    shot(page, "script")

    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("def check(record):\nlog('checking', record.name)\nreturn len(record.name)\n")
    expect(page.locator(".ed-gutter-mark.error")).to_have_count(0)
    expect(page.locator("#check-status")).to_have_text("No problems found.")
    # dry run of the unsaved source against the published system "crm"
    page.select_option("#dry-entity", "system")
    page.fill("#dry-record", str(system_id))
    page.click("#dry-run-button")
    expect(page.locator("#dry-run-output .result pre")).to_have_text("3")
    expect(page.locator("#dry-run-output .log pre")).to_contain_text("checking")
    saved(page)
    source = Drafts(loom).open("it_support").doc["scripts"]["checks.py"]
    assert source.splitlines()[:3] == ["def check(record):", "    log('checking', record.name)",
                                       "    return len(record.name)"]


def test_edit_a_routing_rule_in_the_schema_editor(server, page):
    from playwright.sync_api import expect
    base, loom, system_id = server
    page.goto(f"{base}{BASE}/sections/routing?form=1#entities.ticket.rules[1].when")
    expect(page.locator('[data-path="entities.ticket.rules[1].when"]')).to_have_class("ed-target")
    page.select_option('[data-path="entities.ticket.rules[0].group"]', "line1")  # a picker of the app's groups
    page.select_option('[data-path="entities.ticket.rules[0].strategy"]', label="by_skill")
    page.select_option('[data-path="entities.ticket.rules[0].skill_field"]', "system")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "routing")
    saved(page)
    rule = Drafts(loom).open("it_support").doc["routing"]["entities"]["ticket"]["rules"][0]
    assert (rule["group"], rule["strategy"], rule["skill_field"]) == ("line1", "by_skill", "system")
    page.goto(f"{base}{BASE}/sections/sla")
    expect(page.locator('[data-path="calendars"]')).to_be_visible()
    shot(page, "sla")


def test_fields_and_views_editors(server, page):
    from playwright.sync_api import expect
    base, loom, system_id = server
    page.goto(f"{base}{BASE}/entities/ticket/fields")
    shot(page, "fields")
    page.goto(f"{base}{BASE}/entities/system/fields")
    page.click("#add-field")
    row = page.locator(".fd-list:not(.fd-nested) > .fd-rows > .fd-row").last
    row.locator(".fd-name").fill("criticality")
    row.locator(".fd-type").select_option("choice")
    row.locator(".fd-add-choice").click()
    row.locator(".fd-choice-value").last.fill("high")
    row.locator(".fd-choice .ed-title-en").last.fill("High")
    row.locator(".fd-add-choice").click()
    row.locator(".fd-choice-value").last.fill("low")
    row.locator(".fd-required").check()
    # rename a published field: the draft remembers its old name so the data follows
    page.locator('.fd-row[data-path="fields.business_owner"] .fd-name').fill("owner")
    saved(page)
    fields = entity(loom, "system")["fields"]
    assert fields["criticality"] == {"type": "choice", "required": True,
                                     "choices": [{"value": "high", "title": {"en": "High"}}, "low"]}
    assert fields["owner"]["previous_names"] == ["business_owner"]
    expect(page.locator("#problems")).to_be_visible()

    page.goto(f"{base}{BASE}/entities/ticket/views")
    expect(page.locator(".vw-view")).to_have_count(len(entity(loom, "ticket")["views"]))
    shot(page, "views")
    page.goto(f"{base}{BASE}/entities/system/views")
    page.click("#add-view")
    view = page.locator(".vw-view").last
    view.locator(".vw-new-column").fill("created_at")
    view.locator(".vw-add-column").click()
    view = page.locator(".vw-view").last
    view.locator(".vw-add-sort").click()
    view = page.locator(".vw-view").last
    view.locator(".vw-sort-field").fill("name")
    view.locator(".vw-sort-dir").select_option("-")
    saved(page)
    views = entity(loom, "system")["views"]
    assert views[-1]["columns"][-1] == "created_at" and views[-1]["sort"] == ["-name"]

    # a board: its settings pick fields by title, only of the types each setting takes
    page.goto(f"{base}{BASE}/entities/ticket/views")
    page.click("#add-view")
    view = page.locator(".vw-view").last
    view.locator(".vw-kind").select_option("kanban")
    view = page.locator(".vw-view").last
    expect(view.locator(".vw-columns")).to_have_count(0)  # a board has cards, not columns
    group_by = view.locator(".vw-kanban-group-by option")
    assert group_by.evaluate_all("os => os.map(o => o.value)") == ["status", "question_type", "symptom", "priority", "source"]
    expect(view.locator(".vw-kanban-group-by option[value=priority]")).to_contain_text("priority")
    view.locator(".vw-kanban-group-by").select_option("priority")
    view.locator(".vw-kanban-swimlanes").select_option("assignee")
    view.locator(".vw-add-card-field").select_option("system")
    saved(page)
    board = entity(loom, "ticket")["views"][-1]
    assert board["kind"] == "kanban" and "columns" not in board
    assert board["kanban"]["group_by"] == "priority" and board["kanban"]["swimlanes"] == "assignee"
    assert board["kanban"]["card"][-1] == "system"
    view = page.locator(".vw-view").last
    view.locator(".vw-kind").select_option("list")
    saved(page)
    back = entity(loom, "ticket")["views"][-1]
    assert "kind" not in back and "kanban" not in back and back["columns"]


def test_opening_and_saving_every_editor_changes_nothing(server, page):
    """The widgets rebuild exactly what they were given: a save without edits leaves the draft as it was."""
    from playwright.sync_api import expect
    base, loom, _ = server
    doc = Drafts(loom).open("it_support").doc
    targets = [(f"{BASE}/entities/{name}/{editor}", ("entities", name))
               for name in doc["entities"]
               for editor in ("fields", "form", "workflow", "views", "section/permissions", "section/hooks")]
    targets += [(f"{BASE}/sections/{kind}", (kind,)) for kind in ("app", "routing", "sla", "schedules", "notifications")]

    def item(path):
        value = Drafts(loom).open("it_support").doc
        for key in path:
            value = value.get(key)
        return value

    for url, path in targets:
        before = item(path)
        page.goto(f"{base}{url}")
        saved(page)
        expect(page.locator("#schema-errors")).to_have_count(0)
        assert item(path) == before, url


@pytest.mark.parametrize("kind, path, value", [
    ("schedules", "schedules[0].cron", "0 8 * * 1-5"),
    ("notifications", "templates.escalation_1.channels", None),
    ("reports", None, None),
])
def test_schema_driven_editors_show_the_sections_of_it_support(server, page, kind, path, value):
    """Sections without a hand-made editor are forms generated from their JSON Schema, filled from the draft."""
    from playwright.sync_api import expect
    base, loom, _ = server
    page.goto(f"{base}{BASE}/sections/{kind}")
    expect(page.locator("h1")).to_have_text(f"{kind}.yaml")
    if kind == "notifications":
        box = page.locator(f'[data-path="{path}"]')
        expect(box.locator("input:checked")).to_have_count(2)  # channels: [email, inapp]
        subject = page.locator('[data-path="templates.escalation_1.subject"]')
        texts = subject.locator("input, textarea").evaluate_all("nodes => nodes.map(n => n.value)")
        assert "[Escalation 1] {{ record.number }}: the {{ target }} deadline has passed" in texts, texts
    elif path:
        expect(page.locator(f'[data-path="{path}"]')).to_have_value(value)
    else:  # every report of the section has its block in the form
        reports = Drafts(loom).open("it_support").doc["reports"]["reports"]
        expect(page.locator('[data-path^="reports["][data-path$="].name"]')).to_have_count(len(reports))
    shot(page, kind)


def test_a_return_to_the_previous_status_is_drawn_to_where_a_record_comes_from(server, page):
    """``to: $previous`` is a target of the workflow editor; the diagram draws it, dotted and marked ↩,
    to every status the record may have come from; the privileged flag is a checkbox."""
    from playwright.sync_api import expect
    base, loom, _ = server
    page.goto(f"{base}{BASE}/entities/ticket/workflow")
    page.locator('.wf-pick-transition[data-transition="user_replied"]').click()
    page.select_option("#wf-panel select.wf-to", "$previous")
    page.locator("#wf-panel .wf-privileged").check()
    back = page.locator('.wf-edge.previous[data-name="user_replied"]')
    expect(back).to_have_count(1)  # waiting_user is entered from in_work only (ask_user)
    expect(back).to_have_attribute("data-from", "waiting_user")
    expect(back).to_have_attribute("data-to", "in_work")
    expect(back.locator(".wf-label")).to_contain_text("↩")
    saved(page)
    tr = next(t for t in entity(loom, "ticket")["transitions"] if t["name"] == "user_replied")
    assert tr["to"] == "$previous" and tr["privileged"] is True
    expect(page.locator('.wf-edge.previous[data-name="user_replied"]')).to_have_count(1)  # drawn again from the draft
