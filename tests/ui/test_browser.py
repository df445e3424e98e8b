"""The UI in a real headless browser (Debian's chromium driven by Playwright).

Serves the app with werkzeug on a free loopback port, then signs in, lists
requests, creates one through the form (a validation error first, a link
chosen in its search-and-pick control), fires a transition, sees it in the
history and switches to English. Screenshots go to docs/screenshots/.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from runtime.core.config import Settings
from runtime.web import create_app

from ..conftest import APPS, REQUIRE, make_loom
from .conftest import PASSWORD, seed

CHROMIUM = os.environ.get("LOOM_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SUBJECT_HEADER = "table.list thead a.sort:text-matches('^Тема')"  # not "Модуль / система"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def _need_browser():
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the playwright package is not installed (pip install -e '.[test]')"
    if problem is None and not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        problem = f"chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if problem:
        if REQUIRE:
            pytest.fail(f"the browser test is required (LOOM_REQUIRE_SERVICES=1): {problem}")
        pytest.skip(problem)


@contextlib.contextmanager
def russian_page(width: int, height: int):
    """A page of a fresh headless Chromium, Russian locale, 15 s timeouts; closed afterwards."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="ru-RU")
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def sign_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login page and wait until the browser has left it."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def server(tmp_path):
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.install(APPS / "service_desk", author="tester")
    data = seed(loom)
    loom.accounts.create_user("agent", PASSWORD, full_name="Анна Агентова", roles=["service_desk:agent"])
    for i, (subject, priority) in enumerate([("Не формируется отчёт по обращениям", "2"),
                                             ("Ошибка при подписании документа", "1"),
                                             ("Нужен доступ для нового сотрудника", "3")]):
        loom.records.create("service_desk", "request", {
            "subject": subject, "description": "Подробности в письме", "priority": priority,
            "organization": data["organization" if i % 2 == 0 else "organization2"]["id"],
            "module": data["module" if i % 2 == 0 else "module2"]["id"]})
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", loom
    srv.shutdown()
    thread.join(5)
    loom.engine.dispose()


def test_request_life_in_a_browser(server):
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with russian_page(1280, 860) as page:
        page.goto(f"{base}/ui/service_desk/request")
        expect(page).to_have_url(f"{base}/login?next=%2Fui%2Fservice_desk%2Frequest")
        page.fill("input[name=username]", "agent")
        page.fill("input[name=password]", PASSWORD)
        page.screenshot(path=str(SHOTS / "login.png"))
        page.click("button[type=submit]")

        # the list: view columns, link titles, choice titles
        expect(page.locator("h1")).to_have_text("Заявки")
        expect(page.locator("table.list")).to_contain_text("Ошибка при подписании документа")
        expect(page.locator("table.list")).to_contain_text("Минфин")
        expect(page.locator("table.list")).to_contain_text("Критический")
        page.screenshot(path=str(SHOTS / "list.png"), full_page=True)

        # filter by priority through the URL: only the critical request is left
        rows = page.locator("table.list tbody tr")
        page.goto(f"{base}/ui/service_desk/request?priority=1")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Ошибка при подписании документа")
        expect(page.locator("table.list")).not_to_contain_text("Не формируется отчёт")

        # sort by clicking the subject header: ascending, then descending
        subjects = ["Не формируется отчёт по обращениям", "Нужен доступ для нового сотрудника",
                    "Ошибка при подписании документа"]

        def order():
            texts = rows.all_inner_texts()
            return [s for t in texts for s in subjects if s in t]

        page.goto(f"{base}/ui/service_desk/request")
        expect(rows).to_have_count(3)
        assert order() != subjects  # the view's own sort (priority) puts the critical one first
        page.click(SUBJECT_HEADER)
        expect(page).to_have_url(f"{base}/ui/service_desk/request?sort=subject")
        expect(page.locator(SUBJECT_HEADER)).to_have_class(re.compile(r"\basc\b"))
        assert order() == subjects
        page.click(SUBJECT_HEADER)
        expect(page).to_have_url(f"{base}/ui/service_desk/request?sort=-subject")
        assert order() == subjects[::-1]
        page.goto(f"{base}/ui/service_desk/request")

        # the form: a validation error first
        page.click("text=+ Создать")
        expect(page.locator("h1")).to_contain_text("Заявка")
        page.fill("#subject", "Сбой")
        page.click("button[type=submit]")
        expect(page.locator("#err-subject")).to_contain_text("не короче 5 символов")
        expect(page.locator("#err-description")).to_contain_text("обязательное поле")
        page.screenshot(path=str(SHOTS / "form.png"), full_page=True)

        # then fill it properly, choosing the organisation in its one search-and-pick control
        page.fill("#subject", "Сбой при регистрации входящих писем")
        page.fill("#description", "После обновления не регистрируются письма из почты")
        page.fill("#organization", "Минз")
        options = page.locator("#organization-options [role=option]")
        expect(options).to_have_count(1)
        expect(options.first).to_have_text("Минздрав")
        options.first.click()
        expect(page.locator("input[type=hidden][name=organization]")).to_have_value(str(
            loom.records.find("service_desk", "organization", {"short_name": "Минздрав"})[0]["id"]))
        page.click("#module")
        page.keyboard.type("СЭ")
        expect(page.locator("#module-options [role=option]")).to_have_count(1)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        expect(page.locator("#module")).to_have_value("СЭД")
        page.select_option("#priority", value="2")
        page.click(".tabs button:has-text('Исполнение')")
        page.click("text=+ Добавить строку")
        page.fill("input[name='works-0-work']", "Анализ журнала ошибок")
        page.fill("input[name='works-0-hours']", "1,5")
        page.click("button[type=submit]")

        # the record page
        expect(page.locator("#status")).to_have_text("Зарегистрирована")
        expect(page.locator("dd[data-field=organization]")).to_have_text("Минздрав")
        expect(page.locator("dd[data-field=works]")).to_contain_text("Анализ журнала ошибок")
        page.click("button[data-transition=take]")
        expect(page.locator("#status")).to_have_text("В работе")
        expect(page.locator(".timeline")).to_contain_text("переход: Взять в работу")
        expect(page.locator(".timeline")).to_contain_text("создание")
        page.screenshot(path=str(SHOTS / "record.png"), full_page=True)

        # English
        page.click("#lang-en")
        expect(page.locator("#status")).to_have_text("In work")
        expect(page.locator(".timeline")).to_contain_text("transition: Take")
        expect(page.locator("button[data-transition=resolve]")).to_have_text("Resolve")
        page.screenshot(path=str(SHOTS / "record-en.png"), full_page=True)

        # a phone-sized screen still shows the list
        page.set_viewport_size({"width": 390, "height": 800})
        page.goto(f"{base}/ui/service_desk/request")
        expect(page.locator("table.list")).to_contain_text("Critical")
        page.screenshot(path=str(SHOTS / "list-phone.png"), full_page=True)
    t = loom.entity_tables("service_desk", "request").main
    with loom.reader.connect() as c:
        stored = c.execute(t.select().where(t.c.subject.startswith("Сбой"))).mappings().all()
    assert len(stored) == 1 and stored[0]["status"] == "in_work" and stored[0]["priority"] == "2"


def test_sla_dashboard_and_notifications_in_a_browser(tmp_path):
    """The it_support SLA compliance report draws its chart (a percentage axis, a series per target)
    and the notifications page answers the escalation the scenario caused."""
    _need_browser()
    from playwright.sync_api import expect
    from werkzeug.serving import make_server

    from runtime import clock
    from tests.apps.test_it_support import T0, Support, local

    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    clock.freeze(T0)
    srv = None
    try:
        loom.store.install(APPS / "it_support", author="tester")
        app = create_app(Settings(tmp_path, loom.database_url), loom)
        support = Support(loom, app)
        taken, late = support.ticket(priority="2"), support.ticket(priority="1")
        support.ticket(requester="req2", priority="3")
        support.at(local(2026, 6, 15, 10, 0))  # the P1's reaction is late: escalation level 1 to the line lead
        support.fire("take", taken, client="l2a")
        loom.accounts.set_password("line2_lead", PASSWORD)
        srv = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{srv.server_port}"
        with russian_page(1280, 900) as page:
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/ui/it_support/reports/sla_by_priority")
            page.fill("input[name=username]", "line2_lead")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("Соблюдение SLA по приоритетам")
            expect(page.locator("table[data-target=reaction] tfoot")).to_contain_text("50,0")  # met 1, breached 1
            chart = page.evaluate("""() => {
                const c = Chart.getChart(document.getElementById('report-canvas'));
                return {series: c.data.datasets.map(d => d.label), max: c.scales.y.max,
                        tick: c.scales.y.ticks.at(-1).label};
            }""")
            assert chart["series"] == ["Реакция", "Решение"] and chart["max"] == 100
            assert chart["tick"].endswith("%")
            page.screenshot(path=str(SHOTS / "report-sla.png"), full_page=True)

            expect(page.locator("#unread-count")).to_have_text(re.compile(r"^\d+$"))
            page.click("#nav-notifications")
            expect(page.locator("h1")).to_have_text("Уведомления")
            unread = page.locator("li.notification.unread")
            before = unread.count()
            assert before >= 1
            unread.first.locator("button").click()
            expect(unread).to_have_count(before - 1)
            assert not errors, errors
    finally:
        clock.thaw()
        if srv is not None:
            srv.shutdown()
        loom.engine.dispose()


def test_an_administrator_reads_who_may_do_what(server):
    """The roles page in the browser: jump to a role, read its grants; a screenshot for docs/."""
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    loom.accounts.create_user("root", PASSWORD, full_name="Главный Администратор", is_admin=True)
    loom.accounts.create_user("olga", PASSWORD, full_name="Ольга Клиентова", roles=["service_desk:client"])
    with russian_page(1280, 900) as page:
        sign_in(page, base, "root")
        page.click("#nav-admin")
        page.click("nav.admin-nav >> text=Роли")
        expect(page.locator("h1")).to_have_text("Роли")
        page.click("nav.role-index >> text=Представитель клиента")
        client = page.locator("#role-service_desk-client")
        expect(client.locator(".members")).to_contain_text("Ольга Клиентова")
        row = client.locator('tr[data-entity="request"]')
        expect(row.locator('td[data-op="update"]')).to_have_text("—")
        expect(row.locator("td.rows")).to_have_text("их организации (Организация)")
        expect(client.locator('tr[data-entity="contract"]')).to_have_count(0)
        page.locator("#role-service_desk-agent").scroll_into_view_if_needed()
        page.evaluate("document.getElementById('role-service_desk-agent').scrollIntoView(); window.scrollBy(0, -20)")
        page.screenshot(path=str(SHOTS / "admin-roles.png"))
