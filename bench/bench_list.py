"""(b) First page (limit 50) of filtered, sorted lists over a large table.

Fills the bench ticket table with --rows rows (default 2,000,000; raw
executemany on SQLite, COPY on PostgreSQL, indexes rebuilt after; not
measured), then times the generated list path for several filter + sort
combinations served by the declared indexes:

  api   GET /api/v1/bench/ticket?... through Flask's test client (auth, query, JSON)
  query ListQuery.run alone (SQL building + execution, no HTTP or JSON)

--reps repetitions of each (round-robin over the queries), median and p95
in ms; target median <= 50 ms. Prints the query plan of every query.
(*) marks a combination no declared index fully serves (status and
created_at only have Loom's single-column system indexes).
On SQLite the run is repeated after ANALYZE (Loom never runs it itself),
on PostgreSQL the table is VACUUM ANALYZEd once loaded (as autovacuum would).

    .venv/bin/python bench/bench_list.py                  # 2,000,000 rows, 30 reps
    .venv/bin/python bench/bench_list.py --rows 20000 --reps 5
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    APP,
    DATE0,
    DAYS,
    ENTITY,
    TABLE,
    admin_token,
    backends,
    database,
    fill,
    header,
    make_loom,
    now_ns,
    pct,
    table,
)

TARGET_MS = 50.0
QUERIES = [
    ("priority=2 by -created", "priority=2&sort=-created"),
    ("priority=2 by -created, page 2", "priority=2&sort=-created"),  # follows the cursor of page 1
    ("priority=2 by -created, deep page", "priority=2&sort=-created"),  # cursor in the middle of the table
    ("state in (new,open) by created", "state__in=new,open&sort=created"),
    ("priority=1 & state=open by -created", "priority=1&state=open&sort=-created"),
    ("created in Q1 2023 by -created", "created__between=2023-01-01,2023-03-31&sort=-created"),
    ("customer=CUST-01234 by -created", "customer=CUST-01234&sort=-created"),
    ("status=open by -created_at (*)", "status=open&sort=-created_at"),
    ("no filter (default -id)", ""),
]


def run_set(loom, client, headers, reps: int, label: str, n_rows: int) -> list:
    from werkzeug.datastructures import MultiDict

    from runtime.data.query import ListQuery, encode_cursor, parse_args

    base = f"/api/v1/{APP}/{ENTITY}?limit=50"
    urls = []
    for name, qs in QUERIES:
        url = base + ("&" + qs if qs else "")
        if name.endswith("page 2"):
            first = client.get(url, headers=headers).json
            url += f"&after={first['next']}"
        elif name.endswith("deep page"):
            # the cursor a client holds after paging through half of the matching rows
            url += "&after=" + encode_cursor([DATE0 + dt.timedelta(days=DAYS // 2), n_rows // 2])
        urls.append(url)
    et = loom.entity_tables(APP, ENTITY)
    parsed = []
    for url in urls:
        args = MultiDict(parse_qsl(url.split("?", 1)[1]))
        filters, sort, options = parse_args(args)
        parsed.append((filters, sort, options))

    api = {u: [] for u in urls}
    direct = {u: [] for u in urls}
    counts = {}
    for rep in range(reps + 3):  # 3 warm-up rounds
        for url, (filters, sort, options) in zip(urls, parsed):
            t0 = now_ns()
            r = client.get(url, headers=headers)
            t1 = now_ns()
            assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
            counts[url] = len(r.json["items"])
            t2 = now_ns()
            with loom.engine.connect() as conn:
                ListQuery(loom, et).run(conn, filters, sort, limit=50, after=options.get("after"))
            t3 = now_ns()
            if rep >= 3:
                api[url].append((t1 - t0) / 1e6)
                direct[url].append((t3 - t2) / 1e6)
    out = []
    rows = []
    for (name, _), url in zip(QUERIES, urls):
        a, d = api[url], direct[url]
        med = sorted(a)[len(a) // 2]
        out.append((label, name, med))
        rows.append([name, counts[url], f"{med:.2f}", f"{pct(a, 95):.2f}", f"{sorted(d)[len(d) // 2]:.2f}",
                     f"{pct(d, 95):.2f}", "ok" if med <= TARGET_MS else "ABOVE TARGET"])
    header(f"List, first page of 50 — {label} ({reps} reps each, ms)")
    table(rows, ["query", "rows", "api med", "api p95", "query med", "query p95", f"target ≤{TARGET_MS:.0f}ms"])
    print("(*) no composite index serves this filter + sort: status and created_at have single-column indexes")
    return out, urls


def explain_all(loom, client, headers, urls) -> None:
    """Capture the SQL each list call runs and print the backend's plan for it."""
    from sqlalchemy import event
    captured = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if f"FROM {TABLE}" in statement and "LIMIT" in statement.upper():
            captured.append((statement, parameters))

    event.listen(loom.engine, "before_cursor_execute", grab)
    try:
        plans = []
        for (name, _), url in zip(QUERIES, urls):
            captured.clear()
            client.get(url, headers=headers)
            plans.append((name, captured[-1]))
    finally:
        event.remove(loom.engine, "before_cursor_execute", grab)
    pg = loom.engine.dialect.name == "postgresql"
    header(f"Query plans — {loom.engine.dialect.name}")
    for i, (name, (sql, params)) in enumerate(plans):
        with loom.engine.connect() as c:
            if pg:
                lines = [r[0] for r in c.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) " + sql,
                                                         params).all()]
            else:
                lines = [r[3] for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()]
        print(f"-- {name}")
        if i == 0:
            print("   SQL: " + " ".join(sql.split()))
        for line in lines:
            print("   " + line)
    sys.stdout.flush()


def run_backend(backend: str, n: int, reps: int) -> list:
    from runtime.core.config import Settings
    from runtime.web import create_app

    with database(backend) as (url, folder):
        loom = make_loom(url, folder / "files")
        headers = {"Authorization": f"Bearer {admin_token(loom)}"}
        client = create_app(Settings(folder, url), loom).test_client()
        secs = fill(loom, n, seed=1, deleted_every=100)
        print(f"\n# {backend}: filled {n:,} rows in {secs:.1f}s (1% soft-deleted; not part of the measurement)")
        results = []
        if backend == "postgresql":
            t0 = time.perf_counter()
            with loom.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql(f"VACUUM ANALYZE {TABLE}")
            print(f"# VACUUM ANALYZE took {time.perf_counter() - t0:.1f}s")
            res, urls = run_set(loom, client, headers, reps, "postgresql", n)
            results += res
            explain_all(loom, client, headers, urls)
        else:
            res, urls = run_set(loom, client, headers, reps, "sqlite, as loaded (no ANALYZE)", n)
            results += res
            explain_all(loom, client, headers, urls)
            t0 = time.perf_counter()
            with loom.engine.begin() as c:
                c.exec_driver_sql("ANALYZE")
            print(f"\n# ANALYZE took {time.perf_counter() - t0:.1f}s")
            loom.engine.dispose()  # new connections read the fresh statistics
            res, urls = run_set(loom, client, headers, reps, "sqlite after ANALYZE", n)
            results += res
            explain_all(loom, client, headers, urls)
        loom.engine.dispose()
        return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows in the table (default 2,000,000)")
    ap.add_argument("--reps", type=int, default=30, help="timed repetitions per query (default 30)")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], help="run only this backend")
    args = ap.parse_args()
    results = []
    for b in backends(args.backend):
        results += run_backend(b, args.rows, args.reps)
    header(f"Summary: API median ms per query over {args.rows:,} rows (target ≤{TARGET_MS:.0f} ms)")
    table([[label, name, f"{med:.2f}", "ok" if med <= TARGET_MS else "ABOVE TARGET"] for label, name, med in results],
          ["backend", "query", "median ms", "verdict"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
