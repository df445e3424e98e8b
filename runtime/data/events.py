"""Record events that reach plugins only once the change has committed.

The record service notes each change on its connection (:func:`note`) while the
transaction is open. SQLAlchemy's connection events keep that list honest: a
rollback drops it, a rolled-back savepoint drops what was noted inside it, a
commit moves it aside, and when the connection goes back to the pool after the
commit the events are handed to the dispatcher. So a subscriber never hears of
a change that did not happen, and can read the committed record right away,
whichever code owned the transaction (a request, a timer, a script, a job).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event

OPEN, SAVEPOINTS, COMMITTED = "loom.events", "loom.events.savepoints", "loom.events.committed"
log = logging.getLogger("loom.events")


def note(conn, record_event) -> None:
    """Remember ``record_event`` until ``conn``'s transaction ends."""
    conn.info.setdefault(OPEN, []).append(record_event)


def install(engine, dispatch: Callable[[list], None]) -> None:
    """Wire ``engine`` so committed events go to ``dispatch(events)`` once the connection is returned."""

    @event.listens_for(engine, "commit")
    def _commit(conn):
        done = conn.info.pop(OPEN, None)
        conn.info.pop(SAVEPOINTS, None)
        if done:
            conn.info.setdefault(COMMITTED, []).extend(done)

    @event.listens_for(engine, "rollback")
    def _rollback(conn):
        conn.info.pop(OPEN, None)
        conn.info.pop(SAVEPOINTS, None)

    # Savepoints nest, so a stack of marks (the event does not always know the name yet).
    @event.listens_for(engine, "savepoint")
    def _savepoint(conn, name):
        conn.info.setdefault(SAVEPOINTS, []).append(len(conn.info.get(OPEN, ())))

    @event.listens_for(engine, "release_savepoint")
    def _release_savepoint(conn, name, context):
        if conn.info.get(SAVEPOINTS):
            conn.info[SAVEPOINTS].pop()

    @event.listens_for(engine, "rollback_savepoint")
    def _rollback_savepoint(conn, name, context):
        if conn.info.get(SAVEPOINTS):
            mark = conn.info[SAVEPOINTS].pop()
            del conn.info.get(OPEN, [])[mark:]

    @event.listens_for(engine.pool, "checkin")
    def _checkin(dbapi_connection, record):
        events = record.info.pop(COMMITTED, None) if record is not None else None
        if events:
            try:
                dispatch(events)
            except Exception:  # a subscriber's failure never breaks the connection pool
                log.exception("dispatching %d record event(s) failed", len(events))
