"""The change board's approval in headless Chromium: the home page lists what awaits a member,
the record page shows who must vote, a member approves with a comment, the second approval
moves the change on. Screenshot: docs/screenshots/approval.png."""
from __future__ import annotations

import threading

import pytest

from runtime.core.config import Settings
from runtime.web import create_app
from tests.concepts.test_approvals import rfc_plan
from tests.conftest import APPS, make_loom
from tests.ui.test_browser import SHOTS, _need_browser, russian_page, sign_in

from .conftest import PASSWORD


@pytest.fixture
def server(tmp_path):
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.install(APPS / "service_desk", author="tester")
    for name, full in (("ivanov", "Иванов Пётр"), ("petrova", "Петрова Анна"), ("sidorov", "Сидоров Олег")):
        loom.accounts.create_user(name, PASSWORD, full_name=full, roles=["service_desk:cab"])
    loom.accounts.create_user("agent", PASSWORD, full_name="Анна Агентова", roles=["service_desk:agent"])
    agent = loom.actor("agent")
    change = loom.records.create("service_desk", "change", {
        "title": "Обновление сервера СЭД до версии 4.2",
        "description": "Установка обновления в субботнее окно, откат из снимка ВМ", **rfc_plan(loom)}, actor=agent)
    loom.workflow.transition("service_desk", "change", change["id"], "submit", actor=agent)
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", change["id"]
    srv.shutdown()
    thread.join(5)
    loom.engine.dispose()


def test_a_board_member_approves_a_change_in_the_browser(server):
    _need_browser()
    from playwright.sync_api import expect
    base, change_id = server
    url = f"{base}/ui/service_desk/change/{change_id}"
    for name, comment in (("ivanov", "Окно согласовано с заказчиком"), ("petrova", "План отката проверен")):
        with russian_page(1280, 900) as page:
            sign_in(page, base, name, PASSWORD)
            page.goto(f"{base}/ui/")
            tasks = page.locator("#tasks-approvals")
            expect(tasks).to_contain_text("Ждут моего согласования")
            tasks.locator("a", has_text="Обновление сервера СЭД").click()
            expect(page.locator("button.transition")).to_have_count(0)  # no button bypasses the vote
            panel = page.locator("#approvals")
            expect(panel).to_contain_text("Нужно согласий: 2 из 3")
            expect(panel.locator("li[data-voter=sidorov]")).to_contain_text("Ещё не голосовал(а)")
            panel.locator("textarea[name=comment]").fill(comment)
            if name == "petrova":
                page.screenshot(path=str(SHOTS / "approval.png"), full_page=True)
            panel.locator("button[value=approve]").click()
            page.wait_for_url(f"{url}#approvals")
            expect(page.locator(f"#approvals li[data-voter={name}]")).to_contain_text(comment)
            expect(page.locator("#approvals form.vote-form")).to_have_count(0)
    with russian_page(1280, 900) as page:
        sign_in(page, base, "agent", PASSWORD)
        page.goto(url)
        expect(page.locator("#status")).to_have_text("Согласовано")
        expect(page.locator(".approval-round")).to_have_attribute("data-state", "approved")
