"""Improvement proposals in headless Chromium: an agent suggests an improvement from a request's
page in its dialog, the analyst answers it in the designer with a status, a comment and the
version that made the change, and the agent follows the notification to the answered proposal.
The designer's page is saved as docs/screenshots/designer-proposals.png (1280x800, Russian)."""
from __future__ import annotations

import threading

import pytest

from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import APPS, make_loom
from tests.ui.conftest import seed
from tests.ui.test_browser import ARGS, CHROMIUM, SHOTS, _need_browser, sign_in

PASSWORD = "proposal-pass-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import make_server
    tmp = tmp_path_factory.mktemp("proposals")
    loom = make_loom(f"sqlite:///{tmp / 'loom.db'}", tmp / "files")
    loom.store.install(APPS / "service_desk", author="tester")
    made = seed(loom)
    request = loom.records.create("service_desk", "request", {
        "organization": made["organization"]["id"], "module": made["module"]["id"],
        "subject": "Не открывается карточка документа", "description": "Ошибка при открытии"})
    loom.accounts.create_user("anna", PASSWORD, full_name="Анна Агентова", roles=["service_desk:agent"])
    loom.accounts.create_user("ann", PASSWORD, full_name="Ann Analyst", roles=["analyst"])
    doc = loom.store.document("service_desk")
    doc["entities"]["request"]["fields"]["contact_phone"] = {"type": "string", "title": {"ru": "Телефон", "en": "Phone"}}
    version = loom.store.publish(doc, author="ann", comment="Телефон для связи в заявке").number
    app = create_app(Settings(tmp, loom.database_url, secret="proposals-browser"), loom)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", loom, request["id"], version
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


def open_page(chromium, base: str, username: str, lang: str):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, username, PASSWORD)
    page.goto(f"{base}/lang/{lang}")
    return context, page, errors


def test_a_user_suggests_an_improvement_and_the_analyst_links_the_version(server, chromium):
    from playwright.sync_api import expect
    base, loom, request_id, version = server

    context, page, errors = open_page(chromium, base, "anna", "ru")
    page.goto(f"{base}/ui/service_desk/request/{request_id}")
    page.click("#propose")
    expect(page.locator("#dialog-propose")).to_be_visible()
    expect(page.locator("#dialog-propose-title")).to_have_text("Предложить улучшение")
    page.fill("#propose-what", "Добавить в заявку телефон для связи")
    page.fill("#propose-why", "Звоним заявителю, а номера в заявке нет")
    page.click("#propose-send")
    expect(page.locator(".flash.ok")).to_contain_text("Спасибо! Предложение #")
    [proposal_id] = [p["id"] for p in loom.proposals.mine(loom.actor("anna"))[0]]
    context.close()
    assert errors == []

    context, page, errors = open_page(chromium, base, "ann", "ru")
    page.goto(f"{base}/designer/apps/service_desk/")
    page.click("text=Предложения (1)")
    card = page.locator(f"#proposal-{proposal_id}")
    expect(card).to_contain_text("Добавить в заявку телефон для связи")
    expect(card.locator(".badge").first).to_have_text("Новое")
    card.locator("select[name=status]").select_option("done")
    card.locator("select[name=version]").select_option(str(version))
    expect(card.locator("select[name=version] option:checked")).to_contain_text("Телефон для связи в заявке")
    card.locator("textarea[name=comment]").fill("Поле «Телефон» добавлено в заявку")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "designer-proposals.png"))
    card.locator("button.primary").click()
    expect(page.locator(".flash")).to_contain_text(f"Ответ на предложение #{proposal_id} сохранён")
    card = page.locator(f"#proposal-{proposal_id}")
    expect(card.locator(".badge").first).to_have_text("Принято, сделано")
    expect(card.locator(".dz-linked-version")).to_have_text(f"v{version}")
    context.close()
    assert errors == []

    context, page, errors = open_page(chromium, base, "anna", "ru")
    page.goto(f"{base}/ui/notifications")
    page.click(f"a[href='/ui/proposals/{proposal_id}']")
    expect(page.locator("#proposal-status")).to_have_text("Принято, сделано")
    expect(page.locator("#proposal-version")).to_contain_text("Телефон для связи в заявке")
    expect(page.locator("#proposal-comment")).to_have_text("Поле «Телефон» добавлено в заявку")
    context.close()
    assert errors == []
