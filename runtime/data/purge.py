"""Purging retired storage: the only place where Loom deletes columns or tables."""
from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select, update

from runtime.errors import Conflict

from . import tables as platform
from .storage import utcnow


def retired(loom, app: str) -> list[str]:
    r = platform.retired
    with loom.reader.connect() as c:
        rows = c.execute(select(r).where(r.c.app == app, r.c.purged_at.is_(None)).order_by(r.c.id)).mappings().all()
    return [f"{row['table_name']}.{row['column_name']}" if row["column_name"] else f"table {row['table_name']}"
            for row in rows]


def purge(loom, app: str) -> int:
    """Drop every retired column and retired table of ``app`` in one transaction."""
    r = platform.retired
    count = 0
    with loom.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite batch mode copies the table; with foreign keys on, dropping the
            # original fails. SQLite's own ALTER procedure switches them off outside
            # the transaction and checks them before commit.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                ops = Operations(MigrationContext.configure(conn))
                live_tables = {et.main.name for et in loom.live[app].tables.values()} if app in loom.live else set()
                rows = conn.execute(select(r).where(r.c.app == app, r.c.purged_at.is_(None))).mappings().all()
                for row in rows:
                    if row["column_name"]:
                        with ops.batch_alter_table(row["table_name"]) as batch:
                            batch.drop_column(row["column_name"])
                    elif row["table_name"] not in live_tables:
                        ops.drop_table(row["table_name"])
                    conn.execute(update(r).where(r.c.id == row["id"]).values(purged_at=utcnow()))
                    count += 1
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise Conflict(f"purging would break {len(broken)} references, e.g. {broken[0]}")
                    _recreate_search(loom, app, conn)
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    return count


def _recreate_search(loom, app: str, conn) -> None:
    """Batch mode rebuilt the tables without their FTS triggers; put them back."""
    from .storage import search_sql
    for et in loom.live[app].tables.values():
        if et.entity.search_fields:
            for stmt in search_sql(conn, et.main.name, et.entity.search_fields):
                conn.exec_driver_sql(stmt)
