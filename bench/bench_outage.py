"""An outage affecting 50,000 consumers: notices queued per second by the utility app's batch.

On each backend, in a fresh database with ``apps_config/utility`` published (no demo data):
200 transformer points with 250 consumers each (``--consumers``; written straight into the
tables, not timed), channels spread over SMS, e-mail, the mobile app and voice (one in twenty
asks not to be notified). An outage names every point; the timed part is the ``outage_notices``
batch over those grid objects: the sandboxed script per chunk with the consumers loaded by their
link, the notices checked, numbered and inserted, and each put into the outbox for its channel
(the notices are messages: ``delivery:`` of outage_notice) or onto the call list. Prints notices/s.

With ``--deliver N`` the first N queued messages are then delivered, as a delivery job does,
to a local HTTP gateway (SMS, push) and a local mail server, each outcome written back onto its
notice; prints messages/s.

    .venv/bin/python bench/bench_outage.py                       # 50,000 consumers
    .venv/bin/python bench/bench_outage.py --consumers 5000      # smoke run
    .venv/bin/python bench/bench_outage.py --consumers 5000 --deliver 2000
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import http.server
import os
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import backends, database, header, make_loom, table  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from metamodel import read_folder  # noqa: E402
from runtime.data.records import SYSTEM  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = ("sms", "email", "push", "voice")
PER_POINT = 250


def setup(loom, consumers: int) -> tuple[int, list[int]]:
    doc, _ = read_folder(ROOT / "apps_config/utility")
    doc = copy.deepcopy(doc)
    doc["fixtures"] = {}
    loom.store.publish(doc, author="bench")
    points = max(1, consumers // PER_POINT)
    ids = [loom.records.create("utility", "grid_object", {"code": f"ТП-{i:04d}", "kind": "tp"}, SYSTEM)["id"]
           for i in range(points)]
    et = loom.entity_tables("utility", "consumer")
    now = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    version = loom.live_version("utility")
    rows = []
    for i in range(consumers):
        channel = "none" if i % 20 == 0 else CHANNELS[i % 4]
        rows.append({"number": f"ПТР-{i + 1:07d}", "created_at": now, "updated_at": now, "row_version": 1,
                     "meta_version": version, "name": f"Потребитель {i}", "kind": "person",
                     "account": f"66{i:08d}", "phone": f"+7912{i:07d}", "email": f"c{i}@mail.example",
                     "grid_object": ids[i % points], "notify_channel": channel})
    with loom.engine.begin() as c:
        for first in range(0, len(rows), 10_000):
            c.execute(insert(et.main), rows[first:first + 10_000])
    outage = loom.records.create("utility", "outage", {
        "kind": "planned", "starts_at": "2026-12-09T04:00:00+00:00",
        "object_codes": ", ".join(f"ТП-{i:04d}" for i in range(points))}, SYSTEM)
    return outage["id"], ids


class _Gateway(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def deliver(loom, count: int) -> tuple[int, float]:
    """Deliver up to ``count`` queued messages to local servers: ``(sent, seconds)``."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    gateway = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    with socket.socket() as probe:  # aiosmtpd needs a port it can name
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        for name in ("SMS", "PUSH"):
            os.environ[f"LOOM_{name}_GATEWAY_URL"] = f"http://127.0.0.1:{gateway.server_port}/{name.lower()}"
        loom.smtp_url = f"smtp://127.0.0.1:{port}"
        t0, sent = time.perf_counter(), 0
        while sent < count:
            done = loom.notifier.deliver_pending(limit=min(100, count - sent))
            if not done:
                break
            sent += done
        return sent, time.perf_counter() - t0
    finally:
        smtp.stop()
        gateway.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consumers", type=int, default=50_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"))
    parser.add_argument("--deliver", type=int, default=0, help="then deliver this many messages to local servers")
    args = parser.parse_args()
    header(f"outage notices: {args.consumers:,} consumers on {max(1, args.consumers // PER_POINT)} grid objects")
    out = []
    for backend in backends(args.backend):
        with database(backend) as (url, folder):
            loom = make_loom(url, folder / "files")
            outage, ids = setup(loom, args.consumers)
            t0 = time.perf_counter()
            run = loom.batches.start("utility", "outage_notices", {"outage": outage}, ids=ids)
            elapsed = time.perf_counter() - t0
            assert run["state"] == "done", run
            expected = sum(1 for i in range(args.consumers) if i % 20 != 0)
            assert run["results"] == expected, (run["results"], expected)
            row = [backend, f"{run['results']:,}", f"{elapsed:.1f}", f"{run['results'] / elapsed:,.0f}"]
            if args.deliver:
                sent, seconds = deliver(loom, args.deliver)
                row += [f"{sent:,}", f"{sent / seconds:,.0f}"]
            out.append(row)
            loom.engine.dispose()
    table(out, ["backend", "notices", "s", "notices/s"] + (["delivered", "messages/s"] if args.deliver else []))


if __name__ == "__main__":
    main()
