"""The compact list, the deadline column and personal notifications in a real headless Chromium:
the toolbar is one row at 1400 px, bulk actions appear only with a selection, the deadline of an
overdue record is red, and an assignee and a mentioned user each see their notification arrive
(the unread count changes without a reload). Screenshots: docs/screenshots/compact-list*.png."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from runtime.core.config import Settings
from runtime.web import create_app

from ..conftest import APPS, make_loom
from .conftest import PASSWORD, seed
from .test_browser import SHOTS, _need_browser, russian_page, sign_in

LIST = "/ui/service_desk/request"


@pytest.fixture
def served(tmp_path):
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.install(APPS / "service_desk", author="tester")
    data = seed(loom)
    users = {name: loom.accounts.create_user(name, PASSWORD, full_name=full, roles=["service_desk:agent"])
             for name, full in (("agent", "Анна Агентова"), ("boris", "Борис Бельский"))}
    now = dt.datetime.now(dt.UTC)
    for i, (subject, priority, due) in enumerate([
            ("Не формируется отчёт по обращениям", "3", now + dt.timedelta(days=3)),
            ("Ошибка при подписании документа", "2", now - dt.timedelta(hours=5)),  # overdue
            ("Нужен доступ для нового сотрудника", "4", now + dt.timedelta(hours=3))]):
        loom.records.create("service_desk", "request", {
            "subject": subject, "description": "Подробности в письме", "priority": priority,
            "due_at": due.isoformat(), "organization": data["organization" if i % 2 == 0 else "organization2"]["id"],
            "module": data["module" if i % 2 == 0 else "module2"]["id"]})
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    app.config["LOOM_UNREAD_POLL_MS"] = 500  # the badge follows within a second here
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", loom, data, users
    srv.shutdown()
    thread.join(5)
    loom.engine.dispose()


def test_the_list_toolbar_is_one_row_and_the_overdue_deadline_is_red(served):
    _need_browser()
    from playwright.sync_api import expect
    base, loom, _, _ = served
    with russian_page(1400, 1000) as page:
        sign_in(page, base, "agent")
        page.goto(f"{base}{LIST}?view=all")
        head = page.locator(".list-head")
        tops = head.evaluate("h => Array.from(h.children).filter(c => c.offsetParent)"
                             ".map(c => Math.round(c.getBoundingClientRect().top + c.getBoundingClientRect().height / 2))")
        assert len(tops) >= 5 and max(tops) - min(tops) <= 4, tops  # every tool on one line
        assert head.bounding_box()["height"] < 50
        assert head.evaluate("h => h.scrollWidth <= h.clientWidth + 1")  # ... and nothing runs off its edge
        first_row = page.locator("table.list tbody tr").first.bounding_box()
        assert first_row["y"] < 260  # the first record comes right after the toolbar
        # bulk actions only with a selection, and nothing chosen in advance
        expect(page.locator("#bulk")).to_be_hidden()
        page.locator("input[name=id][form=bulk]").first.check()
        expect(page.locator("#bulk")).to_be_visible()
        expect(page.locator("#bulk select[name=action]")).to_have_value("")
        expect(page.locator("#bulk .selected-count")).to_have_text("Выбрано: 1")
        page.locator("input[name=id][form=bulk]").first.uncheck()
        expect(page.locator("#bulk")).to_be_hidden()
        # the deadline column: red for the overdue record, amber for the one due in 3 hours
        overdue = page.locator("table.list tbody tr", has_text="Ошибка при подписании документа").locator("td.deadline .due")
        expect(overdue).to_have_attribute("data-state", "overdue")
        expect(overdue).to_contain_text("просрочено на")
        assert overdue.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
        soon = page.locator("table.list tbody tr", has_text="Нужен доступ").locator("td.deadline .due")
        expect(soon).to_have_attribute("data-state", "soon")
        # sorted by deadline: the overdue one first
        page.click("th.deadline a.sort")
        expect(page.locator("table.list tbody tr").first).to_contain_text("Ошибка при подписании документа")
        # the sticky header stays in view while the rows scroll
        page.goto(f"{base}{LIST}?view=all")
        # a quick filter under the priority header
        page.select_option("tr.quick-filters select[name=priority]", "2")
        page.wait_for_url(lambda url: "priority=2" in url)
        expect(page.locator("table.list tbody tr")).to_have_count(1)
        # the column chooser, remembered in a saved view
        page.goto(f"{base}{LIST}?view=all")
        page.click("details.columns-chooser summary")
        page.locator("details.columns-chooser input[value=organization]").uncheck()
        page.click("details.columns-chooser button")
        page.wait_for_url(lambda url: "columns=" in url)
        assert "Организация" not in page.locator("table.list thead tr").first.inner_text()
        page.click("details.saved-views summary")
        page.fill("details.saved-views input[name=name]", "Без организаций")
        page.click("details.saved-views .save-view button")
        page.goto(f"{base}{LIST}")
        page.click("details.saved-views summary")
        page.click("a.saved-view:text('Без организаций')")
        assert "Организация" not in page.locator("table.list thead tr").first.inner_text()
        page.goto(f"{base}{LIST}?view=all")
        page.screenshot(path=str(SHOTS / "compact-list.png"))
    with russian_page(390, 844) as page:
        sign_in(page, base, "agent")
        page.goto(f"{base}{LIST}?view=all")
        expect(page.locator("td.deadline .due.overdue")).to_be_visible()
        page.screenshot(path=str(SHOTS / "compact-list-phone.png"), full_page=True)


def test_an_assignee_and_a_mentioned_user_see_their_notifications_arrive(served):
    _need_browser()
    from playwright.sync_api import expect
    base, loom, data, users = served
    with russian_page(1400, 1000) as page:
        sign_in(page, base, "boris")
        page.goto(f"{base}/ui/")
        expect(page.locator("#unread-count")).to_have_count(0)
        made = loom.records.create("service_desk", "request", {  # assigned elsewhere, while Boris looks at his page
            "subject": "Сломался сканер", "description": "Не сканирует", "priority": "3",
            "organization": data["organization"]["id"], "module": data["module"]["id"], "assignee": users["boris"]})
        expect(page.locator("#unread-count")).to_have_text("1", timeout=10_000)  # no reload
        context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ru-RU")
        other = context.new_page()  # Anna, in a browser session of her own
        sign_in(other, base, "agent")
        other.goto(f"{base}{LIST}/{made['id']}")
        other.fill("form.comment-form textarea[name=body]", "@boris проверь, пожалуйста, драйвер")
        other.click("form.comment-form button[type=submit]")
        expect(other.locator(".comment").last).to_contain_text("проверь")
        context.close()
        expect(page.locator("#unread-count")).to_have_text("2", timeout=10_000)
        page.click("#nav-notifications")
        expect(page.locator(".notification.unread")).to_have_count(2)
        expect(page.locator(".notification").first).to_contain_text("@agent")
        expect(page.locator(".notification").last).to_contain_text("Вам назначено")
        # the settings page: the mentioned user moves mentions to the daily digest
        page.click("#notification-settings")
        page.check("#pref-mention-digest")
        page.click("form.notification-settings button.primary")
        expect(page.locator(".flash.ok")).to_have_text("Настройки сохранены.")
        assert loom.personal.preferences(users["boris"])["mention"] == "digest"
