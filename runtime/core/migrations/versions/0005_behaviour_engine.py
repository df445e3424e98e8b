"""Behaviour engine: status history, timers, cron slots, SLA state, e-mail outbox,
round-robin pointers; notification templates and user skills.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("loom_user") as t:
        t.add_column(sa.Column("skills", sa.JSON))
    with op.batch_alter_table("loom_notification") as t:
        t.add_column(sa.Column("template", sa.String(80)))
    op.create_table(
        "loom_status_history",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("from_status", sa.String(40)),
        sa.Column("to_status", sa.String(40), nullable=False),
        sa.Column("transition", sa.String(60)),
        sa.Column("user_id", ID),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_loom_status_history_record", "loom_status_history", ["app", "entity", "record_id", "id"])
    op.create_table(
        "loom_timer",
        sa.Column("id", ID, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40)),
        sa.Column("record_id", ID),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("enqueued_at", TS),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("fired_at", TS),
        sa.Column("error", sa.Text),
    )
    # Partial: the scheduler's scan reads only pending timers, however many have fired.
    op.create_index("ix_loom_timer_due", "loom_timer", ["due_at"],
                    postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
    op.create_index("ix_loom_timer_record", "loom_timer", ["app", "entity", "record_id"])
    op.create_table(
        "loom_schedule_run",
        sa.Column("app", sa.String(40), primary_key=True),
        sa.Column("schedule", sa.String(60), primary_key=True),
        sa.Column("slot", TS, primary_key=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("outcome", sa.String(10)),
        sa.Column("result", sa.JSON),
    )
    op.create_table(
        "loom_sla",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("target", sa.String(40), nullable=False),
        sa.Column("policy", sa.String(60), nullable=False),
        sa.Column("calendar", sa.String(60)),
        sa.Column("target_seconds", sa.Integer, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("due_at", TS),
        sa.Column("paused_since", TS),
        sa.Column("paused_seconds", sa.Integer, nullable=False),
        sa.Column("stopped_at", TS),
        sa.Column("elapsed_seconds", sa.Integer),
        sa.Column("breached", sa.Boolean, nullable=False),
        sa.Column("breached_at", TS),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("app", "entity", "record_id", "target", name="uq_loom_sla_target"),
    )
    op.create_table(
        "loom_outbox",
        sa.Column("id", ID, primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(255), nullable=False),
        sa.Column("cc", sa.JSON, nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("template", sa.String(80)),
        sa.Column("app", sa.String(40)),
        sa.Column("entity", sa.String(40)),
        sa.Column("record_id", ID),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_until", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.Column("error", sa.Text),
        sa.Column("message_id", sa.String(255), nullable=False),
    )
    op.create_index("ix_loom_outbox_state", "loom_outbox", ["state", "created_at"])
    op.create_index("ix_loom_outbox_record", "loom_outbox", ["app", "entity", "record_id"])
    op.create_table(
        "loom_round_robin",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("last_user_id", ID),
    )


def downgrade():
    for name in ("loom_round_robin", "loom_outbox", "loom_sla", "loom_schedule_run", "loom_timer",
                 "loom_status_history"):
        op.drop_table(name)
    with op.batch_alter_table("loom_notification") as t:
        t.drop_column("template")
    with op.batch_alter_table("loom_user") as t:
        t.drop_column("skills")
