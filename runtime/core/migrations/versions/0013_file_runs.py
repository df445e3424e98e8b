"""File runs (imports from the UI), their rejected rows, and per-user preferences.

``loom_file_run`` keeps a run's parameters, its file and the last row committed
(``done``), advanced in the same transaction as the rows it covers, so a restarted
worker continues without writing a row twice; ``loom_file_reject`` keeps the rows
it refused with the reason; ``loom_preference`` what a plugin remembers for a user
(an import's column mapping). See docs/decisions/0025-import-in-the-ui.md.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "loom_file_run",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("user_id", ID),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("content", sa.LargeBinary),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("written", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_loom_file_run_owner", "loom_file_run", ["kind", "app", "entity", "user_id"])
    op.create_table(
        "loom_file_reject",
        sa.Column("id", ID, primary_key=True),
        sa.Column("run_id", ID, sa.ForeignKey("loom_file_run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("cells", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
    )
    op.create_index("ix_loom_file_reject_run", "loom_file_reject", ["run_id", "row"])
    op.create_table(
        "loom_preference",
        sa.Column("id", ID, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("user_id", ID, nullable=False, server_default="0"),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("key", "user_id", name="uq_loom_preference"),
    )


def downgrade():
    op.drop_table("loom_preference")
    op.drop_index("ix_loom_file_reject_run", "loom_file_reject")
    op.drop_table("loom_file_reject")
    op.drop_index("ix_loom_file_run_owner", "loom_file_run")
    op.drop_table("loom_file_run")
