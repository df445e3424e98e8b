"""Improvement proposals: ``loom_proposal`` keeps what an end user suggested from a record, its
status, the analyst's answer and the published version that answered it; ``loom_notification``
learns a ``link`` for notifications that point at something other than a record (a proposal).

See docs/decisions/0039-improvement-proposals.md.

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "loom_proposal",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("record_title", sa.String(255), nullable=False),
        sa.Column("user_id", ID, sa.ForeignKey("loom_user.id"), nullable=False),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("why", sa.Text),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("version", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", ID),
    )
    op.create_index("ix_loom_proposal_app", "loom_proposal", ["app", "status", "id"])
    op.create_index("ix_loom_proposal_user", "loom_proposal", ["user_id", "id"])
    with op.batch_alter_table("loom_notification") as batch:
        batch.add_column(sa.Column("link", sa.String(255)))


def downgrade():
    with op.batch_alter_table("loom_notification") as batch:
        batch.drop_column("link")
    op.drop_index("ix_loom_proposal_user", "loom_proposal")
    op.drop_index("ix_loom_proposal_app", "loom_proposal")
    op.drop_table("loom_proposal")
