"""Issue 6, end to end in real headless Chromium: an analyst builds "Vacation requests" from
nothing in the designer, previews and publishes it, and end users then work with it.

The analyst (role ``analyst``) signs in, creates the app, declares its roles and the group
``hr`` in the app settings, adds the entity ``request`` and gives it its fields in the fields
editor, lays out the form by dragging fields into sections with the mouse, adds three statuses
on the workflow diagram and draws two transitions from a status's connector to another
status, routes every request to ``hr`` (routing), gives it an SLA of 2 business days in a
business calendar (SLA), writes a validator script (a syntax error first, its line marked;
then the check finds nothing) and hooks it as ``hooks.validate``, sets the entity's
permissions, validates (no problems), creates a record in the preview and publishes with a
comment after seeing the diff and the storage plan. Then an employee creates a request in
the generated UI — the validator refuses an end before the start, the fixed one is saved,
routed to ``hr`` and gets an SLA badge — and an HR manager approves it.

Every step is checked against the draft or the database, not only the page. Screenshots
(1280x800) go to docs/screenshots/designer-*.png.
"""
from __future__ import annotations

import re
import threading
import zipfile

import pytest
from sqlalchemy import select

from designer.drafts import Drafts
from metamodel import content_hash, read_folder
from runtime.core.config import Settings
from runtime.web import create_app

from ..conftest import make_loom
from ..ui.test_browser import ARGS, CHROMIUM, SHOTS, _need_browser
from ..ui.test_browser import sign_in as sign_in_page
from .conftest import another_instance
from .test_pages import audit_actions
from .test_zip import publish as publish_over_http
from .test_zip import upload

PASSWORD = "vacation-pass-1"
APP = "/designer/apps/vacation"
SCRIPT = '''"""Checks of vacation requests."""


def check_dates(record):
    """hooks.validate: a vacation cannot end before it starts."""
    start, end = record.start_date, record.end_date
    if start and end and end < start:
        return {"end_date": "The vacation cannot end before it starts"}
    return None
'''


@pytest.fixture
def server(tmp_path):
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.accounts.create_user("ann", PASSWORD, full_name="Ann Analyst", roles=["analyst"])
    web = create_app(Settings(tmp_path, loom.database_url, secret="vacation-e2e"), loom)
    srv = make_server("127.0.0.1", 0, web, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", loom, web
    srv.shutdown()
    thread.join(5)
    previews = web.extensions.get("loom_previews")
    if previews is not None:
        previews.close()
    loom.engine.dispose()


def requests(instance) -> list[dict]:
    """Every vacation request in a Loom (the live one or a preview's), oldest first."""
    et = instance.entity_tables("vacation", "request")
    with instance.reader.connect() as c:
        ids = c.execute(select(et.main.c.id).order_by(et.main.c.id)).scalars().all()
    return [instance.records.get("vacation", "request", i) for i in ids]


def shot(page, name, at=None):
    """docs/screenshots/designer-<name>.png of the top of the page, or with ``at`` scrolled to the top."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    if at is None:
        page.evaluate("window.scrollTo(0, 0)")
    else:
        page.locator(at).evaluate("node => { node.scrollIntoView({block: 'start'}); window.scrollBy(0, -60); }")  # below the top bar
    page.screenshot(path=str(SHOTS / f"designer-{name}.png"))


def pick(page, selector, value):
    """Choose ``value`` in a picker (a select of the app's titles), or type it where the input is free text."""
    if page.locator(selector).evaluate("node => node.tagName") == "SELECT":
        page.select_option(selector, value)
    else:
        page.fill(selector, value)


def sign_in(browser, base, username, errors):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda exc: errors.append(f"{username}: {exc}"))
    sign_in_page(page, base, username, PASSWORD)
    page.goto(f"{base}/lang/en")
    return page


def test_an_analyst_builds_vacation_requests_and_an_end_user_uses_them(server, tmp_path):
    _need_browser()
    from playwright.sync_api import expect, sync_playwright
    base, loom, web = server

    def doc():
        return Drafts(loom).open("vacation").doc

    def entity():
        return doc()["entities"]["request"]

    def saved(page):
        page.click("#save")
        expect(page.locator(".flash.ok")).to_contain_text("Saved to the draft")
        expect(page.locator("#schema-errors")).to_have_count(0)

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = sign_in(browser, base, "ann", errors)
            try:
                analyst_builds_the_app(page, base, loom, web, doc, entity, saved, expect)
                end_users_use_it(browser, base, loom, errors, expect)
                analyst_exports_changes_and_rolls_back(page, base, loom, tmp_path, expect)
            except BaseException:
                page.screenshot(path="/tmp/vacation-failure.png", full_page=True)
                raise
        finally:
            browser.close()
    assert errors == [], errors  # no JavaScript error on any page


def analyst_builds_the_app(page, base, loom, web, doc, entity, saved, expect):
    # ------------------------------------------------------------------ 1. a new app from nothing
    page.goto(f"{base}/designer/")
    expect(page.locator("#apps")).to_have_count(0)  # no apps yet
    page.fill("#new-app-name", "vacation")
    page.fill("#new-app-title-ru", "Заявления на отпуск")
    page.fill("#new-app-title-en", "Vacation requests")
    page.click("#create-app")
    expect(page).to_have_url(f"{base}{APP}/")
    expect(page.locator("#app-title")).to_contain_text("Vacation requests")
    state = loom.store.draft("vacation")
    assert state["current_version"] is None and state["draft_updated_by"] == "ann"
    assert doc()["app"] == {"name": "vacation", "title": {"ru": "Заявления на отпуск", "en": "Vacation requests"}}

    # ------------------------------------------------------------------ 2. app settings: roles and the hr group
    page.click("#edit-app")
    expect(page).to_have_url(f"{base}{APP}/sections/app")
    page.fill('[data-path="timezone"]', "Europe/Moscow")
    page.click('.sf-add-prop[data-prop="roles"]')
    for i, (name, ru, en) in enumerate([("employee", "Сотрудник", "Employee"),
                                        ("hr_manager", "Менеджер по персоналу", "HR manager")]):
        page.click('[data-path="roles"] > .sf-add-item')
        page.fill(f'[data-path="roles[{i}].name"]', name)
        page.fill(f'[data-path="roles[{i}].title"] .ed-title-ru', ru)
        page.fill(f'[data-path="roles[{i}].title"] .ed-title-en', en)
    page.click('.sf-add-prop[data-prop="groups"]')
    page.click('[data-path="groups"] > .sf-add-item')
    page.fill('[data-path="groups[0].name"]', "hr")
    page.fill('[data-path="groups[0].title"] .ed-title-ru', "Отдел кадров")
    page.fill('[data-path="groups[0].title"] .ed-title-en', "HR department")
    saved(page)
    app_doc = doc()["app"]
    assert app_doc["timezone"] == "Europe/Moscow"
    assert app_doc["roles"] == [{"name": "employee", "title": {"ru": "Сотрудник", "en": "Employee"}},
                                {"name": "hr_manager", "title": {"ru": "Менеджер по персоналу", "en": "HR manager"}}]
    assert app_doc["groups"] == [{"name": "hr", "title": {"ru": "Отдел кадров", "en": "HR department"}}]

    # ------------------------------------------------------------------ 3. the entity and its fields
    page.goto(f"{base}{APP}/")
    page.fill("#add-entity-name", "request")
    page.fill("#add-entity-title-ru", "Заявление")
    page.fill("#add-entity-title-en", "Request")
    page.click("#add-entity")
    expect(page).to_have_url(f"{base}{APP}/entities/request/fields")
    assert list(entity()["fields"]) == ["name"]  # the starter field, renamed below

    rows = page.locator(".fd-list:not(.fd-nested) > .fd-rows > .fd-row")
    expect(rows).to_have_count(1)
    page.fill('input[name="number"]', "VAC-{00000}")
    first = rows.first
    first.locator(".fd-name").fill("employee")
    first.locator(".fd-title .ed-title-ru").fill("Сотрудник")
    first.locator(".fd-title .ed-title-en").fill("Employee")

    def add_field(name, type_, ru, en, required=True):
        page.click("#add-field")
        row = rows.last
        row.locator(".fd-name").fill(name)
        row.locator(".fd-type").select_option(type_)
        row.locator(".fd-title .ed-title-ru").fill(ru)
        row.locator(".fd-title .ed-title-en").fill(en)
        if required:
            row.locator(".fd-required").check()
        return row

    add_field("start_date", "date", "Начало", "First day")
    add_field("end_date", "date", "Окончание", "Last day")
    kind = add_field("kind", "choice", "Вид отпуска", "Kind")
    for value, ru, en in [("annual", "Ежегодный", "Annual"), ("unpaid", "Без сохранения", "Unpaid"),
                          ("study", "Учебный", "Study")]:
        kind.locator(".fd-add-choice").click()
        kind.locator(".fd-choice-value").last.fill(value)
        kind.locator(".fd-choice .ed-title-ru").last.fill(ru)
        kind.locator(".fd-choice .ed-title-en").last.fill(en)
    add_field("hr_group", "group", "Группа", "Handled by", required=False)  # what routing fills in
    expect(rows).to_have_count(5)
    shot(page, "fields")
    saved(page)
    spec = entity()
    assert spec["number"] == "VAC-{00000}" and spec["title_field"] == "employee"  # followed the rename
    assert spec["fields"] == {
        "employee": {"type": "string", "title": {"ru": "Сотрудник", "en": "Employee"}, "required": True,
                     "max_length": 200},
        "start_date": {"type": "date", "title": {"ru": "Начало", "en": "First day"}, "required": True},
        "end_date": {"type": "date", "title": {"ru": "Окончание", "en": "Last day"}, "required": True},
        "kind": {"type": "choice", "title": {"ru": "Вид отпуска", "en": "Kind"}, "required": True,
                 "choices": [{"value": "annual", "title": {"ru": "Ежегодный", "en": "Annual"}},
                             {"value": "unpaid", "title": {"ru": "Без сохранения", "en": "Unpaid"}},
                             {"value": "study", "title": {"ru": "Учебный", "en": "Study"}}]},
        "hr_group": {"type": "group", "title": {"ru": "Группа", "en": "Handled by"}},
    }

    # ------------------------------------------------------------------ 4. the form, by drag and drop
    page.click("#tab-form")
    expect(page).to_have_url(f"{base}{APP}/entities/request/form")
    expect(page.locator(".fm-section")).to_have_count(0)
    page.click(".fm-add-section")
    page.click(".fm-add-section")
    sections = page.locator(".fm-section")
    expect(sections).to_have_count(2)
    for i, (ru, en) in enumerate([("Сотрудник", "Employee"), ("Период", "Dates")]):
        sections.nth(i).locator(".fm-sec-head .ed-title-ru").fill(ru)
        sections.nth(i).locator(".fm-sec-head .ed-title-en").fill(en)
    page.select_option('.fm-section[data-sec="1"] .fm-columns', "2")

    def mouse_drag(source, target):
        """Press on the source, move to the target in steps, release: a real mouse drag."""
        a, b = source.bounding_box(), target.bounding_box()
        page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
        page.mouse.down()
        page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=10)
        page.mouse.up()

    zone0 = page.locator('.fm-section[data-sec="0"] .fm-drop')
    zone1 = page.locator('.fm-section[data-sec="1"] .fm-drop')
    mouse_drag(page.locator('.fm-pal-item[data-field="employee"]'), zone0)
    expect(zone0.locator('.fm-chip[data-field="employee"]')).to_have_count(1)
    mouse_drag(page.locator('.fm-pal-item[data-field="start_date"]'), zone1)
    expect(zone1.locator('.fm-chip[data-field="start_date"]')).to_have_count(1)
    page.locator('.fm-pal-item[data-field="end_date"]').drag_to(zone1)
    expect(zone1.locator(".fm-chip")).to_have_count(2)
    page.select_option("#form-target", "0")  # the rest by the buttons, into the first section
    page.locator('.fm-pal-item[data-field="kind"] .fm-add').click()
    page.locator('.fm-pal-item[data-field="hr_group"] .fm-add').click()
    expect(zone0.locator(".fm-chip")).to_have_count(3)
    expect(page.locator(".fm-pal-item.placed")).to_have_count(5)
    shot(page, "form")
    saved(page)
    assert entity()["form"] == {"sections": [
        {"fields": ["employee", "kind", "hr_group"], "title": {"ru": "Сотрудник", "en": "Employee"}},
        {"fields": ["start_date", "end_date"], "columns": 2, "title": {"ru": "Период", "en": "Dates"}}]}

    # ------------------------------------------------------------------ 5. the workflow diagram
    page.click("#tab-workflow")
    expect(page).to_have_url(f"{base}{APP}/entities/request/workflow")
    nodes = page.locator(".wf-node")
    expect(nodes).to_have_count(0)
    page.click("#wf-add-status")  # the first status by the button: initial, open
    expect(nodes).to_have_count(1)
    page.fill(".wf-status-name", "new")
    page.fill("#wf-panel .ed-title-ru", "Новое")
    page.fill("#wf-panel .ed-title-en", "New")
    canvas = page.locator("#wf-svg").bounding_box()
    for i, (name, ru, en, category, y) in enumerate([("approved", "Одобрено", "Approved", "done", 0.2),
                                                     ("rejected", "Отклонено", "Rejected", "cancelled", 0.7)], 1):
        page.mouse.dblclick(canvas["x"] + canvas["width"] * 0.65, canvas["y"] + canvas["height"] * y)
        expect(nodes).to_have_count(i + 1)
        page.fill(".wf-status-name", name)
        page.fill("#wf-panel .ed-title-ru", ru)
        page.fill("#wf-panel .ed-title-en", en)
        page.select_option(f'#wf-panel select[name="statuses[{i}].category"]', category)

    def draw(source, target):
        """Mouse down on the source's connector, move, release over the target status."""
        port = page.locator(f'.wf-node[data-status="{source}"] .wf-port').bounding_box()
        box = page.locator(f'.wf-node[data-status="{target}"] .wf-box').bounding_box()
        page.mouse.move(port["x"] + port["width"] / 2, port["y"] + port["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=12)
        page.mouse.up()
        expect(page.locator(f'.wf-edge[data-from="{source}"][data-to="{target}"]')).to_have_count(1)
        expect(page.locator("#wf-panel h3")).to_have_text(f"Transition {source}_to_{target}")

    for name, target, ru, en in [("approve", "approved", "Одобрить", "Approve"),
                                 ("reject", "rejected", "Отклонить", "Reject")]:
        draw("new", target)
        page.fill(".wf-tr-name", name)
        page.fill("#wf-panel .ed-title-ru", ru)
        page.fill("#wf-panel .ed-title-en", en)
        page.locator(".wf-roles input[value=hr_manager]").check()
    expect(page.locator(".wf-edge")).to_have_count(2)
    shot(page, "workflow")
    saved(page)
    spec = entity()
    assert [(s["name"], s.get("category"), s.get("initial", False)) for s in spec["statuses"]] == [
        ("new", "open", True), ("approved", "done", False), ("rejected", "cancelled", False)]
    assert all("layout" in s for s in spec["statuses"])  # where the diagram draws them
    assert spec["transitions"] == [
        {"name": "approve", "from": "new", "to": "approved", "title": {"ru": "Одобрить", "en": "Approve"},
         "roles": ["hr_manager"]},
        {"name": "reject", "from": "new", "to": "rejected", "title": {"ru": "Отклонить", "en": "Reject"},
         "roles": ["hr_manager"]}]
    expect(page.locator(".wf-edge")).to_have_count(2)  # drawn again from the saved draft

    # ------------------------------------------------------------------ 6. permissions (section editor)
    page.click("#tab-section-permissions")
    expect(page).to_have_url(f"{base}{APP}/entities/request/section/permissions")
    for action, roles in [("read", ["employee", "hr_manager"]), ("create", ["employee", "hr_manager"]),
                          ("update", ["hr_manager"]), ("delete", ["hr_manager"])]:
        for role in roles:
            page.locator(f'[data-path="permissions.{action}"] input[value="{role}"]').check()
    saved(page)
    assert entity()["permissions"] == {"read": ["employee", "hr_manager"], "create": ["employee", "hr_manager"],
                                       "update": ["hr_manager"], "delete": ["hr_manager"]}

    # ------------------------------------------------------------------ 7. routing: every request to hr
    page.goto(f"{base}{APP}/")
    page.select_option("#add-section-kind", "routing")
    page.click("#add-section")
    expect(page).to_have_url(f"{base}{APP}/sections/routing")
    page.click("#routing-as-form")  # the entity's routing settings are written in the form the schema generates
    page.fill('[data-path="entities"] > .sf-map-add .sf-new-key', "request")
    page.click('[data-path="entities"] > .sf-map-add .sf-add-entry')
    pick(page, '[data-path="entities.request.group_field"]', "hr_group")
    page.click('[data-path="entities.request"] .sf-add-prop[data-prop="rules"]')
    page.click('[data-path="entities.request.rules"] > .sf-add-item')
    page.fill('[data-path="entities.request.rules[0].name"]', "to_hr")
    page.fill('[data-path="entities.request.rules[0].title"] .ed-title-ru', "Все заявления — в отдел кадров")
    page.fill('[data-path="entities.request.rules[0].title"] .ed-title-en', "Every request goes to HR")
    pick(page, '[data-path="entities.request.rules[0].group"]', "hr")
    page.select_option('[data-path="entities.request.rules[0].strategy"]', label="manual")
    shot(page, "routing")
    saved(page)
    assert doc()["routing"] == {"entities": {"request": {"group_field": "hr_group", "rules": [
        {"name": "to_hr", "title": {"ru": "Все заявления — в отдел кадров", "en": "Every request goes to HR"},
         "group": "hr", "strategy": "manual"}]}}}

    # ------------------------------------------------------------------ 8. SLA: 2 business days in a calendar
    page.goto(f"{base}{APP}/")
    page.select_option("#add-section-kind", "sla")
    page.click("#add-section")
    expect(page).to_have_url(f"{base}{APP}/sections/sla")
    page.click("#sla-as-form")  # the policy is written field by field in the form the schema generates
    page.fill('[data-path="calendars"] > .sf-map-add .sf-new-key', "office")
    page.click('[data-path="calendars"] > .sf-map-add .sf-add-entry')
    page.fill('[data-path="calendars.office.title"] .ed-title-ru', "Офис, Москва")
    page.fill('[data-path="calendars.office.title"] .ed-title-en', "Office hours, Moscow")
    page.fill('[data-path="calendars.office.timezone"]', "Europe/Moscow")
    page.select_option('[data-path="calendars.office.country"]', label="RU")
    page.locator('[data-path="calendars.office.default"] input').check()
    page.click('[data-path="calendars.office"] .sf-add-prop[data-prop="hours"]')
    for day in ("mon", "tue", "wed", "thu", "fri"):
        page.fill(f'[data-path="calendars.office.hours.{day}"]', "09:00-13:00, 14:00-18:00")
    page.click('[data-path="policies"] > .sf-add-item')
    page.fill('[data-path="policies[0].name"]', "standard")
    page.fill('[data-path="policies[0].title"] .ed-title-ru', "Рассмотрение за 2 рабочих дня")
    page.fill('[data-path="policies[0].title"] .ed-title-en', "Decided in 2 business days")
    pick(page, '[data-path="policies[0].entity"]', "request")
    pick(page, '[data-path="policies[0].calendar"]', "office")
    page.click('[data-path="policies[0].targets"] > .sf-add-item')
    target = '[data-path="policies[0].targets[0]'
    page.fill(f'{target}.name"]', "resolution")
    page.fill(f'{target}.title"] .ed-title-ru', "Решение")
    page.fill(f'{target}.title"] .ed-title-en', "Decision")
    page.fill(f'{target}.duration"]', "2 business days")
    page.locator(f'{target}.start"] input[value="new"]').check()
    page.locator(f'{target}.stop"] input[value="approved"]').check()
    page.locator(f'{target}.stop"] input[value="rejected"]').check()
    saved(page)
    expect(page.locator(f'{target}.duration"]')).to_have_value("2 business days")  # drawn again from the draft
    shot(page, "sla", at='[data-path="policies"]')
    hours = ["09:00-13:00", "14:00-18:00"]
    assert doc()["sla"] == {
        "calendars": {"office": {"title": {"ru": "Офис, Москва", "en": "Office hours, Moscow"},
                                 "timezone": "Europe/Moscow", "country": "RU", "default": True,
                                 "hours": {d: hours for d in ("mon", "tue", "wed", "thu", "fri")}}},
        "policies": [{"name": "standard", "title": {"ru": "Рассмотрение за 2 рабочих дня",
                                                    "en": "Decided in 2 business days"},
                      "entity": "request", "calendar": "office",
                      "targets": [{"name": "resolution", "title": {"ru": "Решение", "en": "Decision"},
                                   "duration": "2 business days", "start": ["new"],
                                   "stop": ["approved", "rejected"]}]}]}

    # ------------------------------------------------------------------ 9. the validator script
    page.goto(f"{base}{APP}/")
    page.fill("#add-script-file", "vacation")
    page.click("#add-script")
    expect(page).to_have_url(f"{base}{APP}/scripts/vacation.py")
    page.click(".CodeMirror")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("def check_dates(record):\n")  # CodeMirror indents the body itself
    page.keyboard.type("return record.end_date <\n")
    expect(page.locator('.ed-gutter-mark.error[data-line="2"]')).to_be_visible()
    expect(page.locator("#check-problems")).to_contain_text("Line 2")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(SCRIPT)
    page.click("#check")
    expect(page.locator("#check-status")).to_have_text("No problems found.")
    expect(page.locator(".ed-gutter-mark")).to_have_count(0)
    shot(page, "script")
    saved(page)
    assert doc()["scripts"]["vacation.py"] == SCRIPT

    # ------------------------------------------------------------------ 10. hooks.validate names it
    page.goto(f"{base}{APP}/entities/request/section/hooks")
    pick(page, '[data-path="hooks.validate"]', "vacation.py:check_dates")
    saved(page)
    assert entity()["hooks"] == {"validate": "vacation.py:check_dates"}
    page.goto(f"{base}{APP}/scripts/vacation.py")  # the script editor now shows where it is used
    expect(page.locator("#script-refs")).to_contain_text("check_dates")

    # ------------------------------------------------------------------ 11. the overview, validate
    page.goto(f"{base}{APP}/")
    expect(page.locator("#entity-request")).to_contain_text("5 fields")
    expect(page.locator("#entity-request")).to_contain_text("3 statuses")
    expect(page.locator("#section-routing")).to_be_visible()
    expect(page.locator("#section-sla")).to_be_visible()
    shot(page, "app")
    page.click("#action-validate")
    expect(page.locator("#validate-summary")).to_have_text("No problems: the draft can be published.")
    expect(page.locator(".dz-problem")).to_have_count(0)
    assert Drafts(loom).problems("vacation", doc()) == []
    shot(page, "validate")

    # ------------------------------------------------------------------ 12. preview: a record in the draft app
    page.goto(f"{base}{APP}/")
    page.click("#action-preview")
    expect(page.locator("#preview-banner")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(f"{base}{APP}/preview/ui/vacation/request")))
    expect(page.locator("table.list tbody tr")).to_have_count(3)  # sample records
    page.click("a.button.primary:has-text('New')")
    page.fill("#employee", "Preview Person")
    page.fill("#start_date", "2026-08-03")
    page.fill("#end_date", "2026-08-14")
    page.select_option("#kind", "study")
    page.click("form.record-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Preview Person")
    expect(page.locator("#preview-banner")).to_be_visible()
    expect(page.locator("#status")).to_have_text("New")
    shot(page, "preview")
    previews = web.extensions["loom_previews"]
    preview = previews.ready("vacation", previews.key(loom, doc())).loom  # the draft's own database
    made = [r for r in requests(preview) if r["employee"] == "Preview Person"]
    assert len(made) == 1 and made[0]["kind"] == "study" and made[0]["status"] == "new"
    assert "vacation" not in loom.live  # nothing reached the live app

    # ------------------------------------------------------------------ 13. publish with a comment
    page.goto(f"{base}{APP}/")
    page.click("#action-publish")
    expect(page).to_have_url(f"{base}{APP}/publish")
    expect(page.locator("#plan .dz-step")).to_have_text(["create table for request"])  # the page has loaded
    expect(page.locator("#publish-problems")).to_have_count(0)
    diff_files = page.locator("#diff .dz-change td:nth-child(2)").all_inner_texts()
    for file in ("app.yaml", "entities/", "routing.yaml", "sla.yaml", "scripts/"):
        assert file in diff_files, diff_files
    page.fill("#publish-comment", "Vacation requests: first version")
    shot(page, "publish")
    page.click("#publish-button")
    expect(page).to_have_url(f"{base}{APP}/history")
    expect(page.locator(".flash")).to_contain_text("Version 1 published")
    expect(page.locator("#version-1")).to_contain_text("Vacation requests: first version")
    shot(page, "history")
    versions = loom.store.versions("vacation")
    assert [(v["number"], v["author"], v["comment"]) for v in versions] == [
        (1, "ann", "Vacation requests: first version")]
    live = loom.live["vacation"]
    assert live.version == 1 and set(live.app.entities["request"].fields) == {
        "employee", "start_date", "end_date", "kind", "hr_group"}
    assert loom.store.draft("vacation")["draft"] is None  # publishing cleared the draft
    page.goto(f"{base}/designer/")
    expect(page.locator("#app-vacation .dz-version")).to_have_text("v1")
    shot(page, "index")


def end_users_use_it(browser, base, loom, errors, expect):
    loom.accounts.create_user("emma", PASSWORD, full_name="Emma Employee", roles=["vacation:employee"])
    loom.accounts.create_user("harry", PASSWORD, full_name="Harry HR", roles=["vacation:hr_manager"])

    # ------------------------------------------------------------------ 14. an employee asks for a vacation
    page = sign_in(browser, base, "emma", errors)
    page.goto(f"{base}/ui/vacation/")
    expect(page).to_have_url(f"{base}/ui/vacation/request")
    page.click("a.button.primary:has-text('New')")
    expect(page.locator("fieldset.section legend")).to_have_text(["Employee", "Dates"])
    page.fill("#employee", "Emma Employee")
    page.fill("#start_date", "2026-07-13")
    page.fill("#end_date", "2026-07-03")  # before the start: the validator refuses it
    page.select_option("#kind", "annual")
    page.click("form.record-form button[type=submit]")
    expect(page.locator("#err-end_date")).to_have_text("The vacation cannot end before it starts")
    assert requests(loom) == []
    page.fill("#end_date", "2026-07-24")
    page.click("form.record-form button[type=submit]")
    expect(page.locator(".flash.ok")).to_have_text("Created.")
    expect(page.locator("#status")).to_have_text("New")
    records = requests(loom)
    assert len(records) == 1
    record = records[0]
    assert (record["employee"], record["start_date"], record["end_date"], record["kind"]) == (
        "Emma Employee", "2026-07-13", "2026-07-24", "annual")
    assert re.fullmatch(r"VAC-\d{5}", record["number"])
    # routed to hr by the rule, and the SLA clock runs
    from runtime.data import tables as platform
    with loom.reader.connect() as c:
        hr = c.execute(select(platform.group.c.id).where(platform.group.c.name == "hr")).scalar()
        sla = loom.sla.status(c, "vacation", "request", record["id"])
    assert record["hr_group"] == hr
    assert [(s["target"], s["state"]) for s in sla] == [("resolution", "running")]
    assert sla[0]["due_at"] is not None
    expect(page.locator('.record-values dd[data-field="hr_group"]')).to_have_text("HR department")
    badge = page.locator('.badge.sla[data-sla="resolution"]')
    expect(badge).to_have_class(re.compile(r"\brunning\b"))
    expect(badge).to_contain_text("Decision")
    expect(badge).to_contain_text("left")
    expect(page.locator("button.transition")).to_have_count(0)  # only HR may decide
    record_url = page.url
    page.context.close()

    # ------------------------------------------------------------------ 15. HR approves it
    page = sign_in(browser, base, "harry", errors)
    page.goto(record_url)
    expect(page.locator("button.transition")).to_have_count(2)
    page.click('button.transition[data-transition="approve"]')
    expect(page.locator(".flash.ok")).to_have_text("Done")
    expect(page.locator("#status")).to_have_text("Approved")
    expect(page.locator("button.transition")).to_have_count(0)  # nothing leaves a done status
    expect(page.locator('.badge.sla[data-sla="resolution"]')).to_have_class(re.compile(r"\bmet\b"))
    assert loom.records.get("vacation", "request", record["id"])["status"] == "approved"
    with loom.reader.connect() as c:
        assert [s["state"] for s in loom.sla.status(c, "vacation", "request", record["id"])] == ["met"]
    page.context.close()


def analyst_exports_changes_and_rolls_back(page, base, loom, tmp_path, expect):
    """The same app exported to YAML and imported elsewhere publishes to the same hash; a second
    version is published and rolled back from the history page, audited, the records kept."""
    v1_hash = loom.store.versions("vacation")[0]["hash"]

    # ------------------------------------------------------------------ 16. export the live version as a zip
    page.goto(f"{base}/designer/")
    with page.expect_download() as download:
        page.click("#export-live-vacation")
    archive = tmp_path / download.value.suggested_filename
    download.value.save_as(archive)
    assert archive.name == "vacation-v1.zip"
    zipfile.ZipFile(archive).extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / "vacation"
    assert (folder / "entities" / "request.yaml").is_file() and (folder / "scripts" / "vacation.py").is_file()
    exported, _ = read_folder(folder)
    assert content_hash(exported) == v1_hash

    # ------------------------------------------------------------------ 17. imported into another Loom, published
    with another_instance(tmp_path) as (other, browser):
        assert upload(browser, archive.read_bytes(), archive.name).status_code == 302
        assert publish_over_http(browser, "vacation", "from the export").status_code == 302
        assert [v["hash"] for v in other.store.versions("vacation")] == [v1_hash]

    # ------------------------------------------------------------------ 18. version 2 adds a field
    def entity():
        return Drafts(loom).open("vacation").doc["entities"]["request"]

    page.goto(f"{base}{APP}/raw/entities/request.yaml")
    expect(page.locator("#raw-form .CodeMirror")).to_be_visible()  # a code editor: YAML, line numbers
    text = page.evaluate("loomRawEditor.getValue()")
    assert text.startswith("title:") and page.locator("#raw-form .cm-atom, #raw-form .cm-meta").count() > 0
    broken = text.replace("\nfields:\n", "\nfields:\n  note:\n    type: text\n    title: {ru: Примечание, en: Note\n", 1)
    page.evaluate("text => loomRawEditor.setValue(text)", broken)
    page.click("#raw-save")  # the unclosed flow mapping: refused, its line marked in the editor
    expect(page.locator("#raw-errors li")).to_have_count(1)
    line = page.locator("#raw-errors li").get_attribute("data-line")
    assert line and int(line) > 4, line
    expect(page.locator(f'#raw-form .ed-gutter-mark.error[data-line="{line}"]')).to_be_visible()
    assert page.evaluate("loomRawEditor.getValue()") == broken  # the analyst's text is kept
    assert "note" not in entity()["fields"]
    page.evaluate("text => loomRawEditor.setValue(text)", broken.replace("en: Note\n", "en: Note}\n", 1))
    page.click("#raw-save")
    expect(page.locator(".flash")).to_contain_text("saved (draft revision")
    assert entity()["fields"]["note"] == {"type": "text", "title": {"ru": "Примечание", "en": "Note"}}
    shot(page, "raw")
    page.goto(f"{base}{APP}/publish")
    expect(page.locator("#plan .dz-step")).to_have_text(["add request.note"])
    page.fill("#publish-comment", "A note on the request")
    page.click("#publish-button")
    expect(page.locator(".flash")).to_contain_text("Version 2 published")
    assert "note" in loom.live["vacation"].app.entities["request"].fields

    # ------------------------------------------------------------------ 19. compare, then roll back to version 1
    page.select_option("#compare-a", "1")
    page.select_option("#compare-b", "2")
    page.click("#compare-button")
    expect(page.locator("#version-diff")).to_contain_text("fields.note")
    page.once("dialog", lambda dialog: dialog.accept())  # "Publish version 1 again as a new version?"
    page.click("#rollback-1")
    expect(page.locator(".flash")).to_contain_text("Version 1 is live again as version 3")
    expect(page.locator("#version-3")).to_contain_text("rollback to v1")
    versions = loom.store.versions("vacation")
    assert [(v["number"], v["rollback_of"]) for v in versions] == [(1, None), (2, None), (3, 1)]
    assert versions[2]["hash"] == v1_hash
    assert "note" not in loom.live["vacation"].app.entities["request"].fields
    rollbacks = [(user, after["version"], after["rollback_of"]) for action, user, after in audit_actions(loom)
                 if action == "rollback"]
    assert rollbacks == [("ann", 3, 1)]
    assert [(r["employee"], r["status"]) for r in requests(loom)] == [("Emma Employee", "approved")]
