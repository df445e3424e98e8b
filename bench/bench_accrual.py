"""(f) The housing app's monthly accrual as a batch run vs a plain SQL ``INSERT ... SELECT``.

On each backend, in a fresh database with ``apps_config/housing`` published (no demo data):
100,000 personal accounts (``--accounts``) with the six services connected, tariffs for each
(not timed; written straight into the tables). Then:

  loom  the ``accrual`` batch for one month, in-process, in its chunks of 500 accounts:
        the sandboxed script per chunk, the loads (tariffs, readings, payments, earlier lines),
        results coerced and checked, numbered and inserted, one audit entry per chunk
  sql   the same lines (account x connected service, quantity by the service's calculation,
        the tariff, the amount) by one ``INSERT INTO accrual_line ... SELECT`` over accounts,
        their services and tariffs, in one transaction

Prints lines/s for each and loom/sql. No readings or payments exist, so metered services are
billed by the norm and there is no penalty line: both sides write accounts x 6 lines.

    .venv/bin/python bench/bench_accrual.py                    # 100,000 accounts x 6 services
    .venv/bin/python bench/bench_accrual.py --accounts 5000    # smoke run
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import backends, database, header, make_loom, table  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from metamodel import read_folder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2026-03"
SERVICES = [  # name, code, calc, norm, base, over-norm
    ("Содержание жилья", "MAINT", "area", None, "28.5000", None),
    ("Холодное водоснабжение", "CW", "meter", "3.500", "41.9200", "62.8800"),
    ("Горячее водоснабжение", "HW", "meter", "2.800", "210.6400", "315.9600"),
    ("Отопление", "HEAT", "area", None, "42.3300", None),
    ("Водоотведение", "SEW", "residents", "6.300", "35.1700", None),
    ("Обращение с ТКО", "WASTE", "residents", None, "205.3000", None),
]


def setup(loom, n: int) -> None:
    """The app, its dictionaries, and ``n`` accounts with six connected services each."""
    doc, _ = read_folder(ROOT / "apps_config/housing")
    doc = copy.deepcopy(doc)
    doc["fixtures"] = {}
    loom.store.publish(doc, author="bench")
    create = lambda entity, values: loom.records.create("housing", entity, values)  # noqa: E731
    payee = create("payee", {"name": "ООО «УК Бенч»", "inn": "6670000001", "bank": "Банк", "bik": "046577001",
                             "account_no": "40702810000000000001"})
    house = create("building", {"address": "г. Екатеринбург, ул. Бенчмарк, д. 1", "payee": payee["id"]})
    kinds = {code: create("meter_kind", {"name": code, "unit": "м³", "digits": 5, "cyclic": True})["id"]
             for code in ("CW", "HW")}
    service_ids = []
    for i, (name, code, calc, norm, base, over) in enumerate(SERVICES, 1):
        s = create("service", {"name": name, "code": code, "unit": "ед.", "calc": calc, "norm": norm, "position": i,
                               "meter_kind": kinds.get(code)})
        service_ids.append(s["id"])
        for kind in ("standard", "gas_stove"):
            create("tariff", {"service": s["id"], "kind": kind, "base": base, "over_norm": over,
                              "valid_from": "2025-07-01"})
    create("penalty_rate", {"rate": "0.0344", "valid_from": "2012-01-01", "due_day": 10})
    et = loom.entity_tables("housing", "account")
    child = et.children["services"]
    now = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    version = loom.live_version("housing")
    step = 20_000
    for first in range(1, n + 1, step):
        ids = range(first, min(n, first + step - 1) + 1)
        accounts = [{"id": i, "number": f"ACC-{i:07d}", "status": "open", "created_at": now, "updated_at": now,
                     "row_version": 1, "meta_version": version, "code": f"{i:07d}", "building": house["id"],
                     "apartment": str(i % 500 + 1), "owner": f"Собственник {i}", "area": f"{30 + i % 70}.{i % 100:02d}",
                     "residents": i % 5 + 1, "tariff_kind": "gas_stove" if i % 10 == 0 else "standard",
                     "benefit_percent": "50" if i % 20 == 0 else None} for i in ids]
        rows = [{"parent_id": i, "position": p, "service": s, "connected_on": dt.date(2024, 1, 1),
                 "state": "connected", "disconnected_on": None}
                for i in ids for p, s in enumerate(service_ids)]
        with loom.engine.begin() as c:
            c.execute(insert(et.main), accounts)
            c.execute(insert(child), rows)


def run_loom(loom) -> tuple[float, int]:
    t0 = time.perf_counter()
    run = loom.batches.start("housing", "accrual", {"period": PERIOD})
    elapsed = time.perf_counter() - t0
    assert run["state"] == "done", run
    return elapsed, run["results"]


def run_sql(loom) -> tuple[float, int]:
    """The same lines by one INSERT ... SELECT (money on SQLite is a scaled integer: area x100,
    tariff x10000, amounts in kopecks; on PostgreSQL NUMERIC)."""
    a = loom.entity_tables("housing", "account")
    line = loom.entity_tables("housing", "accrual_line").main
    sqlite = loom.engine.dialect.name == "sqlite"
    account, services = a.main.name, a.children["services"].name
    service = loom.entity_tables("housing", "service").main.name
    tariff = loom.entity_tables("housing", "tariff").main.name
    if sqlite:  # quantity x1000 (scale 3), tariff x10000 (scale 4), amounts x100 (kopecks)
        quantity = ("CASE s.calc WHEN 'area' THEN a.area * 10 WHEN 'fixed' THEN 1000 "
                    "WHEN 'residents' THEN a.residents * COALESCE(s.norm, 1000) ELSE a.residents * s.norm END")
        amount = f"CAST(ROUND(({quantity}) * t.base / 100000.0) AS INTEGER)"
        benefit = f"CAST(ROUND({amount} * COALESCE(a.benefit_percent, 0) / 10000.0) AS INTEGER)"
    else:
        quantity = ("CASE s.calc WHEN 'area' THEN a.area WHEN 'fixed' THEN 1 "
                    "WHEN 'residents' THEN a.residents * COALESCE(s.norm, 1) ELSE a.residents * s.norm END")
        amount = f"ROUND(({quantity}) * t.base, 2)"
        benefit = f"ROUND({amount} * COALESCE(a.benefit_percent, 0) / 100, 2)"
    now = "CURRENT_TIMESTAMP"
    number = ("'SQL-' || CAST(a.id AS TEXT) || '-' || CAST(s.id AS TEXT)" if sqlite
              else "'SQL-' || a.id::text || '-' || s.id::text")
    key = f"'sql:period={PERIOD}'"
    statement = text(f"""
        INSERT INTO {line.name} (number, status, created_at, updated_at, row_version, meta_version,
                                 account, service, kind, period, quantity, over_norm, tariff, debt_start, accrued,
                                 benefit, recalculation, paid, debt_end, batch_key)
        SELECT {number}, NULL, {now}, {now}, 1, 1, a.id, s.id, 'service', '{PERIOD}', {quantity}, 0, t.base, 0,
               {amount}, {benefit}, 0, 0, {amount} - {benefit}, {key}
        FROM {account} a
        JOIN {services} c ON c.parent_id = a.id AND c.state = 'connected'
        JOIN {service} s ON s.id = c.service
        JOIN {tariff} t ON t.service = s.id AND t.kind = a.tariff_kind AND t.deleted_at IS NULL
        WHERE a.deleted_at IS NULL AND a.status = 'open'""")
    t0 = time.perf_counter()
    with loom.engine.begin() as c:
        written = c.execute(statement).rowcount
    elapsed = time.perf_counter() - t0
    with loom.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(line).where(line.c.batch_key == f"sql:period={PERIOD}")
                         ).scalar_one() == written
    return elapsed, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    header(f"(f) monthly accrual: {args.accounts:,} accounts x {len(SERVICES)} services, one month")
    out = []
    for backend in backends(args.backend):
        with database(backend) as (url, folder):
            loom = make_loom(url, folder / "files")
            t0 = time.perf_counter()
            setup(loom, args.accounts)
            print(f"# {backend}: {args.accounts:,} accounts set up in {time.perf_counter() - t0:.1f} s")
            loom_s, loom_rows = run_loom(loom)
            sql_s, sql_rows = run_sql(loom)
            assert loom_rows == sql_rows == args.accounts * len(SERVICES), (loom_rows, sql_rows)
            out.append([backend, f"{loom_rows:,}", f"{loom_s:.1f}", f"{loom_rows / loom_s:,.0f}", f"{sql_s:.2f}",
                        f"{sql_rows / sql_s:,.0f}", f"{(loom_rows / loom_s) / (sql_rows / sql_s):.3f}"])
            loom.engine.dispose()
    table(out, ["backend", "lines", "loom s", "loom lines/s", "sql s", "sql lines/s", "loom/sql"])


if __name__ == "__main__":
    main()
