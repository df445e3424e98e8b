"""Purging retired storage: the only place where Loom deletes columns or tables."""
from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select, update

from . import tables as platform
from .storage import utcnow


def retired(loom, app: str) -> list[str]:
    r = platform.retired
    with loom.engine.connect() as c:
        rows = c.execute(select(r).where(r.c.app == app, r.c.purged_at.is_(None)).order_by(r.c.id)).mappings().all()
    return [f"{row['table_name']}.{row['column_name']}" if row["column_name"] else f"table {row['table_name']}"
            for row in rows]


def purge(loom, app: str) -> int:
    """Drop every retired column and retired table of ``app`` in one transaction."""
    r = platform.retired
    count = 0
    with loom.engine.begin() as c:
        ops = Operations(MigrationContext.configure(c))
        live_tables = {et.main.name for et in loom.live[app].tables.values()} if app in loom.live else set()
        rows = c.execute(select(r).where(r.c.app == app, r.c.purged_at.is_(None))).mappings().all()
        for row in rows:
            if row["column_name"]:
                # Batch mode: SQLite cannot drop a column that an index or constraint names.
                with ops.batch_alter_table(row["table_name"]) as batch:
                    batch.drop_column(row["column_name"])
            elif row["table_name"] not in live_tables:
                ops.drop_table(row["table_name"])
            c.execute(update(r).where(r.c.id == row["id"]).values(purged_at=utcnow()))
            count += 1
    return count
