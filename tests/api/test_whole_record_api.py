"""Expressions over the whole record, through the REST API: typed values in a transition's
condition, aggregates of a table, links followed with the caller's permissions, the platform
clock in ``set``. On SQLite and PostgreSQL."""
import datetime as dt

import pytest

from runtime import clock
from runtime.core.config import Settings
from runtime.web import create_app
from tests.api.conftest import Client
from tests.hooks.test_whole_record import ITEMS, app_doc

URL = "/api/v1/orders/order"


@pytest.fixture
def api(loom, tmp_path):
    loom.store.publish(app_doc(), author="tester")
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    app.config["TESTING"] = True
    clients = {}
    for name, roles in (("clerk", ["orders:clerk"]), ("boss", ["orders:boss"])):
        uid = loom.accounts.create_user(name, f"pw-{name}-12345", roles=roles)
        clients[name] = Client(app.test_client(), loom.accounts.issue_token(uid))
    district = clients["boss"].post("/api/v1/orders/district", {"name": "Север"}).get_json()
    clients["consumer"] = clients["boss"].post("/api/v1/orders/consumer", {"name": "Ромашка",
                                                                            "district": district["id"]}).get_json()
    return clients


def test_a_transition_compares_the_money_sent_as_text_as_money(api):
    order = api["clerk"].post(URL, {"title": "A", "amount": "10"}).get_json()
    low = api["clerk"].post(f"{URL}/{order['id']}/transitions/approve", {"amount": "2999.99"})
    assert low.status_code == 409 and "amount >= 3000" in low.get_json()["detail"]
    ok = api["clerk"].post(f"{URL}/{order['id']}/transitions/approve", {"amount": "3000"})
    assert ok.status_code == 200, ok.get_json()
    assert (ok.get_json()["status"], ok.get_json()["amount"]) == ("approved", "3000.00")


def test_computed_fields_aggregate_rows_and_follow_links_as_the_caller(api):
    consumer = api["consumer"]["id"]
    with clock.frozen(dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.timezone.utc)):
        by_boss = api["boss"].post(URL, {"title": "B", "consumer": consumer, "items": ITEMS, "due": "2026-03-16",
                                         "opened": "2026-03-06T10:00:00Z"}).get_json()
        by_clerk = api["clerk"].post(URL, {"title": "C", "consumer": consumer}).get_json()
    assert (by_boss["total"], by_boss["rows"], by_boss["top"]) == ("1500.50", 3, "1200.50")
    assert (by_boss["age"], by_boss["work_days"]) == (5, 5)
    assert by_boss["district_name"] == "Север" and by_clerk["district_name"] is None
    north = api["clerk"].post(f"{URL}/{by_clerk['id']}/transitions/north")
    assert north.status_code == 409  # the clerk cannot read the district, so the condition does not hold


def test_set_now_follows_the_platform_clock(api):
    order = api["clerk"].post(URL, {"title": "D"}).get_json()
    with clock.frozen(dt.datetime(2030, 6, 1, 8, 0, tzinfo=dt.timezone.utc)):
        closed = api["clerk"].post(f"{URL}/{order['id']}/transitions/close").get_json()
    assert (closed["closed_at"], closed["closed_on"]) == ("2030-06-01T08:00:00Z", "2030-06-01")
