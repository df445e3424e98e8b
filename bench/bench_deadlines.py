"""SLA deadlines in a business calendar: how many per second; not a test.

Computes deadlines for --n random starts (default 200,000; whole seconds,
aware UTC, spread over 2025-2027) on the RU calendar of Asia/Yekaterinburg
(mon-fri 09:00-18:00, public holidays and transferred days):

  add(t, "24 business hours"), add(t, "1 business hour"), add(t, "5 business days")
  between(a, b) for random pairs up to 30 days apart

Each figure is the median of --reps passes over all starts; target
>= 100,000 per second. The first query of a calendar materialises its
working intervals (three years around it); that cold cost and a growth
to 1990..2060 are printed separately.

    .venv/bin/python bench/bench_deadlines.py
    .venv/bin/python bench/bench_deadlines.py --n 20000 --reps 3
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, header, table  # noqa: E402

sys.path.insert(0, str(ROOT))

from runtime.behaviour.calendars import BusinessCalendar, parse_duration  # noqa: E402

TARGET = 100_000
RU_SPEC = {"timezone": "Asia/Yekaterinburg", "country": "RU"}
BERLIN_SPEC = {"timezone": "Europe/Berlin", "hours": {d: ["08:00-12:00", "13:00-17:00"]
                                                      for d in ("mon", "tue", "wed", "thu", "fri")}}
DURATIONS = ("24 business hours", "1 business hour", "5 business days")
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def random_starts(n: int, seed: int) -> list[dt.datetime]:
    rnd = random.Random(seed)
    seconds = 3 * 365 * 86400
    return [T0 + dt.timedelta(seconds=rnd.randrange(seconds)) for _ in range(n)]


def rate(fn, items, reps: int) -> float:
    """Median calls per second of ``fn`` over ``items``."""
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        for item in items:
            fn(item)
        samples.append(len(items) / (time.perf_counter() - start))
    return statistics.median(samples)


def cold_costs() -> list[list]:
    rows = []
    start = time.perf_counter()
    cal = BusinessCalendar("ru", RU_SPEC)
    cal.add(T0, "24 business hours")
    rows.append(["first query (build 2024-2026)", f"{(time.perf_counter() - start) * 1e3:.1f} ms"])
    start = time.perf_counter()
    cal.add(dt.datetime(2060, 6, 1, tzinfo=dt.UTC), "1 business hour")
    cal.add(dt.datetime(1990, 6, 1, tzinfo=dt.UTC), "1 business hour")
    rows.append(["grow to 1990..2060", f"{(time.perf_counter() - start) * 1e3:.1f} ms"])
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="random starts (default 200,000)")
    ap.add_argument("--reps", type=int, default=5, help="passes per figure, median reported (default 5)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    starts = random_starts(args.n, args.seed)
    rnd = random.Random(args.seed + 1)
    pairs = [(t, t + dt.timedelta(seconds=rnd.randrange(30 * 86400))) for t in starts]
    ru, berlin = BusinessCalendar("ru", RU_SPEC), BusinessCalendar("berlin", BERLIN_SPEC)
    for cal in (ru, berlin):  # materialise outside the timings
        cal.between(starts[0], starts[-1])

    header(f"Business-calendar deadlines: {args.n:,} random starts, median of {args.reps} (target >= {TARGET:,}/s)")
    rows = []

    def add_row(what, per_second):
        rows.append([what, f"{per_second:,.0f}", "ok" if per_second >= TARGET else "MISSED"])

    for text in DURATIONS:
        add_row(f'RU add(t, "{text}")', rate(lambda t, text=text: ru.add(t, text), starts, args.reps))
    parsed = parse_duration("24 business hours")
    add_row("RU add(t, Duration) pre-parsed, 24 business hours",
            rate(lambda t: ru.add(t, parsed), starts, args.reps))
    add_row("RU between(a, b), up to 30 days apart",
            rate(lambda p: ru.between(p[0], p[1]), pairs, args.reps))
    add_row('Berlin (DST) add(t, "24 business hours")',
            rate(lambda t: berlin.add(t, "24 business hours"), starts, args.reps))
    table(rows, ["operation", "per second", f"target >= {TARGET:,}"])

    header("Cold costs (once per calendar and process)")
    table(cold_costs(), ["what", "time"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
