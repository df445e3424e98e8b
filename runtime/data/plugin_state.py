"""Plugins' small durable state by key (``loom_plugin_state``): a mailbox's UIDVALIDITY and
the last UID read, so a restart goes on where the last fetch stopped."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from runtime.data import tables as platform
from runtime.data.storage import utcnow


class PluginState:
    def __init__(self, loom):
        self.loom = loom

    def get(self, key: str, default: Any = None) -> Any:
        s = platform.plugin_state
        with self.loom.reader.connect() as c:
            row = c.execute(select(s.c.value).where(s.c.key == key)).first()
        return default if row is None else row.value

    def put(self, key: str, value: Any) -> None:
        s = platform.plugin_state
        with self.loom.engine.begin() as c:
            insert = pg_insert if c.dialect.name == "postgresql" else sqlite_insert
            stmt = insert(s).values(key=key, value=value, updated_at=utcnow())
            c.execute(stmt.on_conflict_do_update(index_elements=[s.c.key],
                                                 set_={"value": value, "updated_at": utcnow()}))
