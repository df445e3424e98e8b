"""The platform's first tables: apps and versions, users and groups, tokens, counters,
retired storage, attachments and the audit log.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "loom_app",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("current_version", sa.Integer),
        sa.Column("draft", sa.JSON),
        sa.Column("draft_revision", sa.Integer, nullable=False),
        sa.Column("draft_updated_at", TS),
        sa.Column("draft_updated_by", sa.String(150)),
        sa.Column("installed_at", TS, nullable=False),
    )
    op.create_table(
        "loom_app_version",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app", sa.String(40), sa.ForeignKey("loom_app.name"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("author", sa.String(150), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("diff", sa.JSON, nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
        sa.Column("rollback_of", sa.Integer),
        sa.UniqueConstraint("app", "number", name="uq_loom_app_version_number"),
    )
    op.create_table(
        "loom_user",
        sa.Column("id", ID, primary_key=True),
        sa.Column("username", sa.String(150), nullable=False, unique=True),
        sa.Column("email", sa.String(255)),
        sa.Column("full_name", sa.String(255)),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("lang", sa.String(5), nullable=False),
        sa.Column("organization", sa.String(80)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_login_at", TS),
    )
    op.create_table(
        "loom_group",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("title", sa.JSON),
        sa.Column("email", sa.String(255)),
        sa.Column("lead_id", ID, sa.ForeignKey("loom_user.id")),
    )
    op.create_table(
        "loom_user_group",
        sa.Column("user_id", ID, sa.ForeignKey("loom_user.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("group_id", ID, sa.ForeignKey("loom_group.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "loom_api_token",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("loom_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS),
        sa.Column("last_used_at", TS),
    )
    op.create_table(
        "loom_counter",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", ID, nullable=False),
    )
    op.create_table(
        "loom_retired",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("field", sa.String(100)),
        sa.Column("table_name", sa.String(120), nullable=False),
        sa.Column("column_name", sa.String(120)),
        sa.Column("value_type", sa.String(20)),
        sa.Column("signature", sa.JSON),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("retired_at", TS, nullable=False),
        sa.Column("purged_at", TS),
    )
    op.create_index("ix_loom_retired_lookup", "loom_retired", ["app", "entity", "field"])
    op.create_table(
        "loom_attachment",
        sa.Column("id", ID, primary_key=True),
        sa.Column("app", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100)),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", ID),
        sa.Column("deleted_at", TS),
    )
    op.create_index("ix_loom_attachment_record", "loom_attachment", ["app", "entity", "record_id", "field"])
    op.create_table(
        "loom_audit",
        sa.Column("id", ID, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("user_id", ID),
        sa.Column("username", sa.String(150)),
        sa.Column("ip", sa.String(45)),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("app", sa.String(40)),
        sa.Column("entity", sa.String(40)),
        sa.Column("record_id", ID),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
    )
    op.create_index("ix_loom_audit_record", "loom_audit", ["app", "entity", "record_id"])


def downgrade():
    for name in ("loom_audit", "loom_attachment", "loom_retired", "loom_counter", "loom_api_token",
                 "loom_user_group", "loom_group", "loom_user", "loom_app_version", "loom_app"):
        op.drop_table(name)
