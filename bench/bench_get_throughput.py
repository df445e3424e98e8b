"""(i) Record GET throughput under gunicorn: Loom's generated API vs a bare Flask JSON endpoint.

Both are served by the same gunicorn settings (``--workers`` gthread workers with
``--threads`` threads, platform/gunicorn.conf.py's logging) from the same SQLite file of
``--rows`` bench tickets; ``--clients`` keep-alive clients GET random ids for ``--seconds``,
alternating the two servers ``--rounds`` times so background load hits both alike. The bare
endpoint is what a developer would write to serve one row as JSON (SQLAlchemy Core select by
id, ``jsonify``) with no authentication; Loom's checks a Bearer token, the entity's read
permission and row rules, and answers with its system fields and ETag. Prints requests per
second of each and the ratio Loom / bare (target >= 0.75).

    .venv/bin/python bench/bench_get_throughput.py
    .venv/bin/python bench/bench_get_throughput.py --seconds 3 --rounds 1   # smoke run
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import APP, ENTITY, ROOT, TABLE, admin_token, fill, header, make_loom, table  # noqa: E402

TARGET = 0.75


def bare_app():
    """The hand-written baseline (gunicorn calls this factory in its worker)."""
    from flask import Flask, abort, jsonify
    from sqlalchemy import MetaData, Table, create_engine, select

    from runtime.data.db import make_engine
    engine = make_engine(os.environ["BENCH_DATABASE_URL"])  # the same SQLite pragmas as Loom
    table = Table(TABLE, MetaData(), autoload_with=engine)
    app = Flask("bare")

    @app.get("/ticket/<int:record_id>")
    def get_ticket(record_id: int):
        with engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id == record_id)).mappings().first()
        if row is None:
            abort(404)
        return jsonify({k: (v.isoformat() if hasattr(v, "isoformat") else str(v) if k == "amount" else v)
                        for k, v in row.items()})

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(target: str, env: dict, workers: int, threads: int, chdir: Path):
    port = _free_port()
    metrics = tempfile.mkdtemp(prefix="loom-metrics-")
    env = {**os.environ, **env, "LOOM_WEB_WORKERS": str(workers), "LOOM_WEB_THREADS": str(threads),
           "LOOM_BIND": f"127.0.0.1:{port}", "PROMETHEUS_MULTIPROC_DIR": metrics, "LOOM_LOG_LEVEL": "WARNING",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{Path(__file__).resolve().parent}"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "platform/gunicorn.conf.py"),
                                target], cwd=chdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz" if "wsgi" in target else "/ticket/1")
            if conn.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"gunicorn did not start {target}")


def _client_process(port, path, headers, rows, clients, seconds, seed, out):
    counts, errors = [0] * clients, [0] * clients
    until = time.monotonic() + seconds

    def client(i: int):
        rnd = random.Random(seed * 1000 + i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < until:
            conn.request("GET", path.format(rnd.randint(1, rows)), headers=headers)
            reply = conn.getresponse()
            reply.read()
            if reply.status == 200:
                counts[i] += 1
            else:
                errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((sum(counts), sum(errors)))


def load(port: int, path: str, headers: dict, rows: int, clients: int, seconds: float,
         processes: int = 2) -> tuple[float, int]:
    """GETs per second from ``clients`` keep-alive clients spread over ``processes`` processes
    (one Python process alone tops out below what the servers can answer)."""
    import multiprocessing
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    per = max(1, clients // processes)
    workers = [context.Process(target=_client_process, args=(port, path, headers, rows, per, seconds, n, out))
               for n in range(processes)]
    started = time.monotonic()
    for w in workers:
        w.start()
    results = [out.get() for _ in workers]
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    return sum(r[0] for r in results) / elapsed, sum(r[1] for r in results)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    header(f"(i) record GET under gunicorn ({args.workers} worker x {args.threads} threads, {args.clients} clients, "
           f"SQLite, {args.rows} rows): Loom vs bare Flask")
    with tempfile.TemporaryDirectory(prefix="loom_get_") as home:
        url = f"sqlite:///{Path(home) / 'bench.db'}"
        loom = make_loom(url, Path(home) / "files")
        fill(loom, args.rows)
        token = admin_token(loom)
        loom.engine.dispose()
        servers = {
            "loom": serve("runtime.web.wsgi:app", {"LOOM_DATABASE_URL": url, "LOOM_HOME": home,
                                                   "LOOM_SECRET_KEY": "bench", "LOOM_ISOLATE_JOBS": "0"},
                          args.workers, args.threads, ROOT),
            "bare": serve("bench_get_throughput:bare_app()", {"BENCH_DATABASE_URL": url}, args.workers,
                          args.threads, Path(__file__).resolve().parent),
        }
        requests = {"loom": (f"/api/v1/{APP}/{ENTITY}/{{}}", {"Authorization": f"Bearer {token}"}),
                    "bare": ("/ticket/{}", {})}
        rates = {name: [] for name in servers}
        errors = {name: 0 for name in servers}
        try:
            for name, (_, port) in servers.items():  # warm both
                load(port, *requests[name], args.rows, args.clients, 1.0)
            for _ in range(args.rounds):
                for name, (_, port) in servers.items():
                    rate, failed = load(port, *requests[name], args.rows, args.clients, args.seconds)
                    rates[name].append(rate)
                    errors[name] += failed
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(30)
    loom_rate, bare_rate = statistics.median(rates["loom"]), statistics.median(rates["bare"])
    ratio = loom_rate / bare_rate
    table([["loom", f"{loom_rate:.0f}", errors["loom"]], ["bare Flask", f"{bare_rate:.0f}", errors["bare"]]],
          ["server", "GET/s (median of rounds)", "errors"])
    print(f"ratio loom / bare: {ratio:.2f}   target >= {TARGET}: {'ok' if ratio >= TARGET else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
