"""(api) The kanban and calendar data endpoints beside the list's, over a large table.

Fills the bench ticket table with --rows rows (default 2,000,000; bulk SQL through
``common.fill``, indexes rebuilt after; not measured), publishes a list view, a kanban board by
status (three columns: a capped count and a first page of 20 cards each), a board by the
``state`` choice field (four columns), a board by status with swimlanes by ``state`` (three
column totals and 3 x 5 cells) and a calendar on the ``created`` date (about 1,000 rows a
day), and times, through the REST API with an administrator's token:

  list, first page           GET /api/v1/bench/ticket                     (the baseline)
  list, filtered             GET /api/v1/bench/ticket?priority=2&sort=-created
  kanban by status           GET .../boards/board
  kanban by choice           GET .../boards/states
  kanban with swimlanes      GET .../boards/lanes
  kanban, one column page 2  GET .../boards/board?column=open&after=<cursor>
  calendar month             GET .../calendars/cal?start=..&end=..        (42 days, first 500 entries)
  calendar week, day         the same over 7 days and 1 day

--reps timed repetitions each (after 3 warm-up rounds); median and p95 in ms and the ratio to
the list's first page; target median <= 50 ms. SQLite is measured after ANALYZE, PostgreSQL
(when LOOM_TEST_PG_URL is set and --backend allows) after VACUUM ANALYZE.

    .venv/bin/python bench/bench_views.py                       # 2,000,000 rows, 30 reps
    .venv/bin/python bench/bench_views.py --rows 20000 --reps 5
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import APP, BENCH_DOC, DATE0, DAYS, ENTITY, TABLE, admin_token, backends, database, fill, header, now_ns, pct, table

TARGET_MS = 50.0
BASE = f"/api/v1/{APP}/{ENTITY}"


def bench_doc() -> dict:
    doc = copy.deepcopy(BENCH_DOC)
    doc["entities"][ENTITY]["views"] = [
        {"name": "all", "default": True, "columns": ["number", "subject", "priority", "state", "created"], "sort": ["-id"]},
        {"name": "board", "kind": "kanban", "kanban": {"group_by": "status", "card": ["subject", "priority"]}},
        {"name": "states", "kind": "kanban", "kanban": {"group_by": "state", "card": ["subject", "priority"]}},
        {"name": "lanes", "kind": "kanban", "kanban": {"group_by": "status", "swimlanes": "state",
                                                       "card": ["subject", "priority"]}},
        {"name": "cal", "kind": "calendar", "calendar": {"start": "created", "card": ["priority"]}},
    ]
    return doc


def make_loom(url: str, files_dir: Path):
    from runtime.core.loom import Loom
    loom = Loom(url, files_dir=files_dir)
    loom.upgrade_db()
    loom.load()
    loom.store.publish(bench_doc(), author="bench")
    return loom


def requests(client, auth) -> list[tuple[str, str]]:
    import datetime as dt
    middle = DATE0 + dt.timedelta(days=DAYS // 2)
    month = middle.replace(day=1)
    board = client.get(f"{BASE}/boards/board", headers=auth).get_json()
    cursor = {c["value"]: c["next"] for c in board["columns"]}.get("open")
    out = [("list, first page (baseline)", BASE), ("list, filtered + sorted", f"{BASE}?priority=2&sort=-created"),
           ("kanban by status", f"{BASE}/boards/board"), ("kanban by choice", f"{BASE}/boards/states"),
           ("kanban, lanes by choice", f"{BASE}/boards/lanes")]
    if cursor:
        out.append(("kanban, one column page 2", f"{BASE}/boards/board?column=open&after={cursor}"))
    out += [("calendar month (42 days)", f"{BASE}/calendars/cal?start={month}&end={month + dt.timedelta(days=41)}"),
            ("calendar week", f"{BASE}/calendars/cal?start={middle}&end={middle + dt.timedelta(days=6)}"),
            ("calendar day", f"{BASE}/calendars/cal?start={middle}&end={middle}")]
    return out


def run_set(client, auth, reps: int, label: str) -> list:
    urls = requests(client, auth)
    samples = {u: [] for _, u in urls}
    sizes = {}
    for rep in range(reps + 3):
        for _, url in urls:
            t0 = now_ns()
            r = client.get(url, headers=auth)
            body = r.get_json()
            t1 = now_ns()
            assert r.status_code == 200, (url, r.status_code, body)
            sizes[url] = (len(body.get("items") or body.get("entries") or [])
                          or sum(len(c["cards"]) for c in body.get("columns", []))
                          or sum(len(c["cards"]) for lane in body.get("lanes", []) for c in lane["cells"]))
            if rep >= 3:
                samples[url].append((t1 - t0) / 1e6)
    base_med = None
    rows, out = [], []
    for name, url in urls:
        s = samples[url]
        med = sorted(s)[len(s) // 2]
        base_med = base_med or med
        out.append((label, name, med, pct(s, 95), med / base_med))
        rows.append([name, sizes[url], f"{med:.2f}", f"{pct(s, 95):.2f}", f"{med / base_med:.2f}×",
                     "ok" if med <= TARGET_MS else "ABOVE TARGET"])
    header(f"View data endpoints — {label} ({reps} reps each, ms)")
    table(rows, ["request", "records", "median", "p95", "vs list", f"target ≤{TARGET_MS:.0f}ms"])
    return out


def run_backend(backend: str, n: int, reps: int) -> list:
    from runtime.core.config import Settings
    from runtime.web import create_app

    with database(backend) as (url, folder):
        loom = make_loom(url, folder / "files")
        app = create_app(Settings(folder, url), loom)
        secs = fill(loom, n, seed=1, deleted_every=100)
        print(f"\n# {backend}: filled {n:,} rows in {secs:.1f}s (1% soft-deleted; not part of the measurement)")
        t0 = time.perf_counter()
        if backend == "postgresql":
            with loom.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql(f"VACUUM ANALYZE {TABLE}")
        else:
            with loom.engine.begin() as c:
                c.exec_driver_sql("ANALYZE")
            loom.engine.dispose()
        print(f"# (VACUUM) ANALYZE took {time.perf_counter() - t0:.1f}s")
        auth = {"Authorization": f"Bearer {admin_token(loom)}"}
        results = run_set(app.test_client(), auth, reps, backend)
        loom.engine.dispose()
        return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows in the table (default 2,000,000)")
    ap.add_argument("--reps", type=int, default=30, help="timed repetitions per request (default 30)")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], help="run only this backend")
    args = ap.parse_args()
    results = []
    for b in backends(args.backend):
        results += run_backend(b, args.rows, args.reps)
    header(f"Summary: median/p95 ms over {args.rows:,} rows (target median ≤{TARGET_MS:.0f} ms; ratio to the list's first page)")
    table([[label, name, f"{med:.2f}", f"{p95:.2f}", f"{ratio:.2f}×", "ok" if med <= TARGET_MS else "ABOVE TARGET"]
           for label, name, med, p95, ratio in results], ["backend", "request", "median ms", "p95 ms", "vs list", "verdict"])
    return 0  # a benchmark reports figures (the verdict column above); it is not a test


if __name__ == "__main__":
    sys.exit(main())
