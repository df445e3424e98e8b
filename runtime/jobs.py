"""Background jobs: RQ workers with LOOM_REDIS_URL, an in-process runner without.

A job is a name from :data:`JOBS` and plain arguments (ids, names, ISO times):
never a Loom or a row, so it means the same in whatever process runs it. On
Redis the queued callable is :func:`perform`, which looks the name up in the
worker's own Loom. Every job must be safe to run twice or not at all (a worker
may die after it took a job): the work itself decides what is still to do,
e.g. :meth:`runtime.timers.Timers.fire` fires only a pending timer.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from typing import Any

#: Seconds a job may run before RQ kills it; jobs are one short transaction each.
JOB_TIMEOUT = 300


def queue_name() -> str:
    """The RQ queue of this instance: ``loom``, or ``LOOM_RQ_QUEUE`` (instances sharing one Redis, tests)."""
    return os.environ.get("LOOM_RQ_QUEUE") or "loom"


def _fire_timer(loom, timer_id: int) -> str:
    return loom.timers.fire(timer_id)


def _run_schedule(loom, app: str, schedule: str, slot: str) -> str:
    from .scheduler import Scheduler
    return Scheduler(loom).run_slot(app, schedule, dt.datetime.fromisoformat(slot))


def _deliver_outbox(loom, outbox_id: int | None = None):
    """One e-mail, or (without an id) every deliverable one."""
    if outbox_id is None:
        return loom.notifier.deliver_pending()
    return loom.notifier.deliver(outbox_id)


#: name -> ``callable(loom, *args)``: everything a worker may be asked to do.
JOBS: dict[str, Callable[..., Any]] = {
    "fire_timer": _fire_timer,
    "run_schedule": _run_schedule,
    "deliver_outbox": _deliver_outbox,
}


class Jobs:
    def __init__(self, loom):
        self.loom = loom
        self._queue = None

    def enqueue(self, name: str, *args, job_id: str | None = None):
        """Run job ``name`` on a worker (with Redis: returns the RQ job) or right here (returns its result)."""
        if name not in JOBS:
            raise KeyError(f"no job {name!r}; known: {', '.join(sorted(JOBS))}")
        if self.loom.redis_url is None:
            return JOBS[name](self.loom, *args)
        return self.queue.enqueue_call(perform, args=(name, *args), job_id=job_id, timeout=JOB_TIMEOUT,
                                       result_ttl=0, failure_ttl=7 * 86400, description=f"{name}{args!r}")

    @property
    def queue(self):
        if self._queue is None:
            from redis import Redis
            from rq import Queue
            self._queue = Queue(queue_name(), connection=Redis.from_url(self.loom.redis_url))
        return self._queue


# ---------------------------------------------------------------------- worker side
_worker_loom = None
_worker_lock = threading.Lock()


def worker_loom():
    """This worker process's Loom, built once from the environment (as ``loom worker`` sees it)."""
    global _worker_loom
    with _worker_lock:
        if _worker_loom is None:
            from .config import Settings
            _worker_loom = Settings.from_env().make_loom()
        return _worker_loom


def perform(name: str, *args):
    """The function RQ runs: job ``name`` with ``args`` on the worker's Loom."""
    loom = worker_loom()
    loom.refresh_if_stale()  # apps published since the worker started
    return JOBS[name](loom, *args)
