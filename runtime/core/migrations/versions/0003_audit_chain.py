"""Hash-chained, append-only audit log.

Adds ``seq``, ``prev_hash`` and ``hash`` to ``loom_audit`` (entries already
there are chained in id order), the one-row chain head ``loom_audit_head``,
and on PostgreSQL a trigger that refuses UPDATE, DELETE and TRUNCATE of the
log. See runtime/audit.py.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

REFUSE = """
CREATE FUNCTION loom_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'loom_audit is append-only: % is not allowed', TG_OP;
END
$$
"""
TRIGGERS = (
    ("CREATE TRIGGER loom_audit_append_only BEFORE UPDATE OR DELETE ON loom_audit "
     "FOR EACH ROW EXECUTE FUNCTION loom_audit_refuse_change()"),
    ("CREATE TRIGGER loom_audit_no_truncate BEFORE TRUNCATE ON loom_audit "
     "FOR EACH STATEMENT EXECUTE FUNCTION loom_audit_refuse_change()"),
)


def upgrade():
    with op.batch_alter_table("loom_audit") as batch:
        batch.add_column(sa.Column("seq", ID))
        batch.add_column(sa.Column("prev_hash", sa.String(64)))
        batch.add_column(sa.Column("hash", sa.String(64)))
    head = _chain_existing_entries()
    with op.batch_alter_table("loom_audit") as batch:
        for name, type_ in (("seq", ID), ("prev_hash", sa.String(64)), ("hash", sa.String(64))):
            batch.alter_column(name, existing_type=type_, nullable=False)
    op.create_index("uq_loom_audit_seq", "loom_audit", ["seq"], unique=True)
    table = op.create_table(
        "loom_audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", ID, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # The head row always exists, so even the very first appends have a row to lock.
    op.bulk_insert(table, [{"id": 1, "seq": head[0], "hash": head[1]}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE)
        for statement in TRIGGERS:
            op.execute(statement)


def _chain_existing_entries():
    """Give the entries written before this revision their place in the chain; return the head."""
    from runtime.security.audit import GENESIS, entry_hash
    audit = sa.table("loom_audit", sa.column("id", ID), sa.column("at", TS), sa.column("user_id", ID),
                     sa.column("username", sa.String), sa.column("ip", sa.String), sa.column("action", sa.String),
                     sa.column("app", sa.String), sa.column("entity", sa.String), sa.column("record_id", ID),
                     sa.column("before", sa.JSON), sa.column("after", sa.JSON), sa.column("seq", ID),
                     sa.column("prev_hash", sa.String), sa.column("hash", sa.String))
    conn = op.get_bind()
    rows = conn.execute(sa.select(audit).order_by(audit.c.id)).mappings().all()
    prev, updates = GENESIS, []
    for seq, row in enumerate(rows, start=1):
        digest = entry_hash(prev, {**row, "seq": seq})
        updates.append({"row_id": row["id"], "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    if not updates:
        return 0, GENESIS
    conn.execute(sa.update(audit).where(audit.c.id == sa.bindparam("row_id"))
                 .values(seq=sa.bindparam("seq"), prev_hash=sa.bindparam("prev_hash"), hash=sa.bindparam("hash")),
                 updates)
    return len(updates), prev


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS loom_audit_no_truncate ON loom_audit")
        op.execute("DROP TRIGGER IF EXISTS loom_audit_append_only ON loom_audit")
        op.execute("DROP FUNCTION IF EXISTS loom_audit_refuse_change()")
    op.drop_table("loom_audit_head")
    op.drop_index("uq_loom_audit_seq", "loom_audit")
    with op.batch_alter_table("loom_audit") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
