"""The three concepts in headless Chromium: a filtered combo box narrows when the organisation
changes, the record graph is drawn and its nodes lead to their records, and the organiser lists
tasks with a month calendar. Screenshots: docs/screenshots/record-graph.png, organiser.png."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from runtime import clock
from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import make_loom
from tests.ui.test_browser import SHOTS, _need_browser, russian_page, sign_in

from .conftest import APP, LAB, PASSWORD, seed

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def server(tmp_path):
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.install(LAB, author="tester")
    world = seed(loom)
    clock.freeze(NOW)
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}", loom, world
    finally:
        clock.thaw()
        srv.shutdown()
        thread.join(5)
        loom.engine.dispose()


def test_the_service_combo_narrows_when_the_organisation_changes(server):
    _need_browser()
    from playwright.sync_api import expect
    base, loom, world = server
    with russian_page(1200, 860) as page:
        sign_in(page, base, "eng1", PASSWORD)
        page.goto(f"{base}/ui/{APP}/ticket/new")
        page.fill("#subject", "Не уходит почта")
        service = page.locator(".combo[data-name=service]")
        service.locator(".combo-input").click()
        expect(service.locator(".combo-list li.none")).to_be_visible()       # no organisation: nothing offered
        page.locator(".combo[data-name=organization] .combo-input").fill("Минздрав")
        page.locator(".combo[data-name=organization] [role=option]", has_text="Минздрав").click()
        service.locator(".combo-input").click()
        expect(service.locator("[role=option]")).to_have_text(["Почта"])
        service.locator("[role=option]", has_text="Почта").click()
        expect(service.locator(".combo-value")).to_have_value(str(world["mail"]))
        # another organisation: Почта is not its service, so the choice is cleared
        org = page.locator(".combo[data-name=organization] .combo-input")
        org.fill("Минфин")
        page.locator(".combo[data-name=organization] [role=option]", has_text="Минфин").click()
        expect(service.locator(".combo-value")).to_have_value("")
        service.locator(".combo-input").click()
        expect(service.locator("[role=option]")).to_have_text(["СЭД"])
        service.locator("[role=option]", has_text="СЭД").click()
        page.locator("button[type=submit].primary, form.record-form button[type=submit]").first.click()
        page.wait_for_url(lambda url: "/new" not in url)
        expect(page.locator("dd[data-field=service]")).to_have_text("СЭД")


def test_the_record_graph_in_the_browser(server):
    _need_browser()
    from playwright.sync_api import expect
    base, loom, world = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with russian_page(1200, 1000) as page:
        sign_in(page, base, "eng1", PASSWORD)
        page.goto(f"{base}/ui/{APP}/ci/{world['server']}")
        graph = page.locator("#graph svg.record-graph")
        expect(graph).to_be_visible()
        expect(graph.locator("a.graph-node")).to_have_count(4)
        expect(graph.locator("a.graph-node.center")).to_contain_text("Сервер приложений")
        expect(graph.locator("g.graph-edge text")).to_contain_text(["работает на", "зависит от", "часть"])
        page.locator("#graph").scroll_into_view_if_needed()
        page.locator("#graph").screenshot(path=str(SHOTS / "record-graph.png"))
        graph.locator(f"a.graph-node[data-node='{world['db']}']").click()
        page.wait_for_url(f"{base}/ui/{APP}/ci/{world['db']}")
        expect(page.locator("#graph a.graph-node.center")).to_contain_text("База")
    with russian_page(1200, 900) as page:   # the clerk may not read База: it is not drawn
        sign_in(page, base, "clerk", PASSWORD)
        page.goto(f"{base}/ui/{APP}/ci/{world['server']}")
        expect(page.locator("#graph a.graph-node")).to_have_count(2)


def test_the_organiser_in_the_browser(server):
    _need_browser()
    from playwright.sync_api import expect
    base, loom, world = server
    for subject, due, status in (("Заменить диск в стойке", "2026-03-12", None), ("Обновить сертификат", "2026-03-05", None),
                                 ("Проверить резервные копии", "2026-03-20", None), ("Плановый осмотр", "2026-04-02", None),
                                 ("Отложенная заявка", "2026-03-18", "parked")):
        data = {"subject": subject, "assignee": world["eng1"], "deadline": due}
        if status:
            data["status"] = status
        loom.records.create(APP, "ticket", data)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with russian_page(1280, 900) as page:
        sign_in(page, base, "eng1", PASSWORD)
        page.goto(f"{base}/ui/")
        page.click("#nav-organiser")
        page.wait_for_url(f"{base}/ui/organiser")
        expect(page.locator("#organiser-assignments li")).to_have_count(4)
        expect(page.locator("#month-title")).to_have_text("Март 2026")
        expect(page.locator("td[data-date='2026-03-12'] .due-item")).to_contain_text("Заменить диск в стойке")
        expect(page.locator("td[data-date='2026-03-05'] .due-item.overdue")).to_have_count(1)
        expect(page.locator("td[data-date='2026-03-18'] .due-item")).to_have_count(0)   # parked is not open
        page.screenshot(path=str(SHOTS / "organiser.png"), full_page=True)
        page.click("#month-next")
        expect(page.locator("#month-title")).to_have_text("Апрель 2026")
        expect(page.locator("td[data-date='2026-04-02'] .due-item")).to_contain_text("Плановый осмотр")
        page.locator("td[data-date='2026-04-02'] .due-item").click()
        expect(page.locator("h1")).to_contain_text("Плановый осмотр")
