"""The scheduler without Redis, on SQLite and PostgreSQL: cron slots run once, timers fire in the tick."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from metamodel import MetadataError
from runtime import clock
from runtime.behaviour.scheduler import Scheduler, start_embedded_thread
from runtime.data import tables as platform
from tests.conftest import make_loom

from .conftest import jobs_app, runs, wait_for

UTC = dt.timezone.utc
# "0 8 * * *" in Asia/Yekaterinburg (UTC+5) is 03:00 UTC.
BEFORE = dt.datetime(2026, 3, 2, 2, 59, tzinfo=UTC)
SLOT = dt.datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def app_loom(loom):
    clock.freeze(BEFORE)
    loom.store.publish(jobs_app(), author="tester")
    yield loom
    clock.thaw()


@pytest.fixture
def other(app_loom):
    """A second Loom on the same database: another scheduler process."""
    instance = make_loom(app_loom.database_url, None)
    yield instance
    instance.engine.dispose()


def slots(loom) -> list:
    r = platform.schedule_run
    with loom.engine.connect() as c:
        return c.execute(select(r.c.slot, r.c.outcome, r.c.result).order_by(r.c.slot)).all()


def test_a_slot_runs_once_however_many_schedulers_tick(app_loom, other):
    first, second = Scheduler(app_loom), Scheduler(other)
    assert first.tick()["schedules"] == second.tick()["schedules"] == 0  # yesterday's slot is not replayed
    clock.freeze(SLOT + dt.timedelta(seconds=5))
    assert first.tick()["schedules"] + second.tick()["schedules"] == 1
    assert first.tick()["schedules"] + second.tick()["schedules"] == 0
    assert runs(app_loom, "cron")[0] == 1
    [(slot, outcome, result)] = slots(app_loom)
    assert slot == SLOT and outcome == "ok" and result["result"] == 1
    # a scheduler started later knows the slot ran from loom_schedule_run
    assert Scheduler(other).tick()["schedules"] == 0


def test_schedulers_ticking_at_the_same_moment_run_the_slot_once(app_loom, other):
    schedulers = [Scheduler(app_loom), Scheduler(other)]
    for s in schedulers:
        s.tick()
    clock.freeze(SLOT)
    barrier = threading.Barrier(2)
    started = []

    def tick(scheduler):
        barrier.wait()
        started.append(scheduler.tick()["schedules"])

    threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(started) == [0, 1]
    assert runs(app_loom, "cron")[0] == 1


def test_after_downtime_only_the_latest_missed_slot_runs(app_loom):
    scheduler = Scheduler(app_loom)
    clock.freeze(SLOT)
    assert scheduler.tick()["schedules"] == 1
    clock.freeze(SLOT + dt.timedelta(days=3, hours=5))  # three slots missed
    restarted = Scheduler(app_loom)
    assert restarted.tick()["schedules"] == 1 and restarted.tick()["schedules"] == 0
    assert [s.slot for s in slots(app_loom)] == [SLOT, SLOT + dt.timedelta(days=3)]


def test_cron_is_read_in_the_schedule_or_app_time_zone(loom):
    loom.store.publish(jobs_app(cron="0 8 * * *", timezone=None, app_timezone="Europe/Moscow"), author="t")
    clock.freeze(dt.datetime(2026, 3, 2, 4, 59, 30, tzinfo=UTC))  # 07:59:30 in Moscow
    try:
        scheduler = Scheduler(loom)
        assert scheduler.tick()["schedules"] == 0
        clock.advance(dt.timedelta(seconds=30))  # 08:00 in Moscow
        assert scheduler.tick()["schedules"] == 1
        # without any time zone the cron is UTC
        loom.store.publish(jobs_app(cron="0 8 * * *", timezone=None), author="t")
        clock.freeze(dt.datetime(2026, 3, 3, 8, 0, 10, tzinfo=UTC))
        assert scheduler.tick()["schedules"] == 1
    finally:
        clock.thaw()
    assert [s.slot.hour for s in slots(loom)] == [5, 8]


def test_a_failing_schedule_is_recorded_and_the_next_slot_runs(loom):
    loom.store.publish(jobs_app(cron="*/5 * * * *", script="jobs.py:broken"), author="t")
    clock.freeze(SLOT)
    try:
        scheduler = Scheduler(loom)
        assert scheduler.tick()["schedules"] == 1
        clock.advance(dt.timedelta(minutes=5))
        assert scheduler.tick()["schedules"] == 1
    finally:
        clock.thaw()
    outcomes = slots(loom)
    assert [o.outcome for o in outcomes] == ["error", "error"]
    assert "ScriptFailed" in outcomes[0].result["error"]


def test_a_bad_cron_does_not_stop_the_others(app_loom, caplog):
    """Publishing refuses an unknown zone now; a version published before that check still runs
    its other schedules, and the bad one is logged once."""
    doc = jobs_app()
    doc["schedules"]["schedules"].insert(0, {"name": "bad", "cron": "0 8 * * *", "timezone": "Mars/Olympus", "script": "jobs.py:daily"})
    with pytest.raises(MetadataError, match="unknown time zone 'Mars/Olympus'"):
        app_loom.store.publish(doc, author="t")
    doc["schedules"]["schedules"][0]["timezone"] = "Europe/Moscow"
    app_loom.store.publish(doc, author="t")
    app_loom.live["jobs"].app.document["schedules"]["schedules"][0]["timezone"] = "Mars/Olympus"  # an old version
    scheduler = Scheduler(app_loom)
    scheduler.tick()
    clock.freeze(SLOT)
    assert scheduler.tick()["schedules"] == 1
    assert "Mars/Olympus" in caplog.text and caplog.text.count("cannot evaluate") == 1


def test_tick_fires_due_timers_and_sees_new_apps(loom):
    scheduler = Scheduler(loom)
    assert scheduler.tick() == {"timers": 0, "schedules": 0, "periodic": 0, "outbox": 0, "batches": 0}
    other = make_loom(loom.database_url, None)  # another process publishes
    other.store.publish(jobs_app(), author="t")
    with other.engine.begin() as c:
        other.timers.schedule(c, "hit", "script", "jobs", clock.now(), payload={"script": "jobs.py:hit", "args": [1]})
    other.engine.dispose()
    loom._checked_at = 0  # as if the refresh interval had passed
    assert scheduler.tick()["timers"] == 1
    assert runs(loom, "hit") == (1, 1)


def test_tick_delivers_the_outbox_in_process(sqlite_loom, monkeypatch):
    calls = []
    monkeypatch.setattr(sqlite_loom.notifier, "deliver_pending", lambda: calls.append(1) or 3)
    assert Scheduler(sqlite_loom).tick()["outbox"] == 0 and calls == []  # nothing in the outbox
    with sqlite_loom.engine.begin() as c:
        sqlite_loom.notifier.mail(c, "a@example.org", "Hello", "Body")
    assert Scheduler(sqlite_loom).tick()["outbox"] == 0 and calls == []  # no SMTP server: the e-mail waits
    sqlite_loom.smtp_url = "smtp://127.0.0.1:1"
    assert Scheduler(sqlite_loom).tick()["outbox"] == 3 and calls == [1]


def test_embedded_runner_thread(sqlite_loom):
    sqlite_loom.store.publish(jobs_app(), author="t")
    runner = start_embedded_thread(sqlite_loom, interval=0.05)
    try:
        with sqlite_loom.engine.begin() as c:
            sqlite_loom.timers.schedule(c, "hit", "script", "jobs", clock.now(),
                                        payload={"script": "jobs.py:hit", "args": [1]})
        wait_for(lambda: runs(sqlite_loom, "hit") == (1, 1), timeout=10, what="the runner to fire the timer")
    finally:
        runner.stop()
    assert not runner.is_alive()


def test_cli_scheduler_once_without_redis(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "instance"))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("LOOM_REDIS_URL", raising=False)
    from runtime.cli import _loom, main
    loom = _loom()
    loom.store.publish(jobs_app(), author="t")
    with loom.engine.begin() as c:
        loom.timers.schedule(c, "hit", "script", "jobs", clock.now(), payload={"script": "jobs.py:hit", "args": [1]})
    result = CliRunner().invoke(main, ["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert "timers=1" in result.output
    assert runs(loom, "hit") == (1, 1)
    worker = CliRunner().invoke(main, ["worker"])
    assert worker.exit_code == 1 and "LOOM_REDIS_URL is not set" in worker.output
