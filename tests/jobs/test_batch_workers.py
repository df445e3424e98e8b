"""Batch runs on real RQ workers (PostgreSQL and Redis): each chunk is a job that queues the
next; a worker killed inside a chunk loses nothing and doubles nothing, the scheduler hands the
run out again once its lease passed, and it ends as an uninterrupted run does."""
from __future__ import annotations

import datetime as dt

import pytest

from runtime import clock
from runtime.behaviour.batches import LEASE
from runtime.behaviour.scheduler import Scheduler
from tests.concepts.test_batches import MARCH, fines, library_app, seed

from .conftest import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_workers_run_a_batch_chunk_by_chunk(services):
    loom = services.loom
    loom.store.publish(library_app(), author="tester")
    seed(loom)
    run = loom.batches.start("library", "fines", {"month": "2026-03"})
    assert run["state"] == "queued"  # enqueued for a worker, not run by this process
    services.worker()
    wait_for(lambda: loom.batches.get(run["id"])["state"] == "done", timeout=30, what="the run to finish")
    assert loom.batches.get(run["id"])["chunks"] == 2 and fines(loom) == MARCH


def test_a_worker_killed_inside_a_chunk_is_resumed_from_the_last_committed_one(services):
    loom = services.loom
    loom.store.publish(library_app(), author="tester")
    ids = seed(loom)
    run = loom.batches.start("library", "fines", {"month": "2026-03"})
    # Дина is in the second chunk: her fines wait for the lock on her row, mid-transaction.
    services.kill_while_blocked("SELECT id FROM library__member WHERE id = :id FOR UPDATE", {"id": ids["Дина"]},
                                lambda: {"timers": 0}, expect_timers=0)
    half = loom.batches.get(run["id"])
    assert (half["state"], half["chunks"], half["done"]) == ("running", 1, 2)
    assert len(fines(loom)) == 2  # the first chunk's fines, committed; the second's rolled back
    assert Scheduler(loom).tick()["batches"] == 0  # its lease holds: nobody takes it yet
    later = clock.now() + dt.timedelta(seconds=LEASE + 1)
    assert Scheduler(loom).tick(later)["batches"] == 1
    services.worker()
    wait_for(lambda: loom.batches.get(run["id"])["state"] == "done", timeout=30, what="the resumed run to finish")
    done = loom.batches.get(run["id"])
    assert (done["chunks"], done["done"], done["results"]) == (2, 4, 4) and fines(loom) == MARCH
