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


def test_the_consumer_page_is_a_single_window_over_every_process(server):
    """Records of several processes, made at different times, on the consumer's page in one list,
    newest first, each entry linking to its record. Screenshot: docs/screenshots/utility-single-window.png."""
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    start = dt.datetime(2026, 12, 7, 5, tzinfo=dt.timezone.utc)
    smirnova, titov = loom.actor("smirnova"), loom.actor("titov")
    [consumer] = loom.records.find("utility", "consumer", {"account": "6601000101"})
    [office] = loom.records.find("utility", "office", {"name": "Центральный офис обслуживания"})
    made = [("grid_connection", {"consumer": consumer["id"], "channel": "gosuslugi", "max_kw": "15",
                                 "object_address": "г. Энск, ул. Ленина, 10"}, smirnova),
            ("queue_ticket", {"office": office["id"], "service": "metering", "source": "terminal",
                              "consumer": consumer["id"]}, titov),
            ("meter_request", {"consumer": consumer["id"], "kind": "replace"}, smirnova),
            ("disconnect_request", {"consumer": consumer["id"], "reason": "debt", "channel": "edms"}, smirnova)]
    for hours, (entity, values, who) in enumerate(made, start=1):
        clock.freeze(start + dt.timedelta(hours=hours))
        loom.records.create("utility", entity, values, actor=who)
    expected = ["disconnect_request", "meter_request", "queue_ticket", "appeal", "grid_connection", "reading",
                "reading"]
    with russian_page(1280, 900) as page:
        sign_in(page, base, "analyst_ut", DEMO_PASSWORD)
        page.goto(f"{base}/ui/utility/consumer/{consumer['id']}")
        section = page.locator("#timeline")
        expect(section.locator("h2")).to_have_text("Единое окно: история потребителя")
        rows = section.locator("#record-timeline tbody tr")
        expect(rows).to_have_count(len(expected))
        assert [rows.nth(i).get_attribute("data-entity") for i in range(len(expected))] == expected
        dates = [rows.nth(i).get_attribute("data-date") for i in range(len(expected))]
        assert dates[:3] == ["2026-12-07T09:00:00Z", "2026-12-07T08:00:00Z", "2026-12-07T07:00:00Z"]
        assert dates[-2:] == ["2026-11-25", "2026-10-25"]
        first = rows.first
        expect(first.locator(".process")).to_have_text("Заявка на ограничение / возобновление электроснабжения")
        expect(first.locator(".channel")).to_have_text("СЭД (от сбытовой компании)")
        expect(first.locator(".badge")).to_have_text("Зарегистрирована")
        page.screenshot(path=str(SHOTS / "utility-single-window.png"), full_page=True)
        # the entry links to its record
        rows.nth(2).locator("a").click()
        expect(page.locator("h1")).to_contain_text("У-001")
    clock.freeze(start)


def test_a_reader_without_the_right_to_an_entity_does_not_see_its_entries(server):
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    [consumer] = loom.records.find("utility", "consumer", {"account": "6601000101"})
    loom.records.create("utility", "disconnect_request", {"consumer": consumer["id"], "reason": "debt",
                                                          "channel": "edms"}, actor=loom.actor("smirnova"))
    with russian_page(1024, 768) as page:
        sign_in(page, base, "lapina", DEMO_PASSWORD)  # a metering specialist: no restrictions
        page.goto(f"{base}/ui/utility/consumer/{consumer['id']}")
        rows = page.locator("#record-timeline tbody tr")
        expect(rows).to_have_count(3)
        assert {rows.nth(i).get_attribute("data-entity") for i in range(3)} == {"appeal", "reading"}
        expect(page.locator("#record-timeline [data-entity=disconnect_request]")).to_have_count(0)


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
