"""The production entry point under a real gunicorn with two workers: probes, JSON logs and
metrics added up across the workers."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode(), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


@pytest.fixture
def server(db_url, loom, tmp_path):
    yield from _serve(db_url, tmp_path, LOOM_WEB_WORKERS="2")


@pytest.fixture
def recycling_server(db_url, loom, tmp_path):
    yield from _serve(db_url, tmp_path, LOOM_WEB_WORKERS="1", LOOM_WEB_MAX_REQUESTS="10")


def _serve(db_url, tmp_path, **settings):
    port = _free_port()
    env = {**os.environ, "LOOM_DATABASE_URL": db_url, "LOOM_HOME": str(tmp_path / "home"),
           "LOOM_SECRET_KEY": "test-secret", "LOOM_WEB_THREADS": "2",
           "LOOM_BIND": f"127.0.0.1:{port}", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), **settings}
    env.pop("LOOM_REDIS_URL", None)
    (tmp_path / "metrics").mkdir()
    log = open(tmp_path / "gunicorn.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "platform/gunicorn.conf.py",
                                "runtime.web.wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(base + "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("gunicorn did not answer: " + (tmp_path / "gunicorn.log").read_text()[-2000:])
    yield base, tmp_path / "gunicorn.log"
    process.terminate()
    process.wait(20)
    log.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_gunicorn_serves_probes_logs_and_summed_metrics(server):
    base, log = server
    before = _healthz_count(_get(base + "/metrics")[1])
    logged_before = len(_healthz_lines(log))
    for _ in range(20):
        status, _, headers = _get(base + "/healthz")
        assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])
    status, body, _ = _get(base + "/readyz")
    assert status == 200 and json.loads(body)["checks"]["database"]["ok"]
    status, text, _ = _get(base + "/metrics")
    assert status == 200
    assert _healthz_count(text) == before + 20  # whichever worker answered each, the scrape adds them up
    assert "loom_timers_due" in text
    answered = _healthz_lines(log)[logged_before:]
    assert len(answered) == 20 and all(re.fullmatch(r"[0-9a-f]{32}", e["request_id"]) for e in answered)


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_workers_recycled_from_the_preloaded_master_read_the_database(recycling_server):
    """Every worker forks from the master that built the app; each must open its own connections."""
    base, log = recycling_server
    for _ in range(45):
        status, body, _ = _get(base + "/readyz")
        assert status == 200, body
        assert json.loads(body)["checks"]["database"]["ok"]
    boots = re.findall(r"Booting worker with pid: (\d+)", log.read_text())
    assert len(set(boots)) >= 3  # 45 requests at most ~11 per worker: the master forked replacements


def _healthz_count(text: str) -> float:
    found = re.search(r'loom_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def _healthz_lines(log: Path) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [e for e in lines if e.get("logger") == "loom.request" and e.get("route") == "/healthz"]
