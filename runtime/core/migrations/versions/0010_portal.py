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


# Plain ADD/DROP COLUMN on both backends (SQLite 3.35+): a batch copy of loom_user would
# drop a table that other tables' foreign keys point at.
COLUMNS = (("loom_user", "external"), ("loom_comment", "public"))


def upgrade():
    for table, column in COLUMNS:
        op.add_column(table, sa.Column(column, sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade():
    for table, column in reversed(COLUMNS):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)
