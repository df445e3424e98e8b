"""Record generators (what each period yielded) and approvals (rounds and votes).

Revision ID: 0009
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "loom_generated",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("generator", sa.String(60), nullable=False),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("row_key", sa.String(40), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", ID),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("app", "generator", "source_id", "row_key", "period", name="uq_loom_generated_period"),
    )
    op.create_table(
        "loom_approval_round",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("approval", sa.String(60), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("need", sa.Integer, nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("deadline_at", TS),
        sa.Column("decided_at", TS),
        sa.Column("transition", sa.String(60)),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("app", "entity", "record_id", "approval", "round", name="uq_loom_approval_round"),
    )
    op.create_table(
        "loom_approval_vote",
        sa.Column("id", ID, primary_key=True),
        sa.Column("round_id", ID, sa.ForeignKey("loom_approval_round.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", ID, sa.ForeignKey("loom_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("decision", sa.String(10)),
        sa.Column("comment", sa.Text),
        sa.Column("voted_at", TS),
        sa.UniqueConstraint("round_id", "user_id", name="uq_loom_approval_vote"),
    )
    op.create_index("ix_loom_approval_vote_user", "loom_approval_vote", ["user_id", "decision"])


def downgrade():
    op.drop_index("ix_loom_approval_vote_user", "loom_approval_vote")
    op.drop_table("loom_approval_vote")
    op.drop_table("loom_approval_round")
    op.drop_table("loom_generated")
