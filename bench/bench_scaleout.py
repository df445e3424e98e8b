"""(h) Scale-out: a mixed workload against 1, 2 and 4 gunicorn web workers on PostgreSQL.

The production shape of platform/compose.yaml on loopback: PostgreSQL (LOOM_TEST_PG_URL; a
dedicated database per run), Redis when LOOM_TEST_REDIS_URL is set (jobs are queued, as with
workers), gunicorn with platform/gunicorn.conf.py. A bounded load (``--clients`` keep-alive
clients for ``--seconds`` per run, from threads of this process) mixes

    50% list (a filtered page of 50)  25% get  15% create  10% transition

over a table seeded with ``--rows`` tickets. Prints per worker count: requests, errors,
throughput, p50 and p95 per operation and overall, and the throughput ratio to 1 worker.
Everything runs on the same machine, load generator included: on 2 cores the figures say how
far one box goes, not how far a cluster would.

    .venv/bin/python bench/bench_scaleout.py                      # 1, 2, 4 workers, 20 s each
    .venv/bin/python bench/bench_scaleout.py --seconds 5 --workers 1,2   # smoke run
"""
from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import APP, BENCH_DOC, ENTITY, ROOT, admin_token, fill, header, pct, pg_admin_url, pg_database, table  # noqa: E402

MIX = (("list", 50), ("get", 25), ("create", 15), ("transition", 10))


def bench_doc() -> dict:
    """The bench app with transitions, so the mix exercises the workflow engine."""
    doc = copy.deepcopy(BENCH_DOC)
    doc["entities"][ENTITY]["transitions"] = [
        {"name": "start", "from": "new", "to": "open"}, {"name": "close", "from": "open", "to": "closed"},
        {"name": "reopen", "from": "closed", "to": "open"}]
    return doc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, home: Path, workers: int, threads: int):
    port = _free_port()
    metrics = Path(tempfile.mkdtemp(prefix="loom-metrics-"))
    env = {**os.environ, "LOOM_DATABASE_URL": url, "LOOM_HOME": str(home), "LOOM_SECRET_KEY": "bench",
           "LOOM_WEB_WORKERS": str(workers), "LOOM_WEB_THREADS": str(threads), "LOOM_BIND": f"127.0.0.1:{port}",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics), "LOOM_LOG_LEVEL": "WARNING"}
    if os.environ.get("LOOM_TEST_REDIS_URL"):
        env["LOOM_REDIS_URL"] = os.environ["LOOM_TEST_REDIS_URL"]
        env["LOOM_RQ_QUEUE"] = f"bench-{os.getpid()}"
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "platform/gunicorn.conf.py",
                                "runtime.web.wsgi:app"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return process, port
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start")


class Client(threading.Thread):
    def __init__(self, port: int, token: str, ids: list[int], until: float, seed: int):
        super().__init__(daemon=True)
        self.port, self.token, self.ids, self.until = port, token, ids, until
        self.random = random.Random(seed)
        self.samples: dict[str, list[float]] = {name: [] for name, _ in MIX}
        self.errors: list[str] = []

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        names, weights = zip(*MIX)
        base = f"/api/v1/{APP}/{ENTITY}"
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        while time.monotonic() < self.until:
            op = self.random.choices(names, weights)[0]
            record_id = self.random.choice(self.ids)
            if op == "list":
                method, path, body = "GET", f"{base}?priority={self.random.randint(1, 5)}&limit=50", None
            elif op == "get":
                method, path, body = "GET", f"{base}/{record_id}", None
            elif op == "create":
                body = json.dumps({"subject": f"load {self.random.random():.6f}", "priority": 3,
                                   "created": "2026-12-01", "customer": "bench"})
                method, path = "POST", base
            else:
                method, path, body = "POST", f"{base}/{record_id}/transitions/start", "{}"
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                reply = conn.getresponse()
                reply.read()
            except OSError as exc:
                self.errors.append(f"{op}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            took = time.perf_counter() - started
            # a transition refused because the ticket is no longer new is a correct answer (409/422)
            ok = reply.status < 400 or (op == "transition" and reply.status in (409, 422))
            if not ok:
                self.errors.append(f"{op}: HTTP {reply.status}")
            self.samples[op].append(took)
        conn.close()


def run_load(port: int, token: str, ids: list[int], clients: int, seconds: float) -> dict:
    warm = Client(port, token, ids, time.monotonic() + 2, seed=0)  # warm every worker's caches
    warm.start()
    warm.join()
    until = time.monotonic() + seconds
    workers = [Client(port, token, ids, until, seed=i + 1) for i in range(clients)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    samples = {name: [s for w in workers for s in w.samples[name]] for name, _ in MIX}
    errors = [e for w in workers for e in w.errors]
    total = sum(len(v) for v in samples.values())
    return {"elapsed": elapsed, "samples": samples, "errors": errors, "total": total, "rps": total / elapsed}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4", help="web worker counts to run")
    parser.add_argument("--threads", type=int, default=4, help="threads per web worker")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients")
    parser.add_argument("--seconds", type=float, default=20, help="length of each run")
    parser.add_argument("--rows", type=int, default=20_000, help="tickets in the table before the runs")
    args = parser.parse_args()
    if not pg_admin_url():
        raise SystemExit("set LOOM_TEST_PG_URL (eval \"$(scripts/services.sh start)\"): scale-out runs on PostgreSQL")
    from runtime.core.loom import Loom
    header(f"(h) scale-out: {args.clients} clients x {args.seconds:.0f} s, mix "
           + ", ".join(f"{n} {w}%" for n, w in MIX) + f", {args.rows} rows, gunicorn gthread x{args.threads}")
    results = {}
    with pg_database() as url, tempfile.TemporaryDirectory(prefix="loom_scale_") as home:
        loom = Loom(url, files_dir=Path(home) / "files")
        loom.upgrade_db()
        loom.load()
        loom.store.publish(bench_doc(), author="bench")
        fill(loom, args.rows)
        token = admin_token(loom)
        ids = list(range(1, args.rows + 1))
        loom.engine.dispose()
        for count in (int(n) for n in args.workers.split(",")):
            process, port = start_server(url, Path(home), count, args.threads)
            try:
                results[count] = run_load(port, token, ids, args.clients, args.seconds)
            finally:
                process.terminate()
                process.wait(30)
    base = results[min(results)]["rps"]
    rows = []
    for count, r in results.items():
        every = [s for v in r["samples"].values() for s in v]
        rows.append([count, r["total"], len(r["errors"]), f"{r['rps']:.0f}", f"{r['rps'] / base:.2f}x",
                     f"{pct(every, 50) * 1000:.1f}", f"{pct(every, 95) * 1000:.1f}",
                     *(f"{pct(r['samples'][n], 95) * 1000:.1f}" if r["samples"][n] else "-" for n, _ in MIX)])
    table(rows, ["web workers", "requests", "errors", "req/s", "vs 1", "p50 ms", "p95 ms",
                 *(f"p95 {n}" for n, _ in MIX)])
    for count, r in results.items():
        for e in sorted(set(r["errors"]))[:5]:
            print(f"  {count} workers: {e}")
    print(f"cores: {os.cpu_count()} (load generator on the same machine)")


if __name__ == "__main__":
    main()
