"""The portal in headless Chromium: a client's contact accepts an invitation, sets a password,
finds an article, creates a request with a file, follows it to its resolution by staff (through
the API) and confirms it. Screenshots of the pages go to docs/screenshots/portal-*.png."""
from __future__ import annotations

import threading

import pytest

from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import APPS, make_loom
from tests.ui.test_browser import SHOTS, _need_browser, russian_page

from .conftest import APP, PASSWORD, seed

P = f"/portal/{APP}"


@pytest.fixture
def served(tmp_path, smtp):
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.install(APPS / "service_desk", author="tester")
    world = seed(loom)
    loom.smtp_url = smtp.url
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", loom, app, world
    srv.shutdown()
    thread.join(5)
    loom.engine.dispose()


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"portal-{name}.png"), full_page=True)


def test_a_contact_from_invitation_to_a_confirmed_request(served, smtp, tmp_path):
    _need_browser()
    from playwright.sync_api import expect
    base, loom, app, world = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    upload = tmp_path / "ошибка.png"
    upload.write_bytes(b"\x89PNG screenshot")
    with russian_page(1180, 860) as page:
        # a dispatcher invites the contact from the portal's invitation page
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "dispatcher")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}{P}/invite")
        page.fill("#full_name", "Ольга Клиентова")
        page.fill("#email", "olga@org1.example")
        page.select_option("#organization", label="Минздрав")
        page.click("button[type=submit]")
        expect(page.locator(".flash.ok")).to_contain_text("olga@org1.example")
        page.click("text=Выйти")

    (link,) = smtp.links("olga@org1.example")
    assert link.startswith(base)
    with russian_page(390, 844) as page:  # a phone
        page.goto(link)
        expect(page.locator("h1")).to_have_text("Добро пожаловать!")
        page.fill("#password", "olga-pass-1")
        page.fill("#password2", "olga-pass-1")
        shot(page, "invitation")
        page.click("button[type=submit]")
        expect(page.locator(".flash.ok")).to_contain_text("Пароль установлен")
        expect(page.locator(".cards")).to_contain_text("организации 1")
        expect(page.locator(".cards")).not_to_contain_text("организации 2")
        shot(page, "requests-phone")

    with russian_page(1180, 860) as page:
        page.goto(f"{base}{P}/login")
        page.fill("#username", "olga@org1.example")
        page.fill("#password", "olga-pass-1")
        shot(page, "login")
        page.click("button[type=submit]")
        # finds an article in the knowledge base
        page.click("nav.menu >> text=База знаний")
        page.fill("input[name=q]", "паролей")
        page.click("button[type=submit]")
        expect(page.locator(".cards")).to_contain_text("Как сбросить пароль")
        expect(page.locator(".cards")).not_to_contain_text("Внутренний регламент")
        shot(page, "kb")
        page.click("text=Как сбросить пароль")
        expect(page.locator("dl.record")).to_contain_text("Забыли пароль")
        page.click("button[value=yes]")
        expect(page.locator(".flash.ok")).to_contain_text("Спасибо")
        shot(page, "article")
        # creates a request with a file; an article is suggested while typing
        page.click("nav.menu >> text=Новая заявка")
        page.fill("#f-subject", "Не могу сменить пароль в СЭД")
        expect(page.locator(".suggestions")).to_be_visible(timeout=20_000)  # typed-ahead search, slow under a busy suite
        expect(page.locator(".suggestions")).to_contain_text("Как сбросить пароль", timeout=20_000)
        page.fill("#f-description", "При смене пароля появляется ошибка")
        page.select_option("#f-module", label="СЭД")
        page.set_input_files("#f-attachments", str(upload))
        shot(page, "new-request")
        page.click("button[type=submit]")
        expect(page.locator(".flash.ok")).to_contain_text("REQ-")
        expect(page.locator("dl.record")).to_contain_text("ошибка.png")
        number = page.locator("dl.record").inner_text()
        rid = int(page.url.rstrip("/").rsplit("/", 1)[1])
        saved = loom.records.get(APP, "request", rid)
        assert saved["organization"] == world["orgs"][0]["id"] and saved["requester_email"] == "olga@org1.example"
        assert "REQ-" in number

        # staff take and resolve it through the API, with a public answer and an internal note
        api = app.test_client()
        token = loom.accounts.issue_token(loom.actor("agent").id)
        headers = {"Authorization": f"Bearer {token}"}
        assert api.post(f"/api/v1/{APP}/request/{rid}/transitions/take", json={}, headers=headers).status_code == 200
        assert api.post(f"/api/v1/{APP}/request/{rid}/comments", json={"body": "Внутренняя заметка: сброс в AD"},
                        headers=headers).status_code == 201
        assert api.post(f"/api/v1/{APP}/request/{rid}/comments", json={"body": "Пароль сброшен, проверьте вход",
                                                                      "public": True}, headers=headers).status_code == 201
        r = api.post(f"/api/v1/{APP}/request/{rid}/transitions/resolve",
                     json={"solution": "Сброшен пароль учётной записи СЭД"}, headers=headers)
        assert r.status_code == 200, r.get_json()

        # the contact follows it: status, the public answer (not the internal note), the confirm button
        page.reload()
        expect(page.locator("dl.record")).to_contain_text("Решена")
        expect(page.locator("dl.record")).to_contain_text("Сброшен пароль учётной записи СЭД")
        expect(page.locator(".comments")).to_contain_text("Пароль сброшен, проверьте вход")
        expect(page.locator("body")).not_to_contain_text("Внутренняя заметка")
        expect(page.locator(".timeline")).to_contain_text("Статус: Решена")
        shot(page, "request-resolved")
        page.click("button[data-transition=confirm]")
        expect(page.locator("dl.record")).to_contain_text("Закрыта")
        assert loom.records.get(APP, "request", rid)["status"] == "closed"
        # English is a click away
        page.click("text=English")
        expect(page.locator("nav.menu")).to_contain_text("Knowledge base")
        shot(page, "request-closed-en")
