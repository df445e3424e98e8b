"""Health, readiness, metrics and request ids, through the real Flask app."""
from __future__ import annotations

import datetime as dt
import io
import json
import logging

import pytest
from prometheus_client import REGISTRY

from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app
from runtime.web.operations import JsonFormatter, RequestIdFilter


@pytest.fixture
def web(loom, tmp_path):
    return create_app(Settings(tmp_path, loom.database_url), loom).test_client()


def test_healthz_answers_anyone_and_carries_a_request_id(web):
    reply = web.get("/healthz")
    assert reply.status_code == 200 and reply.get_json() == {"status": "ok"}
    generated = reply.headers["X-Request-Id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert web.get("/healthz", headers={"X-Request-Id": "edge-42.a"}).headers["X-Request-Id"] == "edge-42.a"
    # a header that is not a plain token is not echoed into logs and responses
    odd = web.get("/healthz", headers={"X-Request-Id": "x y<script>"}).headers["X-Request-Id"]
    assert odd != "x y<script>" and len(odd) == 32


def test_readyz_checks_the_database(web):
    reply = web.get("/readyz")
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["status"] == "ready" and body["checks"]["database"]["ok"] is True
    assert set(body["checks"]) == {"database"}  # no Redis configured: jobs run in process


def test_readyz_is_not_ready_without_redis_or_workers(loom, tmp_path, redis_url, monkeypatch):
    monkeypatch.setenv("LOOM_RQ_QUEUE", f"ready-{tmp_path.name}")
    loom.redis_url = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    web = create_app(Settings(tmp_path, loom.database_url), loom).test_client()
    body = web.get("/readyz")
    assert body.status_code == 503
    checks = body.get_json()["checks"]
    assert checks["database"]["ok"] and not checks["redis"]["ok"] and "Connection" in checks["redis"]["error"]

    loom.redis_url = redis_url
    loom.jobs._queue = None
    reply = web.get("/readyz")
    assert reply.status_code == 503
    assert "no worker listens" in reply.get_json()["checks"]["workers"]["error"]

    from redis import Redis
    from rq import Queue, Worker
    connection = Redis.from_url(redis_url)
    worker = Worker([Queue(f"ready-{tmp_path.name}", connection=connection)], connection=connection)
    worker.register_birth()
    try:
        reply = web.get("/readyz")
        assert reply.status_code == 200, reply.get_json()
        assert reply.get_json()["checks"]["workers"]["count"] == 1
    finally:
        worker.register_death()


def _scrape(web, **kw):
    reply = web.get("/metrics", **kw)
    assert reply.status_code == 200, reply.data
    return reply.get_data(as_text=True)


def test_metrics_count_requests_scripts_and_timers(loom, web):
    before = REGISTRY.get_sample_value("loom_http_requests_total",
                                       {"method": "GET", "route": "/healthz", "status": "200"}) or 0
    web.get("/healthz")
    web.get("/healthz")
    after = REGISTRY.get_sample_value("loom_http_requests_total",
                                      {"method": "GET", "route": "/healthz", "status": "200"})
    assert after == before + 2

    now = dt.datetime.now(dt.timezone.utc)
    with loom.engine.begin() as conn:
        for key, due in (("late", now - dt.timedelta(minutes=5)), ("due", now - dt.timedelta(seconds=5)),
                         ("future", now + dt.timedelta(hours=1))):
            conn.execute(platform.timer.insert().values(key=key, kind="transition", app="a", due_at=due,
                                                        state="pending", payload={}, attempts=0))
    text = _scrape(web)
    assert "loom_timers_due 2.0" in text and "loom_timers_late 1.0" in text
    assert 'loom_http_request_duration_seconds_count{method="GET",route="/healthz"}' in text

    from runtime.sandbox import compile_snippet, run
    from runtime.sandbox.errors import ScriptLimitExceeded
    from runtime.sandbox.limits import Limits
    stops = REGISTRY.get_sample_value("loom_script_guard_stops_total", {"guard": "steps"}) or 0
    errors = REGISTRY.get_sample_value("loom_script_runs_total", {"outcome": "error"}) or 0
    with pytest.raises(ScriptLimitExceeded):
        run(compile_snippet("while True:\n    pass\n", "spin.py"), limits=Limits(steps=1000))
    assert REGISTRY.get_sample_value("loom_script_guard_stops_total", {"guard": "steps"}) == stops + 1
    assert REGISTRY.get_sample_value("loom_script_runs_total", {"outcome": "error"}) == errors + 1


def test_metrics_answer_loopback_or_the_token_only(web, monkeypatch):
    outside = {"REMOTE_ADDR": "10.1.2.3"}
    assert web.get("/metrics", environ_base=outside).status_code == 403
    monkeypatch.setenv("LOOM_METRICS_TOKEN", "scrape-me")
    assert web.get("/metrics").status_code == 403  # with a token set, loopback needs it too
    assert web.get("/metrics", headers={"Authorization": "Bearer wrong"}, environ_base=outside).status_code == 403
    assert "loom_timers_due" in _scrape(web, headers={"Authorization": "Bearer scrape-me"}, environ_base=outside)


def test_each_request_logs_one_json_line_with_its_id(web):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("loom.request")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        web.get("/healthz", headers={"X-Request-Id": "trace-7"})
        web.get("/no/such/page")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "trace-7" and first["route"] == "/healthz" and first["status"] == 200
    assert first["level"] == "info" and first["logger"] == "loom.request" and first["ms"] >= 0
    assert second["route"] == "<unmatched>" and second["status"] == 404 and len(second["request_id"]) == 32
