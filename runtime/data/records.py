"""The record service: every create, read, update and delete of app data.

One change is one transaction: the row, its child rows and links, its
audit entry and its number are written together or not at all. Rules come
from metadata (required, types, lengths, ranges, patterns, choices, link
existence, uniqueness, defaults, computed fields); optimistic locking uses
``row_version``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import decimal
import re
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from metamodel import Entity, Field, channels, title_text
from metamodel.expressions import USER_NAME, ExpressionError
from runtime.errors import Conflict, Forbidden, LoomError, NotFound, ValidationFailed
from runtime.extension import RecordEvent

from . import evaluation, events
from . import tables as platform
from .files import FileStore, StagedFile, merge_uploads
from .related import file_columns, row_file_ids
from .related import load as load_related
from .storage import EntityTables, expand_point, fold_points, utcnow
from .values import FieldError, check, coerce, rows_json, to_json

SYSTEM_READONLY = {"id", "number", "created_at", "created_by", "updated_at", "updated_by", "row_version",
                   "meta_version", "deleted_at"}


@dataclass
class Actor:
    """Who makes a change: a user id and name, roles, groups and organisation (for row-level
    permissions), and the client address for the audit log."""

    id: int | None
    username: str = "system"
    roles: tuple = ()
    is_admin: bool = False
    ip: str | None = None
    system: bool = False  # trusted platform code (fixtures, import): may set status and numbers
    groups: tuple = ()  # ids of the user's groups (loom_group)
    organization: str | None = None  # "app.entity:id" of the user's organisation record
    external: bool = False  # a client's contact: reaches the portal only (docs/portal.md)
    elevated_by: str | None = None  # the privileged hook this user's rights were raised for (audited)
    visitor: bool = False  # the system acting for an anonymous visitor: refusals name no other record


SYSTEM = Actor(None, "system", is_admin=True, system=True)


def elevated(actor: Actor, hook: str) -> Actor:
    """``actor`` with system rights for one privileged hook (metadata says ``privileged``): every
    permission passes, while the changes stay the user's own (``created_by``, the audit log's
    user) and the audit log marks each one with the hook. The system and administrators
    already have every right and stay as they are."""
    if actor.system or actor.is_admin:
        return actor
    return dataclasses.replace(actor, is_admin=True, elevated_by=hook)
FIND_LIMIT = 200  # rows one find() returns at most (scripts, plugins)
EVENT_OF = {"create": "created", "update": "updated", "delete": "deleted", "restore": "restored",
            "transition": "transition"}  # audit action -> record event
_counter = platform.counter
# built once: every create reserves a number (see audit.py on why a per-call statement costs)
_BUMP_COUNTER = (update(_counter).where(_counter.c.key == bindparam("counter_key"))
                 .values(value=_counter.c.value + bindparam("step")).returning(_counter.c.value))


@lru_cache(maxsize=512)
def _insert_returning(table):
    """``INSERT INTO table ... RETURNING *``, built once per table; the values come as parameters."""
    return insert(table).returning(*table.c)


def compute_all(entity: Entity, values: dict, only: str | None = None, evaluate=None):
    """Evaluate computed fields into ``values``; with ``only``, return that one field's value.

    ``evaluate(expression, values)`` evaluates with the runtime's clock, calendar and paths
    (:meth:`RecordService.evaluate`); without it, the expression's own defaults apply."""
    for f in entity.computed_order:
        result = evaluate(f.expression, values) if evaluate is not None else f.expression.evaluate(values)
        if result is not None:
            try:
                result = coerce(_result_field(f), result)
            except FieldError:
                result = _round(f, result)
        values[f.name] = result
        if only == f.name:
            return result
    return values


def _blank(value) -> bool:
    """Nothing in a required field: no value, or text of spaces alone."""
    return value is None or (isinstance(value, str) and not value.strip())


def _result_field(f: Field) -> Field:
    return Field(f.name, f.value_type, {**f.spec, "type": f.value_type}, f.entity)


def _round(f: Field, value):
    if f.value_type in ("decimal", "money", "integer"):
        try:
            q = decimal.Decimal(1).scaleb(-f.scale) if f.value_type != "integer" else decimal.Decimal(1)
            d = decimal.Decimal(str(value)).quantize(q, rounding=decimal.ROUND_HALF_UP)
            return int(d) if f.value_type == "integer" else d
        except (decimal.InvalidOperation, ValueError):
            return None
    return None


class RecordService:
    """CRUD over live entity tables. ``loom`` is the :class:`runtime.core.Loom` it serves."""

    def __init__(self, loom):
        self.loom = loom
        self._functions: dict = {}  # app name -> (App, the functions its expressions call)

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def _tx(self, conn=None):
        if conn is not None:
            yield conn
            return
        try:
            with self.loom.engine.begin() as conn:
                yield conn
        finally:
            self.loom.hooks.flush()  # script runs are logged even when the change rolled back

    @contextlib.contextmanager
    def _read(self, conn=None):
        if conn is not None:
            yield conn
        else:
            with self.loom.reader.connect() as conn:
                yield conn

    # ------------------------------------------------------------------ read
    def get(self, app: str, entity: str, record_id: int, actor: Actor = SYSTEM, conn=None,
            include_deleted: bool = False, typed: bool = False) -> dict:
        """One record as JSON, or with ``typed`` as Python values (what scripts see)."""
        et = self.loom.entity_tables(app, entity)
        self.loom.permissions.require(actor, et.entity, "read")
        with self._read(conn) as c:
            row = self._fetch(c, et, record_id, include_deleted, actor=actor)
            return self.values(c, et, row, actor) if typed else self.to_json(c, et, row, actor)

    def find(self, app: str, entity: str, where: dict | None = None, sort=(), limit: int = 50,
             actor: Actor = SYSTEM, conn=None, typed: bool = False) -> list[dict]:
        """Records ``actor`` may read that match ``where`` (``{"field__op": value}``, the API's
        filters), at most ``limit`` (and never more than :data:`FIND_LIMIT`): as JSON of their
        columns, or with ``typed`` as Python values with their table rows, links and files."""
        from .query import ListQuery, parse_args
        et = self.loom.entity_tables(app, entity)
        self.loom.permissions.require(actor, et.entity, "read")
        args = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in dict(where or {}).items()}
        filters, _, _ = parse_args(args)
        with self._read(conn) as c:
            page = ListQuery(self.loom, et).run(c, filters, list(sort or []), limit=min(int(limit), FIND_LIMIT),
                                                actor=actor)
            if not typed:
                return self.page_json(et, page.items, actor)
            more = load_related(c, et, [row["id"] for row in page.items])
            return [self.values(c, et, row, actor, extra=more[row["id"]]) for row in page.items]

    def page(self, app: str, entity: str, actor: Actor = SYSTEM, *, where: dict | None = None, sort=(),
             limit: int = 20, after: str | None = None, search: str | None = None, condition: str | None = None,
             count: bool = False) -> dict:
        """One page of the records ``actor`` may read: ``{"items", "next", "count"}``; ``after``
        is the ``next`` of the page before, ``condition`` a row condition of metadata."""
        from .query import ListQuery, parse_args
        et = self.loom.entity_tables(app, entity)
        self.loom.permissions.require(actor, et.entity, "read")
        filters, _, _ = parse_args({k: list(v) if isinstance(v, (list, tuple)) else v
                                    for k, v in dict(where or {}).items()})
        with self._read() as c:
            page = ListQuery(self.loom, et).run(c, filters, list(sort or []), limit=limit, after=after,
                                                search=search or None, condition=condition,
                                                count="exact" if count else None, actor=actor)
            return {"items": self.page_json(et, page.items, actor),
                    "next": page.next_cursor, "count": page.count}

    def evaluate(self, conn, entity: Entity, source, values, actor: Actor | None = None, extra: dict | None = None):
        """Evaluate an expression (source or parsed) of ``entity``'s app over ``values``, as the runtime
        does everywhere: the platform clock, the app's time zone and calendar, links followed as
        ``actor`` may read them (``None``: the system); see :mod:`runtime.data.evaluation`."""
        expr = evaluation.expression(source) if isinstance(source, str) else source
        paths = None
        if expr.paths:
            paths = evaluation.Paths(conn, entity, values, self.loom.entity_tables, self.loom.permissions, actor,
                                     self.loom.reader)
        if expr.reads_user:  # $user: the person acting, nobody when the system does
            extra = {**(extra or {}), USER_NAME: actor.id if actor is not None and not actor.system else None}
        try:
            return expr.evaluate(values, extra, self._app_functions(entity.app), paths)
        except ExpressionError as exc:  # a result too large, no business calendar to count in
            raise LoomError(f"{entity.name}: {expr.source!r} cannot be evaluated: {exc}") from None

    def _app_functions(self, app_name: str) -> dict:
        live = self.loom.live.get(app_name)
        app = live.app if live is not None else None
        cached = self._functions.get(app_name)
        if cached is None or cached[0] is not app:
            cached = (app, evaluation.functions(app, lambda: self.loom.behaviour.calendar(app_name)))
            self._functions[app_name] = cached
        return cached[1]

    def comment(self, app: str, entity: str, record_id: int, body: str, actor: Actor = SYSTEM, conn=None,
                public: bool = False) -> dict:
        """Add a comment to a record (mentions notify, the audit log records it); ``public``
        shows it on the portal."""
        from . import comments
        return comments.add(self.loom, app, entity, record_id, body, actor, conn=conn, public=public)

    def comments(self, app: str, entity: str, record_id: int, actor: Actor = SYSTEM,
                 public_only: bool = False) -> list[dict]:
        """The record's comments, oldest first (the public ones alone for an external user)."""
        from . import comments
        return comments.list_for(self.loom, app, entity, record_id, actor, public_only=public_only)

    def open_file(self, attachment_id: int, actor: Actor = SYSTEM):
        """``(meta, path)`` of a file whose record and field ``actor`` may read."""
        return FileStore(self.loom).open(attachment_id, actor)

    def _fetch(self, conn, et: EntityTables, record_id: int, include_deleted: bool = False, actor=None):
        """The row, or 404; with ``actor``, a row their row rules hide is 404 too (not 403,
        which would tell them it exists)."""
        t = et.main
        rule = self.loom.permissions.row_filter(et.entity, t, actor)
        if rule is None and not include_deleted:
            # The common read, built once per entity: a statement built per call costs SQLAlchemy
            # a new cache key each time, a fifth of a record GET (bench/bench_api.py --profile).
            query = et.statements.get("fetch")
            if query is None:
                query = et.statements["fetch"] = select(t).where(t.c.id == bindparam("record_id"),
                                                                  t.c.deleted_at.is_(None))
            row = conn.execute(query, {"record_id": record_id}).mappings().first()
        else:
            query = select(t).where(t.c.id == record_id)
            if not include_deleted:
                query = query.where(t.c.deleted_at.is_(None))
            if rule is not None:
                query = query.where(rule)
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"{et.entity.name} {record_id} does not exist")
        return row

    def _require_visible(self, conn, et: EntityTables, record_id: int, actor) -> None:
        """Refuse a write whose result the writer's row rules would hide (a client filing a
        request for another organisation); the caller's transaction then rolls back."""
        t = et.main
        visible = self.loom.permissions.row_filter(et.entity, t, actor)
        if visible is not None and conn.execute(select(t.c.id).where(t.c.id == record_id, visible)).first() is None:
            raise Forbidden(f"you may not save this {et.entity.name}: the result would be a record "
                            f"you are not allowed to see")

    def to_json(self, conn, et: EntityTables, row, actor: Actor | None = None, related: bool = True) -> dict:
        """A stored row as the API answers it; with ``related``, its table rows, links and files too."""
        if not related:
            out = {k: to_json(v) for k, v in fold_points(et.entity, row).items() if not k.startswith("_")}
            if actor is not None:
                self.loom.permissions.mask(out, et.entity, actor)
            return out
        return _jsonish(self.values(conn, et, row, actor))

    def page_json(self, et: EntityTables, rows, actor: Actor | None = None) -> list[dict]:
        """A page of stored rows as lists show them: ``to_json(related=False)`` of each row,
        with the hidden fields and each column's conversion worked out once for the page."""
        entity = et.entity
        if not rows or any(f.storage == "point" for f in entity.fields.values()):
            return [self.to_json(None, et, row, actor, related=False) for row in rows]
        hidden = self.loom.permissions.hidden(actor, entity) if actor is not None else ()
        return rows_json(rows, [k for k in rows[0].keys() if not k.startswith("_") and k not in hidden])

    def values(self, conn, et: EntityTables, row, actor: Actor | None = None, extra: dict | None = None) -> dict:
        """A stored row with its table rows, links and files, as typed Python values (``Decimal``
        money, dates, points): what scripts and expressions read. ``extra``: those parts, already loaded."""
        out = {k: v for k, v in fold_points(et.entity, row).items() if not k.startswith("_")}
        out.update(extra if extra is not None else load_related(conn, et, [row["id"]])[row["id"]])
        if actor is not None:
            self.loom.permissions.mask(out, et.entity, actor)
        return out

    # ------------------------------------------------------------------ create
    def create(self, app: str, entity: str, data: dict, actor: Actor = SYSTEM, conn=None, by_script: bool = False,
               files: dict | None = None, channel: str | None = None) -> dict:
        """Create a record. ``by_script``: the data comes from the app's own script, which may set
        read-only fields (see :mod:`runtime.security.permissions`). ``files``: uploads saved with
        it, ``{"photo": [Upload, ...], "items[0].photo": [Upload]}`` (a file field, or a file
        column of a table row in ``data``); the record and its files are saved together or not at all.
        ``channel``: where the record came from (``ui``, ``api``, ``portal``, ``email``, an inbound
        endpoint), kept in the fields the entity's ``channels:`` section names."""
        et = self.loom.entity_tables(app, entity)
        self.loom.permissions.require(actor, et.entity, "create")
        with self._uploads(et, files) as staged:
            data = merge_uploads(data, staged)
            self.loom.permissions.check_write(actor, et.entity, data, readonly=not by_script)
            data = {**data, **channels.stamp(et.entity, data, channel)}  # the platform's, not the writer's
            with self._tx(conn) as c:
                row = self._insert(c, et, data, actor)
                self._require_visible(c, et, row["id"], actor)
                return self.to_json(c, et, row, actor)

    @contextlib.contextmanager
    def _uploads(self, et: EntityTables, files: dict | None):
        """Stage the files of a change (content on disk, checked against their fields); when the
        change fails, the content no other record uses goes again."""
        if not files:
            yield {}
            return
        store = FileStore(self.loom)
        staged = store.stage_all(et.entity, files)
        try:
            yield staged
        except BaseException:
            store.discard(staged)
            raise

    def _insert(self, c, et: EntityTables, data: dict, actor: Actor):
        """Validate, run the save hooks and insert; return the stored row."""
        entity = et.entity
        hooks = entity.spec.get("hooks") or {}
        if hooks.get("default"):
            data = {**data, **self._hook(c, et, hooks["default"], "default", actor, self._defaults(et, data),
                                         writable=True)[1]}
        values, related = self._prepare(c, et, data, actor, existing=None)
        values, related = self._scripts_before_save(c, et, data, values, related, actor, existing=None)
        values.update(self.loom.behaviour.before_write(c, et, values, None, actor))
        for f in entity.rollups:  # nothing links to a new record yet: a count or a sum of nothing is 0
            values[f.name] = 0 if f.spec.get("function", "count") in ("count", "sum") else None
        now = utcnow()
        status = data.get("status") if actor.system and data.get("status") else entity.initial_status
        number = data.get("number") if actor.system and data.get("number") else self.next_number(c, entity)
        values.update(number=number, status=status, created_at=now, created_by=actor.id, updated_at=now,
                      updated_by=actor.id, row_version=1, meta_version=self.loom.live_version(entity.app))
        try:
            row = c.execute(_insert_returning(et.main), values).mappings().one()
        except IntegrityError as exc:
            raise self._integrity(et, exc) from None
        row_id = row["id"]
        self._write_related(c, et, row_id, related, actor=actor)
        self.changed(c, actor, "create", entity, row_id, None, self._audit_view(values, related))
        if (entity.spec.get("hooks") or {}).get("after_save"):
            self._after_save(c, et, row_id, actor, old=None)
            row = self._fetch(c, et, row_id)  # the hook may have changed it
        self.loom.behaviour.after_write(c, et, row_id, None, actor)
        if entity.spec.get("aggregations") or "delivery" in entity.spec:
            row = self._fetch(c, et, row_id)  # an aggregation rule may have linked it; a message was queued
        return row

    def next_number(self, conn, entity: Entity, count: int = 1) -> str | list[str]:
        """Reserve ``count`` human numbers (``REQ-000123``) from the entity's counter."""
        key = entity.ref
        c = platform.counter
        last = conn.execute(_BUMP_COUNTER, {"counter_key": key, "step": count}).scalar()
        if last is None:
            start = conn.execute(select(func.count()).select_from(self.loom.entity_tables(entity.app, entity.name).main)
                                 ).scalar_one()
            last = start + count
            if conn.dialect.name == "postgresql":
                # Two first writers of an entity race to create its counter; the loser takes the next numbers.
                created = conn.execute(pg_insert(c).values(key=key, value=last).on_conflict_do_nothing()
                                       .returning(c.c.value)).scalar()
                if created is None:
                    last = conn.execute(update(c).where(c.c.key == key).values(value=c.c.value + count)
                                        .returning(c.c.value)).scalar_one()
            else:  # SQLite writers are serialised (BEGIN IMMEDIATE): no race
                conn.execute(insert(c).values(key=key, value=last))
        numbers = format_numbers(entity.number_pattern, range(last - count + 1, last + 1))
        return numbers[0] if count == 1 else numbers

    # ------------------------------------------------------------------ update
    def update(self, app: str, entity: str, record_id: int, data: dict, row_version: int | None,
               actor: Actor = SYSTEM, conn=None, check_fields: bool = True, by_script: bool = False,
               files: dict | None = None) -> dict:
        """Change a record. ``check_fields=False`` is for changes an app's own button script
        made to its record (like before_save's), which field permissions do not restrict;
        ``by_script``: a script's ``update()``, which may write read-only fields, not hidden ones.
        ``files``: uploads saved with the change, as for :meth:`create`."""
        et = self.loom.entity_tables(app, entity)
        self.loom.permissions.require(actor, et.entity, "update")
        if row_version is None:
            raise ValidationFailed([FieldError("row_version", "send the row_version you edited "
                                                              "(or an If-Match header) so no change is overwritten")])
        with self._uploads(et, files) as staged:
            return self._update(et, record_id, merge_uploads(data, staged), row_version, actor, conn, check_fields,
                                by_script)

    def _update(self, et: EntityTables, record_id: int, data: dict, row_version: int, actor: Actor, conn,
                check_fields: bool, by_script: bool) -> dict:
        with self._tx(conn) as c:
            current = self._fetch(c, et, record_id, actor=actor)
            if check_fields:
                self.loom.permissions.check_write(actor, et.entity, data, current, readonly=not by_script)
            if current["row_version"] != row_version:
                raise self._conflict(c, et, current, data, row_version, actor)
            values, related = self._prepare(c, et, data, actor, existing=current)
            values, related = self._scripts_before_save(c, et, data, values, related, actor, existing=current)
            values.update(self.loom.behaviour.before_write(c, et, values, current, actor))
            before = {k: to_json(current[k]) for k in values if k in current}
            values.update(updated_at=utcnow(), updated_by=actor.id, row_version=row_version + 1,
                          meta_version=self.loom.live_version(et.entity.app))
            t = et.main
            try:
                result = c.execute(update(t).where(t.c.id == record_id, t.c.row_version == row_version,
                                                   t.c.deleted_at.is_(None)).values(values))
            except IntegrityError as exc:
                raise self._integrity(et, exc) from None
            if result.rowcount != 1:  # someone committed in between our read and write
                raise self._conflict(c, et, self._fetch(c, et, record_id, actor=actor), data, row_version, actor)
            old = self.full(c, et, current) if (et.entity.spec.get("hooks") or {}).get("after_save") else None
            self._write_related(c, et, record_id, related, replace=True, actor=actor)
            after = self._audit_view({k: v for k, v in values.items() if k in before or k in data}, related)
            self.changed(c, actor, "update", et.entity, record_id, before, after)
            self._after_save(c, et, record_id, actor, old=old)
            self.loom.behaviour.after_write(c, et, record_id, current, actor)
            self._require_visible(c, et, record_id, actor)
            return self.to_json(c, et, self._fetch(c, et, record_id), actor)

    def _conflict(self, c, et, current, data, row_version, actor) -> Conflict:
        return Conflict(
            f"{et.entity.name} {current['id']} was changed by someone else (you edited version {row_version}, "
            f"it is now at version {current['row_version']}); reload and apply your change again",
            yours={"row_version": row_version, "changes": _jsonish(data)},
            current=self.to_json(c, et, current, actor))

    # ------------------------------------------------------------------ delete / restore
    def delete(self, app: str, entity: str, record_id: int, actor: Actor = SYSTEM, conn=None) -> dict:
        return self._set_deleted(app, entity, record_id, actor, conn, deleted=True)

    def restore(self, app: str, entity: str, record_id: int, actor: Actor = SYSTEM, conn=None) -> dict:
        return self._set_deleted(app, entity, record_id, actor, conn, deleted=False)

    def _set_deleted(self, app, entity, record_id, actor, conn, deleted: bool) -> dict:
        et = self.loom.entity_tables(app, entity)
        self.loom.permissions.require(actor, et.entity, "delete")
        t = et.main
        with self._tx(conn) as c:
            row = self._fetch(c, et, record_id, include_deleted=True, actor=actor)
            if (row["deleted_at"] is not None) == deleted:
                raise Conflict(f"{et.entity.name} {record_id} is {'already' if deleted else 'not'} deleted")
            ref = (et.entity.spec.get("hooks") or {}).get("before_delete")
            if deleted and ref:
                self._hook(c, et, ref, "before_delete", actor, self.full(c, et, row), record_id=record_id)
            c.execute(update(t).where(t.c.id == record_id).values(
                deleted_at=utcnow() if deleted else None, updated_at=utcnow(), updated_by=actor.id,
                row_version=t.c.row_version + 1))
            self.changed(c, actor, "delete" if deleted else "restore", et.entity, record_id, None, None)
            self.loom.behaviour.after_delete(c, et, row)
            return self.to_json(c, et, self._fetch(c, et, record_id, include_deleted=True), actor)

    # ------------------------------------------------------------------ change log
    def changed(self, c, actor: Actor, action: str, entity: Entity, record_id: int, before, after) -> None:
        """Log a change of a record: its audit entry, and (when a plugin listens) the
        :class:`RecordEvent` it hears of once ``c``'s transaction commits."""
        before = fold_points(entity, before, json=True) if before else before
        after = fold_points(entity, after, json=True) if after else after
        self.loom.audit.record(c, actor, action, entity, record_id, before, after)
        if not self.loom.plugins.listening:
            return
        before, after = before or {}, dict(after or {})
        transition = after.pop("transition", None) if action == "transition" else None
        events.note(c, RecordEvent(
            kind=EVENT_OF[action], app=entity.app, entity=entity.name, record_id=record_id, actor_id=actor.id,
            actor=actor.username, at=utcnow(), changes={k: (before.get(k), v) for k, v in after.items()},
            transition=transition, from_status=before.get("status") if transition else None,
            to_status=after.get("status") if transition else None))

    # ------------------------------------------------------------------ hooks
    def _hook(self, c, et: EntityTables, ref: str, hook: str, actor: Actor, record: dict, writable: bool = False,
              args: tuple = (), record_id: int | None = None, old: dict | None = None, dry_run: bool = False):
        """Run hook ``hook`` (named as the run log names it); with system rights where metadata
        declares it ``privileged``."""
        app = self.loom.live[et.entity.app].app
        record = fold_points(et.entity, record, json=True) if record is not None else None
        old = fold_points(et.entity, old, json=True) if old is not None else None
        return self.loom.hooks.run(c, app, ref, hook, actor=actor, record=record, writable=writable, old=old,
                                   args=args, entity=et.entity, record_id=record_id, dry_run=dry_run,
                                   privileged=hook in et.entity.privileged_hooks)

    def _defaults(self, et: EntityTables, data: dict) -> dict:
        """What the ``default`` hook of a new record sees: the data with defaults, typed."""
        out = {}
        for f in et.entity.fields.values():
            if f.type in ("computed", "rollup") or f.storage == "attachments":
                continue
            out[f.name] = self._typed_value(f, data.get(f.name, f.spec.get("default")))
        return out

    def typed(self, et: EntityTables, data: dict) -> dict:
        """``data`` (JSON from a client) with each value of a known field turned into the type the
        field stores, as far as it can be (``"3000"`` for money is ``Decimal("3000")``); a value that
        cannot be is left as it is, for validation to name. Conditions then compare like with like."""
        fields = et.entity.fields
        return {k: self._typed_value(fields[k], v) if k in fields else v for k, v in data.items()}

    def _typed_value(self, f: Field, raw):
        try:
            if f.storage == "child":
                return self._child_rows(f, raw)
            if f.storage == "assoc":
                return [coerce(Field(f.name, "link", {"type": "link", "entity": f.target}), v) for v in raw or ()]
            if f.storage == "attachments":
                return raw
            return coerce(f, raw)
        except (FieldError, ValueError, TypeError):
            return raw

    def full(self, c, et: EntityTables, row, changes: dict | None = None) -> dict:
        """The record a hook or an expression sees: ``row`` (stored, or the values of a record being
        made) with its table rows, links and files, then ``changes`` on top, all typed."""
        out = self._plain_row(row)
        record_id = out.get("id")
        several = [f.name for f in et.entity.fields.values() if f.storage in ("child", "assoc", "attachments")]
        if record_id is not None and several:
            out.update(load_related(c, et, [record_id])[record_id])
        for name in several:  # no rows, links or files yet: an empty list, never None
            out.setdefault(name, [])
        if changes:
            out.update(changes)
        return out

    @staticmethod
    def _plain_row(row) -> dict:
        return {k: v for k, v in dict(row).items() if not k.startswith("_")}

    def _scripts_before_save(self, c, et: EntityTables, data: dict, values: dict, related: dict, actor: Actor,
                             existing) -> tuple[dict, dict]:
        """Field validators, the validate hook, script-computed fields and before_save, in that order."""
        entity = et.entity
        hooks = entity.spec.get("hooks") or {}
        scripted = [f for f in entity.fields.values() if f.spec.get("validator") or f.spec.get("script")]
        if not scripted and not hooks.get("validate") and not hooks.get("before_save"):
            return values, related
        record_id = existing["id"] if existing is not None else None
        old = self.full(c, et, existing) if existing is not None else None
        merged = {**(old or self.full(c, et, {})), **values, **related}
        for name, new in related.items():  # new files join a multiple file field's current ones
            if entity.fields[name].storage == "attachments" and entity.fields[name].spec.get("multiple") and old:
                merged[name] = [*old.get(name, []), *new]
        errors = []
        for f in scripted:
            ref = f.spec.get("validator")
            if ref and f.name in values and values[f.name] is not None:
                message, _ = self._hook(c, et, ref, f"field:{f.name}.validator", actor, merged,
                                        args=(values[f.name],), record_id=record_id, old=old)
                if message:
                    errors.append(FieldError(f.name, str(message)))
        if hooks.get("validate"):
            result, _ = self._hook(c, et, hooks["validate"], "validate", actor, merged, record_id=record_id, old=old)
            errors.extend(_script_errors(result))
        if errors:
            raise ValidationFailed(errors)
        if hooks.get("before_save"):
            _, changes = self._hook(c, et, hooks["before_save"], "before_save", actor, merged, writable=True,
                                    record_id=record_id, old=old)
            if changes:
                extra, extra_related = self._prepare(c, et, _jsonish(changes, files=False), actor,
                                                     existing={**merged, "id": record_id})
                values = {**values, **extra}
                related = {**related, **extra_related}
                merged.update(extra)
                merged.update(extra_related)
        for f in scripted:
            if f.spec.get("script"):
                value, _ = self._hook(c, et, f.spec["script"], f"field:{f.name}.script", actor, merged,
                                      record_id=record_id, old=old)
                try:
                    values[f.name] = merged[f.name] = coerce(_result_field(f), to_json(value))
                except FieldError as exc:
                    raise ValidationFailed([FieldError(f.name, f"its script returned {value!r}: {exc.message}")])
        return values, related

    def _after_save(self, c, et: EntityTables, record_id: int, actor: Actor, old) -> None:
        ref = (et.entity.spec.get("hooks") or {}).get("after_save")
        if ref:
            record = self.full(c, et, self._fetch(c, et, record_id))
            self._hook(c, et, ref, "after_save", actor, record, record_id=record_id, old=old)

    # ------------------------------------------------------------------ validation
    def _prepare(self, c, et: EntityTables, data: dict, actor: Actor, existing) -> tuple[dict, dict]:
        """Coerce and check ``data``; return column values and related rows (children, links).

        Collects every field error before failing, so a form shows them all at once.
        """
        entity = et.entity
        errors: list[FieldError] = []
        allowed_system = {"status", "number"} if actor.system else set()
        for key in data:
            if key not in entity.fields and key not in SYSTEM_READONLY and key not in allowed_system \
                    and key != "status":
                errors.append(FieldError(key, f"unknown field of {entity.name}"))
            elif key == "status" and not actor.system and existing is None and data[key] not in (None, entity.initial_status):
                errors.append(FieldError("status", "a new record starts in its initial status; "
                                                   "use a transition to change it"))
            elif key == "status" and not actor.system and existing is not None and data[key] != existing["status"]:
                errors.append(FieldError("status", "status changes through transitions, not by editing"))
        values: dict = {}
        related: dict = {}
        merged = fold_points(entity, dict(existing)) if existing is not None else {}
        for f in entity.fields.values():
            if f.type in ("computed", "rollup"):
                continue
            if f.storage == "attachments":
                if f.name in data:
                    try:
                        related[f.name] = self._new_files(c, et, f, data[f.name], existing)
                    except FieldError as exc:
                        errors.append(exc)
                continue
            if f.name in data:
                raw = data[f.name]  # read-only fields: people were refused in check_write, hooks may write
            elif existing is None and "default" in f.spec:
                raw = f.spec["default"]
            else:
                continue
            try:
                if f.storage == "child":
                    related[f.name] = self._child_rows(f, raw, system=actor.system)
                    self._check_row_files(c, et, f, related[f.name], existing)
                    self._compute_cells(c, f, related[f.name], actor)
                elif f.storage == "assoc":
                    related[f.name] = self._link_list(c, et, f, raw, actor)
                elif f.storage == "point":
                    merged[f.name] = point = coerce(f, raw)
                    values.update(expand_point(f, point))
                else:
                    value = coerce(f, raw)
                    if value is not None:
                        check(f, value)
                        if f.value_type in ("link", "user", "group"):
                            self._link_exists(c, et, f, value, actor)
                    values[f.name] = value
                    merged[f.name] = value
            except FieldError as exc:
                errors.append(exc)
            except ValueError as exc:
                errors.append(FieldError(f.name, str(exc)))
        failed = {e.field for e in errors}
        if not actor.system and not errors:
            errors.extend(self._link_filter_errors(c, et, data, {**merged, **values}, related, actor, existing))
        for f in entity.fields.values():
            if not f.required or f.type in ("computed", "rollup") or f.name in failed:
                continue
            if f.storage in ("column", "point") and _blank(merged.get(f.name)):
                if f.name in data or existing is None:
                    errors.append(FieldError(f.name, "is required"))
            elif f.storage in ("child", "assoc") and f.name in related and not related[f.name]:
                errors.append(FieldError(f.name, "needs at least one row"))
            elif f.storage in ("child", "assoc") and existing is None and f.name not in related:
                errors.append(FieldError(f.name, "is required"))
            elif f.storage == "attachments" and existing is None and not related.get(f.name) and not actor.system:
                # (fixtures, imports and sample records come without files: the system may create them)
                errors.append(FieldError(f.name, "is required: attach a file"))
        if not errors:
            errors.extend(self._unique_errors(c, et, values, existing, actor))
        if errors:
            raise ValidationFailed(errors)
        if entity.computed_order:
            computed = compute_all(entity, {**merged, **related},
                                   evaluate=lambda expr, scope: self.evaluate(c, entity, expr, scope, actor))
            for f in entity.computed_order:
                values[f.name] = computed[f.name]
        if entity.spec.get("checks"):
            self._checks(c, entity, {**merged, **values, **related}, actor)
        return values, related

    def _checks(self, c, entity: Entity, record: dict, actor: Actor) -> None:
        """The entity's ``checks``: each condition must hold for the record as it will be saved.
        A condition that cannot be decided (a value it reads is empty) does not refuse, as an SQL
        CHECK does not; ``required`` is what demands a value."""
        errors = []
        for spec in entity.spec["checks"]:
            if self.evaluate(c, entity, spec["condition"], record, actor) is False:
                errors.append(FieldError(spec.get("field") or "record", title_text(spec["message"], "en")))
        if errors:
            raise ValidationFailed(errors)

    def _link_filter_errors(self, c, et: EntityTables, data: dict, merged: dict, related: dict, actor: Actor,
                            existing) -> list[FieldError]:
        """A filtered link (docs/metadata.md, "Link filters") must hold records its filter allows
        for the record as it will be: checked when the link, or a field its filter reads, changes
        (a filter script may read anything, so any change checks it)."""
        errors = []
        record = {**merged, **related}
        if existing is not None:
            record["id"] = existing["id"]
        for f in et.entity.fields.values():
            spec = f.spec
            if not (spec.get("filter") or spec.get("filter_script")) or f.storage not in ("column", "assoc"):
                continue
            refs = set(re.findall(r"\$(\w+)", spec.get("filter", "")))
            touched = existing is None or f.name in data or refs & set(data) or (spec.get("filter_script") and data)
            value = record.get(f.name)
            ids = value if isinstance(value, list) else [value]
            if touched and any(i is not None for i in ids):
                try:
                    self.loom.link_filters.check(c, f, ids, record, actor)
                except FieldError as exc:
                    errors.append(exc)
        return errors

    def _child_rows(self, f: Field, raw, system: bool = False) -> list[dict]:
        """Rows of table ``f``, typed. A row keeps the ``id`` it was read with (its files and
        links to it stay valid); a file column holds an upload or the id of the row's file
        (``system``: fixtures and imports may leave a required one empty)."""
        if not isinstance(raw, list):
            raise FieldError(f.name, "expected a list of rows")
        rows = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise FieldError(f"{f.name}[{i}]", "expected a row (an object)")
            row = {}
            for key in item:
                if key not in f.children and key != "id":
                    raise FieldError(f"{f.name}[{i}].{key}", f"unknown column of {f.name}")
            if item.get("id") is not None:
                row["id"] = coerce(Field("id", "integer", {"type": "integer"}), item["id"])
            for child in f.children.values():
                if child.type == "file":
                    value = _file_cell(f"{f.name}[{i}].{child.name}", item.get(child.name))
                else:
                    try:
                        value = coerce(child, item.get(child.name, child.spec.get("default")))
                    except FieldError as exc:
                        raise FieldError(f"{f.name}[{i}].{child.name}", exc.message) from None
                if _blank(value) and child.required and not (system and child.type == "file"):
                    raise FieldError(f"{f.name}[{i}].{child.name}", "is required")
                if value is not None and child.type != "file":
                    try:
                        check(child, value)
                    except FieldError as exc:
                        raise FieldError(f"{f.name}[{i}].{child.name}", exc.message) from None
                row[child.name] = value
            rows.append(row)
        return rows

    def _compute_cells(self, c, f: Field, rows: list[dict], actor: Actor) -> None:
        """Each row's computed columns, from the row's own cells (and links followed as ``actor``
        reads them), before the record's computed fields read the rows."""
        row = f.row_entity
        if not row.computed_order:
            return
        for cells in rows:
            computed = compute_all(row, dict(cells), evaluate=lambda expr, scope: self.evaluate(c, row, expr, scope,
                                                                                                 actor))
            cells.update({g.name: computed[g.name] for g in row.computed_order})

    def _new_files(self, c, et: EntityTables, f: Field, raw, existing) -> list[StagedFile]:
        """The uploads among a file field's value; the record's own files may be sent back (no change),
        anything else is refused."""
        items = raw if isinstance(raw, list) else [] if raw is None else [raw]
        staged = [item for item in items if isinstance(item, StagedFile)]
        others = [item.get("id") if isinstance(item, dict) else item for item in items
                  if not isinstance(item, StagedFile)]
        if others:
            own = set()
            if existing is not None and existing.get("id") is not None:
                own = {m["id"] for m in load_related(c, et, [existing["id"]])[existing["id"]].get(f.name, [])}
            strange = [o for o in others if o not in own]
            if strange:
                raise FieldError(f.name, f"{strange[0]!r} is not a file of this record; send new files as "
                                         f"multipart parts named {f.name}")
        if len(staged) > 1 and not f.spec.get("multiple"):
            raise FieldError(f.name, "takes one file (it is not multiple)")
        return staged

    def _check_row_files(self, c, et: EntityTables, f: Field, rows: list[dict], existing) -> None:
        """A row's file column may hold an upload or a file this record's table already holds."""
        ids = {row[col] for row in rows for col in file_columns(f) if isinstance(row.get(col), int)}
        if not ids:
            return
        own = set()
        if existing is not None and existing.get("id") is not None:
            own = row_file_ids(c, et, f.name, existing["id"])
        strange = sorted(ids - own)
        if strange:
            raise FieldError(f.name, f"file {strange[0]} is not a file of this record's {f.name}; send a new one "
                                     f"as a multipart part named {f.name}[row].column")

    def _link_list(self, c, et: EntityTables, f: Field, raw, actor=None) -> list[int]:
        if not isinstance(raw, list):
            raise FieldError(f.name, "expected a list of record ids")
        ids = []
        for item in raw:
            value = coerce(Field(f.name, "link", {"type": "link", "entity": f.target}), item)
            if value not in ids:
                ids.append(value)
        if ids:
            target = self._target_table(et, f)
            query = self._visible_targets(et, f, target, select(target.c.id).where(target.c.id.in_(ids)), actor)
            found = set(c.execute(query).scalars())
            missing = [i for i in ids if i not in found]
            if missing:
                raise FieldError(f.name, f"no {f.target} record with id {', '.join(map(str, missing))}")
        return ids

    def _target_table(self, et: EntityTables, f: Field):
        if f.value_type == "user":
            return platform.user
        if f.value_type == "group":
            return platform.group
        app, _, name = f.target.rpartition(".")
        return self.loom.entity_tables(app or et.entity.app, name).main

    def _visible_targets(self, et: EntityTables, f: Field, target, query, actor):
        """Only records ``actor`` may see can be linked to: a hidden one reads as missing."""
        if f.value_type in ("user", "group") or actor is None:
            return query
        app, _, name = f.target.rpartition(".")
        return self.loom.permissions.restrict(query, self.loom.entity_tables(app or et.entity.app, name), actor,
                                              table=target)

    def _link_exists(self, c, et: EntityTables, f: Field, value: int, actor=None) -> None:
        target = self._target_table(et, f)
        query = select(target.c.id).where(target.c.id == value)
        if "deleted_at" in target.c:
            query = query.where(target.c.deleted_at.is_(None))
        query = self._visible_targets(et, f, target, query, actor)
        if c.execute(query).first() is None:
            raise FieldError(f.name, f"no {f.target or f.value_type} with id {value}")

    def _unique_errors(self, c, et: EntityTables, values: dict, existing, actor: Actor = SYSTEM) -> list[FieldError]:
        """A value (or combination) another record holds. The other record is named only to whom
        may read it: an anonymous portal form must not tell whose e-mail or SNILS was typed."""
        errors = []
        t = et.main
        for cols, unique in et.entity.indexes:
            if not unique or not any(col in values for col in cols):
                continue
            key = {col: values.get(col, existing.get(col) if existing is not None else None) for col in cols}
            if any(v is None for v in key.values()):
                continue
            query = select(t.c.id, t.c.number, t.c.deleted_at).where(and_(*[t.c[col] == v for col, v in key.items()]))
            if existing is not None and existing.get("id") is not None:
                query = query.where(t.c.id != existing["id"])
            clash = c.execute(query.limit(1)).first()
            if clash is None:
                continue
            what = str(key[cols[0]]) if len(cols) == 1 else f"this combination of {' + '.join(cols)}"
            trusted = actor.system and not actor.visitor
            if clash.deleted_at is not None:
                whose = f" by {clash.number}, a deleted record: restore it instead" if trusted or (
                    not actor.visitor and self.loom.permissions.allowed(actor, et.entity, "delete")) \
                    else " by a deleted record"
            else:
                readable = self.loom.permissions.restrict(select(t.c.id).where(t.c.id == clash.id), et, actor)
                whose = f" by {clash.number}" if trusted or (not actor.visitor and
                    self.loom.permissions.allowed(actor, et.entity, "read")
                    and c.execute(readable).first() is not None) else " by another record"
            errors.append(FieldError(cols[0], f"{what} is already used{whose}"))
        return errors

    def _integrity(self, et: EntityTables, exc: IntegrityError) -> ValidationFailed:
        message = str(exc.orig).lower()
        for cols, unique in et.entity.indexes:
            if unique and any(col in message for col in cols):
                return ValidationFailed([FieldError(cols[0], "this value is already used by another record")])
        return ValidationFailed([FieldError("record", f"the database refused the change: {exc.orig}")])

    def _write_related(self, c, et: EntityTables, row_id: int, related: dict, replace: bool = False,
                       actor: Actor = SYSTEM) -> None:
        """Write table rows, links and new files of a record; ``replace``: its current ones go.
        A file a row no longer holds, or a single-file field's replaced file, is deleted (audited)."""
        store = None
        for name, rows in related.items():
            f = et.entity.fields[name]
            if f.storage == "attachments":
                if rows:
                    store = store or FileStore(self.loom)
                    if not f.spec.get("multiple"):
                        current = load_related(c, et, [row_id])[row_id].get(name, []) if replace else []
                        store.retire(c, et.entity, row_id, [m["id"] for m in current], actor)
                    for staged in rows:
                        store.bind(c, et.entity, row_id, name, staged, actor)
            elif name in et.children:
                store = self._write_rows(c, et, f, row_id, rows, replace, actor, store)
            else:
                table = et.assoc[name]
                if replace:
                    c.execute(delete(table).where(table.c.parent_id == row_id))
                if rows:
                    c.execute(insert(table), [{"parent_id": row_id, "target_id": t, "position": i}
                                              for i, t in enumerate(rows)])

    def _write_rows(self, c, et: EntityTables, f: Field, row_id: int, rows: list, replace: bool, actor, store):
        table, columns = et.children[f.name], file_columns(f)
        held = row_file_ids(c, et, f.name, row_id) if replace and columns else set()
        own = set(c.execute(select(table.c.id).where(table.c.parent_id == row_id)).scalars()) if replace else set()
        if replace:
            c.execute(delete(table).where(table.c.parent_id == row_id))
        kept, fresh = [], []
        for i, r in enumerate(rows):
            r = {**r, "parent_id": row_id, "position": i}
            for col in columns:
                if isinstance(r.get(col), StagedFile):
                    store = store or FileStore(self.loom)
                    r[col] = store.bind(c, et.entity, row_id, f.name, r[col], actor, label=f"{f.name}[{i}].{col}")
            if r.get("id") in own:
                kept.append(r)  # the row keeps its id
            else:
                r.pop("id", None)
                fresh.append(r)
        for batch in (kept, fresh):
            if batch:
                c.execute(insert(table), batch)
        gone = held - {r[col] for r in kept + fresh for col in columns if r.get(col) is not None}
        if gone:
            store = store or FileStore(self.loom)
            store.retire(c, et.entity, row_id, gone, actor, field=f.name)
        return store

    @staticmethod
    def _audit_view(values: dict, related: dict) -> dict:
        out = {k: to_json(v) for k, v in values.items()}
        for name, rows in related.items():
            out[name] = _jsonish(rows)
        return out


def _script_errors(result) -> list[FieldError]:
    """A validate hook returns a message, a list of messages or {field: message}."""
    if not result:
        return []
    if isinstance(result, str):
        return [FieldError("record", result)]
    if hasattr(result, "items"):
        return [FieldError(str(k), str(v)) for k, v in result.items()]
    return [FieldError("record", str(m)) for m in result]


def _file_cell(label: str, value):
    """A table row's file column: an upload, the id of a file (or the file as read, ``{"id": ...}``)."""
    if value is None or isinstance(value, StagedFile):
        return value
    ident = value.get("id") if isinstance(value, dict) else value
    if isinstance(ident, bool) or not isinstance(ident, int):
        raise FieldError(label, "expected a file: the id of one of the record's files, or an upload "
                                f"sent as a multipart part named {label}")
    return ident


def _jsonish(value, files: bool = True):
    """``value`` as JSON-like data: mappings (a script's rows too) as dicts, lists, JSON scalars.
    ``files=False`` keeps uploads not yet saved as they are, for the record service to save."""
    if isinstance(value, StagedFile):
        return value.as_json() if files else value
    if hasattr(value, "items"):
        return {str(k): _jsonish(v, files) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonish(v, files) for v in value]
    return to_json(value)


def format_numbers(pattern: str, ns) -> list[str]:
    """``REQ-{000000}`` and 42 give ``REQ-000042``; the pattern is read once for all ``ns``."""
    start, end = pattern.index("{"), pattern.index("}")
    escaped = [part.replace("{", "{{").replace("}", "}}") for part in (pattern[:start], pattern[end + 1:])]
    return list(map(f"{escaped[0]}{{:0{end - start - 1}d}}{escaped[1]}".format, ns))
