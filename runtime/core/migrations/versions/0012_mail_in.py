"""Mail in: where an inbound message was read (a mailbox's UIDVALIDITY and UID) beside its
Message-ID, and plugins' small durable state (a mailbox's last UID read). See
docs/decisions/0024-mail-in-and-channels.md.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("loom_inbound") as t:
        t.add_column(sa.Column("source", sa.String(255)))
    op.create_table(
        "loom_plugin_state",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade():
    op.drop_table("loom_plugin_state")
    with op.batch_alter_table("loom_inbound") as t:
        t.drop_column("source")
