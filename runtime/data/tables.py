"""The platform's own tables (apps, versions, users, counters, audit, ...).

Entity tables are not here: ``runtime.storage`` builds them from metadata.
Changes to these tables go through Alembic revisions in ``runtime/migrations``.
"""
from __future__ import annotations

from sqlalchemy import (
                        JSON,
                        Boolean,
                        LargeBinary,
                        Column,
                        DateTime,
                        ForeignKey,
                        Index,
                        Integer,
                        MetaData,
                        Numeric,
                        String,
                        Table,
                        Text,
                        UniqueConstraint,
                        false,
                        text,
)

from .db import ID, UTCDateTime

metadata = MetaData()

app = Table(
    "loom_app", metadata,
    Column("name", String(40), primary_key=True),
    Column("current_version", Integer),  # number of the live published version
    Column("draft", JSON),  # the working document, None when no draft
    Column("draft_revision", Integer, nullable=False, default=0),
    Column("draft_updated_at", DateTime(timezone=True)),
    Column("draft_updated_by", String(150)),
    Column("installed_at", DateTime(timezone=True), nullable=False),
)

app_version = Table(
    "loom_app_version", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), ForeignKey("loom_app.name"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("document", JSON, nullable=False),
    Column("author", String(150), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("comment", Text),
    Column("diff", JSON, nullable=False),
    Column("plan", JSON, nullable=False),
    Column("rollback_of", Integer),  # the version number this one republished
    UniqueConstraint("app", "number", name="uq_loom_app_version_number"),
)

user = Table(
    "loom_user", metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(150), nullable=False, unique=True),
    Column("email", String(255)),
    Column("full_name", String(255)),
    Column("password_hash", String(255)),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("roles", JSON, nullable=False, default=list),  # role names, app-wide
    Column("lang", String(5), nullable=False, default="ru"),
    Column("organization", String(80)),  # "app.entity:id" of a portal user's organisation
    Column("external", Boolean, nullable=False, default=False),  # a client's contact: the portal only
    Column("skills", JSON),  # skill tags matched by by_skill routing
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)

group = Table(
    "loom_group", metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("title", JSON),
    Column("email", String(255)),
    Column("lead_id", ID, ForeignKey("loom_user.id")),
)

user_group = Table(
    "loom_user_group", metadata,
    Column("user_id", ID, ForeignKey("loom_user.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ID, ForeignKey("loom_group.id", ondelete="CASCADE"), primary_key=True),
)

api_token = Table(
    "loom_api_token", metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("loom_user.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the secret
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
)

counter = Table(
    "loom_counter", metadata,
    Column("key", String(100), primary_key=True),  # "app.entity"
    Column("value", ID, nullable=False),
)

retired = Table(
    "loom_retired", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("field", String(100)),  # None: the whole entity table is retired
    Column("table_name", String(120), nullable=False),
    Column("column_name", String(120)),
    Column("value_type", String(20)),
    Column("signature", JSON),
    # "removed" (the field left the app: re-adding it brings the column back),
    # "type_change" (a backup of values that live on, converted, in the new column),
    # "replaced" (a table that a new entity or field of the same name displaced)
    Column("reason", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=False),
    Column("purged_at", DateTime(timezone=True)),
    Index("ix_loom_retired_lookup", "app", "entity", "field"),
)

attachment = Table(
    "loom_attachment", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("record_id", ID, nullable=False),
    Column("field", String(40), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100)),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", ID),
    Column("deleted_at", DateTime(timezone=True)),
    Index("ix_loom_attachment_record", "app", "entity", "record_id", "field"),
)

audit = Table(
    "loom_audit", metadata,
    Column("id", ID, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_id", ID),
    Column("username", String(150)),
    Column("ip", String(45)),
    Column("action", String(30), nullable=False),
    Column("app", String(40)),
    Column("entity", String(40)),
    Column("record_id", ID),
    Column("before", JSON),
    Column("after", JSON),
    # The hash chain (runtime.audit): position, the previous entry's hash and this entry's.
    Column("seq", ID, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_loom_audit_record", "app", "entity", "record_id"),
    Index("uq_loom_audit_seq", "seq", unique=True),
)

audit_head = Table(
    "loom_audit_head", metadata,  # one row (id 1): the chain's last entry, locked by each append
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", ID, nullable=False),
    Column("hash", String(64), nullable=False),
)

script_run = Table(
    "loom_script_run", metadata,
    Column("id", ID, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("app", String(40), nullable=False),
    Column("version", Integer),
    Column("script", String(120), nullable=False),
    Column("function", String(80)),
    Column("hook", String(60), nullable=False),  # e.g. "before_save", "field:inn.validator", "action:escalate"
    Column("entity", String(40)),
    Column("record_id", ID),
    Column("outcome", String(10), nullable=False),  # ok | error
    Column("duration_ms", Numeric(12, 3), nullable=False),
    Column("steps", Integer, nullable=False),
    Column("error", String(40)),
    Column("guard", String(20)),
    Column("line", Integer),
    Column("message", Text),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("user_id", ID),
    Index("ix_loom_script_run_app_at", "app", "at"),
)

notification = Table(
    "loom_notification", metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("loom_user.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(255), nullable=False),
    Column("body", Text),
    Column("app", String(40)),
    Column("entity", String(40)),
    Column("record_id", ID),
    Column("template", String(80)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True)),
    Column("kind", String(20)),  # a personal notification's kind (assignment, mention); None for templates'
    Column("digest", Boolean, nullable=False, default=False, server_default=false()),  # owed in the daily digest
    Column("link", String(255)),  # where it points when that is no record (a proposal): a path under the site
    Index("ix_loom_notification_user", "user_id", "read_at"),
    Index("ix_loom_notification_digest", "digest", "user_id"),
)

saved_view = Table(
    "loom_saved_view", metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("loom_user.id", ondelete="CASCADE"), nullable=False),
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("name", String(100), nullable=False),
    Column("query", JSON, nullable=False),  # {"filters": {...}, "sort": [...], "q": ..., "columns": [...]}
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_id", "app", "entity", "name", name="uq_loom_saved_view_name"),
)

comment = Table(
    "loom_comment", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("record_id", ID, nullable=False),
    Column("user_id", ID, ForeignKey("loom_user.id")),  # None: someone outside, through an inbound channel
    Column("author", String(255)),  # who that was (the channel and sender), when user_id is None
    Column("body", Text, nullable=False),
    Column("mentions", JSON, nullable=False),  # user ids named with @username
    Column("public", Boolean, nullable=False, default=False),  # shown on the portal; internal by default
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    Index("ix_loom_comment_record", "app", "entity", "record_id"),
)

# ---------------------------------------------------------------------- behaviour engine
status_history = Table(
    "loom_status_history", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("record_id", ID, nullable=False),
    Column("from_status", String(40)),  # None when the record was created
    Column("to_status", String(40), nullable=False),
    Column("transition", String(60)),  # None for creation; "timer:<name>" when a timer fired it
    Column("user_id", ID),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_loom_status_history_record", "app", "entity", "record_id", "id"),
)

timer = Table(
    # One row per thing that must happen at a time: an SLA escalation, a timer transition.
    # ``key`` names it (re-scheduling the same key moves it); the scheduler claims due rows
    # and fires each exactly once inside the transaction that applies its effect.
    "loom_timer", metadata,
    Column("id", ID, primary_key=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(30), nullable=False),  # handler name: "sla", "transition", ...
    Column("app", String(40), nullable=False),
    Column("entity", String(40)),
    Column("record_id", ID),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("state", String(10), nullable=False),  # pending | fired | cancelled
    Column("payload", JSON, nullable=False),
    Column("enqueued_at", UTCDateTime()),  # last hand-over to a worker (lease start)
    Column("attempts", Integer, nullable=False, default=0),
    Column("fired_at", UTCDateTime()),
    Column("error", Text),
    Index("ix_loom_timer_due", "due_at", postgresql_where=text("state = 'pending'"),
          sqlite_where=text("state = 'pending'")),
    Index("ix_loom_timer_record", "app", "entity", "record_id"),
)

schedule_run = Table(
    # A cron slot is claimed by inserting its row: two schedulers cannot both run it.
    "loom_schedule_run", metadata,
    Column("app", String(40), primary_key=True),
    Column("schedule", String(60), primary_key=True),
    Column("slot", UTCDateTime(), primary_key=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("outcome", String(10)),  # ok | error
    Column("result", JSON),
)

sla = Table(
    # The SLA state of one target (reaction, resolution, ...) of one record.
    "loom_sla", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("record_id", ID, nullable=False),
    Column("target", String(40), nullable=False),
    Column("policy", String(60), nullable=False),
    Column("calendar", String(60)),
    Column("target_seconds", Integer, nullable=False),  # business seconds allowed
    Column("started_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime()),  # None while paused
    Column("paused_since", UTCDateTime()),
    Column("paused_seconds", Integer, nullable=False, default=0),  # business seconds spent paused
    Column("stopped_at", UTCDateTime()),
    Column("elapsed_seconds", Integer),  # business seconds used, set when stopped
    Column("breached", Boolean, nullable=False, default=False),
    Column("breached_at", UTCDateTime()),
    Column("level", Integer, nullable=False, default=0),  # highest escalation level reached
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("app", "entity", "record_id", "target", name="uq_loom_sla_target"),
)

outbox = Table(
    # Every message Loom sends out: written in the change that caused it, delivered by a job.
    "loom_outbox", metadata,
    Column("id", ID, primary_key=True),
    Column("channel", String(20), nullable=False),  # email, or another plugin channel
    Column("recipient", String(255), nullable=False),
    Column("cc", JSON, nullable=False),
    Column("subject", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("template", String(80)),
    Column("app", String(40)),
    Column("entity", String(40)),
    Column("record_id", ID),
    Column("state", String(10), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_until", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("error", Text),
    Column("message_id", String(255), nullable=False),
    Index("ix_loom_outbox_state", "state", "created_at"),
    Index("ix_loom_outbox_record", "app", "entity", "record_id"),
)

round_robin = Table(
    # The persistent pointer of a round-robin routing rule: the user who got the last item.
    "loom_round_robin", metadata,
    Column("key", String(200), primary_key=True),
    Column("last_user_id", ID),
)

inbound = Table(
    # What arrived through an inbound channel and which record (or comment) it became;
    # the unique (channel, external_id) makes receiving the same message twice a no-op.
    "loom_inbound", metadata,
    Column("id", ID, primary_key=True),
    Column("channel", String(40), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("record_id", ID, nullable=False),
    Column("comment_id", ID),
    Column("sender", String(255), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("source", String(255)),  # where it was read: a mailbox's UIDVALIDITY and UID
    UniqueConstraint("channel", "external_id", name="uq_loom_inbound_external"),
    Index("ix_loom_inbound_record", "app", "entity", "record_id"),
)

plugin_state = Table(
    # A plugin's small durable state by key (a mailbox's UIDVALIDITY and last UID read).
    "loom_plugin_state", metadata,
    Column("key", String(200), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

delivery_log = Table(
    # One line per delivery a plugin reports (a webhook received or refused, a call made),
    # with its outcome, for administrators; written by ``platform.log_delivery``.
    "loom_delivery_log", metadata,
    Column("id", ID, primary_key=True),
    Column("channel", String(40), nullable=False),
    Column("direction", String(3), nullable=False),  # in | out
    Column("app", String(40)),
    Column("name", String(80)),  # the endpoint or webhook of the app's metadata
    Column("external_id", String(255)),
    Column("outcome", String(20), nullable=False),  # created, commented, updated, duplicate, refused, failed, sent
    Column("status", Integer),  # the HTTP status answered or received
    Column("record_id", ID),
    Column("detail", Text),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_loom_delivery_log_channel", "channel", "at"),
)

file_run = Table(
    # A file run (an import from a file, ...): its parameters, the file it reads and how far it
    # got. ``done`` is the last row committed, advanced in the same transaction as the rows, so a
    # restarted worker continues after it and never writes a row twice. See docs/decisions/0025.
    "loom_file_run", metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(40), nullable=False),  # the plugin's name for it: import, ...
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("user_id", ID),  # who started it; the run acts as them
    Column("state", String(20), nullable=False),  # new, queued, running, done, failed, cancelled
    Column("params", JSON, nullable=False),
    Column("content", LargeBinary),  # the uploaded file, until the run is done
    Column("total", Integer, nullable=False, default=0),
    Column("done", Integer, nullable=False, default=0),
    Column("written", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_loom_file_run_owner", "kind", "app", "entity", "user_id"),
)

file_reject = Table(
    # A row a file run refused: its number in the file, its cells and why.
    "loom_file_reject", metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", ID, ForeignKey("loom_file_run.id", ondelete="CASCADE"), nullable=False),
    Column("row", Integer, nullable=False),
    Column("cells", JSON, nullable=False),
    Column("error", Text, nullable=False),
    Index("ix_loom_file_reject_run", "run_id", "row"),
)

preference = Table(
    # What a plugin remembers for a user (an import's column mapping per entity).
    "loom_preference", metadata,
    Column("id", ID, primary_key=True),
    Column("key", String(200), nullable=False),
    Column("user_id", ID, nullable=False, default=0),  # 0: for everybody
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("key", "user_id", name="uq_loom_preference"),
)

generated = Table(
    # One row per record a generator made: (app, generator, source record, table row,
    # period) is unique, so a period yields its record once however often the generator runs.
    "loom_generated", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), nullable=False),
    Column("generator", String(60), nullable=False),
    Column("source_id", ID, nullable=False),
    Column("row_key", String(40), nullable=False),  # the table row's id; "" without rows
    Column("period", String(10), nullable=False),  # the period's first day, ISO (2026-03-01)
    Column("entity", String(40), nullable=False),
    Column("record_id", ID),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("app", "generator", "source_id", "row_key", "period", name="uq_loom_generated_period"),
)

approval_round = Table(
    # One round of an approval of one record: opened when the record enters the start status,
    # decided by the votes or the deadline, cancelled when the record leaves the status first.
    "loom_approval_round", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("record_id", ID, nullable=False),
    Column("approval", String(60), nullable=False),
    Column("round", Integer, nullable=False),  # 1, 2, ... per record and approval
    Column("state", String(10), nullable=False),  # open | approved | rejected | expired | cancelled
    Column("need", Integer, nullable=False),  # approvals that decide it
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("deadline_at", UTCDateTime()),
    Column("decided_at", UTCDateTime()),
    Column("transition", String(60)),  # what the decision fired
    Column("error", Text),  # why that transition could not be fired
    UniqueConstraint("app", "entity", "record_id", "approval", "round", name="uq_loom_approval_round"),
)

approval_vote = Table(
    # One row per approver of a round, written when it opens (who must vote); the vote fills
    # ``decision`` once: an update of a row whose decision is still empty.
    "loom_approval_vote", metadata,
    Column("id", ID, primary_key=True),
    Column("round_id", ID, ForeignKey("loom_approval_round.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ID, ForeignKey("loom_user.id", ondelete="CASCADE"), nullable=False),
    Column("decision", String(10)),  # approve | reject; None: not voted yet
    Column("comment", Text),
    Column("voted_at", UTCDateTime()),
    UniqueConstraint("round_id", "user_id", name="uq_loom_approval_vote"),
    Index("ix_loom_approval_vote_user", "user_id", "decision"),
)

batch_run = Table(
    # One row per batch run (docs/behaviour.md, "Batch runs"): its parameters, its state and the
    # last source id whose chunk committed. A chunk's results and the bump of ``last_id`` are one
    # transaction, so a run resumed after a crash goes on exactly where the last commit left it.
    "loom_batch_run", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), nullable=False),
    Column("batch", String(60), nullable=False),
    Column("run_key", String(255), nullable=False),  # batch name + canonical parameters: tags the results
    Column("params", JSON, nullable=False),
    Column("ids", JSON),  # an explicit selection (source ids), or None: the batch's entity and filter
    Column("state", String(10), nullable=False),  # queued | running | done | failed
    Column("total", Integer, nullable=False, server_default=text("0")),
    Column("done", Integer, nullable=False, server_default=text("0")),  # source records processed
    Column("results", Integer, nullable=False, server_default=text("0")),  # result records written
    Column("chunks", Integer, nullable=False, server_default=text("0")),  # chunks committed
    Column("last_id", ID, nullable=False, server_default=text("0")),  # source id the last chunk ended at
    Column("error", JSON),
    Column("started_by", ID),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime()),  # the last committed chunk: a stale one is resumed
    Column("finished_at", UTCDateTime()),
    UniqueConstraint("app", "run_key", name="uq_loom_batch_run_key"),
    Index("ix_loom_batch_run_state", "state", "heartbeat_at"),
)

proposal = Table(
    # An improvement proposal an end user filed from a record (runtime.behaviour.proposals): what and
    # why, the status and comment an analyst answered with, and the app version that made the change.
    "loom_proposal", metadata,
    Column("id", ID, primary_key=True),
    Column("app", String(40), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("record_id", ID, nullable=False),
    Column("record_title", String(255), nullable=False),  # the record's number and title when it was filed
    Column("user_id", ID, ForeignKey("loom_user.id"), nullable=False),  # the proposer
    Column("what", Text, nullable=False),
    Column("why", Text),
    Column("status", String(12), nullable=False),  # new | in_review | done | rejected
    Column("comment", Text),  # the analyst's answer
    Column("version", Integer),  # the app's published version that answered it
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", ID),
    Index("ix_loom_proposal_app", "app", "status", "id"),
    Index("ix_loom_proposal_user", "user_id", "id"),
)
