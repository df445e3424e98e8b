"""(c) Bulk CSV import through Loom vs a raw load of the same rows into the same table.

Generates a CSV of --rows tickets (default 1,700,000; not timed), then on
each backend, each run in a fresh database with the bench app published:

  loom  runtime.data.importer.import_csv(loom, "bench", "ticket", file, batch=5000)
        (validation, numbering, defaults, audit, one executemany / COPY per batch)
  raw   csv.reader + the same rows written by hand, in the same batches with a
        commit per batch: sqlite3 executemany with the system columns filled in
        (amount converted to Loom's scaled-integer storage), PostgreSQL COPY
        with the CSV text passed through as-is.

Prints rows/s for each and loom/raw (target >= 50% of raw speed).

    .venv/bin/python bench/bench_import.py                 # 1,700,000 rows
    .venv/bin/python bench/bench_import.py --rows 50000    # smoke run
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    APP,
    COLUMNS,
    ENTITY,
    STATUS_OF_STATE,
    TABLE,
    backends,
    database,
    gen_rows,
    header,
    make_loom,
    number,
    table,
)

TARGET = 0.50
CSV_COLUMNS = ("subject", "priority", "state", "amount", "created", "customer")


def write_csv(path: Path, n: int) -> float:
    t0 = time.perf_counter()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for subject, priority, state, amount, created, customer in gen_rows(n, seed=5):
            w.writerow((subject, priority, state, amount, created.isoformat(), customer))
    return time.perf_counter() - t0


def load_loom(loom, path: Path, batch: int) -> int:
    from runtime.data.importer import import_csv, open_csv
    with open_csv(str(path)) as fh:
        return import_csv(loom, APP, ENTITY, fh, batch=batch).rows


def load_raw(loom, path: Path, batch: int) -> int:
    """The hand-written load: read the CSV, add the system columns, write in batches."""
    version = loom.live_version(APP)
    now = dt.datetime.now(dt.timezone.utc)
    total = 0
    raw = loom.engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            next(reader)
            if loom.engine.dialect.name == "sqlite":
                stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
                sql = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
                cur = dbapi.cursor()
                D = decimal.Decimal
                while True:
                    rows = []
                    for subject, priority, state, amount, created, customer in itertools.islice(reader, batch):
                        total += 1
                        rows.append((number(total), STATUS_OF_STATE[state], stamp, None, stamp, None, 1, version,
                                     None, subject, int(priority), state,
                                     int(D(amount).scaleb(2)) if amount else None, created or None,
                                     customer or None))
                    if not rows:
                        break
                    cur.execute("BEGIN")
                    cur.executemany(sql, rows)
                    cur.execute("COMMIT")
            else:
                stamp = now.isoformat()
                cols = ", ".join(COLUMNS)
                while True:
                    chunk = list(itertools.islice(reader, batch))
                    if not chunk:
                        break
                    with dbapi.cursor() as cur, cur.copy(f"COPY {TABLE} ({cols}) FROM STDIN") as copy:
                        for subject, priority, state, amount, created, customer in chunk:
                            total += 1
                            copy.write_row((number(total), STATUS_OF_STATE[state], stamp, None, stamp, None, 1,
                                            version, None, subject, priority, state, amount or None,
                                            created or None, customer or None))
                    dbapi.commit()
    finally:
        raw.close()
    return total


def one_run(backend: str, kind: str, path: Path, n: int, batch: int) -> float:
    """Load the file into a fresh database; return rows/s."""
    from sqlalchemy import func, select
    with database(backend) as (url, folder):
        loom = make_loom(url, folder / "files")
        t0 = time.perf_counter()
        rows = (load_loom if kind == "loom" else load_raw)(loom, path, batch)
        secs = time.perf_counter() - t0
        with loom.engine.connect() as c:
            stored = c.execute(select(func.count()).select_from(loom.entity_tables(APP, ENTITY).main)).scalar_one()
        loom.engine.dispose()
    assert rows == n == stored, (kind, rows, n, stored)
    print(f"  {backend:10} {kind:4} {n:,} rows in {secs:6.1f}s = {n / secs:10,.0f} rows/s")
    sys.stdout.flush()
    return n / secs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_700_000, help="rows in the CSV (default 1,700,000)")
    ap.add_argument("--batch", type=int, default=5000, help="rows per batch for both loaders (default 5000)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each loader per backend; median reported")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], help="run only this backend")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="loom_bench_csv_") as d:
        path = Path(d) / "tickets.csv"
        secs = write_csv(path, args.rows)
        print(f"# generated {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB of CSV in {secs:.1f}s (not timed)")
        for backend in backends(args.backend):
            speeds = {"raw": [], "loom": []}
            for i in range(args.repeat):
                for kind in (("raw", "loom") if i % 2 == 0 else ("loom", "raw")):
                    speeds[kind].append(one_run(backend, kind, path, args.rows, args.batch))
            raw, loom = statistics.median(speeds["raw"]), statistics.median(speeds["loom"])
            results.append([backend, f"{raw:,.0f}", f"{loom:,.0f}", f"{loom / raw:.0%}",
                            "ok" if loom / raw >= TARGET else "BELOW TARGET"])
    header(f"CSV import of {args.rows:,} rows, batch {args.batch} (median of {args.repeat})")
    table(results, ["backend", "raw rows/s", "loom rows/s", "loom/raw", f"target ≥{TARGET:.0%}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
