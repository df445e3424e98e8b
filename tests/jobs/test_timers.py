"""Timers on SQLite and PostgreSQL: scheduling by key, the due scan, exactly-once firing, retries."""
from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update

from runtime import clock
from runtime.behaviour.timers import BACKOFF, MAX_ATTEMPTS
from runtime.data import tables as platform
from tests.conftest import make_loom

from .conftest import hits, jobs_app, runs

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
MINUTE = dt.timedelta(minutes=1)

# No unique key: a timer fired twice would show up as two rows.
effects = Table("t_timer_effect", MetaData(), Column("id", Integer, primary_key=True), Column("key", String(200)))


@pytest.fixture
def timers(loom):
    """The Loom's timers with a kind ``effect`` whose handler writes a row keyed by the timer."""
    effects.create(loom.engine)
    calls = Counter()

    def effect(conn, timer):
        calls[timer.key] += 1
        conn.execute(insert(effects).values(key=timer.key))

    loom.timers.handlers["effect"] = effect
    loom.timers.calls = calls
    clock.freeze(T0)
    yield loom.timers
    clock.thaw()


def schedule(timers, key, due_at, **kw):
    with timers.loom.engine.begin() as c:
        timers.schedule(c, key, kw.pop("kind", "effect"), "app", due_at, **kw)


def row(timers, key):
    with timers.loom.engine.connect() as c:
        return timers.get(c, key)


def effect_keys(loom) -> list[str]:
    with loom.engine.connect() as c:
        return sorted(c.execute(select(effects.c.key)).scalars())


# ---------------------------------------------------------------- scheduling

def test_schedule_upserts_by_key_and_keeps_attempts(timers):
    schedule(timers, "a", T0 + MINUTE, payload={"n": 1})
    t = platform.timer
    with timers.loom.engine.begin() as c:
        c.execute(update(t).values(attempts=3, state="cancelled", enqueued_at=T0))
    schedule(timers, "a", T0 + 2 * MINUTE, payload={"n": 2}, entity="ticket", record_id=7)
    a = row(timers, "a")
    assert (a.state, a.due_at, a.payload, a.attempts, a.enqueued_at) == ("pending", T0 + 2 * MINUTE, {"n": 2}, 3, None)
    assert (a.entity, a.record_id) == ("ticket", 7)
    with timers.loom.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(t)).scalar() == 1


def test_schedule_refuses_naive_times(timers):
    with pytest.raises(ValueError):
        schedule(timers, "a", dt.datetime(2026, 1, 1))


def test_cancel_and_cancel_record(timers):
    for key, record_id, kind in (("x:1", 1, "effect"), ("x:2", 1, "other"), ("y_1", 1, "effect"),
                                 ("x:3", 2, "effect")):
        schedule(timers, key, T0, entity="ticket", record_id=record_id, kind=kind)
    with timers.loom.engine.begin() as c:
        assert timers.cancel(c, "x:3") is True
        assert timers.cancel(c, "x:3") is False  # only pending timers are cancelled
        assert timers.cancel(c, "nope") is False
        # "_" is a LIKE wildcard; the prefix is matched literally
        assert timers.cancel_record(c, "app", "ticket", 1, prefix="x_") == 0
        assert timers.cancel_record(c, "app", "ticket", 1, kind="effect", prefix="x:") == 1
        assert timers.cancel_record(c, "app", "ticket", 1) == 2
    assert {k: row(timers, k).state for k in ("x:1", "x:2", "y_1", "x:3")} == dict.fromkeys(
        ("x:1", "x:2", "y_1", "x:3"), "cancelled")


def test_due_is_pending_timers_up_to_now_earliest_first(timers):
    for i, minutes in enumerate([5, -1, 0, -10, 3, -3]):
        schedule(timers, f"t{i}", T0 + minutes * MINUTE)
    with timers.loom.engine.begin() as c:
        timers.cancel(c, "t5")
    with timers.loom.reader.connect() as c:
        assert [r.key for r in timers.due(c, T0)] == ["t3", "t1", "t2"]
        assert [r.key for r in timers.due(c, T0, limit=2)] == ["t3", "t1"]
        assert [r.key for r in timers.due(c, T0 + 5 * MINUTE)] == ["t3", "t1", "t2", "t4", "t0"]


# ---------------------------------------------------------------- firing

def test_fire_runs_the_handler_once(timers):
    schedule(timers, "a", T0 - MINUTE)
    a = row(timers, "a")
    assert timers.fire(a.id) == "fired"
    assert timers.fire(a.id) == "skipped"
    fired = row(timers, "a")
    assert (fired.state, fired.fired_at, fired.attempts) == ("fired", T0, 0)
    assert effect_keys(timers.loom) == ["a"] and timers.calls["a"] == 1


def test_frozen_clock_decides_what_is_due(timers):
    schedule(timers, "soon", T0 + MINUTE)
    schedule(timers, "later", T0 + 10 * MINUTE)
    assert timers.fire(row(timers, "soon").id) == "skipped"
    assert timers.fire_due() == 0
    clock.advance(MINUTE)
    assert timers.fire_due() == 1
    assert effect_keys(timers.loom) == ["soon"]
    clock.advance(9 * MINUTE)
    assert timers.fire_due() == 1 and timers.fire_due() == 0
    assert effect_keys(timers.loom) == ["later", "soon"]


def test_cancelled_and_rescheduled_timers(timers):
    schedule(timers, "a", T0)
    with timers.loom.engine.begin() as c:
        timers.cancel(c, "a")
    assert timers.fire_due() == 0
    schedule(timers, "a", T0)  # scheduling again revives it
    assert timers.fire_due() == 1
    schedule(timers, "a", T0 + MINUTE)  # and a fired timer fires again at its new time
    clock.advance(MINUTE)
    assert timers.fire_due() == 1
    assert timers.calls["a"] == 2 and effect_keys(timers.loom) == ["a", "a"]


def test_a_failing_handler_is_rolled_back_and_retried_with_backoff(timers):
    failing = {"on": True}

    def flaky(conn, timer):
        conn.execute(insert(effects).values(key=timer.key))  # must vanish with the rollback
        if failing["on"]:
            raise RuntimeError("smtp is down")

    timers.handlers["flaky"] = flaky
    schedule(timers, "f", T0, kind="flaky")
    timer_id = row(timers, "f").id
    assert timers.fire(timer_id) == "error"
    f = row(timers, "f")
    assert (f.state, f.attempts, f.due_at) == ("pending", 1, T0 + dt.timedelta(seconds=BACKOFF[0]))
    assert "RuntimeError: smtp is down" in f.error
    assert effect_keys(timers.loom) == []
    assert timers.fire(timer_id) == "skipped"  # not due again yet
    clock.advance(dt.timedelta(seconds=BACKOFF[0]))
    failing["on"] = False
    assert timers.fire_due() == 1
    assert (row(timers, "f").state, row(timers, "f").attempts) == ("fired", 1)
    assert effect_keys(timers.loom) == ["f"]


def test_a_timer_that_keeps_failing_is_given_up(timers):
    def broken(conn, timer):
        raise ValueError("no")

    timers.handlers["broken"] = broken
    schedule(timers, "b", T0, kind="broken")
    for _ in range(MAX_ATTEMPTS):
        assert timers.fire(row(timers, "b").id) == "error"
        clock.advance(dt.timedelta(days=1))
    b = row(timers, "b")
    assert (b.state, b.attempts) == ("failed", MAX_ATTEMPTS)
    assert timers.fire_due() == 0


def test_unknown_kind_is_an_error_on_the_timer(timers):
    schedule(timers, "u", T0, kind="nobody-handles-this")
    assert timers.fire(row(timers, "u").id) == "error"
    assert "no handler for timer kind" in row(timers, "u").error


def test_two_threads_firing_the_same_timers_fire_each_once(timers):
    n = 200
    with timers.loom.engine.begin() as c:
        for i in range(n):
            timers.schedule(c, f"c{i}", "effect", "app", T0 - i * dt.timedelta(seconds=1))
    second = make_loom(timers.loom.database_url, None)
    second.timers.handlers["effect"] = timers.handlers["effect"]  # the same counting handler
    fired = []
    barrier = threading.Barrier(2)

    def run(loom):
        barrier.wait()
        fired.append(loom.timers.fire_due(limit=50))

    threads = [threading.Thread(target=run, args=(loom,)) for loom in (timers.loom, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    second.engine.dispose()
    assert sum(fired) == n
    assert len(effect_keys(timers.loom)) == n
    assert set(timers.calls.values()) == {1} and len(timers.calls) == n
    with timers.loom.engine.connect() as c:
        t = platform.timer
        assert c.execute(select(t.c.state, t.c.attempts).distinct()).all() == [("fired", 0)]


def test_two_threads_racing_for_each_timer_fire_it_once(timers):
    """Both threads try every timer in the same order: every fire() is a head-on collision."""
    n = 100
    with timers.loom.engine.begin() as c:
        for i in range(n):
            timers.schedule(c, f"c{i}", "effect", "app", T0)
    with timers.loom.engine.connect() as c:
        ids = c.execute(select(platform.timer.c.id).order_by(platform.timer.c.id)).scalars().all()
    second = make_loom(timers.loom.database_url, None)
    second.timers.handlers["effect"] = timers.handlers["effect"]
    outcomes = Counter()
    barrier = threading.Barrier(2)

    def run(loom):
        barrier.wait()
        for timer_id in ids:
            outcomes[loom.timers.fire(timer_id)] += 1

    threads = [threading.Thread(target=run, args=(loom,)) for loom in (timers.loom, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    second.engine.dispose()
    assert outcomes == {"fired": n, "skipped": n}
    assert len(effect_keys(timers.loom)) == n and set(timers.calls.values()) == {1}


# ---------------------------------------------------------------- the built-in "script" kind

@pytest.fixture
def app_loom(loom):
    loom.store.publish(jobs_app(), author="tester")
    clock.freeze(T0)
    yield loom
    clock.thaw()


def test_script_timer_runs_an_app_script_on_the_record(app_loom):
    loom = app_loom
    counter = loom.records.create("jobs", "counter", {"name": "c"})
    with loom.engine.begin() as c:
        loom.timers.schedule(c, "bump", "script", "jobs", T0, entity="counter", record_id=counter["id"],
                             payload={"script": "jobs.py:bump"})
        loom.timers.schedule(c, "hit", "script", "jobs", T0, payload={"script": "jobs.py:hit", "args": [42]})
    assert loom.timers.fire_due() == 2
    assert hits(loom, counter["id"]) == 1
    assert runs(loom, "hit") == (1, 1)


def test_script_timer_of_a_deleted_record_does_nothing(app_loom):
    loom = app_loom
    counter = loom.records.create("jobs", "counter", {"name": "c"})
    with loom.engine.begin() as c:
        loom.timers.schedule(c, "bump", "script", "jobs", T0, entity="counter", record_id=counter["id"],
                             payload={"script": "jobs.py:bump"})
    loom.records.delete("jobs", "counter", counter["id"])
    assert loom.timers.fire_due() == 1


def test_script_timer_failure_names_the_script(app_loom):
    loom = app_loom
    with loom.engine.begin() as c:
        loom.timers.schedule(c, "broken", "script", "jobs", T0, payload={"script": "jobs.py:broken"})
    assert loom.timers.fire_due() == 0
    with loom.engine.connect() as c:
        timer = loom.timers.get(c, "broken")
        logged = c.execute(select(platform.script_run.c.hook, platform.script_run.c.outcome)).all()
    assert timer.attempts == 1 and "ScriptFailed" in timer.error and "jobs.py" in timer.error
    assert logged == [("timer:jobs.py:broken", "error")]  # the run log survives the rollback


def test_jobs_run_inline_without_redis(app_loom):
    loom = app_loom
    with loom.engine.begin() as c:
        loom.timers.schedule(c, "hit", "script", "jobs", T0, payload={"script": "jobs.py:hit", "args": [1]})
        timer_id = loom.timers.get(c, "hit").id
    assert loom.jobs.enqueue("fire_timer", timer_id) == "fired"
    assert loom.jobs.enqueue("fire_timer", timer_id) == "skipped"
    with pytest.raises(KeyError):
        loom.jobs.enqueue("no_such_job")
