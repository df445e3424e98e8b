"""Shared helpers for the benchmarks: the bench app, databases, data, timing and printing.

The bench app ``bench`` has one entity ``ticket``:
subject string(200), priority integer, state choice, amount decimal(18,2),
created date, customer string(40); statuses new/open/closed; indexes on
(priority, created), (state, created), (created) and (customer).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

APP = "bench"
ENTITY = "ticket"
TABLE = f"{APP}__{ENTITY}"
STATES = ("new", "open", "pending", "closed")
PRIORITIES = (1, 2, 3, 4, 5)
DATE0 = dt.date(2020, 1, 1)
DAYS = 2000  # created spreads over ~5.5 years

BENCH_DOC = {
    "app": {"name": APP, "title": {"ru": "Бенчмарк", "en": "Benchmark"}},
    "entities": {
        ENTITY: {
            "title": {"ru": "Заявка", "en": "Ticket"},
            "number": "TCK-{00000000}",
            "title_field": "subject",
            "fields": {
                "subject": {"type": "string", "title": "Subject", "required": True, "max_length": 200},
                "priority": {"type": "integer", "title": "Priority", "required": True, "min": 1, "max": 5},
                "state": {"type": "choice", "title": "State", "default": "new", "choices": list(STATES)},
                "amount": {"type": "decimal", "title": "Amount", "scale": 2, "min": 0},
                "created": {"type": "date", "title": "Created", "required": True},
                "customer": {"type": "string", "title": "Customer", "max_length": 40},
            },
            "statuses": [{"name": "new", "initial": True, "category": "open"},
                         {"name": "open", "category": "in_work"},
                         {"name": "closed", "category": "done"}],
            "indexes": [["priority", "created"], ["state", "created"], ["created"], ["customer"]],
        }
    },
}


# ---------------------------------------------------------------- Loom and databases

def make_loom(url: str, files_dir: str | Path):
    """A migrated Loom on ``url`` with the bench app published."""
    from runtime.core.loom import Loom
    loom = Loom(url, files_dir=files_dir)
    loom.upgrade_db()
    loom.load()
    if APP not in loom.live:
        loom.store.publish(BENCH_DOC, author="bench")
    return loom


def admin_token(loom, username: str = "bench") -> str:
    if not loom.accounts.exists(username):
        uid = loom.accounts.create_user(username, None, is_admin=True)
    else:
        from sqlalchemy import select

        from runtime.data import tables
        with loom.engine.connect() as c:
            uid = c.execute(select(tables.user.c.id).where(tables.user.c.username == username)).scalar_one()
    return loom.accounts.issue_token(uid, name="bench")


def pg_admin_url() -> str | None:
    return os.environ.get("LOOM_TEST_PG_URL")


def sqla_url(url: str) -> str:
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


@contextlib.contextmanager
def pg_database(prefix: str = "loom_bench"):
    """Create a dedicated PostgreSQL database for the run; yield its URL; drop it afterwards."""
    from sqlalchemy import create_engine, text
    base = pg_admin_url()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(sqla_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    head, _, tail = base.rpartition("/")
    query = "?" + tail.split("?", 1)[1] if "?" in tail else ""
    try:
        yield f"{head}/{name}{query}"
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@contextlib.contextmanager
def sqlite_file(prefix: str = "loom_bench"):
    """A temp folder; yield (sqlite URL, folder)."""
    with tempfile.TemporaryDirectory(prefix=prefix + "_") as d:
        yield f"sqlite:///{Path(d) / 'bench.db'}", Path(d)


def backends(only: str | None = None):
    """The backends to run: always SQLite, PostgreSQL when LOOM_TEST_PG_URL is set."""
    out = ["sqlite"]
    if pg_admin_url():
        out.append("postgresql")
    else:
        print("# LOOM_TEST_PG_URL not set: PostgreSQL skipped (eval \"$(scripts/services.sh start)\")")
    if only:
        out = [b for b in out if b == only]
    return out


@contextlib.contextmanager
def database(backend: str):
    """Yield (url, temp folder) of a fresh database of ``backend``."""
    if backend == "sqlite":
        with sqlite_file() as (url, folder):
            yield url, folder
    else:
        with tempfile.TemporaryDirectory(prefix="loom_bench_") as d, pg_database() as url:
            yield url, Path(d)


# ---------------------------------------------------------------- data

WORDS = ("printer", "network", "login", "invoice", "report", "server", "mail", "access", "backup", "update",
         "license", "phone", "vpn", "disk", "error", "slow", "request", "password", "account", "portal")


def gen_rows(n: int, seed: int = 1):
    """Deterministic field values of ``n`` tickets: (subject, priority, state, amount, created, customer)."""
    rnd = random.Random(seed)
    words, states = WORDS, STATES
    for i in range(n):
        subject = f"{rnd.choice(words)} {rnd.choice(words)} #{i}"
        yield (subject, rnd.randint(1, 5), states[rnd.randrange(4)],
               decimal.Decimal(rnd.randrange(0, 10_000_000)).scaleb(-2),
               DATE0 + dt.timedelta(days=rnd.randrange(DAYS)), f"CUST-{rnd.randrange(20_000):05d}")


def api_payload(row) -> dict:
    subject, priority, state, amount, created, customer = row
    return {"subject": subject, "priority": priority, "state": state, "amount": str(amount),
            "created": created.isoformat(), "customer": customer}


def number(n: int) -> str:
    return f"TCK-{n:08d}"


# ---------------------------------------------------------------- timing and printing

def stats_us(samples_ns: list[int]) -> tuple[float, float]:
    """(median, mean) in microseconds."""
    return statistics.median(samples_ns) / 1e3, statistics.fmean(samples_ns) / 1e3


def pct(samples, p: float):
    s = sorted(samples)
    k = max(0, min(len(s) - 1, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def now_ns() -> int:
    return time.perf_counter_ns()


def header(title: str) -> None:
    print()
    print("=" * len(title))
    print(title)
    print("=" * len(title))


def table(rows: list[list], heads: list[str]) -> None:
    cells = [heads] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(heads))]
    for j, r in enumerate(cells):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


# ---------------------------------------------------------------- fast raw fill (not what is measured)

COLUMNS = ("number", "status", "created_at", "created_by", "updated_at", "updated_by", "row_version", "meta_version",
           "deleted_at", "subject", "priority", "state", "amount", "created", "customer")
STATUS_OF_STATE = {"new": "new", "open": "open", "pending": "open", "closed": "closed"}


def db_rows(loom, rows, start: int = 1, deleted_every: int = 0):
    """Full rows (COLUMNS order) for ``rows`` of field values, as the driver takes them.

    Values go through the table's own bind processors (Money as scaled
    integers, dates as text on SQLite) so the stored form is what Loom writes.
    """
    t = loom.entity_tables(APP, ENTITY).main
    dialect = loom.engine.dialect
    proc = {c: t.c[c].type._cached_bind_processor(dialect) for c in COLUMNS}
    ident = lambda v: v  # noqa: E731
    p_amount, p_created, p_deleted = (proc["amount"] or ident, proc["created"] or ident, proc["deleted_at"] or ident)
    p_stamp = proc["created_at"] or ident
    now = dt.datetime.now(dt.timezone.utc)
    deleted = p_deleted(now)
    midnight, utc, second = dt.time(0), dt.timezone.utc, dt.timedelta(seconds=1)
    version = loom.live_version(APP)
    n = start
    for subject, priority, state, amount, created, customer in rows:
        gone = deleted if deleted_every and n % deleted_every == 0 else None
        # created_at: the ticket's date plus a time of day, so sorting by it is meaningful
        stamp = p_stamp(dt.datetime.combine(created, midnight, utc) + (n * 7919 % 86400) * second)
        yield (number(n), STATUS_OF_STATE[state], stamp, None, stamp, None, 1, version, gone, subject, priority, state,
               p_amount(amount), p_created(created), customer)
        n += 1


def raw_insert(loom, rows_iter, chunk: int = 50_000) -> int:
    """executemany (SQLite) or COPY (PostgreSQL) of already-converted full rows; returns the count."""
    import itertools
    raw = loom.engine.raw_connection()
    total = 0
    try:
        dbapi = raw.driver_connection
        if loom.engine.dialect.name == "sqlite":
            sql = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
            cur = dbapi.cursor()
            cur.execute("BEGIN")
            while True:
                batch = list(itertools.islice(rows_iter, chunk))
                if not batch:
                    break
                cur.executemany(sql, batch)
                total += len(batch)
            cur.execute("COMMIT")
        else:
            with dbapi.cursor() as cur:
                with cur.copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for r in rows_iter:
                        copy.write_row(r)
                        total += 1
            dbapi.commit()
    finally:
        raw.close()
    return total


def fill(loom, n: int, seed: int = 1, deleted_every: int = 0, drop_indexes: bool = True) -> float:
    """Fill the ticket table with ``n`` generated rows as fast as possible; return seconds taken."""
    t0 = time.perf_counter()
    t = loom.entity_tables(APP, ENTITY).main
    indexes = list(t.indexes)
    if drop_indexes:
        with loom.engine.begin() as c:
            for ix in indexes:
                ix.drop(c)
    raw_insert(loom, db_rows(loom, gen_rows(n, seed), deleted_every=deleted_every))
    if drop_indexes:
        with loom.engine.begin() as c:
            for ix in indexes:
                ix.create(c)
    return time.perf_counter() - t0
