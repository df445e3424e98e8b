"""Inbound channels: what arrives from outside becomes a record, or a comment on one.

A plugin (mail in, a webhook endpoint, a messenger bot) builds an
:class:`~runtime.extension.types.InboundEvent` and calls ``platform.receive``.
Everything goes through the record service, so validation, hooks, routing, SLA
and the audit log apply as for a record made in a form. The sender acts as the
active user with that e-mail or name when there is one (their permissions
apply); otherwise as the channel itself, which may create and comment but not
set system fields. ``(channel, external_id)`` is unique, so a message delivered
twice (mail servers and webhook senders retry) makes one record.
"""
from __future__ import annotations

from sqlalchemy import func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from runtime.data import tables as platform
from runtime.data.records import Actor
from runtime.data.storage import utcnow
from runtime.errors import LoomError


class Inbound:
    def __init__(self, loom):
        self.loom = loom

    def receive(self, event) -> dict:
        """Create the record (or comment) ``event`` asks for, once; return where it went and
        ``duplicate`` when this ``external_id`` had been received before."""
        if event.channel not in self.loom.plugins.inbound_channels():
            raise LoomError(f"no inbound channel {event.channel!r} is installed")
        seen = self._seen(event)
        if seen is not None:
            return seen
        actor = self._sender(event)
        try:
            with self.loom.engine.begin() as c:
                comment_id = None
                if event.record_id is not None and event.update:
                    current = self.loom.records.get(event.app, event.entity, event.record_id, actor, conn=c)
                    self.loom.records.update(event.app, event.entity, event.record_id, dict(event.fields),
                                             current["row_version"], actor, conn=c)
                    record_id = event.record_id
                    if event.text:
                        comment_id = self.loom.records.comment(event.app, event.entity, record_id, event.text,
                                                               actor, conn=c)["id"]
                elif event.record_id is not None:
                    comment = self.loom.records.comment(event.app, event.entity, event.record_id,
                                                        event.text, actor, conn=c)
                    record_id, comment_id = event.record_id, comment["id"]
                    for name, uploads in (event.files or {}).items():
                        for upload in uploads:
                            self.loom.files.attach(event.app, event.entity, record_id, name, upload.filename,
                                                   upload.content_type, upload.stream, actor, conn=c)
                else:
                    record_id = self.loom.records.create(event.app, event.entity, dict(event.fields), actor,
                                                         conn=c, files=dict(event.files or {}) or None,
                                                         channel=event.origin or event.channel)["id"]
                c.execute(insert(platform.inbound).values(
                    channel=event.channel, external_id=event.external_id[:255], app=event.app, entity=event.entity,
                    record_id=record_id, comment_id=comment_id, sender=event.sender[:255], received_at=utcnow(),
                    source=(event.source or "")[:255] or None))
        except IntegrityError:
            seen = self._seen(event)  # another worker received the same message meanwhile
            if seen is None:
                raise
            return seen
        return {"app": event.app, "entity": event.entity, "record_id": record_id, "comment_id": comment_id,
                "duplicate": False}

    def log(self, channel: str, direction: str, outcome: str, *, app=None, name=None, external_id=None,
            status=None, record_id=None, detail=None) -> None:
        """One line of the delivery log (``loom_delivery_log``), in its own transaction: a refused
        or failed delivery is logged although nothing else was written."""
        with self.loom.engine.begin() as c:
            c.execute(insert(platform.delivery_log).values(
                channel=channel[:40], direction=direction, app=app, name=(name or "")[:80] or None,
                external_id=(external_id or "")[:255] or None, outcome=outcome[:20], status=status,
                record_id=record_id, detail=(detail or "")[:4000] or None, at=utcnow()))

    def log_lines(self, channel: str, limit: int = 100) -> list[dict]:
        d = platform.delivery_log
        with self.loom.reader.connect() as c:
            rows = c.execute(select(d).where(d.c.channel == channel).order_by(d.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def _seen(self, event) -> dict | None:
        i = platform.inbound
        with self.loom.reader.connect() as c:
            row = c.execute(select(i).where(i.c.channel == event.channel,
                                            i.c.external_id == event.external_id[:255])).first()
        if row is None:
            return None
        return {"app": row.app, "entity": row.entity, "record_id": row.record_id, "comment_id": row.comment_id,
                "duplicate": True}

    def _sender(self, event) -> Actor:
        u = platform.user
        with self.loom.reader.connect() as c:
            user_id = c.execute(select(u.c.id).where(
                u.c.is_active.is_(True),
                or_(func.lower(u.c.email) == event.sender.lower(), u.c.username == event.sender))).scalar()
        actor = self.loom.accounts.actor_for_id(user_id) if user_id is not None else None
        return actor or Actor(None, f"{event.channel}:{event.sender}"[:80], is_admin=True)
