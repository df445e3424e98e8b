"""The delivery log of plugins' channels (webhooks received and refused, calls made).

``loom_delivery_log`` keeps one line per delivery with its outcome, for the
administrators' log pages; ``platform.log_delivery`` writes it. See
docs/decisions/0023-webhooks.md.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "loom_delivery_log",
        sa.Column("id", ID, primary_key=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("app", sa.String(40)),
        sa.Column("name", sa.String(80)),
        sa.Column("external_id", sa.String(255)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("record_id", ID),
        sa.Column("detail", sa.Text),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_loom_delivery_log_channel", "loom_delivery_log", ["channel", "at"])


def downgrade():
    op.drop_index("ix_loom_delivery_log_channel", "loom_delivery_log")
    op.drop_table("loom_delivery_log")
