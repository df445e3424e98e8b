"""Inbound channels: what arrived from outside and which record it became; comments
written by someone who is not a user (a reply by e-mail).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "loom_inbound",
        sa.Column("id", ID, primary_key=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("comment_id", ID),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.UniqueConstraint("channel", "external_id", name="uq_loom_inbound_external"),
    )
    op.create_index("ix_loom_inbound_record", "loom_inbound", ["app", "entity", "record_id"])
    with op.batch_alter_table("loom_comment") as t:
        t.alter_column("user_id", existing_type=ID, nullable=True)
        t.add_column(sa.Column("author", sa.String(255)))


def downgrade():
    with op.batch_alter_table("loom_comment") as t:
        t.drop_column("author")
        t.alter_column("user_id", existing_type=ID, nullable=False)
    op.drop_table("loom_inbound")
