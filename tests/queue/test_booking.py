"""Appointments of a queue on an app of their own (a bank branch, tests/queue/bank_app): slots cut
from the branch's hours in the app's calendar, per purpose with its desks as capacity; a full or
unscheduled slot refused; a dropped reservation frees its place; checking in at the terminal
gives the visit; a reservation nobody checked in is missed; two tellers racing for the last
place get it once; the section is checked at publish. SQLite and PostgreSQL."""
from __future__ import annotations

import copy
import datetime as dt
import threading
from pathlib import Path

import pytest

from metamodel import MetadataError, read_folder
from plugins.queue import booking
from runtime import clock
from runtime.core.config import Settings
from runtime.errors import LoomError
from runtime.extension.platform import Platform
from runtime.web import create_app
from tests.conftest import make_loom
from tests.ui.conftest import Browser

APP = Path(__file__).parent / "bank_app"
FRIDAY = dt.datetime(2026, 12, 4, 8, 5, tzinfo=dt.UTC)  # 11:05 in Moscow


@pytest.fixture
def bank(db_url, tmp_path):
    loom = make_loom(db_url, tmp_path / "files")
    clock.freeze(FRIDAY)
    loom.store.install(APP, author="tester")
    loom.accounts.create_user("kassa", "kassa-pass-1", roles=["bank:teller"])
    loom.accounts.create_user("kassa2", "kassa-pass-2", roles=["bank:teller"])
    branch = loom.records.create("bank", "branch", {"name": "Отделение на Ленина", "hours": [
        {"purpose": "loans", "desks": 2}, {"purpose": "cards", "desks": 1}]})
    web = create_app(Settings(tmp_path, loom.database_url, secret="queue-tests"), loom)
    yield loom, web, branch
    clock.thaw()
    loom.engine.dispose()


def reserve(loom, branch, at: str, purpose="loans", user="kassa"):
    return loom.records.create("bank", "reservation", {"branch": branch["id"], "purpose": purpose, "at": at,
                                                       "client": "Клиент"}, loom.actor(user))


def test_slots_follow_the_branch_hours_and_its_desks(bank):
    loom, _, branch = bank
    platform = Platform(loom)
    spec = booking.queue_spec(platform, "bank", "hall")
    records = platform.records("kassa")
    today = booking.slots(platform, records, "bank", spec, branch["id"], "loans", dt.date(2026, 12, 4))
    # 10:00-14:00 Moscow in half hours; the ones begun by 11:05 are gone
    assert [s["start"].isoformat() for s in today] == [f"2026-12-04T{h}+00:00" for h in (
        "08:30:00", "09:00:00", "09:30:00", "10:00:00", "10:30:00")]
    assert {(s["capacity"], s["free"]) for s in today} == {(2, 2)}
    saturday = booking.slots(platform, records, "bank", spec, branch["id"], "cards", dt.date(2026, 12, 5))
    assert [s["start"].strftime("%H:%M") for s in saturday] == ["07:00", "07:30", "08:00", "08:30"]
    assert booking.slots(platform, records, "bank", spec, branch["id"], "cards", dt.date(2026, 12, 6)) == []  # Sunday
    # the horizon: 7 days
    assert booking.slots(platform, records, "bank", spec, branch["id"], "cards", dt.date(2026, 12, 12)) == []


def test_a_slot_takes_as_many_as_its_desks_and_a_dropped_one_frees_its_place(bank):
    loom, _, branch = bank
    first = reserve(loom, branch, "2026-12-04T09:00:00Z")
    second = reserve(loom, branch, "2026-12-04T09:00:00Z")
    assert (first["place_no"], second["place_no"]) == (1, 2)
    with pytest.raises(LoomError) as full:
        reserve(loom, branch, "2026-12-04T09:00:00Z")
    assert full.value.status == 422 and "уже занято" in full.value.detail
    for wrong, why in (("2026-12-04T09:10:00Z", "запись не ведётся"),  # not a slot's start
                       ("2026-12-04T07:30:00Z", "запись не ведётся"),  # begun already
                       ("2026-12-06T09:00:00Z", "запись не ведётся")):  # Sunday
        with pytest.raises(LoomError) as refused:
            reserve(loom, branch, wrong)
        assert why in refused.value.detail
    loom.workflow.transition("bank", "reservation", first["id"], "drop", actor=loom.actor("kassa"))
    assert loom.records.get("bank", "reservation", first["id"])["place_no"] is None
    again = reserve(loom, branch, "2026-12-04T09:00:00Z")
    assert again["place_no"] == 1
    # an edit that keeps the slot keeps the place; moving to a full slot is refused
    kept = loom.records.update("bank", "reservation", second["id"], {"client": "Иванов"}, second["row_version"],
                               loom.actor("kassa"))
    assert kept["place_no"] == 2
    other = reserve(loom, branch, "2026-12-04T09:30:00Z")
    with pytest.raises(LoomError):
        loom.records.update("bank", "reservation", other["id"], {"at": "2026-12-04T09:00:00Z"}, other["row_version"],
                            loom.actor("kassa"))


def test_checking_in_at_the_terminal_gives_the_visit(bank):
    loom, web, branch = bank
    today = reserve(loom, branch, "2026-12-04T09:00:00Z")
    later = reserve(loom, branch, "2026-12-07T09:00:00Z", purpose="cards")
    kiosk = Browser(web.test_client())
    kiosk.post("/login", {"username": "kassa", "password": "kassa-pass-1"})
    url = f"/queue/bank/hall/{branch['id']}"
    page = kiosk.get(url + "/terminal").get_data(as_text=True)
    assert 'id="queue-code"' in page and 'id="queue-book"' in page
    taken = kiosk.post(url + "/checkin", {"code": today["number"]}, token_from=url + "/terminal").get_data(as_text=True)
    assert 'id="queue-number">L1<' in taken
    came = loom.records.get("bank", "reservation", today["id"])
    assert came["status"] == "came" and came["visit"] is not None
    # twice: the same visit; another day's reservation or an unknown number: refused
    assert 'id="queue-number">L1<' in kiosk.post(url + "/checkin", {"code": today["number"]}, token_from=url + "/terminal").get_data(as_text=True)
    assert "на 07.12.2026 12:00" in kiosk.post(url + "/checkin", {"code": later["number"]}, token_from=url + "/terminal").get_data(as_text=True)
    assert "не найдена" in kiosk.post(url + "/checkin", {"code": "R-999"}, token_from=url + "/terminal").get_data(as_text=True)
    # the slots as JSON: the taken place is counted
    slots = kiosk.get(url + "/slots?choice=loans").get_json()["slots"]
    assert [(s["start"], s["booked"], s["free"]) for s in slots][:1] == [("2026-12-04T08:30:00+00:00", 0, 2)]
    assert next(s for s in slots if s["start"] == "2026-12-04T09:00:00+00:00")["booked"] == 1
    assert kiosk.get(url + "/slots?choice=mortgage").status_code == 400


def test_the_booking_page_books_a_free_slot(bank):
    _, web, branch = bank
    teller = Browser(web.test_client())
    teller.post("/login", {"username": "kassa", "password": "kassa-pass-1"})
    url = f"/queue/bank/hall/{branch['id']}/book"
    page = teller.get(url + "?choice=cards").get_data(as_text=True)
    assert 'id="queue-slot-1130"' in page and 'id="queue-day-2026-12-05"' in page
    done = teller.post(url, {"choice": "cards", "day": "2026-12-04", "start": "2026-12-04T08:30:00+00:00"})
    text = done.get_data(as_text=True)
    assert 'id="queue-booking-code">R-001<' in text and "04.12.2026 11:30" in text
    # the one desk's slot is now shown taken
    assert 'id="queue-slot-1130" title="свободно: 0" disabled' in text
    again = teller.post(url, {"choice": "cards", "day": "2026-12-04", "start": "2026-12-04T08:30:00+00:00"})
    assert "уже занято" in again.get_data(as_text=True)


def test_a_reservation_nobody_checked_in_is_missed(bank):
    loom, _, branch = bank
    soon = reserve(loom, branch, "2026-12-04T08:30:00Z")
    assert booking.no_shows(Platform(loom)) == {"no_shows": 0}
    clock.freeze(FRIDAY + dt.timedelta(minutes=36))  # 8:41: eleven minutes after the slot began
    assert booking.no_shows(Platform(loom)) == {"no_shows": 1}
    assert loom.records.get("bank", "reservation", soon["id"])["status"] == "missed"


@pytest.mark.postgres
def test_two_tellers_racing_for_the_last_place_get_it_once(pg_url, tmp_path):
    loom = make_loom(pg_url, tmp_path / "files")
    clock.freeze(FRIDAY)
    try:
        loom.store.install(APP, author="tester")
        loom.accounts.create_user("kassa", "kassa-pass-1", roles=["bank:teller"])
        branch = loom.records.create("bank", "branch", {"name": "Отделение", "hours": [{"purpose": "cards", "desks": 1}]})
        barrier, outcomes = threading.Barrier(4), []

        def race():
            barrier.wait()
            try:
                outcomes.append(reserve(loom, branch, "2026-12-04T09:00:00Z", purpose="cards")["place_no"])
            except LoomError as exc:
                outcomes.append(exc.status)

        threads = [threading.Thread(target=race) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes, key=str) == [1, 422, 422, 422]
        held = loom.records.find("bank", "reservation", {"place_no__notnull": 1}, [], 10, loom.actor("kassa"))
        assert len(held) == 1
    finally:
        clock.thaw()
        loom.engine.dispose()


def test_publishing_names_a_missing_index_and_a_wrong_schedule(loom):
    doc, _ = read_folder(APP)
    doc = copy.deepcopy(doc)
    doc["entities"]["reservation"]["indexes"] = []
    hall = doc["extensions"]["queue"]["queues"]["hall"]["booking"]
    hall["schedule"]["capacity"] = "purpose"
    hall["arrive"] = "arrive"
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="tester")
    message = str(err.value)
    assert "queues.hall.booking.seat" in message and "add a unique index" in message
    assert "column 'purpose' of 'hours' is a choice, expected integer" in message
    assert "has no transition 'arrive'" in message
