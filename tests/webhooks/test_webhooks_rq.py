"""Outbound webhooks delivered by an RQ worker (``loom worker``) on PostgreSQL and Redis."""
from __future__ import annotations

import copy
import hashlib
import hmac
import time

import pytest
from sqlalchemy import update

from metamodel import read_folder
from runtime import clock
from runtime.data import tables
from tests.jobs.conftest import pytest_runtest_makereport, services  # noqa: F401 - the RQ harness
from tests.webhooks.test_webhooks import APP, CRM_SECRET, Receiver

pytestmark = pytest.mark.postgres


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def wait_for(condition, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_delivers_and_retries_a_webhook(services, receiver):
    services.env["GRID_CRM_SECRET"] = CRM_SECRET  # the worker signs with it
    loom = services.loom
    doc, _ = read_folder(APP)
    doc = copy.deepcopy(doc)
    doc["extensions"]["webhooks"]["webhooks"]["crm"]["url"] = receiver.url
    loom.store.publish(doc, author="tester")
    receiver.fail = 1
    record = loom.records.create("grid", "outage", {"address": "ул. Мира, 1"})
    assert receiver.calls == []  # queued for a worker, not sent by this process
    services.worker()
    wait_for(lambda: len(receiver.calls) == 1, "the worker's first attempt")
    o = tables.outbox
    wait_for(lambda: loom.notifier.outbox_rows("webhook")[0]["state"] == "pending", "the failed attempt to settle")
    with loom.engine.begin() as c:  # the back-off has passed
        c.execute(update(o).where(o.c.channel == "webhook").values(lease_until=clock.now()))
    loom.jobs.enqueue("deliver_outbox")  # the scheduler's tick
    wait_for(lambda: loom.notifier.outbox_rows("webhook")[0]["state"] == "sent", "the second attempt", 60)
    assert len(receiver.calls) == 2
    (first, body1), (second, body2) = receiver.calls
    assert body1 == body2 and first["Idempotency-Key"] == second["Idempotency-Key"]
    assert second["X-Loom-Signature-256"] == "sha256=" + hmac.new(CRM_SECRET.encode(), body2,
                                                                   hashlib.sha256).hexdigest()
    assert loom.notifier.outbox_rows("webhook")[0]["record_id"] == record["id"]
