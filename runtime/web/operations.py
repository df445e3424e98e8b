"""What a production site watches: health, readiness, metrics, and one log line per request.

- ``/healthz`` answers 200 while the process serves requests (a liveness probe);
- ``/readyz`` answers 200 only when the database answers, and, with Redis configured,
  Redis answers and at least one worker listens on the instance's queue; otherwise
  503 with the failing checks (a readiness probe: take the replica out of the balancer);
- ``/metrics`` is the Prometheus text format: request latency per route, jobs,
  script runs and guard stops (``runtime.metrics``), plus the queue depth and the
  timers due and late, read from Redis and the database at scrape time. It answers
  loopback, or a bearer token equal to ``LOOM_METRICS_TOKEN`` when that is set.

Every request gets an id (the caller's ``X-Request-Id`` when it is a plain token,
else a new one), sent back in ``X-Request-Id`` and carried by every log record
written while the request runs; ``LOOM_LOG_FORMAT=json`` writes the logs as one
JSON object per line.
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import os
import re
import time
import uuid

from flask import Blueprint, Flask, Response, current_app, g, has_request_context, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

from runtime import metrics
from runtime.data import tables as platform

bp = Blueprint("operations", __name__)
log = logging.getLogger("loom.request")

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
LATE_AFTER = dt.timedelta(minutes=1)  # a pending timer this far past due means the scheduler is behind
LOOPBACK = frozenset({"127.0.0.1", "::1"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_start)
    app.after_request(_finish)


# ---------------------------------------------------------------------- probes
@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    loom = current_app.extensions["loom"]
    checks = {"database": _check(lambda: _ping_database(loom))}
    if loom.redis_url:
        checks["redis"] = _check(lambda: _redis(loom).ping())
        checks["workers"] = _check(lambda: _workers(loom))
    ready = all(c["ok"] for c in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def _check(probe) -> dict:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # a probe reports what failed; it never fails the page
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if isinstance(detail, int) and not isinstance(detail, bool):
        result["count"] = detail
    return result


def _ping_database(loom) -> None:
    with loom.reader.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis(loom):
    from redis import Redis
    return Redis.from_url(loom.redis_url, socket_timeout=2, socket_connect_timeout=2)


def _workers(loom) -> int:
    from rq import Worker
    from runtime.behaviour.jobs import queue_name
    listening = [w for w in Worker.all(connection=_redis(loom)) if queue_name() in w.queue_names()]
    if not listening:
        raise RuntimeError(f"no worker listens on queue {queue_name()!r}: start `loom worker`")
    return len(listening)


# ---------------------------------------------------------------------- metrics
@bp.get("/metrics")
def metrics_page():
    token = os.environ.get("LOOM_METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return jsonify(title="Forbidden", status=403, detail="a valid metrics token is required"), 403
    elif request.remote_addr not in LOOPBACK:
        return jsonify(title="Forbidden", status=403,
                       detail="metrics answer loopback only; set LOOM_METRICS_TOKEN to scrape from elsewhere"), 403
    return Response(generate_latest(_Scrape(current_app.extensions["loom"])), mimetype=CONTENT_TYPE_LATEST)


class _Scrape:
    """What one scrape shows: the process's (or, under gunicorn, every worker's) counters and
    the site's gauges for this Loom."""

    def __init__(self, loom):
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # several workers: add up their files
            from prometheus_client import multiprocess
            counted = CollectorRegistry()
            multiprocess.MultiProcessCollector(counted)
        else:
            counted = REGISTRY
        self.sources = (counted, SiteCollector(loom))

    def collect(self):
        for source in self.sources:
            yield from source.collect()


class SiteCollector:
    """Gauges read from the database and Redis when scraped: true for the whole site."""

    def __init__(self, loom):
        self.loom = loom

    def collect(self):
        now = dt.datetime.now(dt.timezone.utc)
        t = platform.timer
        pending = t.c.state == "pending"
        with self.loom.reader.connect() as conn:
            due = conn.execute(select(func.count()).where(pending, t.c.due_at <= now)).scalar_one()
            late = conn.execute(select(func.count()).where(pending, t.c.due_at <= now - LATE_AFTER)).scalar_one()
        yield GaugeMetricFamily("loom_timers_due", "Pending timers whose time has come.", value=due)
        yield GaugeMetricFamily("loom_timers_late", "Pending timers more than a minute past due.", value=late)
        if self.loom.redis_url:
            try:
                depth = self.loom.jobs.queue.count
            except Exception:  # Redis down: readiness says so; the scrape still answers
                depth = float("nan")
            yield GaugeMetricFamily("loom_job_queue_depth", "Jobs waiting in the RQ queue.", value=depth)


# ---------------------------------------------------------------------- request ids and logs
def _start():
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    started = g.pop("request_started", None)
    if started is None:
        return response
    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    status = response.status_code
    _series(request.method, route, status).observe(seconds)
    response.headers["X-Request-Id"] = g.request_id
    if log.isEnabledFor(logging.INFO):
        log.info("%s %s %s", request.method, request.path, status,
                 extra={"method": request.method, "path": request.path, "route": route, "status": status,
                        "ms": round(seconds * 1000, 2), "ip": request.remote_addr})
    return response


class _Series:
    """The latency histogram and the request counter of one (method, route, status)."""

    __slots__ = ("latency", "count")

    def __init__(self, method: str, route: str, status: int):
        self.latency = metrics.REQUEST_SECONDS.labels(method, route)
        self.count = metrics.REQUESTS.labels(method, route, str(status))

    def observe(self, seconds: float) -> None:
        self.latency.observe(seconds)
        self.count.inc()


_SERIES: dict[tuple, _Series] = {}


def _series(method: str, route: str, status: int) -> _Series:
    # labels() hashes and locks on every call; routes and statuses are few, so keep the children
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        series = _SERIES[key] = _Series(method, route, status)
    return series


class RequestIdFilter(logging.Filter):
    """Put the current request's id on every record logged while it runs."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and the extras."""

    STANDARD = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record):
        entry = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        entry.update({k: v for k, v in vars(record).items() if k not in self.STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Log to stderr, as JSON lines when ``fmt`` (default ``LOOM_LOG_FORMAT``) is ``json``."""
    fmt = fmt or os.environ.get("LOOM_LOG_FORMAT", "text")
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level or os.environ.get("LOOM_LOG_LEVEL", "INFO"))
