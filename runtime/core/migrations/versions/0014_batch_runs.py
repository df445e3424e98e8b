"""Batch runs: ``loom_batch_run`` keeps each run's parameters, state and last committed chunk.

See docs/decisions/0026-batch-runs.md.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "loom_batch_run",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("batch", sa.String(60), nullable=False),
        sa.Column("run_key", sa.String(255), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("ids", sa.JSON),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("total", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("done", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("results", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("chunks", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_id", ID, nullable=False, server_default=sa.text("0")),
        sa.Column("error", sa.JSON),
        sa.Column("started_by", ID),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS),
        sa.Column("finished_at", TS),
        sa.UniqueConstraint("app", "run_key", name="uq_loom_batch_run_key"),
    )
    op.create_index("ix_loom_batch_run_state", "loom_batch_run", ["state", "heartbeat_at"])


def downgrade():
    op.drop_index("ix_loom_batch_run_state", "loom_batch_run")
    op.drop_table("loom_batch_run")
