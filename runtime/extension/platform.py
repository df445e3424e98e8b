"""What a plugin holds of the running platform: records through the record service
(so permissions, validation and audit apply), jobs, notifications and settings.

It wraps a :class:`runtime.core.loom.Loom` without importing it (this room is
below the core); plugins receive one from hooks and ``runtime.plugin_api``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Records:
    """The record service, acting as one user (their permissions apply); inside a
    script's call, on the script's own transaction (``conn``)."""

    def __init__(self, loom, actor, conn=None):
        self._loom, self.actor, self._conn = loom, actor, conn

    def get(self, app: str, entity: str, record_id: int) -> dict:
        return self._loom.records.get(app, entity, int(record_id), self.actor, conn=self._conn)

    def find(self, app: str, entity: str, where: dict | None = None, sort=(), limit: int = 50) -> list[dict]:
        """Records matching ``where`` (``{"field__op": value}``, as the REST API filters)."""
        return self._loom.records.find(app, entity, where, list(sort), limit, self.actor, conn=self._conn)

    def page(self, app: str, entity: str, *, where: dict | None = None, sort=(), limit: int = 20,
             after: str | None = None, search: str | None = None, condition: str | None = None,
             count: bool = False) -> dict:
        """One page of records: ``{"items", "next" (the cursor of the next page), "count"}``;
        ``search`` is a full-text query, ``condition`` a row condition of metadata."""
        return self._loom.records.page(app, entity, self.actor, where=where, sort=sort, limit=limit, after=after,
                                       search=search, condition=condition, count=count)

    def create(self, app: str, entity: str, data: dict, files: dict | None = None, channel: str | None = None) -> dict:
        """``files``: ``{field: [Upload, ...]}`` saved with the record, or nothing is saved.
        ``channel``: where the record came from (a plugin's channel, ``portal``), recorded as
        the entity's ``channels:`` section says."""
        return self._loom.records.create(app, entity, dict(data), self.actor, conn=self._conn, files=files,
                                         channel=channel)

    def update(self, app: str, entity: str, record_id: int, data: dict, row_version: int | None = None) -> dict:
        """Change a record; without ``row_version`` the current one is read first."""
        if row_version is None:
            row_version = self.get(app, entity, record_id)["row_version"]
        return self._loom.records.update(app, entity, int(record_id), dict(data), row_version, self.actor,
                                         conn=self._conn)

    @contextlib.contextmanager
    def _bulk_tx(self):
        if self._conn is not None:
            yield self._conn
        else:
            with self._loom.engine.begin() as conn:
                yield conn

    def bulk_create(self, app: str, entity: str, rows: list[dict]) -> list[int]:
        """Create many records at once, as ``loom import`` writes them (permissions, checked values,
        links, rollups, one audit entry for the batch; no script hooks); their ids, in order."""
        with self._bulk_tx() as conn:
            return self._loom.bulk.create(conn, app, entity, rows, self.actor)

    def bulk_create_columns(self, app: str, entity: str, columns: dict) -> list[int]:
        """``bulk_create`` from column lists (``{field: [value per record]}``), with the same
        checks: for hundreds of thousands of new records without a dict each."""
        with self._bulk_tx() as conn:
            return self._loom.bulk.create_columns(conn, app, entity, columns, self.actor)

    def bulk_update(self, app: str, entity: str, changes: dict) -> int:
        """Change many records at once: ``{record_id: {field: value}}``, one statement per set of
        fields and one audit entry for the batch (no script hooks, no row-version check)."""
        with self._bulk_tx() as conn:
            return self._loom.bulk.update(conn, app, entity, changes, self.actor)

    def bulk_update_columns(self, app: str, entity: str, ids: list[int], columns: dict) -> int:
        """``bulk_update`` from column lists (``{field: [value per id]}``), with the same checks
        and one audit entry: for setting millions of links without a dict per record."""
        with self._bulk_tx() as conn:
            return self._loom.bulk.update_columns(conn, app, entity, list(ids), columns, self.actor)

    def scan(self, app: str, entity: str, fields, changed_since=None, batch: int = 20000):
        """Every readable record's ``id``, ``updated_at`` and ``fields`` as plain values, in
        batches (lists of dicts) in id order; only those updated after ``changed_since`` when given."""
        return self._loom.bulk.scan(app, entity, list(fields), self.actor, changed_since, batch)

    def scan_columns(self, app: str, entity: str, fields, changed_since=None, batch: int = 200000) -> dict:
        """What ``scan`` reads, as ``{column: [values in id order]}`` (``id``, ``updated_at``,
        then ``fields``): for reading millions of records without a dict per record."""
        return self._loom.bulk.scan_columns(app, entity, list(fields), self.actor, changed_since, batch)

    def scan_arrow(self, app: str, entity: str, fields):
        """What ``scan_columns`` reads as one Arrow table: ``id`` and links as integers, the
        rest as text (for work in DuckDB or Arrow over millions of records)."""
        return self._loom.bulk.scan_arrow(app, entity, list(fields), self.actor)

    def transition(self, app: str, entity: str, record_id: int, name: str, data: dict | None = None,
                   files: dict | None = None) -> dict:
        """Fire a transition with the values (and ``files``: ``{field: [Upload, ...]}``) it asks for."""
        return self._loom.workflow.transition(app, entity, int(record_id), name, dict(data or {}), actor=self.actor,
                                              conn=self._conn, files=files)

    def press(self, app: str, entity: str, record_id: int, script: str, hook: str) -> dict:
        """Run an app's ``script`` (``file.py:function``, checked at publish) as a button on a record
        the user may read, as an entity's ``hooks.actions`` run: ``f(record)``, its changes saved as
        one update with the user's rights, in one transaction. ``hook`` names it in the script
        runs' report (``portal:page.action``). ``{"record", "result"}``."""
        return self._loom.workflow.button(app, entity, int(record_id), script, hook, self.actor, conn=self._conn)

    def comment(self, app: str, entity: str, record_id: int, text: str, public: bool = False) -> dict:
        """A comment, internal unless ``public`` (an external user's are always public)."""
        return self._loom.records.comment(app, entity, int(record_id), text, self.actor, conn=self._conn,
                                          public=public)

    def comments(self, app: str, entity: str, record_id: int, public_only: bool = False) -> list[dict]:
        """The record's comments, oldest first; an external user sees the public ones alone."""
        return self._loom.records.comments(app, entity, int(record_id), self.actor, public_only=public_only)

    def history(self, app: str, entity: str, record_id: int) -> list[dict]:
        """The record's status changes, oldest first (``from``, ``to``, ``transition``, ``at``)."""
        self.get(app, entity, record_id)  # only of a record the user may read
        return self._loom.behaviour.history(app, entity, int(record_id))

    def transitions(self, app: str, entity: str, record: dict) -> list[dict]:
        """The transitions the user may fire from the record's status now."""
        et = self._loom.entity_tables(app, entity)
        return self._loom.workflow.available(et.entity, record.get("status"), self.actor)

    def open_file(self, attachment_id: int) -> tuple[dict, object]:
        """A file of a record the user may read, from a field not hidden from them:
        ``(meta, path)``; meta has ``app``, ``entity``, ``record_id``, ``field``, ``filename``."""
        return self._loom.records.open_file(int(attachment_id), self.actor)

    def attach(self, app: str, entity: str, record_id: int, field: str, filename: str, content: bytes,
               content_type: str | None = None) -> dict:
        """Add a file to a file field of a record (the user must be allowed to update it and the field):
        ``{id, filename, size, content_type, sha256}``. Inside a script's call it is part of the
        script's transaction: a rolled-back change leaves no attachment row."""
        return self._loom.files.attach(app, entity, int(record_id), field, filename, content_type,
                                       io.BytesIO(content), self.actor, conn=self._conn)

    def may(self, app: str, entity: str, action: str) -> bool:
        """Whether the user may ``read``, ``create``, ``update`` or ``delete`` records of ``app.entity``."""
        live = self._loom.live.get(app)
        target = live.app.entities.get(entity) if live else None
        return target is not None and self._loom.permissions.allowed(self.actor, target, action)


class Platform:
    """The running platform as a plugin sees it."""

    def __init__(self, loom):
        self._loom = loom

    @property
    def base_url(self) -> str:
        return self._loom.base_url

    @property
    def config(self) -> dict:
        """The platform settings a plugin may read."""
        return {"base_url": self._loom.base_url, "smtp_url": self._loom.smtp_url, "redis_url": self._loom.redis_url}

    def receive(self, event) -> dict:
        """Turn an :class:`~runtime.extension.types.InboundEvent` into a record, or a comment
        on the record it answers; the same ``external_id`` twice is received once."""
        return self._loom.inbound.receive(event)

    def render_document(self, renderer: str, template: bytes, context: dict) -> bytes:
        """Render ``template`` with an installed document renderer."""
        found = self._loom.plugins.renderers().get(renderer)
        if found is None:
            raise LookupError(f"no document renderer {renderer!r}; installed: "
                              f"{', '.join(sorted(self._loom.plugins.renderers())) or 'none'}")
        return found.render(template, context)

    def apps(self) -> list[str]:
        return sorted(self._loom.live)

    def entities(self, app: str) -> list[str]:
        """The entity names of a live app (empty when it is not live)."""
        live = self._loom.live.get(app)
        return list(live.app.entities) if live else []

    def entity(self, app: str, name: str) -> dict | None:
        """The live metadata of an entity (its ``entities/<name>.yaml`` as a mapping), or ``None``."""
        live = self._loom.live.get(app)
        spec = live.app.document["entities"].get(name) if live else None
        return dict(spec, title_field=live.app.entities[name].title_field) if spec is not None else None

    def draft_section(self, app: str, kind: str) -> tuple[Any, int]:
        """``(section, revision)``: an app's draft ``extensions/<kind>.yaml`` (``None`` when it has
        none) and the draft revision it was read at, for :meth:`save_draft_section`."""
        state = self._loom.store.draft(app)
        doc = state["draft"]
        if doc is None:
            doc = self._loom.store.document(app, state["current_version"])
        return (doc.get("extensions") or {}).get(kind), state["draft_revision"]

    def save_draft_section(self, app: str, kind: str, value: Any, revision: int, author: str) -> int:
        """Put ``value`` as the draft's ``extensions/<kind>.yaml`` if nobody saved the draft since
        ``revision`` (``Conflict`` otherwise); the new revision. Publishing stays the designer's."""
        state = self._loom.store.draft(app)
        doc = dict(state["draft"] or self._loom.store.document(app, state["current_version"]))
        doc["extensions"] = {**(doc.get("extensions") or {}), kind: value}
        return self._loom.store.save_draft(app, doc, author, revision)

    def draft_entity(self, app: str, entity: str) -> tuple[dict | None, int]:
        """``(spec, revision)``: an entity of an app's draft (its ``entities/<name>.yaml``,
        ``None`` when the draft has no such entity) and the draft revision it was read at, for
        :meth:`save_draft_entity`. Raises ``LookupError`` for an unknown app."""
        state = self._loom.store.draft(app)
        doc = state["draft"]
        if doc is None:
            if state["current_version"] is None:
                raise LookupError(f"app {app!r} has neither a draft nor a published version")
            doc = self._loom.store.document(app, state["current_version"])
        spec = (doc.get("entities") or {}).get(entity)
        return (dict(spec) if spec is not None else None), state["draft_revision"]

    def save_draft_entity(self, app: str, entity: str, spec: dict, revision: int, author: str) -> int:
        """Put ``spec`` as the draft's ``entities/<entity>.yaml`` (added when new) if nobody saved
        the draft since ``revision`` (``Conflict`` otherwise); the new revision. ``spec`` must
        pass the entity JSON Schema (``ValueError`` listing each problem by path); the whole
        app is checked, as always, when an analyst publishes it in the designer."""
        from metamodel.schemas import (
            validator,  # metamodel is pure; imported here to keep start-up light
        )

        problems = [f"{'.'.join(str(p) for p in e.absolute_path) or entity}: {e.message}"
                    for e in validator("entity").iter_errors(spec)]
        if problems:
            raise ValueError(f"entities/{entity}.yaml: " + "; ".join(problems))
        state = self._loom.store.draft(app)
        doc = dict(state["draft"] or self._loom.store.document(app, state["current_version"]))
        doc["entities"] = {**(doc.get("entities") or {}), entity: spec}
        return self._loom.store.save_draft(app, doc, author, revision)

    def app_section(self, app: str, kind: str) -> Any:
        """An app's metadata of ``kind`` (``"notifications"``, or a plugin kind's name)."""
        live = self._loom.live.get(app)
        if live is None:
            return None
        return live.app.document.get("extensions", {}).get(kind, live.app.document.get(kind))

    def calendar(self, app: str, name: str | None = None):
        """A business calendar of an app's ``sla.yaml`` (its default one without ``name``): working
        time with the app's holidays — ``intervals(a, b)`` (the working hours between two instants),
        ``is_working(t)``, ``add(t, "2 business days")``, ``tz``. ``ValueError`` for an unknown name."""
        return self._loom.behaviour.calendar(app, name)

    def timezone(self, app: str):
        """The time zone an app's days are counted in (``app.yaml: timezone``)."""
        from zoneinfo import ZoneInfo
        return ZoneInfo(self._loom.live[app].app.timezone)

    def entity_model(self, app: str, entity: str):
        """The live, interpreted model of an entity: ``fields`` (name -> field with ``type``, ``title``,
        ``spec``), ``statuses``, ``transitions``, ``title_field``; raises NotFound."""
        return self._loom.entity_tables(app, entity).entity

    @property
    def accounts(self):
        """Users and password links (``runtime.security.accounts.Accounts``): ``create_user``,
        ``update_user``, ``user``, ``authenticate``, ``password_link``, ``redeem_link``."""
        return self._loom.accounts

    def mail(self, to: str, subject: str, body: str) -> int:
        """Send one e-mail through the outbox (delivered by the e-mail channel, retried); the
        outbox row's id."""
        with self._loom.engine.begin() as conn:
            outbox_id = self._loom.notifier.mail(conn, to, subject, body)
        self._loom.jobs.enqueue("deliver_outbox", outbox_id)
        return outbox_id

    def post(self, channel: str, recipient: str, subject: str, body: str, *, app: str | None = None,
             entity: str | None = None, record_id: int | None = None, cc=()) -> int:
        """Put one message for a notification ``channel`` (a plugin's) into the outbox and start its
        delivery: retried with back-off like e-mail, at least once, the row's ``message_id`` the
        same on every attempt. The outbox row's id."""
        with self._loom.engine.begin() as conn:
            outbox_id = self._loom.notifier.mail(conn, recipient, subject, body, channel=channel, app=app,
                                                 entity=entity, record_id=record_id, cc=list(cc))
        self._loom.jobs.enqueue("deliver_outbox", outbox_id)
        return outbox_id

    def deliver_pending(self):
        """Try every outbox message that is due now (the scheduler does this each tick)."""
        return self._loom.jobs.enqueue("deliver_outbox")

    def outbox(self, channel: str, limit: int = 100) -> list[dict]:
        """The newest outbox messages of ``channel``: ``id``, ``recipient``, ``subject``, ``state``
        (pending, sending, sent, failed), ``attempts``, ``error``, ``created_at``, ``sent_at``,
        ``message_id``, ``app``, ``entity``, ``record_id``."""
        return self._loom.notifier.outbox_rows(channel, limit)

    def log_delivery(self, channel: str, direction: str, outcome: str, **fields) -> None:
        """Write one line of the delivery log administrators read: ``direction`` ``in`` or ``out``,
        ``outcome`` (created, duplicate, refused, failed, ...), and optionally ``app``, ``name``
        (the endpoint), ``external_id``, ``status`` (HTTP), ``record_id``, ``detail``."""
        self._loom.inbound.log(channel, direction, outcome, **fields)

    def delivery_log(self, channel: str, limit: int = 100) -> list[dict]:
        """The newest lines of ``channel``'s delivery log, newest first."""
        return self._loom.inbound.log_lines(channel, limit)

    # ------------------------------------------------------------------ file runs (imports)
    def start_file_run(self, kind: str, app: str, entity: str, user, params: dict, content: bytes = b"",
                    total: int = 0, state: str = "new") -> int:
        """Keep a new file run (``kind``: the plugin's name for it) of ``user`` over ``app.entity``:
        its ``params`` (JSON), the file it reads (``content``) and its row count; its id."""
        actor = self.records(user).actor
        return self._loom.file_runs.start(kind, app, entity, actor, params, content, total, state)

    def file_run(self, run_id: int) -> dict:
        """A run: ``id kind app entity user_id state params total done written rejected error
        created_at updated_at`` (``done``: the last row committed). Raises ``NotFound``."""
        return self._loom.file_runs.get(int(run_id))

    def file_runs(self, kind: str, app: str, entity: str, user=None, limit: int = 20) -> list[dict]:
        """The newest runs of ``kind`` over ``app.entity`` (of ``user`` when given)."""
        user_id = self.records(user).actor.id if user is not None else None
        return self._loom.file_runs.find(kind, app, entity, user_id, limit)

    def unfinished_file_runs(self, kind: str) -> list[dict]:
        """Runs of ``kind`` still queued or running, oldest first: what to queue again when a
        worker starts (``loom_worker_started``)."""
        return self._loom.file_runs.unfinished(kind)

    def file_run_content(self, run_id: int) -> bytes:
        """The file a run reads (empty once it is done)."""
        return self._loom.file_runs.content(int(run_id))

    def set_file_run_state(self, run_id: int, state: str, error: str | None = None, only_from=(), user=None) -> bool:
        """Move a run to ``state`` (``new checked queued running done failed cancelled``), only from one of
        ``only_from`` when given; whether it moved (audited as ``user``'s when given). ``done``
        and ``cancelled`` drop its file."""
        actor = self.records(user).actor if user is not None else None
        return self._loom.file_runs.set_state(int(run_id), state, error, tuple(only_from), actor)

    def set_file_run_params(self, run_id: int, params: dict, only_from=(), total: int | None = None) -> bool:
        """Replace a run's ``params`` (while it is in one of ``only_from``, when given), and its
        ``total`` when given (a run that learns its size as it goes); whether it did."""
        return self._loom.file_runs.set_params(int(run_id), params, tuple(only_from), total)

    @contextlib.contextmanager
    def file_run_step(self, run_id: int, start: int, end: int, user):
        """One chunk of a running run, rows ``start+1 .. end``, in one transaction: yields a step
        with ``records`` (the record service as ``user`` on that transaction), ``savepoint()`` to
        wrap each row (a failed row rolls back alone) and ``reject(row, cells, error)``. The run's
        ``done`` moves to ``end`` in the same transaction, so a chunk commits once: ``Conflict``
        when ``done`` is no longer ``start`` (another worker took it) or the run is not running."""
        actor = self.records(user).actor
        with self._loom.file_runs.step(int(run_id), start, end, actor) as step:
            step.records = Records(self._loom, actor, step.conn)
            yield step

    @contextlib.contextmanager
    def trial(self, user):
        """Like :meth:`file_run_step`, but everything is rolled back at the end: a dry run that
        validates rows exactly as a real save would (permissions, hooks, link filters, unique
        values between the rows) and writes nothing."""
        actor = self.records(user).actor
        with self._loom.file_runs.trial() as step:
            step.records = Records(self._loom, actor, step.conn)
            yield step

    def file_run_rejects(self, run_id: int) -> list[dict]:
        """The rows a run refused, in file order: ``row``, ``cells``, ``error``."""
        return self._loom.file_runs.rejects(int(run_id))

    def remember(self, key: str, value, user=None) -> None:
        """Keep a JSON ``value`` under ``key`` for ``user`` (for everybody when ``None``)."""
        self._loom.file_runs.remember(key, value, self.records(user).actor.id if user is not None else None)

    def recall(self, key: str, user=None):
        """What :meth:`remember` kept under ``key`` for ``user``, or ``None``."""
        return self._loom.file_runs.recall(key, self.records(user).actor.id if user is not None else None)
    def state(self, key: str, default: Any = None) -> Any:
        """A plugin's durable value under ``key`` (JSON), or ``default``; see :meth:`save_state`."""
        return self._loom.plugin_state.get(key, default)

    def save_state(self, key: str, value: Any) -> None:
        """Keep ``value`` (JSON) under ``key`` (prefix it with the plugin's name) across restarts."""
        self._loom.plugin_state.put(key, value)

    def notices(self, user_id: int, app: str | None = None, limit: int = 20) -> list[dict]:
        """A user's unread in-app notifications (of ``app``), newest first: ``id``, ``title``,
        ``body``, ``app``, ``entity``, ``record_id``, ``created_at``."""
        return self._loom.notifier.unread(user_id, app, limit)

    def mark_read(self, user_id: int, app: str, entity: str, record_id: int) -> int:
        """Mark a user's notifications about a record read (they opened it)."""
        return self._loom.notifier.mark_read(user_id, app, entity, int(record_id))

    def sent_about(self, message_ids) -> dict | None:
        """The record an outgoing message was about, found by its ``Message-ID`` (any of
        ``message_ids``, e.g. a reply's ``In-Reply-To`` and ``References``): ``{app, entity,
        record_id}``, or ``None`` when Loom sent none of them about a record."""
        return self._loom.notifier.sent_about(list(message_ids))

    def records(self, user=None, visitor: bool = False) -> Records:
        """The record service acting as ``user`` (a username, or the ``Actor`` a page's
        ``current_actor()`` gives), or as the system when ``None``; ``visitor``: the system on
        behalf of an anonymous visitor (audited as ``anonymous``; a refusal names no other record)."""
        if visitor:
            return Records(self._loom, dataclasses.replace(self._loom.actor(None), username="anonymous", visitor=True))
        return Records(self._loom, user if hasattr(user, "roles") else self._loom.actor(user))

    def enqueue(self, job: str, *args) -> Any:
        """Run a job (the platform's or a plugin's) on a worker, or here without Redis."""
        return self._loom.jobs.enqueue(job, *args)

    def send(self, app: str, template: str, *, entity: str | None = None, record_id: int | None = None,
             to=(), cc=(), context: dict | None = None) -> dict:
        """Send an app's notification template through its channels (stored in the outbox first)."""
        with self._loom.engine.begin() as conn:
            return self._loom.notifier.send(conn, app, template, entity=entity, record_id=record_id,
                                            to=list(to), cc=list(cc), context=context)


@dataclass(frozen=True)
class ScriptCall:
    """What a plugin's script function learns of its call: the app whose script
    called, the acting user, and the record service as that user on the script's
    transaction."""

    app: str
    user: Mapping[str, Any]
    records: Records
    platform: Platform
