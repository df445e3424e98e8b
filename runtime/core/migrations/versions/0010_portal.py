"""External users and public comments, for the portal.

``loom_user.external`` marks a client's contact: confined to the portal, never
the internal UI, the designer, the admin pages or the API. Their organisation
stays in ``loom_user.organization`` (``app.entity:id``), now picked from the
app's organisation records on the admin page and checked to exist.
``loom_comment.public`` says whether the requester sees a comment on the
portal; every comment written before was internal. See docs/decisions/0016-portal.md.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("loom_user") as batch:
        batch.add_column(sa.Column("external", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("loom_comment") as batch:
        batch.add_column(sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("loom_comment") as batch:
        batch.drop_column("public")
    with op.batch_alter_table("loom_user") as batch:
        batch.drop_column("external")
