"""The process's Prometheus metrics: what every room counts, in one place.

The counters live at the bottom of the rooms so the sandbox, the jobs and the
web layer can all count without importing each other. Gauges that describe the
database or the queue (timers due, queue depth) are not kept here: they are
read when ``/metrics`` is scraped (``runtime.web.operations``), so they are
true for the whole site and not for the process that happens to answer.

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty folder: prometheus-client then keeps each worker's values in files there
and ``/metrics`` adds them up (see platform/gunicorn.conf.py).
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_SECONDS = Histogram(
    "loom_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
    ("method", "route"), buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
REQUESTS = Counter("loom_http_requests_total", "HTTP requests answered, by route and status.",
                   ("method", "route", "status"))
SCRIPT_RUNS = Counter("loom_script_runs_total", "Script runs, by outcome (ok or error).", ("outcome",))
SCRIPT_GUARDS = Counter("loom_script_guard_stops_total",
                        "Script runs stopped by a limit or policy guard, by guard.", ("guard",))
JOBS = Counter("loom_jobs_total", "Background jobs performed, by job and outcome.", ("job", "outcome"))


#: Label children by outcome: ``labels()`` takes a lock and builds a key on
#: every call, which is a tenth of a trivial hook's cost.
_SCRIPT_RUN_CHILDREN: dict = {}


def script_run(outcome: str, guard: str | None) -> None:
    child = _SCRIPT_RUN_CHILDREN.get(outcome)
    if child is None:
        child = _SCRIPT_RUN_CHILDREN[outcome] = SCRIPT_RUNS.labels(outcome)
    child.inc()
    if guard:
        SCRIPT_GUARDS.labels(guard).inc()
