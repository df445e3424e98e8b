"""Engines and transactions for SQLite (embedded default) and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import decimal
import os
import sqlite3
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import BigInteger, DateTime, Integer, Numeric, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from metamodel.geo import haversine

# SQLite rowid alias needs INTEGER PRIMARY KEY; elsewhere a 64-bit key.
ID = BigInteger().with_variant(Integer(), "sqlite")


_ENGINES: weakref.WeakSet = weakref.WeakSet()


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; on SQLite make it transactional for DDL too and fast on files."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        _sqlite_setup(engine)
    else:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        # Recycling beats pre-ping: a ping is a round trip on every checkout.
        kwargs.setdefault("pool_recycle", 1800)
        engine = create_engine(url, **kwargs)
    _ENGINES.add(engine)
    return engine


def forget_inherited_connections() -> None:
    """In a process just forked from one that used the engines: give each a fresh pool.

    The parent's pooled connections stay open for the parent (``close=False``); a child
    that used them would share one SQLite handle or PostgreSQL socket with its parent
    (SQLAlchemy's recipe for connection pools and multiprocessing).
    """
    for engine in list(_ENGINES):
        engine.dispose(close=False)


def _sqlite_setup(engine: Engine) -> None:
    database = engine.url.database
    wal = f"{os.path.abspath(database)}-wal" if database and database != ":memory:" and \
        not database.startswith("file:") else None
    # pysqlite's own transaction handling skips BEGIN before DDL, so a failed
    # migration would leave half its changes. We take BEGIN into our hands
    # (the recipe in SQLAlchemy's SQLite dialect documentation).
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        # SQLite's lower() folds ASCII only; Russian text needs Python's.
        dbapi_conn.create_function("lower", 1, lambda v: v.lower() if isinstance(v, str) else v, deterministic=True)
        # SQLite has no trigonometry we can count on: "near" filters measure with Python's (runtime.data.geo).
        dbapi_conn.create_function("loom_distance", 4, haversine, deterministic=True)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MB: big tables have several indexes to keep hot
        if wal:
            cur.execute("PRAGMA wal_autocheckpoint=0")   # _checkpoints does it, off the writer's time
            cur.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # Writers take the write lock up front (IMMEDIATE): two writers then
        # queue instead of one failing late with "database is locked". Readers
        # (Loom.reader) take none, so under WAL they never wait for a writer.
        # Straight to the driver: through exec_driver_sql this BEGIN cost as much as a record's SELECT.
        if conn.get_execution_options().get("loom_read"):
            conn.connection.driver_connection.execute("BEGIN")
            return
        if wal:
            _checkpoints.after_writes(wal, conn.connection.driver_connection)
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")


# SQLite checkpoints its write-ahead log on the time of the writer whose commit made it
# long: the pages copied back to the database and two fsyncs, a tenth of a second after
# each chunk of a bulk run. Loom's connections leave that to one thread per process,
# which a writer's next BEGIN wakes when the log has grown past SQLite's own threshold
# (1,000 pages); the log is cut back to that size when it starts over. A log starts over
# only once a checkpoint has caught up with it, which the thread never does while writers
# go on writing: so the first writer after the thread's checkpoint copies back the few
# pages written meanwhile, and its write starts the log over. A long log slows every
# statement (each page read searches the log's index first): left to grow, it made a
# record's INSERT two and a half times slower. Past 64 times the threshold (the thread
# fell behind) the writer checkpoints itself, as SQLite would.
_WAL_LIMIT = 4 * 1024 * 1024
_WAL_MOST = 64 * _WAL_LIMIT


class _Checkpoints:
    def __init__(self):
        self._lock, self._thread, self._waiting, self._done = threading.Lock(), None, set(), set()

    def forked(self) -> None:
        """In a forked worker: the parent's thread is not there, its lock may be held."""
        self.__init__()

    def after_writes(self, wal: str, writer) -> None:
        """Before ``writer`` (a DB-API connection) begins: ask for a checkpoint of a long log,
        or finish the one the thread made so that this write starts the log over."""
        try:
            size = os.stat(wal).st_size
        except OSError:
            return
        if size <= _WAL_LIMIT:
            return
        with self._lock:
            catch_up = wal in self._done or size > _WAL_MOST
            self._done.discard(wal)
            if not catch_up:
                if wal in self._waiting:
                    return
                self._waiting.add(wal)
                if self._thread is None:
                    self._thread = ThreadPoolExecutor(1, "loom-checkpoint")
        if catch_up:
            writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return
        self._thread.submit(self._checkpoint, wal)

    def _checkpoint(self, wal: str) -> None:
        try:
            # mode=rw: a database deleted meanwhile is not made again, empty
            uri = Path(wal[:-len("-wal")]).as_uri() + "?mode=rw"
            con = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
            try:
                con.execute("PRAGMA wal_checkpoint(PASSIVE)")   # waits for no reader or writer
            finally:
                con.close()
            done = True
        except sqlite3.Error:
            done = False   # busy or gone: the next writer asks again
        with self._lock:
            self._waiting.discard(wal)
            if done:
                self._done.add(wal)


_checkpoints = _Checkpoints()
os.register_at_fork(after_in_child=_checkpoints.forked)


def is_sqlite(bind) -> bool:
    return bind.dialect.name == "sqlite"


class Money(TypeDecorator):
    """Exact decimals everywhere.

    PostgreSQL has NUMERIC. SQLite would store REAL and round money, so
    there the value is kept as a scaled 64-bit integer (kopecks for scale 2),
    which stays exact, sortable and comparable in SQL.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 2):
        super().__init__()
        self.precision, self.scale = precision, scale
        self._factor = decimal.Decimal(10) ** scale
        self._quantum = decimal.Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = decimal.Decimal(value).quantize(self._quantum)
        if dialect.name == "sqlite":
            return int(value * self._factor)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (decimal.Decimal(value) / self._factor).quantize(self._quantum)
        return decimal.Decimal(value).quantize(self._quantum)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on every backend.

    SQLite has no time zones and hands back naive values; they were written
    in UTC, so they are read as UTC (never as the server's local time).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None and dialect.name == "sqlite":
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value

    def result_processor(self, dialect, coltype):
        # SQLite hands back text, which its dialect parses with a regular expression in Python:
        # two datetimes a row made that a fifth of a list page's time. ``fromisoformat`` parses
        # the same text in C and the zone is set in the same step; anything it does not take
        # goes the dialect's way.
        chained = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return chained
        parse, utc = dt.datetime.fromisoformat, dt.timezone.utc

        def process(value):
            if type(value) is str:
                try:
                    parsed = parse(value)
                except ValueError:
                    return chained(value)
                return parsed.replace(tzinfo=utc) if parsed.tzinfo is None else parsed.astimezone(utc)
            return chained(value) if value is not None else None
        return process
