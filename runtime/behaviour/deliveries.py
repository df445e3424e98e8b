"""Delivery of records that are messages (an entity's ``delivery:`` section, docs/metadata.md).

A new record of such an entity goes into the outbox in the change that made it — through the
record service, a batch run's results or an import — one row per record, to the address its
address field holds, on the notification channel its channel field names (``via`` maps a
value to another channel; a ``manual`` channel is a person's work list, nothing is sent).
The outbox delivers it like any message (a lease per attempt, retries with back-off, at least
once); each attempt's outcome is written back onto the record in the attempt's own
transaction: the state (:data:`metamodel.delivery.STATES`), the attempts, when it was sent and
the last error. These fields are the platform's, like a rollup's: the record's row version
does not move, so nobody editing it gets a conflict because a message went out; and as after a
rollup moved, the record's automatic transitions get their chance (``delivery == 'sent'``).

A record created with its state already set (history imported from an old system) is not
sent. The outbox rows of records a batch rerun replaces are cancelled before they go.
"""
from __future__ import annotations

import uuid

from sqlalchemy import insert, select, update

from metamodel import title_text
from metamodel.delivery import FAILED, MANUAL, QUEUED, SENT, channel_of
from runtime import clock
from runtime.data import tables as platform
from runtime.errors import LoomError

#: The outbox rows delivery writes carry this in ``template``: only they move a record's state.
TEMPLATE = "$delivery"
CHUNK = 500  # records read and written per statement
STATE_OF = {"sent": SENT, "failed": FAILED, "pending": QUEUED}  # outbox state -> the record's


class Deliveries:
    def __init__(self, loom):
        self.loom = loom

    @staticmethod
    def spec(entity) -> dict | None:
        return entity.spec.get("delivery") or None

    def queue(self, conn, et, ids) -> int:
        """Put the records ``ids`` of ``et`` whose delivery state is empty into the outbox (in
        ``conn``'s transaction) and set their state; how many outbox rows were written."""
        spec = self.spec(et.entity)
        if not spec or not ids:
            return 0
        written = 0
        for first in range(0, len(ids), CHUNK):
            written += self._queue(conn, et, spec, list(ids[first:first + CHUNK]))
        return written

    def _queue(self, conn, et, spec: dict, ids: list) -> int:
        t, entity = et.main, et.entity
        state = spec.get("state")
        columns = [t.c.id, t.c.number, t.c[spec["channel"]].label("channel"), t.c[spec["address"]].label("address"),
                   t.c[spec["text"]].label("text")]
        query = select(*columns).where(t.c.id.in_(ids))
        if state:
            query = query.where(t.c[state].is_(None))
        installed = self.loom.plugins.channels()
        now, subject_text = clock.now(), title_text(spec.get("subject"))
        messages, outcome = [], {}  # outcome: (state, error) -> [ids]
        for row in conn.execute(query.order_by(t.c.id)):
            channel, address = channel_of(spec, row.channel), (str(row.address).strip() if row.address else "")
            if row.channel in (spec.get("manual") or ()):
                outcome.setdefault((MANUAL, None), []).append(row.id)
            elif channel is None:
                outcome.setdefault((FAILED, "no channel"), []).append(row.id)
            elif channel not in installed:
                outcome.setdefault((FAILED, f"no notification channel {channel!r} is installed"), []).append(row.id)
            elif not address:
                outcome.setdefault((FAILED, f"no address for channel {channel!r}"), []).append(row.id)
            else:
                body = row.text or ""
                subject = subject_text or (body.strip().splitlines() or [row.number])[0]
                messages.append({
                    "channel": channel, "recipient": address[:255], "cc": [], "subject": subject[:255], "body": body,
                    "state": "pending", "attempts": 0, "created_at": now, "message_id": f"<{uuid.uuid4()}@loom>",
                    "template": TEMPLATE, "app": entity.app, "entity": entity.name, "record_id": row.id})
                outcome.setdefault((QUEUED, None), []).append(row.id)
        if messages:
            conn.execute(insert(platform.outbox), messages)
        for (value, error), which in outcome.items():
            changes = {}
            if state:
                changes[state] = value
            if spec.get("error"):
                changes[spec["error"]] = error
            if changes:
                conn.execute(update(t).where(t.c.id.in_(which)).values(**changes))
        return len(messages)

    def queue_numbers(self, conn, et, numbers: list[str]) -> int:
        """:meth:`queue` for records just inserted in bulk, known by their numbers."""
        if not self.spec(et.entity) or not numbers:
            return 0
        t, ids = et.main, []
        for first in range(0, len(numbers), CHUNK):
            ids += conn.execute(select(t.c.id).where(t.c.number.in_(numbers[first:first + CHUNK]))).scalars().all()
        return self.queue(conn, et, ids)

    def cancel(self, conn, et, *where) -> int:
        """Cancel the messages still waiting in the outbox for the records of ``et`` matching
        ``where`` (about to be deleted); how many."""
        if not self.spec(et.entity):
            return 0
        o, t = platform.outbox, et.main
        return conn.execute(update(o).where(
            o.c.template == TEMPLATE, o.c.app == et.entity.app, o.c.entity == et.entity.name,
            o.c.state == "pending", o.c.record_id.in_(select(t.c.id).where(*where))
        ).values(state="cancelled", lease_until=None)).rowcount

    def settled(self, conn, row, values: dict) -> None:
        """An attempt on outbox ``row`` ended with ``values`` (``state``, ``error``, ``sent_at``):
        write it onto the record it delivers, in the same transaction."""
        if row.template != TEMPLATE or row.record_id is None:
            return
        live = self.loom.live.get(row.app)
        entity = live.app.entities.get(row.entity) if live is not None else None
        spec = self.spec(entity) if entity is not None else None
        if not spec:
            return
        try:
            et = self.loom.entity_tables(row.app, row.entity)
        except LoomError:
            return
        changes = {}
        if spec.get("state") and values.get("state") in STATE_OF:
            changes[spec["state"]] = STATE_OF[values["state"]]
        if spec.get("attempts"):
            changes[spec["attempts"]] = row.attempts
        if spec.get("sent_at") and values.get("state") == "sent":
            changes[spec["sent_at"]] = values.get("sent_at")
        if spec.get("error"):
            error = values.get("error")
            changes[spec["error"]] = error[:_limit(entity, spec["error"])] if error else None
        if changes:
            conn.execute(update(et.main).where(et.main.c.id == row.record_id).values(**changes))
            if et.entity.auto_transitions:  # "sent, so the report is done": as after a rollup moved
                self.loom.behaviour.auto_transitions(conn, et, row.record_id)


def _limit(entity, name: str) -> int:
    f = entity.fields[name]
    return f.max_length or 4000
