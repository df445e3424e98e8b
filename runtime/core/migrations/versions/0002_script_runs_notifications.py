"""Script run log and in-app notifications.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "loom_script_run",
        sa.Column("id", ID, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("script", sa.String(120), nullable=False),
        sa.Column("function", sa.String(80)),
        sa.Column("hook", sa.String(60), nullable=False),
        sa.Column("entity", sa.String(40)),
        sa.Column("record_id", ID),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("duration_ms", sa.Numeric(12, 3), nullable=False),
        sa.Column("steps", sa.Integer, nullable=False),
        sa.Column("error", sa.String(40)),
        sa.Column("guard", sa.String(20)),
        sa.Column("line", sa.Integer),
        sa.Column("message", sa.Text),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("user_id", ID),
    )
    op.create_index("ix_loom_script_run_app_at", "loom_script_run", ["app", "at"])
    op.create_table(
        "loom_notification",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("loom_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("app", sa.String(40)),
        sa.Column("entity", sa.String(40)),
        sa.Column("record_id", ID),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("read_at", TS),
    )
    op.create_index("ix_loom_notification_user", "loom_notification", ["user_id", "read_at"])


def downgrade():
    op.drop_table("loom_notification")
    op.drop_table("loom_script_run")
