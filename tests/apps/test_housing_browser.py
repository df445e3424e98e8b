"""The housing demo in a real headless browser: the accountant starts the month's accrual from
its form (the month picker), and a run's progress page follows a run chunk by chunk until it
is done, by itself (htmx polling), then the receipts print. Screenshot: docs/screenshots/."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from runtime import clock
from runtime.core.config import Settings
from runtime.data.fixtures import load_fixtures
from runtime.web import create_app
from tests.conftest import APPS, make_loom
from tests.ui.test_browser import SHOTS, _need_browser, russian_page, sign_in

DEMO_PASSWORD = "demo-pass-1"  # apps_config/housing/fixtures/_accounts.yaml


@pytest.fixture
def server(tmp_path):
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.install(APPS / "housing", author="tester")
    load_fixtures(loom, "housing")
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    clock.freeze(dt.datetime(2026, 4, 2, 6, tzinfo=dt.timezone.utc))
    yield f"http://127.0.0.1:{srv.server_port}", loom
    clock.thaw()
    srv.shutdown()
    thread.join(5)
    loom.engine.dispose()


def test_the_accountant_runs_the_accrual_and_follows_its_progress(server):
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with russian_page(1280, 860) as page:
        sign_in(page, base, "buhgalter", DEMO_PASSWORD)
        page.goto(f"{base}/ui/housing/account")
        page.click("#nav-batches")
        expect(page.locator("h1")).to_have_text("Пакетные расчёты")
        form = page.locator("#batch-accrual")
        expect(form).to_contain_text("Начисление за месяц")
        form.locator("input[name=period]").fill("2026-02")
        form.locator("#start-accrual").click()
        expect(page.locator("#batch-state")).to_have_text("Выполнено")
        expect(page.locator("#batch-bar")).to_have_attribute("value", "100")
        expect(page.locator("body")).to_contain_text("accrual:period=2026-02")

        # A run a worker has not taken yet: its page waits, then follows the chunks by itself.
        run = loom.batches.start("housing", "accrual", {"period": "2026-03"}, enqueue=False)
        page.goto(f"{base}/ui/housing/batches/runs/{run['id']}")
        expect(page.locator("#batch-state")).to_have_text("В очереди")
        expect(page.locator("#batch-bar")).to_have_attribute("value", "0")
        worker = threading.Thread(target=loom.batches.work, args=(run["id"],))
        worker.start()
        worker.join(30)
        expect(page.locator("#batch-state")).to_have_text("Выполнено", timeout=10_000)
        expect(page.locator("#batch-progress")).to_contain_text("6 / 6")
        page.screenshot(path=str(SHOTS / "housing_batch_run.png"), full_page=True)

        page.goto(f"{base}/ui/housing/batches")
        page.locator("#batch-receipts input[name=period]").fill("2026-03")
        page.locator("#start-receipts").click()
        expect(page.locator("#batch-state")).to_have_text("Выполнено")
        page.goto(f"{base}/ui/housing/receipt")
        expect(page.locator("table.list tbody tr")).to_have_count(6)
        page.screenshot(path=str(SHOTS / "housing_receipts.png"), full_page=True)
