"""The OS backstop: scheduled scripts run in job processes capped in memory, CPU and wall time.

Each case gives a schedule in-process limits far above the site's OS caps, as an app may, so
that only the job process's limits stand between the script and the machine."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from runtime.behaviour.scheduler import Scheduler
from runtime.core.isolation import Overrun, PoolConfig, ProcessPool
from runtime.errors import LoomError

SCRIPT = '''
def spin():
    n = 0
    while True:
        n += 1

def hog():
    chunks = []
    for i in range(3000):
        chunks.append("a" * 999999 + str(i))
    return len(chunks)

def wait_for_lock():
    update("counter", 1, {"n": 2})
    return "written"

def count():
    return find("counter")[0]["n"]
'''
GENEROUS = {"steps": 10_000_000_000, "timeout": 600, "max_memory": 16 * 2**30}


def doc():
    return {"app": {"name": "heavy", "title": "Heavy"},
            "entities": {"counter": {"title": "Counter", "fields": {"n": {"type": "integer"}}}},
            "schedules": {"schedules": [
                {"name": name, "cron": "0 3 * * *", "script": f"jobs.py:{name}", "limits": GENEROUS}
                for name in ("spin", "hog", "wait_for_lock", "count")]},
            "scripts": {"jobs.py": SCRIPT}}


@pytest.fixture
def heavy(loom, tmp_path):
    loom.store.publish(doc(), author="t")
    loom.records.create("heavy", "counter", {"n": 1})
    loom.isolation = ProcessPool(PoolConfig(loom.database_url, str(tmp_path / "files"), memory_mb=700,
                                            size=1, max_seconds=1))
    yield loom
    loom.isolation.close()


def test_a_script_runs_in_a_job_process_and_its_work_is_kept(heavy):
    pool = heavy.isolation
    assert pool.call("run_scheduled", "heavy", "jobs.py:count", GENEROUS, seconds=600)["result"] == 1
    assert Scheduler(heavy).run_slot("heavy", "count", _slot()) == "ok"


def test_cpu_past_the_site_cap_ends_the_process(heavy, tmp_path):
    heavy.isolation = ProcessPool(PoolConfig(heavy.database_url, str(tmp_path / "files"), size=1, max_seconds=1,
                                             grace=120))  # only the CPU limit can end it here
    started = time.monotonic()
    with pytest.raises(Overrun, match="used up its CPU time") as caught:
        heavy.isolation.call("run_scheduled", "heavy", "jobs.py:spin", GENEROUS, seconds=600)
    assert caught.value.guard == "cpu" and time.monotonic() - started < 120
    # the next call gets a fresh process and works
    assert heavy.isolation.call("run_scheduled", "heavy", "jobs.py:count", GENEROUS, seconds=600)["result"] == 1


def test_memory_past_the_cap_fails_inside_the_job_and_the_process_lives_on(heavy):
    with pytest.raises(LoomError, match="used too much memory"):
        heavy.isolation.call("run_scheduled", "heavy", "jobs.py:hog", GENEROUS, seconds=600)
    worker = heavy.isolation._idle.get_nowait()
    pid = worker.process.pid
    heavy.isolation._idle.put(worker)
    assert heavy.isolation.call("run_scheduled", "heavy", "jobs.py:count", GENEROUS, seconds=600)["result"] == 1
    assert heavy.isolation._idle.get_nowait().process.pid == pid


def test_a_job_blocked_past_its_wall_time_is_killed_and_commits_nothing(heavy):
    """A script waiting on a lock burns no CPU: the caller's clock is what stops it."""
    holder = heavy.engine.connect()
    holder.begin()
    holder.execute(text("UPDATE heavy__counter SET n = n WHERE id = 1"))  # SQLite's write lock, PostgreSQL's row lock
    try:
        started = time.monotonic()
        with pytest.raises(Overrun, match="ran longer than 6 s and its process was killed") as caught:
            heavy.isolation.call("run_scheduled", "heavy", "jobs.py:wait_for_lock", GENEROUS, seconds=600)
        assert caught.value.guard == "time" and time.monotonic() - started < 15
    finally:
        holder.rollback()
        holder.close()
    assert heavy.records.get("heavy", "counter", 1)["n"] == 1


def test_the_callers_process_keeps_answering_while_a_job_spins(heavy):
    done = threading.Event()

    def spin():
        try:
            heavy.isolation.call("run_scheduled", "heavy", "jobs.py:spin", GENEROUS, seconds=600)
        except Overrun:
            pass
        done.set()

    threading.Thread(target=spin, daemon=True).start()
    time.sleep(0.5)  # the job process is spinning by now
    took = []
    while not done.is_set():
        started = time.perf_counter()
        heavy.records.get("heavy", "counter", 1)
        took.append(time.perf_counter() - started)
        time.sleep(0.05)
    ranked = sorted(took)  # as in test_limits_under_load: 9 in 10 under 100 ms, none over 300 ms
    assert len(ranked) > 10 and ranked[int(len(ranked) * 0.9) - 1] < 0.1 and ranked[-1] < 0.3, ranked[-3:]


def _slot():
    import datetime as dt
    return dt.datetime(2026, 12, 5, 3, 0, tzinfo=dt.timezone.utc)
