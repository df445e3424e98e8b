"""Inbound webhook events turned into records per second, against creating the same
records through the record service directly; the ratio is printed.

The grid test app (tests/webhooks/grid_app) on a temporary SQLite database, its
outbound webhook left out. Each event is a signed JSON POST to
``/hooks/grid/outage`` through the Flask test client (no sockets: what is measured
is the plugin's work — signature, mapping with a transform, the idempotency check,
the delivery log — on top of the record service), then the same field values are
created with ``loom.records.create`` as the system.

    .venv/bin/python bench/bench_inbound.py               # ~30 s
    .venv/bin/python bench/bench_inbound.py --events 20   # a smoke run
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metamodel import read_folder  # noqa: E402
from runtime.core.config import Settings  # noqa: E402
from runtime.core.loom import Loom  # noqa: E402
from runtime.web import create_app  # noqa: E402

SECRET = "bench-secret"
WARM_UP = 10


def payload(i: int) -> dict:
    return {"event_id": f"bench-{i}", "outage": {"id": f"D-{i}", "address": f"ул. Ленина, {i}",
                                                 "text": "Нет света", "households": i % 300}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()
    os.environ["GRID_DISPATCH_SECRET"] = SECRET
    with tempfile.TemporaryDirectory() as tmp:
        loom = Loom(f"sqlite:///{tmp}/bench.db", files_dir=Path(tmp) / "files")
        loom.upgrade_db()
        loom.load()
        doc, _ = read_folder(ROOT / "tests" / "webhooks" / "grid_app")
        doc = copy.deepcopy(doc)
        doc["extensions"]["webhooks"].pop("webhooks")
        loom.store.publish(doc, author="bench")
        client = create_app(Settings(Path(tmp), loom.database_url, secret="bench"), loom).test_client()

        def send(numbers):
            for i in numbers:
                body = json.dumps(payload(i), ensure_ascii=False).encode()
                signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                answer = client.post("/hooks/grid/outage", data=body, headers={
                    "Content-Type": "application/json", "X-Signature-256": signature})
                assert answer.status_code == 201, answer.get_data(as_text=True)

        def create(numbers):
            for i in numbers:
                p = payload(i)["outage"]
                loom.records.create("grid", "outage", {"address": "г. Энск, " + p["address"],
                                                       "description": p["text"], "households": p["households"],
                                                       "source_id": p["id"]})

        send(range(-WARM_UP, 0))  # imports, compiled queries and templates: the first calls pay for them
        create(range(-2 * WARM_UP, -WARM_UP))
        started = time.perf_counter()
        send(range(args.events))
        inbound = args.events / (time.perf_counter() - started)

        started = time.perf_counter()
        create(range(args.events, 2 * args.events))
        direct = args.events / (time.perf_counter() - started)
        loom.engine.dispose()
    print(f"inbound events -> records: {inbound:8.1f}/s")
    print(f"record service directly:   {direct:8.1f}/s")
    print(f"ratio inbound/direct:      {inbound / direct:8.2f}")


if __name__ == "__main__":
    main()
