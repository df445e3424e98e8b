"""Every entity table gets an index on ``(status, id, deleted_at)``: a kanban column by status
reads ``status = ? and deleted_at is null`` newest first and counts its cards; without it SQLite
sorts a third of a large table per column, and a count looks up every row it counts.
New tables have it from ``metamodel.model.SYSTEM_INDEXES``; this adds it to tables published
before. Entity tables are the ones with the system columns ``status`` and ``row_version``.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _entity_tables():
    inspector = sa.inspect(op.get_bind())
    for table in inspector.get_table_names():
        columns = {c["name"] for c in inspector.get_columns(table)}
        if {"status", "row_version", "meta_version"} <= columns:
            names = {ix["name"] for ix in inspector.get_indexes(table)}
            yield table, names


def _name(table):
    return f"ix_{table}__status_id_deleted_at"[:63]  # runtime.data.storage.index_name


def upgrade():
    for table, names in _entity_tables():
        if _name(table) not in names:
            op.create_index(_name(table), table, ["status", "id", "deleted_at"])


def downgrade():
    for table, names in _entity_tables():
        if _name(table) in names:
            op.drop_index(_name(table), table_name=table)
