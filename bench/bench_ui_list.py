"""(ui) The server-rendered list page over a large table, signed in, through Flask's test client.

Fills the bench ticket table with --rows rows (default 2,000,000; raw
executemany on SQLite, COPY on PostgreSQL, indexes rebuilt after; not
measured), publishes a list view with the table's columns, signs in an
administrator with a session cookie (as a browser would) and times GET of
the HTML list page (25 rows, capped count, link/choice/status titles,
saved views and bulk-action form included):

  first page            /ui/bench/ticket
  filtered + sorted     /ui/bench/ticket?priority=2&sort=-created
  filtered + sorted p2  the same, following the page's "next" cursor

--reps timed repetitions of each (after 3 warm-up rounds); median and p95
in ms; target median <= 100 ms. On SQLite the run is repeated after ANALYZE,
on PostgreSQL the table is VACUUM ANALYZEd once loaded. --profile prints
the cProfile hot spots of the filtered page.

    .venv/bin/python bench/bench_ui_list.py                   # 2,000,000 rows, 30 reps
    .venv/bin/python bench/bench_ui_list.py --rows 20000 --reps 5
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import APP, BENCH_DOC, ENTITY, TABLE, backends, database, fill, header, now_ns, pct, table

TARGET_MS = 100.0
PASSWORD = "bench-pass-1"
BASE = f"/ui/{APP}/{ENTITY}"
PAGES = [("first page", BASE), ("filtered + sorted", f"{BASE}?priority=2&sort=-created"),
         ("filtered + sorted, page 2", None)]


def bench_doc() -> dict:
    doc = copy.deepcopy(BENCH_DOC)
    doc["entities"][ENTITY]["views"] = [{
        "name": "all", "title": {"ru": "Все", "en": "All"}, "default": True,
        "columns": ["number", "subject", "priority", "state", "amount", "created", "customer", "status"],
        "sort": ["-id"]}]
    return doc


def make_loom(url: str, files_dir: Path):
    from runtime.core.loom import Loom
    loom = Loom(url, files_dir=files_dir)
    loom.upgrade_db()
    loom.load()
    loom.store.publish(bench_doc(), author="bench")
    return loom


def sign_in(app):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.status_code
    return client


def run_set(client, reps: int, label: str) -> list:
    urls = []
    for name, url in PAGES:
        if url is None:  # the next-page link of the previous page
            html = client.get(urls[-1]).get_data(as_text=True)
            url = re.search(r'<a href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
        urls.append(url)
    samples = {u: [] for u in urls}
    sizes = {}
    for rep in range(reps + 3):
        for url in urls:
            t0 = now_ns()
            r = client.get(url)
            body = r.get_data()
            t1 = now_ns()
            assert r.status_code == 200, (url, r.status_code, body[:300])
            sizes[url] = (body.count(b'name="id"'), len(body))
            if rep >= 3:
                samples[url].append((t1 - t0) / 1e6)
    rows, out = [], []
    for (name, _), url in zip(PAGES, urls):
        s = samples[url]
        med = sorted(s)[len(s) // 2]
        out.append((label, name, med, pct(s, 95)))
        rows.append([name, sizes[url][0], f"{sizes[url][1] / 1024:.0f} KB", f"{med:.2f}", f"{pct(s, 95):.2f}",
                     "ok" if med <= TARGET_MS else "ABOVE TARGET"])
    header(f"UI list page (HTML, 25 rows) — {label} ({reps} reps each, ms)")
    table(rows, ["page", "rows", "size", "median", "p95", f"target ≤{TARGET_MS:.0f}ms"])
    return out, urls


def profile(client, url: str) -> None:
    import cProfile
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(20):
        client.get(url)
    prof.disable()
    header(f"Profile of 20 × {url} (cumulative)")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def run_backend(backend: str, n: int, reps: int, want_profile: bool) -> list:
    from runtime.core.config import Settings
    from runtime.web import create_app

    with database(backend) as (url, folder):
        loom = make_loom(url, folder / "files")
        loom.accounts.create_user("bench", PASSWORD, is_admin=True)
        app = create_app(Settings(folder, url), loom)
        secs = fill(loom, n, seed=1, deleted_every=100)
        print(f"\n# {backend}: filled {n:,} rows in {secs:.1f}s (1% soft-deleted; not part of the measurement)")
        client = sign_in(app)
        results = []
        if backend == "postgresql":
            t0 = time.perf_counter()
            with loom.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql(f"VACUUM ANALYZE {TABLE}")
            print(f"# VACUUM ANALYZE took {time.perf_counter() - t0:.1f}s")
            res, urls = run_set(client, reps, "postgresql")
            results += res
        else:
            res, urls = run_set(client, reps, "sqlite, as loaded (no ANALYZE)")
            results += res
            t0 = time.perf_counter()
            with loom.engine.begin() as c:
                c.exec_driver_sql("ANALYZE")
            print(f"\n# ANALYZE took {time.perf_counter() - t0:.1f}s")
            loom.engine.dispose()
            res, urls = run_set(client, reps, "sqlite after ANALYZE")
            results += res
        if want_profile:
            profile(client, urls[1])
        loom.engine.dispose()
        return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows in the table (default 2,000,000)")
    ap.add_argument("--reps", type=int, default=30, help="timed repetitions per page (default 30)")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], help="run only this backend")
    ap.add_argument("--profile", action="store_true", help="print cProfile hot spots of the filtered page")
    args = ap.parse_args()
    results = []
    for b in backends(args.backend):
        results += run_backend(b, args.rows, args.reps, args.profile)
    header(f"Summary: UI list page median/p95 ms over {args.rows:,} rows (target median ≤{TARGET_MS:.0f} ms)")
    table([[label, name, f"{med:.2f}", f"{p95:.2f}", "ok" if med <= TARGET_MS else "ABOVE TARGET"]
           for label, name, med, p95 in results], ["backend", "page", "median ms", "p95 ms", "verdict"])
    return 0  # a benchmark reports figures (the verdict column above); it is not a test


if __name__ == "__main__":
    sys.exit(main())
