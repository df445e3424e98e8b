"""The grid company's electronic queue in a real headless browser: a ticket taken at the office's
touch terminal, then called to a window by the operator's "call next"; the queue board, left
open, shows it called by itself (htmx polling). Screenshots: docs/screenshots/."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from runtime import clock
from runtime.core.config import Settings
from runtime.data.fixtures import load_fixtures
from runtime.extension.platform import Platform
from runtime.web import create_app
from tests.conftest import APPS, make_loom
from tests.ui.test_browser import SHOTS, _need_browser, russian_page, sign_in

DEMO_PASSWORD = "demo-pass-1"  # apps_config/utility/fixtures/_accounts.yaml


@pytest.fixture
def server(tmp_path):
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    clock.freeze(dt.datetime(2026, 12, 7, 5, tzinfo=dt.timezone.utc))
    loom.store.install(APPS / "utility", author="tester")
    load_fixtures(loom, "utility")
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", loom
    clock.thaw()
    srv.shutdown()
    thread.join(5)
    loom.engine.dispose()


def test_the_terminal_takes_a_ticket_and_the_board_shows_it_called(server):
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    records = Platform(loom).records("titov")
    [office] = records.find("utility", "office", {"name": "Центральный офис обслуживания"})
    [window] = records.find("utility", "service_window", {"office": office["id"], "name": "Окно 1"})
    SHOTS.mkdir(parents=True, exist_ok=True)
    with russian_page(1024, 768) as page:
        sign_in(page, base, "titov", DEMO_PASSWORD)
        page.goto(f"{base}/queue/utility/office_queue/{office['id']}/terminal")
        expect(page.locator("h1")).to_have_text("Возьмите талон")
        page.click("#queue-choice-metering")
        expect(page.locator("#queue-number")).to_have_text("У-001")
        page.screenshot(path=str(SHOTS / "utility-queue-terminal.png"))
        page.goto(f"{base}/queue/utility/office_queue/{office['id']}/board")
        expect(page.locator("#queue-waiting")).to_have_text("1")
        expect(page.locator(".queue-called")).to_have_count(0)
        # the operator calls the next ticket from the window; the open board shows it by itself
        loom.workflow.action("utility", "service_window", window["id"], "call_next", loom.actor("titov"))
        expect(page.locator(".queue-called").first).to_contain_text("У-001")
        expect(page.locator(".queue-called").first).to_contain_text("Окно 1")
        expect(page.locator("#queue-waiting")).to_have_text("0")
        page.screenshot(path=str(SHOTS / "utility-queue-board.png"))


def test_a_booking_by_phone_is_checked_in_at_the_terminal(server):
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    records = Platform(loom).records("titov")
    [office] = records.find("utility", "office", {"name": "Центральный офис обслуживания"})
    SHOTS.mkdir(parents=True, exist_ok=True)
    with russian_page(1024, 1100) as page:
        sign_in(page, base, "titov", DEMO_PASSWORD)
        # the call centre books a consultation at 11:00 today by phone
        page.goto(f"{base}/queue/utility/office_queue/{office['id']}/book?choice=consult&via=telephony")
        expect(page.locator("h1")).to_have_text("Запись на приём")
        page.click("#queue-slot-1100")
        expect(page.locator("#queue-booking-code")).to_have_text("З-000001")
        page.screenshot(path=str(SHOTS / "utility-queue-booking.png"))
        # the visitor comes and names the booking at the terminal: the ticket for the slot
        page.goto(f"{base}/queue/utility/office_queue/{office['id']}/terminal")
        page.fill("#queue-code", "З-000001")
        page.click("#queue-checkin")
        expect(page.locator("#queue-number")).to_have_text("К-001")
    [booked] = records.find("utility", "appointment", {"number": "З-000001"})
    assert (booked["status"], booked["channel"]) == ("arrived", "telephony")
