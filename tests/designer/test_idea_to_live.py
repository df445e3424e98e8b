"""Issue 19, timed in real headless Chromium: from idea to live in one publish.

An analyst adds a choice field, a status with a transition from an existing status and an SLA
target for one priority, publishes once from the editor she is in, and an end user then sees
the field on the form, the transition's button on the record and the SLA badge. Every click,
fill, choice and page opening is counted as a UI action; the count and the time are printed.
"""
from __future__ import annotations

import threading
import time

import pytest

from designer.drafts import Drafts
from runtime.core.config import Settings
from runtime.web import create_app

from ..conftest import make_loom
from ..ui.test_browser import ARGS, CHROMIUM, _need_browser
from ..ui.test_browser import sign_in as sign_in_page

PASSWORD = "idea-to-live-1"
MAX_ACTIONS = 15
MAX_SECONDS = 60
ALWAYS = ["00:00-24:00"]
HELPDESK = {
    "app": {"name": "helpdesk", "title": {"ru": "Заявки", "en": "Requests"}, "roles": [{"name": "agent"}],
            "navigation": [{"entity": "request"}]},
    "entities": {"request": {
        "title": {"ru": "Заявка", "en": "Request"}, "number": "REQ-{000000}", "title_field": "subject",
        "fields": {
            "subject": {"type": "string", "title": {"ru": "Тема", "en": "Subject"}, "required": True},
            "priority": {"type": "choice", "title": {"ru": "Приоритет", "en": "Priority"}, "default": "high",
                         "choices": [{"value": "low", "title": {"ru": "Низкий", "en": "Low"}},
                                     {"value": "high", "title": {"ru": "Высокий", "en": "High"}}]},
        },
        "form": {"sections": [{"fields": ["subject", "priority"]}]},
        "permissions": {op: ["agent"] for op in ("read", "create", "update")},
        "statuses": [{"name": "new", "title": {"ru": "Новая", "en": "New"}, "initial": True, "category": "open"},
                     {"name": "done", "title": {"ru": "Выполнена", "en": "Done"}, "category": "done"}],
        "transitions": [{"name": "close", "from": "new", "to": "done", "title": {"ru": "Закрыть", "en": "Close"}}],
    }},
    # round the clock, so that the target runs whenever the test does
    "sla": {"calendars": {"always": {"title": {"ru": "Круглосуточно", "en": "Round the clock"},
                                     "timezone": "Europe/Moscow", "default": True,
                                     "hours": {d: ALWAYS for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}}},
}


@pytest.fixture
def server(tmp_path):
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.publish(HELPDESK, author="tester", comment="the starting point")
    loom.accounts.create_user("ann", PASSWORD, full_name="Анна Аналитик", roles=["analyst"])
    loom.accounts.create_user("eve", PASSWORD, full_name="Ева Исполнитель", roles=["helpdesk:agent"])
    web = create_app(Settings(tmp_path, loom.database_url, secret="idea-to-live"), loom)
    srv = make_server("127.0.0.1", 0, web, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", loom
    srv.shutdown()
    thread.join(5)
    loom.engine.dispose()


class Actions:
    """A page whose every UI action is counted."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def goto(self, url):
        self.count += 1
        self.page.goto(url)

    def click(self, selector):
        self.count += 1
        self.page.click(selector)

    def fill(self, selector, value):
        self.count += 1
        self.page.fill(selector, value)

    def select(self, selector, value):
        self.count += 1
        self.page.select_option(selector, value)


def test_a_field_a_status_and_an_sla_target_go_live_in_one_publish(server):
    _need_browser()
    from playwright.sync_api import expect, sync_playwright
    base, loom = server
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            pages = []
            for user in ("ann", "eve"):
                context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ru-RU")
                page = context.new_page()
                page.set_default_timeout(15_000)
                page.on("pageerror", lambda exc, user=user: errors.append(f"{user}: {exc}"))
                sign_in_page(page, base, user, PASSWORD)
                pages.append(page)
            ann, eve = Actions(pages[0]), Actions(pages[1])
            started = time.monotonic()

            # the field: a choice, placed on the form without asking
            ann.goto(f"{base}/designer/apps/helpdesk/entities/request/fields")
            ann.select("#add-field-of-type", "choice")
            ann.fill(".fd-row:last-child .fd-name", "channel")
            ann.fill(".fd-row:last-child .fd-choices-quick", "phone, email")
            ann.click("#tab-workflow")  # saves the fields on the way
            expect(ann.page.locator("#wf-svg")).to_be_visible()
            # the status, with a transition into it from "new"
            ann.click("#wf-add-status")
            ann.fill(".wf-status-name", "in_work")
            ann.select("#wf-transition-from", "new")
            boxes = ann.page.locator(".wf-node").evaluate_all(
                "nodes => nodes.map(n => { const b = n.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })")
            assert len(boxes) == 3 and not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                                               for i, a in enumerate(boxes) for b in boxes[i + 1:])  # in free space
            ann.click("#tab-sla")  # saves the workflow on the way
            # the SLA target for one priority: one cell of the matrix
            ann.fill(".sla-cell[data-value=high][data-target=reaction]", "4 business hours")
            ann.click("#publish-open")  # saves, then shows the diff in a dialog
            dialog = ann.page.locator("#publish-dialog")
            expect(dialog).to_be_visible()
            expect(dialog.locator("#publish-dialog-diff")).to_contain_text("channel")
            expect(dialog.locator("#publish-dialog-diff")).to_contain_text("in_work")
            expect(dialog.locator("#publish-dialog-diff")).to_contain_text("4 business hours")
            ann.click("#publish-confirm")
            expect(ann.page.locator("#open-live")).to_be_visible()
            assert ann.page.locator("#open-live").get_attribute("href") == "/ui/helpdesk/request"

            # the end user: the field on the form, the button on the record, the SLA badge
            eve.goto(f"{base}/ui/helpdesk/request/new")
            expect(eve.page.locator("[name=channel]")).to_be_visible()
            eve.fill("[name=subject]", "Не работает почта")
            eve.click("form.record-form button.primary[type=submit]")
            expect(eve.page.locator("button.transition[data-transition]").filter(has_text="in_work")).to_be_visible()
            expect(eve.page.locator(".badge.sla[data-sla=reaction]")).to_be_visible()
            elapsed = time.monotonic() - started
        finally:
            browser.close()
    actions = ann.count + eve.count
    print(f"\nidea to live: {actions} UI actions (analyst {ann.count}, end user {eve.count}), {elapsed:.1f} s")
    assert not errors, errors
    live = loom.store.document("helpdesk")
    request = live["entities"]["request"]
    assert request["fields"]["channel"]["choices"] == ["phone", "email"]
    assert "channel" in request["form"]["sections"][-1]["fields"]
    assert {"from": "new", "to": "in_work"}.items() <= next(t for t in request["transitions"]
                                                            if t["to"] == "in_work").items()
    policy = next(p for p in live["sla"]["policies"] if p["when"] == "priority == 'high'")
    assert [(t["name"], t["duration"]) for t in policy["targets"]] == [("reaction", "4 business hours")]
    assert len(loom.store.versions("helpdesk")) == 2  # one publish
    assert Drafts(loom).open("helpdesk").revision is not None
    assert actions <= MAX_ACTIONS
    assert elapsed < MAX_SECONDS
