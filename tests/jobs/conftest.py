"""Shared pieces of the job tests.

``jobs_app`` is a small app whose scripts leave countable effects: ``daily``
(a cron schedule) and ``hit`` create ``run`` records, ``bump`` increments a
``counter`` record. ``services`` runs real ``loom worker`` and ``loom
scheduler`` processes against the test's PostgreSQL schema and a Redis queue
of its own (``LOOM_RQ_QUEUE``), so tests in parallel never share jobs; an
SLA escalation variant needs only a different app and timer kind.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import ROOT

SCRIPT = '''
def daily():
    create("run", {"note": "cron"})
    return 1

def bump(record):
    update("counter", record.id, {"hits": record.hits + 1})

def hit(n):
    create("run", {"note": "hit", "n": n})

def broken():
    return 1 / 0
'''


def jobs_app(cron: str = "0 8 * * *", timezone: str | None = "Asia/Yekaterinburg", script: str = "jobs.py:daily",
             app_timezone: str | None = None) -> dict:
    schedule = {"name": "daily", "cron": cron, "script": script}
    if timezone:
        schedule["timezone"] = timezone
    app = {"name": "jobs", "title": "Jobs"}
    if app_timezone:
        app["timezone"] = app_timezone
    return {"app": app,
            "entities": {
                "counter": {"title": "Counter", "fields": {"name": {"type": "string"},
                                                           "hits": {"type": "integer", "default": 0}}},
                "run": {"title": "Run", "fields": {"note": {"type": "string"}, "n": {"type": "integer"}}}},
            "schedules": {"schedules": [schedule]},
            "scripts": {"jobs.py": SCRIPT}}


def runs(loom, note: str) -> tuple[int, int]:
    """(count, distinct n) of the ``run`` records a script made with ``note``."""
    with loom.engine.connect() as c:
        return tuple(c.execute(text("SELECT count(*), count(DISTINCT n) FROM jobs__run WHERE note = :note"),
                               {"note": note}).one())


def hits(loom, counter_id: int) -> int:
    with loom.engine.connect() as c:
        return c.execute(text("SELECT hits FROM jobs__counter WHERE id = :id"), {"id": counter_id}).scalar_one()


def timer_states(loom) -> dict[str, int]:
    with loom.engine.connect() as c:
        return dict(c.execute(text("SELECT state, count(*) FROM loom_timer GROUP BY state")).all())


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _scalar(loom, sql: str, **params):
    # A fresh transaction each time: PostgreSQL keeps one snapshot of pg_stat_activity per transaction.
    with loom.engine.connect() as c:
        return c.execute(text(sql), params).scalar()


class Services:
    """A PostgreSQL schema, a Redis queue and the ``loom`` processes a test started on them."""

    def __init__(self, db_url: str, redis_url: str, home: Path, queue: str):
        self.db_url, self.redis_url, self.home, self.queue = db_url, redis_url, home, queue
        self.processes: list[subprocess.Popen] = []
        self.env = {**os.environ, "LOOM_DATABASE_URL": db_url, "LOOM_REDIS_URL": redis_url,
                    "LOOM_HOME": str(home), "LOOM_RQ_QUEUE": queue}
        self.env.pop("LOOM_SMTP_URL", None)
        self._loom = None

    @property
    def loom(self):
        """This test process's Loom on the same database and queue (its ticks enqueue for the workers)."""
        if self._loom is None:
            from runtime.core.loom import Loom
            self._loom = Loom(self.db_url, files_dir=self.home / "files", redis_url=self.redis_url)
            self._loom.upgrade_db()
            self._loom.load()
        return self._loom

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-c", "import sys; from runtime.cli import main; sys.exit(main())", *args]

    def spawn(self, *args: str) -> subprocess.Popen:
        """Start ``loom ARGS`` in the background; its output goes to a log file in the instance folder."""
        log = open(self.home / f"{args[0]}-{len(self.processes)}.log", "wb")
        process = subprocess.Popen(self.command(*args), env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        return process

    def worker(self) -> subprocess.Popen:
        return self.spawn("worker")

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run ``loom ARGS`` to the end (e.g. ``scheduler --once``)."""
        done = subprocess.run(self.command(*args), env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def kill_while_blocked(self, lock_sql: str, params: dict, tick, expect_timers: int) -> None:
        """Hold a row lock (``lock_sql``), let a new worker block on it inside a timer's transaction,
        SIGKILL that worker, release the lock and wait until its orphaned database session is gone."""
        loom = self.loom
        with loom.engine.connect() as lock:
            lock.begin()
            lock.execute(text(lock_sql), params)
            me = lock.execute(text("SELECT pg_backend_pid()")).scalar()
            assert tick()["timers"] == expect_timers
            worker = self.worker()
            blocked = wait_for(lambda: _scalar(loom, "SELECT pid FROM pg_stat_activity "
                                                     "WHERE :me = ANY(pg_blocking_pids(pid))", me=me),
                               what="the worker to block inside the timer's transaction")
            self.kill(worker)
            lock.rollback()
        # The orphaned server process finishes its statement, finds its client gone and rolls back.
        wait_for(lambda: not _scalar(loom, "SELECT 1 FROM pg_stat_activity WHERE pid = :pid", pid=blocked),
                 what="the killed worker's session to end")

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        process.send_signal(sig)
        process.wait(10)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in sorted(self.home.glob("*.log")))

    def close(self) -> None:
        running = [p for p in self.processes if p.poll() is None]
        for process in running:
            process.terminate()  # all at once: each takes a moment for RQ's warm shutdown
        for process in running:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._loom is not None:
            self._loom.engine.dispose()
        self._flush_redis()

    def _flush_redis(self) -> None:
        """Delete this test's RQ keys only: its queue, registries, workers and jobs."""
        from redis import Redis
        from rq import Queue
        redis = Redis.from_url(self.redis_url)
        queue = Queue(self.queue, connection=redis)
        job_ids = set(queue.get_job_ids())
        for attr in ("started_job_registry", "failed_job_registry", "finished_job_registry",
                     "deferred_job_registry", "scheduled_job_registry", "canceled_job_registry"):
            registry = getattr(queue, attr, None)
            if registry is not None:
                job_ids.update(registry.get_job_ids())
        for key in redis.scan_iter("rq:*", count=1000):
            name = key.decode()
            if self.queue in name or any(job_id in name for job_id in job_ids):
                redis.delete(key)
        redis.srem("rq:queues", queue.key)
        for member in redis.smembers("rq:workers"):
            if self.queue in member.decode():
                redis.srem("rq:workers", member)
        redis.close()


@pytest.fixture
def services(pg_url, redis_url, tmp_path, monkeypatch, request):
    queue = f"loom-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("LOOM_RQ_QUEUE", queue)  # the in-process Loom enqueues where the workers listen
    home = tmp_path / "instance"
    home.mkdir()
    harness = Services(pg_url, redis_url, home, queue)
    yield harness
    harness.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(harness.logs())  # the workers' and schedulers' output, in the failure report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
