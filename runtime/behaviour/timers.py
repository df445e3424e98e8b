"""Timers: rows with a due time, each fired exactly once by whoever claims it first.

A timer is a row of ``loom_timer`` named by a unique ``key``; other modules
register a handler per ``kind`` in :attr:`Timers.handlers` and schedule rows
inside the transaction of the change that makes them necessary (so a
rolled-back change leaves no timer behind).

Firing is one transaction: lock the row, check it is still pending and due,
run the handler on that same connection, mark the row fired. Either all of it
commits or none of it does, so a process killed half-way leaves the timer
pending for the next scheduler tick, and a timer whose effect committed can
never be fired again. There is no lease inside the transaction to expire.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from runtime import clock
from runtime.data import tables as platform

log = logging.getLogger("loom.timers")

# A literal, not a bound parameter: only then can SQLite (and a generic PostgreSQL plan)
# prove that the query implies the partial index's ``WHERE state = 'pending'``.
PENDING = literal_column("'pending'")

#: Seconds to wait before retrying a timer whose handler failed, by attempt (the last repeats).
BACKOFF = (60, 300, 1800, 7200, 21600)
#: After this many failed attempts the timer is given up: state ``failed``, error kept.
MAX_ATTEMPTS = 10

#: ``handler(conn, timer)``: the timer is a ``loom_timer`` row (``timer.payload``, ``timer.record_id``, ...).
Handler = Callable[[Any, Any], None]


class Timers:
    def __init__(self, loom):
        self.loom = loom
        #: kind -> ``handler(conn, timer)``; it runs inside the firing transaction.
        self.handlers: dict[str, Handler] = {"script": self._run_script}

    # ------------------------------------------------------------------ scheduling
    def schedule(self, conn, key: str, kind: str, app: str, due_at: dt.datetime, *, entity: str | None = None,
                 record_id: int | None = None, payload: dict | None = None) -> None:
        """Create the timer ``key`` or move it to ``due_at``, on the caller's transaction.

        Re-scheduling makes the timer pending again with the new time and payload;
        its attempt count is kept, so a timer that keeps failing still gives up.
        """
        if due_at.tzinfo is None:
            raise ValueError("a timer needs an aware due time")
        t = platform.timer
        values = {"kind": kind, "app": app, "entity": entity, "record_id": record_id, "due_at": due_at,
                  "state": "pending", "payload": payload or {}, "enqueued_at": None, "fired_at": None}
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(t).values(key=key, attempts=0, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=[t.c.key], set_=values))

    def cancel(self, conn, key: str) -> bool:
        """Cancel the pending timer ``key``; False when there was none."""
        t = platform.timer
        return conn.execute(update(t).where(t.c.key == key, t.c.state == PENDING)
                            .values(state="cancelled")).rowcount > 0

    def cancel_record(self, conn, app: str, entity: str, record_id: int, kind: str | None = None,
                      prefix: str | None = None) -> int:
        """Cancel a record's pending timers (of one ``kind``, or whose key starts with ``prefix``)."""
        t = platform.timer
        query = update(t).where(t.c.app == app, t.c.entity == entity, t.c.record_id == record_id,
                                t.c.state == PENDING)
        if kind is not None:
            query = query.where(t.c.kind == kind)
        if prefix is not None:
            query = query.where(t.c.key.startswith(prefix, autoescape=True))
        return conn.execute(query.values(state="cancelled")).rowcount

    def due(self, conn, now: dt.datetime, limit: int = 500) -> list:
        """Pending timers due at ``now``, earliest first (an index range scan of ix_loom_timer_due)."""
        t = platform.timer
        return conn.execute(select(t).where(t.c.state == PENDING, t.c.due_at <= now)
                            .order_by(t.c.due_at).limit(limit)).all()

    def get(self, conn, key: str):
        """The timer ``key`` in whatever state, or None."""
        t = platform.timer
        return conn.execute(select(t).where(t.c.key == key)).first()

    # ------------------------------------------------------------------ firing
    def fire(self, timer_id: int, now: dt.datetime | None = None) -> str:
        """Fire one timer if it is still pending and due: ``"fired"``, ``"skipped"`` or ``"error"``.

        "skipped" also covers a timer another worker is firing right now (its row is
        locked): if that worker dies, its transaction rolls back and the timer is due again.
        """
        now = now or clock.now()
        try:
            with self.loom.engine.begin() as conn:
                timer = self._claim(conn, timer_id, now)
                if timer is None:
                    return "skipped"
                handler = self.handlers.get(timer.kind)
                if handler is None:
                    raise LookupError(f"no handler for timer kind {timer.kind!r}")
                handler(conn, timer)
                t = platform.timer
                conn.execute(update(t).where(t.c.id == timer_id).values(state="fired", fired_at=clock.now()))
            return "fired"
        except Exception as exc:  # noqa: BLE001 - any failure of a handler is the timer's failure
            log.warning("timer %s failed: %s", timer_id, exc, exc_info=True)
            self._failed(timer_id, exc)
            return "error"
        finally:
            self.loom.hooks.flush()  # the run log of scripts the handler ran, even rolled back

    def fire_due(self, now: dt.datetime | None = None, limit: int = 500) -> int:
        """Fire every timer due at ``now`` in this process; return how many fired."""
        fired = 0
        while True:
            with self.loom.reader.connect() as conn:
                batch = self.due(conn, now or clock.now(), limit)
            outcomes = [self.fire(timer.id, now) for timer in batch]
            fired += outcomes.count("fired")
            # Stop when the backlog is drained, or when every timer in a full batch was
            # skipped (others hold them): looping would only see the same rows again.
            if len(batch) < limit or outcomes.count("skipped") == len(batch):
                return fired

    def _claim(self, conn, timer_id: int, now: dt.datetime):
        # PostgreSQL: lock the row, or skip it if another worker holds it. SQLite has no row
        # locks and ignores FOR UPDATE; its BEGIN IMMEDIATE write lock already serialises us.
        t = platform.timer
        return conn.execute(select(t).where(t.c.id == timer_id, t.c.state == PENDING, t.c.due_at <= now)
                            .with_for_update(skip_locked=True)).first()

    def _failed(self, timer_id: int, exc: Exception) -> None:
        """Record a failed attempt and push the timer back (or give it up after MAX_ATTEMPTS)."""
        t = platform.timer
        with self.loom.engine.begin() as conn:
            attempts = conn.execute(select(t.c.attempts).where(t.c.id == timer_id, t.c.state == PENDING)
                                    .with_for_update()).scalar()
            if attempts is None:  # cancelled, fired or re-scheduled meanwhile
                return
            attempts += 1
            delay = BACKOFF[min(attempts, len(BACKOFF)) - 1]
            conn.execute(update(t).where(t.c.id == timer_id).values(
                attempts=attempts, error=describe_error(exc)[:4000], enqueued_at=None,
                due_at=clock.now() + dt.timedelta(seconds=delay),
                state="failed" if attempts >= MAX_ATTEMPTS else "pending"))

    # ------------------------------------------------------------------ built-in kinds
    def _run_script(self, conn, timer) -> None:
        """Kind ``script``: run ``payload.script`` (``file.py:function``) of the timer's app.

        With an entity and record id the function gets the record (read-only, it acts
        through ``update``/``create``) as its last argument; ``payload.args`` come first.
        A record deleted meanwhile makes the timer a no-op. The script runs as the
        system user, on the timer's transaction: its changes commit with the timer.
        """
        from runtime.data.records import SYSTEM
        from runtime.errors import LoomError, NotFound
        live = self.loom.live.get(timer.app)
        if live is None:
            raise LoomError(f"no published app {timer.app!r}")
        ref = timer.payload["script"]
        record, entity = None, None
        if timer.entity and timer.record_id is not None:
            entity = live.app.entities[timer.entity]
            try:
                record = self.loom.records.get(timer.app, timer.entity, timer.record_id, SYSTEM, conn=conn)
            except NotFound:
                return
        self.loom.hooks.run(conn, live.app, ref, f"timer:{ref}", actor=SYSTEM, record=record,
                            args=tuple(timer.payload.get("args") or ()), entity=entity, record_id=timer.record_id)


def describe_error(exc: Exception) -> str:
    """What went wrong, for the ``error`` column: a failed script also names its line."""
    text = f"{type(exc).__name__}: {getattr(exc, 'detail', None) or exc}"
    script = (getattr(exc, "extra", None) or {}).get("script")
    if script:
        text += f" ({script['name']}, line {script['line']}: {script['message']})"
    return text
