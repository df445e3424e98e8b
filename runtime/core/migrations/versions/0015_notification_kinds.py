"""Personal notifications: ``loom_notification`` learns its kind (assignment, mention) and
whether it still waits for the user's daily digest. Preferences live in ``loom_preference``.

See docs/decisions/0034-notifications-that-arrive.md.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("loom_notification") as batch:
        batch.add_column(sa.Column("kind", sa.String(20)))
        batch.add_column(sa.Column("digest", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_index("ix_loom_notification_digest", ["digest", "user_id"])


def downgrade():
    with op.batch_alter_table("loom_notification") as batch:
        batch.drop_index("ix_loom_notification_digest")
        batch.drop_column("digest")
        batch.drop_column("kind")
