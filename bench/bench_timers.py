"""(d) Timers: the scheduler's due scan over a large loom_timer, and firing throughput.

Fills loom_timer with --timers pending timers whose due times spread over a
year (the first month of them is due at the scan's "now") and --fired fired
ones (raw executemany on SQLite, COPY on PostgreSQL; not measured), then:

  due scan   Timers.due(now, limit=500) — what every scheduler tick runs — median of
             --reps, with a backlog (~1/12 of the pending timers due) and with nothing due
  fire       Timers.fire_due over the --fire earliest due timers, one transaction each,
             with a no-op handler: timers fired per second (the claim/mark overhead)

and prints each backend's plan for the due scan, which must be a range scan of
the partial index ix_loom_timer_due. PostgreSQL tables are VACUUM ANALYZEd after
the fill (as autovacuum would); SQLite runs without ANALYZE (Loom never runs it).

    .venv/bin/python bench/bench_timers.py                        # 1,000,000 + 1,000,000 rows
    .venv/bin/python bench/bench_timers.py --timers 20000 --fired 20000 --reps 5 --fire 500
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import backends, database, header, now_ns, table  # noqa: E402

NOW = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.timezone.utc)  # the scan's "now"
START = NOW - dt.timedelta(days=30)  # pending timers are due from here, over a year
YEAR = 365 * 86400
COLUMNS = ("key", "kind", "app", "entity", "record_id", "due_at", "state", "payload", "attempts", "fired_at")


def make_loom(url: str, files_dir: Path):
    from runtime.core.loom import Loom
    loom = Loom(url, files_dir=files_dir)
    loom.upgrade_db()
    loom.load()
    loom.timers.handlers["bench"] = lambda conn, timer: None
    return loom


def gen_timers(n_pending: int, n_fired: int, seed: int = 7):
    """(state, key, due_at, fired_at) of every row: pending over a year from START, fired in the year before."""
    rnd = random.Random(seed)
    for i in range(n_pending):
        yield "pending", f"bench:p{i}", START + dt.timedelta(seconds=rnd.randrange(YEAR)), None
    for i in range(n_fired):
        due = NOW - dt.timedelta(seconds=rnd.randrange(YEAR))
        yield "fired", f"bench:f{i}", due, due + dt.timedelta(seconds=2)


def fill(loom, n_pending: int, n_fired: int) -> float:
    """Raw-insert the rows (indexes dropped and rebuilt around it); return seconds taken."""
    from runtime.data import tables as platform
    t0 = time.perf_counter()
    indexes = list(platform.timer.indexes)
    with loom.engine.begin() as c:
        for ix in indexes:
            ix.drop(c)
    sqlite = loom.engine.dialect.name == "sqlite"
    stamp = (lambda v: v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")) if sqlite else (lambda v: v)
    payload = json.dumps({"target": "resolution", "level": 1})
    rows = ((key, "bench", "bench", "ticket", i, stamp(due), state, payload, 0, fired and stamp(fired))
            for i, (state, key, due, fired) in enumerate(gen_timers(n_pending, n_fired)))
    raw = loom.engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        if sqlite:
            cur = dbapi.cursor()
            cur.execute("BEGIN")
            cur.executemany(f"INSERT INTO loom_timer ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                            rows)
            cur.execute("COMMIT")
        else:
            with dbapi.cursor() as cur, cur.copy(f"COPY loom_timer ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            dbapi.commit()
    finally:
        raw.close()
    with loom.engine.begin() as c:
        for ix in indexes:
            ix.create(c)
    if not sqlite:
        with loom.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE loom_timer")
    return time.perf_counter() - t0


def time_due(loom, now: dt.datetime, reps: int) -> tuple[float, int]:
    """(median ms, rows returned) of Timers.due(now, 500) on one reader connection."""
    samples, found = [], 0
    with loom.reader.connect() as c:
        for rep in range(reps + 3):  # 3 warm-up rounds
            t0 = now_ns()
            found = len(loom.timers.due(c, now, 500))
            if rep >= 3:
                samples.append(now_ns() - t0)
            c.rollback()  # a tick's read is its own transaction
    return statistics.median(samples) / 1e6, found


def explain_due(loom, now: dt.datetime) -> list[str]:
    """The backend's plan for the exact SQL Timers.due runs."""
    from sqlalchemy import event
    captured = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    event.listen(loom.engine, "before_cursor_execute", grab)
    try:
        with loom.reader.connect() as c:
            loom.timers.due(c, now, 500)
    finally:
        event.remove(loom.engine, "before_cursor_execute", grab)
    sql, params = captured[-1]
    with loom.engine.connect() as c:
        if loom.engine.dialect.name == "postgresql":
            lines = [r[0] for r in c.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) " + sql,
                                                     params).all()]
        else:
            lines = [r[3] for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()]
    return ["SQL: " + " ".join(sql.split())] + lines


def time_fire(loom, n: int) -> tuple[float, int]:
    """Fire the ``n`` earliest due timers with fire_due; (timers per second, fired)."""
    from sqlalchemy import select

    from runtime.data import tables as platform
    t = platform.timer
    with loom.reader.connect() as c:
        cutoff = c.execute(select(t.c.due_at).where(t.c.state == "pending").order_by(t.c.due_at)
                           .offset(n - 1).limit(1)).scalar()
    t0 = time.perf_counter()
    fired = loom.timers.fire_due(cutoff)
    return fired / (time.perf_counter() - t0), fired


def run_backend(backend: str, n_pending: int, n_fired: int, reps: int, n_fire: int) -> list:
    results = []
    with database(backend) as (url, folder):
        loom = make_loom(url, folder / "files")
        header(f"{backend}: {n_pending:,} pending + {n_fired:,} fired timers")
        print(f"fill: {fill(loom, n_pending, n_fired):.1f} s (not measured)")
        rows = []
        for label, now in (("backlog due", NOW), ("nothing due", START - dt.timedelta(seconds=1))):
            ms, found = time_due(loom, now, reps)
            rows.append([label, found, f"{ms:.3f}"])
            results.append((backend, f"due scan, {label}", f"{ms:.3f} ms"))
        table(rows, ["due scan (limit 500)", "rows", "median ms"])
        print()
        for line in explain_due(loom, NOW):
            print("   " + line)
        per_second, fired = time_fire(loom, n_fire)
        print(f"\nfire_due: {fired:,} timers in one call, {per_second:,.0f} timers/s")
        results.append((backend, "fire_due (no-op handler)", f"{per_second:,.0f} timers/s"))
        loom.engine.dispose()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timers", type=int, default=1_000_000, help="pending timers (default 1,000,000)")
    ap.add_argument("--fired", type=int, default=1_000_000, help="fired timers (default 1,000,000)")
    ap.add_argument("--reps", type=int, default=30, help="timed due scans per case (default 30)")
    ap.add_argument("--fire", type=int, default=5000, help="timers fired for the throughput figure (default 5000)")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], help="run only this backend")
    args = ap.parse_args()
    results = []
    for b in backends(args.backend):
        results += run_backend(b, args.timers, args.fired, args.reps, min(args.fire, args.timers // 13))
    header("Summary")
    table([list(r) for r in results], ["backend", "measure", "value"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
