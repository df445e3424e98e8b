"""Real ``loom worker`` processes on Redis and PostgreSQL: nothing lost, nothing done twice."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, text

from runtime import clock
from runtime.behaviour.scheduler import LEASE_SECONDS, Scheduler
from runtime.data import tables as platform

from .conftest import hits, jobs_app, runs, timer_states, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def scalar(loom, sql: str, **params):
    # A fresh transaction each time: PostgreSQL keeps one snapshot of pg_stat_activity per transaction.
    with loom.engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def schedule_hits(loom, n: int) -> None:
    with loom.engine.begin() as c:
        for i in range(n):
            loom.timers.schedule(c, f"hit:{i}", "script", "jobs", clock.now() - dt.timedelta(seconds=1),
                                 payload={"script": "jobs.py:hit", "args": [i]})


def test_scheduler_leases_due_timers_to_the_queue(services):
    loom = services.loom
    loom.store.publish(jobs_app(), author="tester")
    schedule_hits(loom, 3)
    scheduler, now = Scheduler(loom), clock.now()
    assert scheduler.tick(now)["timers"] == 3
    assert len(loom.jobs.queue) == 3
    assert Scheduler(loom).tick(now)["timers"] == 0  # handed out: no other scheduler takes them
    later = now + dt.timedelta(seconds=LEASE_SECONDS + 1)
    assert scheduler.tick(later)["timers"] == 3  # no worker fired them within the lease: again
    assert len(loom.jobs.queue) == 6


def test_two_workers_fire_many_timers_each_exactly_once(services):
    loom = services.loom
    loom.store.publish(jobs_app(cron="* * * * *"), author="tester")
    n = 60
    schedule_hits(loom, n)
    out = services.run("scheduler", "--once").stdout  # the real command: every timer and this minute's slot
    assert f"timers={n}" in out and "schedules=1" in out
    # Hand every timer out a second time, as after an expired lease: the duplicate jobs must be no-ops.
    assert Scheduler(loom, lease=0).tick()["timers"] == n
    assert len(loom.jobs.queue) == 2 * n + 1
    services.worker()
    services.worker()
    wait_for(lambda: len(loom.jobs.queue) == 0 and timer_states(loom) == {"fired": n}, what=f"{n} timers to fire")
    assert runs(loom, "hit") == (n, n)
    with loom.engine.connect() as c:
        assert c.execute(text("SELECT max(attempts) FROM loom_timer")).scalar() == 0
        wait_for(lambda: c.execute(text("SELECT count(*) FROM loom_schedule_run WHERE outcome = 'ok'")).scalar(),
                 what="the cron slot to run")
        slots = c.execute(text("SELECT count(*) FROM loom_schedule_run")).scalar()
    assert runs(loom, "cron")[0] == slots  # each claimed slot ran once


def test_a_worker_killed_while_firing_a_timer_loses_nothing_and_doubles_nothing(services):
    loom = services.loom
    loom.store.publish(jobs_app(), author="tester")
    counter = loom.records.create("jobs", "counter", {"name": "c"})
    with loom.engine.begin() as c:
        loom.timers.schedule(c, "bump", "script", "jobs", clock.now() - dt.timedelta(seconds=1), entity="counter",
                             record_id=counter["id"], payload={"script": "jobs.py:bump"})
    scheduler = Scheduler(loom)
    # Hold the counter's row: the worker's script blocks on it, inside the timer's transaction.
    services.kill_while_blocked("SELECT id FROM jobs__counter WHERE id = :id FOR UPDATE", {"id": counter["id"]},
                                scheduler.tick, expect_timers=1)
    assert hits(loom, counter["id"]) == 0 and timer_states(loom) == {"pending": 1}
    services.worker()
    assert scheduler.tick()["timers"] == 0  # still leased to the dead worker
    # RQ will not run the dead worker's job again; once the lease has passed, a tick re-enqueues it.
    assert scheduler.tick(clock.now() + dt.timedelta(seconds=LEASE_SECONDS + 1))["timers"] == 1
    wait_for(lambda: timer_states(loom) == {"fired": 1}, what="the new worker to fire the timer")
    assert hits(loom, counter["id"]) == 1
    with loom.engine.connect() as c:
        assert c.execute(text("SELECT attempts, error FROM loom_timer")).one() == (0, None)


def test_scheduler_enqueues_one_delivery_job_while_e_mails_wait(services):
    loom = services.loom
    loom.smtp_url = "smtp://127.0.0.1:1"  # no worker runs here: the job only has to be queued
    scheduler = Scheduler(loom)
    assert scheduler.tick()["outbox"] == 0  # nothing to send
    with loom.engine.begin() as c:
        c.execute(insert(platform.outbox).values(
            channel="email", recipient="a@example.com", cc=[], subject="s", body="b", state="pending",
            attempts=0, created_at=clock.now(), message_id="<m1@loom>"))
    assert scheduler.tick()["outbox"] == 1
    assert scheduler.tick()["outbox"] == 0  # its job is still queued
    assert [job.args for job in loom.jobs.queue.jobs] == [("deliver_outbox",)]
