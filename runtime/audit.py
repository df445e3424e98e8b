"""The append-only audit log: who changed what, when, from where, before and after."""
from __future__ import annotations

from sqlalchemy import insert

from . import tables as platform
from .storage import utcnow


class Audit:
    def record(self, conn, actor, action: str, entity, record_id, before, after, username: str | None = None) -> None:
        conn.execute(insert(platform.audit).values(
            at=utcnow(), user_id=getattr(actor, "id", None),
            username=username or getattr(actor, "username", None), ip=getattr(actor, "ip", None),
            action=action, app=entity.app if entity is not None else None,
            entity=entity.name if entity is not None else None, record_id=record_id, before=before, after=after))
