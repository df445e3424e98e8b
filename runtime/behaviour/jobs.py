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
import functools
import os
from collections.abc import Callable
from typing import Any

from runtime import metrics
from runtime.extension.platform import Platform

#: Seconds a job may run before RQ kills it; jobs are one short transaction each.
JOB_TIMEOUT = 300
#: Seconds one delivery job keeps taking batches of due messages (an outage's thousands).
DELIVERY_SECONDS = 60


def queue_name() -> str:
    """The RQ queue of this instance: ``loom``, or ``LOOM_RQ_QUEUE`` (instances sharing one Redis, tests)."""
    return os.environ.get("LOOM_RQ_QUEUE") or "loom"


def _fire_timer(loom, timer_id: int) -> str:
    return loom.timers.fire(timer_id)


def _run_schedule(loom, app: str, schedule: str, slot: str) -> str:
    from .scheduler import Scheduler
    return Scheduler(loom).run_slot(app, schedule, dt.datetime.fromisoformat(slot))


def _run_periodic(loom, name: str, slot: str) -> str:
    from .scheduler import Scheduler
    return Scheduler(loom)._run_periodic(name, dt.datetime.fromisoformat(slot))


def _deliver_outbox(loom, outbox_id: int | None = None):
    """One e-mail, or (without an id) every deliverable one."""
    if outbox_id is None:
        return loom.notifier.deliver_pending(seconds=DELIVERY_SECONDS)
    return loom.notifier.deliver(outbox_id)


def _batch_run(loom, run_id: int):
    """A batch run's next chunk (with Redis; it queues the one after) or all of them."""
    return loom.batches.work(run_id)["state"]


#: name -> ``callable(loom, *args)``: everything a worker may be asked to do.
JOBS: dict[str, Callable[..., Any]] = {
    "fire_timer": _fire_timer,
    "run_schedule": _run_schedule,
    "run_periodic": _run_periodic,
    "deliver_outbox": _deliver_outbox,
    "batch_run": _batch_run,
    "notification_digest": lambda loom: loom.personal.send_digests(),
}


def job_handler(loom, name: str) -> Callable[..., Any]:
    """``callable(*args)`` running job ``name`` on ``loom``: the platform's own, or a plugin's
    (``loom_job_handlers``), which gets the plugin's view of the platform instead of the Loom."""
    if name in JOBS:
        return _counted(name, functools.partial(JOBS[name], loom))
    handler = loom.plugins.job_handlers().get(name)
    if handler is None:
        known = sorted({*JOBS, *loom.plugins.job_handlers()})
        raise KeyError(f"no job {name!r}; known: {', '.join(known)}")
    return _counted(name, functools.partial(handler, Platform(loom)))


def _counted(name: str, handler):
    """``handler`` counting its outcomes in ``loom_jobs_total``."""
    def run(*args):
        try:
            result = handler(*args)
        except BaseException:
            metrics.JOBS.labels(name, "error").inc()
            raise
        metrics.JOBS.labels(name, "ok").inc()
        return result
    return run


class Jobs:
    def __init__(self, loom):
        self.loom = loom
        self._queue = None

    def enqueue(self, name: str, *args, job_id: str | None = None):
        """Run job ``name`` on a worker (with Redis: returns the RQ job) or right here (returns its result)."""
        handler = job_handler(self.loom, name)
        if self.loom.redis_url is None:
            return handler(*args)
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


def serve(loom) -> None:
    """Make ``loom`` the one this worker process runs jobs on (``loom worker`` builds it
    from the environment before it takes the first job)."""
    global _worker_loom
    _worker_loom = loom


def perform(name: str, *args):
    """The function RQ runs: job ``name`` with ``args`` on the worker's Loom."""
    loom = _worker_loom
    if loom is None:
        raise RuntimeError("this process serves no Loom: run jobs with `loom worker`")
    loom.refresh_if_stale()  # apps published since the worker started
    return job_handler(loom, name)(*args)
