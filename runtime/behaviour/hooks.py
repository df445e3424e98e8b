"""Script hooks: where metadata names a script, this module runs it.

Hook points (all named in metadata as ``file.py:function``):

========================  =====================================  ==============
where                     called as                              record
========================  =====================================  ==============
hooks.default             ``f(record)`` on a new record          writable
fields.X.validator        ``f(value, record)`` -> message|None   read-only
hooks.validate            ``f(record)`` -> message|list|dict     read-only
fields.X.script           ``f(record)`` -> computed value        read-only
hooks.before_save         ``f(record)``; may ``reject(msg)``     writable
hooks.after_save          ``f(record)``; acts via the API        read-only
hooks.before_delete       ``f(record)``; may ``reject(msg)``     read-only
transitions[].before      ``f(record)``; may ``reject(msg)``     writable
transitions[].after       ``f(record)``                          read-only
hooks.actions[]           ``f(record)`` (a button)               writable
routing/SLA when_script   ``f(record)`` -> bool                  read-only
schedules[].script        ``f()``                                none
batches[].script          ``f(records, params)`` -> result dicts  none
portal pages[].actions    ``f(record)``                          writable
========================  =====================================  ==============

Scripts see a narrow API: ``record``, ``old``, ``user``, ``find``, ``get``,
``create``, ``update``, ``notify``, ``send``, ``users_of_role``,
``users_of_group``, ``log``, ``now``, ``today``, ``money``, ``Decimal``,
``reject`` and the frozen modules math, decimal, datetime, re and json.
``create``/``update`` go through the record service and ``send`` through the
notifier on the same transaction, so validation, permissions and audit apply,
a message is stored in the outbox with the change, and a failure rolls
everything back.
"""
from __future__ import annotations

import copy
import logging
import re
import threading

from sqlalchemy import insert, select

from metamodel import App, Problem
from runtime import sandbox
from runtime.data import tables as platform
from runtime.data.records import elevated
from runtime.data.roles import holds, roles_of
from runtime.data.storage import utcnow
from runtime.data.values import FieldError, to_json
from runtime.errors import LoomError, ValidationFailed, redact
from runtime.extension.platform import Platform, Records, ScriptCall

MAX_DEPTH = 5  # a hook that saves a record runs that record's hooks: bound the chain
log = logging.getLogger("loom.plugins")


class ScriptFailed(LoomError):
    """A script broke: end users get a safe message, analysts the script, line and reason."""

    status, title = 500, "Script failed"

    def __init__(self, error: sandbox.ScriptError, hook: str):
        super().__init__(error.safe_message, hook=hook,
                         script={"name": error.script, "line": error.line, "guard": error.guard,
                                 "message": error.message})
        self.error = error


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``file.py:function`` -> (``file.py``, ``function``); the file part may omit ``.py``."""
    filename, _, function = ref.partition(":")
    if not filename.endswith(".py"):
        filename += ".py"
    return filename, function or None


class Hooks:
    def __init__(self, loom):
        self.loom = loom
        self._local = threading.local()

    # ------------------------------------------------------------------ compiling
    def compile(self, app: App, filename: str) -> sandbox.CompiledScript:
        """Compile once per content (the sandbox caches by name and hash)."""
        return sandbox.compile_script(app.scripts[filename], f"{app.name}/scripts/{filename}")

    # ------------------------------------------------------------------ running
    def run(self, conn, app: App, ref: str, hook: str, *, actor, record: dict | None = None,
            writable: bool = False, old: dict | None = None, args: tuple = (), entity=None,
            record_id: int | None = None, dry_run: bool = False, privileged: bool = False,
            limits: dict | sandbox.Limits | None = None):
        """Run one hook; return ``(result, changes)``. Script errors become :class:`ScriptFailed`
        (or :class:`ValidationFailed` when the script called ``reject``).

        A ``privileged`` hook reads and writes with system rights on behalf of ``actor``
        (:func:`runtime.data.records.elevated`): its changes are marked in the audit log, and
        what it read is one audit entry ``privileged_read``. ``user`` is still the caller.
        """
        depth = getattr(self._local, "depth", 0)
        if depth >= MAX_DEPTH:
            raise LoomError(f"hooks call each other more than {MAX_DEPTH} levels deep ({hook} of {ref})")
        filename, function = parse_ref(ref)
        script = self.compile(app, filename)
        fields = list(entity.fields) if entity is not None else None
        proxy = sandbox.RecordProxy(record or {}, writable=writable, fields=fields) if record is not None else None
        rights = elevated(actor, f"{hook} ({ref})") if privileged else actor
        reads = Reads() if rights is not actor else None
        api = self._api(conn, app, actor, proxy, old, entity, rights=rights, reads=reads)
        if isinstance(limits, dict):  # a schedule's limits: block
            limits = sandbox.Limits.from_config(limits)
        limits = limits or self._limits(entity)
        report = lambda r: self._remember(r, app, hook, entity, record_id, actor, dry_run)  # noqa: E731
        if proxy is not None:
            args = tuple(args) + (proxy,)  # the record is always the last argument
        self._local.depth = depth + 1
        try:
            result = sandbox.run(script, function, api=api, args=args, limits=limits, on_report=report)
        except sandbox.ScriptRejected as exc:
            raise ValidationFailed([FieldError("record", exc.safe_message)]) from None
        except sandbox.ScriptError as exc:
            raise _plugin_refusal(exc) or ScriptFailed(exc, hook) from None
        finally:
            self._local.depth = depth
        if reads:
            self.loom.audit.record(conn, actor, "privileged_read", entity, record_id, None,
                                   {"hook": hook, "script": ref, "read": reads.counts()})
        return result, sandbox.record_changes(proxy) if proxy is not None else {}

    # ------------------------------------------------------------------ engine entry points
    def run_scheduled(self, app_name: str, ref: str, actor=None, limits: dict | None = None) -> dict:
        """Run a scheduled script (``schedules[].script``) in its own transaction.

        The scheduler calls this (in a job process, see ``runtime.core.isolation``); so
        does ``loom scripts run``. The script acts as the system user unless an actor is
        given; ``limits`` is the schedule's ``limits:`` block.
        """
        from runtime.data.records import SYSTEM
        actor = actor or SYSTEM
        live = self.loom.live.get(app_name)
        if live is None:
            raise LoomError(f"no published app {app_name!r}")
        try:
            with self.loom.engine.begin() as conn:
                result, _ = self.run(conn, live.app, ref, f"schedule:{ref}", actor=actor, limits=limits)
        finally:
            self.flush()
        report = self.last_report
        return {"result": to_json(result), "logs": list(report.logs) if report else []}

    def condition(self, conn, app: App, ref: str, hook: str, record: dict, actor, entity=None) -> bool:
        """A routing or SLA ``when_script``: the script's answer as a plain bool."""
        result, _ = self.run(conn, app, ref, hook, actor=actor, record=record, entity=entity,
                             record_id=record.get("id"))
        if not isinstance(result, bool):
            raise LoomError(f"{ref} must return True or False, it returned {type(result).__name__}")
        return result

    def _limits(self, entity) -> sandbox.Limits:
        config = ((entity.spec.get("hooks") or {}).get("limits") if entity is not None else None) or {}
        return sandbox.Limits.from_config(config) if config else sandbox.DEFAULT_LIMITS

    def _api(self, conn, app: App, actor, proxy, old, entity=None, rights=None, reads: Reads | None = None) -> dict:
        """The script's globals. ``actor`` is who the script runs for (``user``); ``rights`` whose
        permissions its reads and writes have (the same, or raised for a privileged hook, which
        counts what it reads in ``reads``)."""
        records = self.loom.records
        safe = (LoomError,)
        acting = rights or actor

        def count(owner: str, name: str, found: list) -> None:
            if reads is not None:
                reads.add(f"{owner}.{name}", (r["id"] for r in found))

        def resolve(entity: str):
            owner, _, name = entity.rpartition(".")
            owner = owner or app.name
            if owner != app.name and owner not in app.depends_on:
                raise LoomError(f"{app.name} does not depend on {owner}; add it to depends_on")
            return owner, name

        def find(entity, where=None, sort=None, limit=50):
            owner, name = resolve(entity)
            found = records.find(owner, name, _plain(where or {}), sort or [], limit, acting, conn=conn, typed=True)
            count(owner, name, found)
            return [sandbox.rows(record) for record in found]

        def get(entity, record_id):
            owner, name = resolve(entity)
            try:
                found = records.get(owner, name, int(record_id), acting, conn=conn, typed=True)
            except LoomError:
                return None
            count(owner, name, [found])
            return sandbox.rows(found)

        def create(entity, data):
            owner, name = resolve(entity)
            return records.create(owner, name, _plain(data), acting, conn=conn, by_script=True)

        def update(entity, record_id, data):
            owner, name = resolve(entity)
            current = records.get(owner, name, int(record_id), acting, conn=conn)
            return records.update(owner, name, int(record_id), _plain(data), current["row_version"], acting, conn=conn,
                                  by_script=True)

        def transition(entity, record_id, name, data=None):
            """Fire transition ``name`` on a stored record, with the script's rights, in its change."""
            owner, entity_name = resolve(entity)
            return self.loom.workflow.transition(owner, entity_name, int(record_id), str(name), _plain(data or {}),
                                                 actor=acting, conn=conn, via="script")

        def notify(user, title, body=None):
            u = platform.user
            column = u.c.id if isinstance(user, int) else u.c.username
            user_id = conn.execute(select(u.c.id).where(column == user)).scalar()
            if user_id is None:
                raise LoomError(f"no user {user!r} to notify")
            conn.execute(insert(platform.notification).values(
                user_id=user_id, title=str(title)[:255], body=None if body is None else str(body),
                app=app.name, created_at=utcnow()))
            return True

        def business_add(start, duration, calendar=None):
            """``start`` plus a duration ("2 business days", "4 business hours") in the app's calendar."""
            from .calendars import calendar_from_app_section
            return calendar_from_app_section(app.section("sla"), calendar).add(_aware(start), str(duration))

        def business_between(a, b, calendar=None):
            """Business seconds from ``a`` to ``b`` in the app's calendar."""
            from .calendars import calendar_from_app_section
            return calendar_from_app_section(app.section("sla"), calendar).between(_aware(a), _aware(b))

        mail = _Mail(self.loom, conn, app, acting, proxy, entity)
        user = {"id": actor.id, "username": actor.username, "roles": sorted(roles_of(actor, app.name))}
        api = sandbox.build_api(None, tz=app.timezone, user=user, old=old,
                                find=sandbox.expose(find, "find", errors=safe),
                                get=sandbox.expose(get, "get", errors=safe),
                                create=sandbox.expose(create, "create", errors=safe),
                                update=sandbox.expose(update, "update", errors=safe),
                                notify=sandbox.expose(notify, "notify", errors=safe, messages=True),
                                transition=sandbox.expose(transition, "transition", errors=safe),
                                send=sandbox.expose(mail.send, "send", errors=(LoomError, ValueError),
                                                    messages=True),
                                users_of_role=sandbox.expose(mail.users_of_role, "users_of_role",
                                                             errors=(LoomError, ValueError)),
                                users_of_group=sandbox.expose(mail.users_of_group, "users_of_group",
                                                              errors=(LoomError, ValueError)),
                                business_add=sandbox.expose(business_add, "business_add", errors=(ValueError,)),
                                business_between=sandbox.expose(business_between, "business_between",
                                                                errors=(ValueError,)))
        for name, function in self.loom.plugins.script_functions().items():
            if name not in api:  # the platform's own names come first
                api[name] = self._plugin_function(function, conn, app, acting, user)
        if proxy is not None:
            api["record"] = proxy
        return api

    def _plugin_function(self, function, conn, app: App, actor, user: dict):
        """A plugin's script function, refused to callers without one of its roles. A refusal of
        the function's (a :class:`LoomError` with status 422: "that slot is taken") refuses the
        operation as the script's own ``reject()`` would, with the function's message; another
        ``LoomError`` reaches the script as ``ApiError`` and, uncaught, fails the operation with
        its own status and message (:func:`_plugin_refusal`). Any other exception is the plugin's
        bug: logged here with the plugin's name, the script gets "name() failed"."""
        def call(*args, **kwargs):
            if function.roles and not holds(actor, app.name, function.roles):
                raise sandbox.ApiError(f"{function.name}() may be called by {', '.join(function.roles)} only; "
                                       f"{actor.username} holds none of these roles")
            context = ScriptCall(app.name, user, Records(self.loom, actor, conn), Platform(self.loom))
            try:
                return function.function(context, *args, **kwargs)
            except LoomError as exc:
                if exc.status == 422:
                    sandbox.reject(redact(exc.detail))
                refused = sandbox.ApiError(redact(exc.detail))
                refused._plugin_error_ = exc  # a private name: the script cannot read it
                raise refused from exc
            except (ValueError, LookupError):
                raise  # the script gets the message
            except Exception:
                log.exception("plugin %r: script function %s() failed in app %r",
                              self.loom.plugins.owner("loom_script_functions", function.name), function.name,
                              app.name)
                raise
        return sandbox.expose(call, function.name, errors=(LoomError, ValueError, LookupError))

    # ------------------------------------------------------------------ run log
    @property
    def last_report(self):
        """The report of this thread's most recent run (the designer's dry run shows it)."""
        return getattr(self._local, "last", None)

    def _remember(self, report, app, hook, entity, record_id, actor, dry_run) -> None:
        self._local.last = report
        pending = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = []
        live = self.loom.live.get(app.name)
        pending.append({
            "at": utcnow(), "app": app.name, "version": live.version if live else None,
            "script": report.script[:120], "function": report.function, "hook": hook[:60],
            "entity": entity.name if entity is not None else None, "record_id": record_id,
            "outcome": report.outcome, "duration_ms": round(report.duration * 1000, 3), "steps": report.steps,
            "error": report.error, "guard": report.guard, "line": report.line,
            "message": report.message, "dry_run": dry_run, "user_id": actor.id})

    def flush(self) -> None:
        """Write the run log of this thread's finished transaction (kept even when it rolled back)."""
        pending = getattr(self._local, "pending", None)
        if not pending:
            return
        self._local.pending = []
        with self.loom.engine.begin() as conn:
            conn.execute(insert(platform.script_run), pending)


def _plugin_refusal(error: sandbox.ScriptError) -> LoomError | None:
    """The ``LoomError`` a plugin's script function raised (a 503 of its gateway, a 404) when
    the script let it through: the operation fails with its status and message (masked), not
    as a broken script."""
    found = getattr(error.__cause__, "_plugin_error_", None)  # not the platform's own get(), send()...
    if not isinstance(found, LoomError):
        return None
    passed = copy.copy(found)
    passed.detail = redact(found.detail)
    passed.args = (passed.detail,)
    return passed


class Reads:
    """The records a privileged run read, by entity (``app.entity``), each counted once."""

    def __init__(self):
        self.ids: dict[str, set] = {}

    def add(self, entity: str, ids) -> None:
        self.ids.setdefault(entity, set()).update(ids)

    def counts(self) -> dict[str, int]:
        return {entity: len(ids) for entity, ids in sorted(self.ids.items()) if ids}

    def __bool__(self) -> bool:
        return any(self.ids.values())


class _Mail:
    """``send()``, ``users_of_role()`` and ``users_of_group()`` of one script run.

    ``send`` writes through the notifier in the script's transaction, so a message is
    stored in the outbox and leaves only if the change commits, with the outbox's
    delivery guarantees. It is permission-aware: a stored record is read again with the
    script's rights, and one its actor may not read is refused, not mailed about.
    """

    def __init__(self, loom, conn, app: App, actor, proxy, entity):
        self.loom, self.conn, self.app, self.actor, self.proxy, self.entity = loom, conn, app, actor, proxy, entity

    def send(self, template, to=(), cc=(), record=None, entity=None, context=None) -> dict:
        """Send notification ``template`` of this app to ``to`` (copies to ``cc``), about
        ``record`` (the hook's record, a record from ``get``/``find``, or an id with
        ``entity``); return how many messages each channel got."""
        name, record_id, values = self._about(record, entity)
        ids = self.loom.notifier.send(self.conn, self.app.name, str(template), entity=name, record_id=record_id,
                                      to=_specs(to, "to"), cc=_specs(cc, "cc"),
                                      context=_plain(context) if context else None, record=values)
        return {channel: len(rows) for channel, rows in ids.items()}

    def _about(self, record, entity) -> tuple:
        """``(entity, record id, values)`` of what a message is about, checked against the script's rights."""
        if record is None:
            return entity, None, None
        name = entity or (self.entity.name if self.entity is not None else None)
        if name is None:
            raise ValueError("send(): say which entity the record is of: send(..., record=r, entity='name')")
        if name not in self.app.entities:
            raise ValueError(f"send(): {self.app.name} has no entity {name!r}; templates speak of "
                             f"this app's records")
        own = record is self.proxy and self.proxy is not None
        if own:
            values = sandbox.record_values(self.proxy)
            record_id = values.get("id")
        else:
            record_id = record if isinstance(record, int) and not isinstance(record, bool) else _id_of(record)
        if record_id is None:  # the hook's own record, not saved yet: nothing stored to read
            return name, None, values
        stored = self.loom.records.get(self.app.name, name, int(record_id), self.actor, conn=self.conn)
        return name, int(record_id), ({**stored, **values} if own else stored)

    def users_of_role(self, role, limit=100) -> list:
        """Active users with ``role``, by id: ``[{id, username, email, full_name}]``, at most ``limit``."""
        return self._directory(f"role:{role}", limit)

    def users_of_group(self, group, limit=100) -> list:
        """Active members of group ``group`` (``"line1.lead"``: its lead), as :meth:`users_of_role`."""
        return self._directory(f"group:{group}", limit)

    def _directory(self, spec: str, limit) -> list:
        if not isinstance(limit, int) or not 1 <= limit <= DIRECTORY_LIMIT:
            raise ValueError(f"limit must be a whole number from 1 to {DIRECTORY_LIMIT}")
        found = self.loom.notifier.recipients(self.conn, self.app.name, None, None, [spec])
        ids = [r.user_id for r in found if r.user_id is not None][:limit]
        if not ids:
            return []
        u = platform.user
        rows = {r.id: r for r in self.conn.execute(select(u.c.id, u.c.username, u.c.email, u.c.full_name)
                                                   .where(u.c.id.in_(ids)))}
        return [{"id": i, "username": rows[i].username, "email": rows[i].email, "full_name": rows[i].full_name}
                for i in ids if i in rows]


DIRECTORY_LIMIT = 1000  # users_of_role/users_of_group return at most this many


def _specs(value, name: str) -> list[str]:
    """Recipient specs as a list of strings (one spec may be given alone)."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in items):
        raise ValueError(f"send(): {name} is a list of recipient specs (strings) such as 'assignee', "
                         f"'role:agent' or 'correspondent.email'")
    return items


def _id_of(record):
    try:
        return record["id"]
    except (KeyError, TypeError, IndexError):
        raise ValueError("send(): record is the hook's record, a record from get()/find() or an id") from None


def forbidden_imports(source: str, filename: str) -> list[Problem]:
    """Imports the sandbox would refuse at run time, reported at publish instead."""
    import ast
    out = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            if name.split(".")[0] not in sandbox.MODULES:
                out.append(Problem(filename, "", f"import of {name!r} is not allowed; scripts may import only "
                                                 f"{', '.join(sorted(sandbox.MODULES))}", node.lineno))
    return out


def _aware(value):
    """Datetimes from scripts may be naive (meaning UTC) or aware; dates mean their midnight UTC."""
    import datetime as dt
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    raise ValueError(f"expected a date or datetime, got {type(value).__name__}")


def _plain(data):
    """Turn frozen script values back into plain JSON-ish data for the record service."""
    if isinstance(data, sandbox.FrozenMap) or isinstance(data, dict):
        return {str(k): _plain(v) for k, v in dict(data).items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    return to_json(data)


def runs_privileged(app: App, where: tuple[str, str]) -> bool:
    """Whether the hook at ``where`` (a ``(file, path)`` of :func:`script_refs`) runs with system
    rights: metadata declares it ``privileged`` (:attr:`metamodel.Entity.privileged_hooks`)."""
    filename, path = where
    m = re.fullmatch(r"entities/(\w+)\.yaml", filename)
    entity = app.entities.get(m.group(1)) if m else None
    if entity is None:
        return False
    spec = entity.spec
    if m := re.fullmatch(r"hooks\.actions\[(\d+)\]\.script", path):
        label = f"action:{spec['hooks']['actions'][int(m.group(1))]['name']}"
    elif m := re.fullmatch(r"hooks\.(\w+)", path):
        label = m.group(1)
    elif m := re.fullmatch(r"fields\.(\w+)\.(validator|script)", path):
        label = f"field:{m.group(1)}.{m.group(2)}"
    elif m := re.fullmatch(r"fields\.(\w+)\.filter_script", path):
        label = f"field:{m.group(1)}.filter"
    elif m := re.fullmatch(r"transitions\[(\d+)\]\.(before|after)", path):
        label = f"transition:{spec['transitions'][int(m.group(1))]['name']}.{m.group(2)}"
    else:
        return False
    return label in entity.privileged_hooks


def check_scripts(app: App) -> list[Problem]:
    """Compile every script and check that every referenced function exists."""
    problems: list[Problem] = []
    compiled = {}
    for filename in app.scripts:
        try:
            compiled[filename] = sandbox.compile_script(app.scripts[filename], f"{app.name}/scripts/{filename}")
        except sandbox.ScriptCompileError as exc:
            for line, message in (exc.errors or [(exc.line, exc.message)]):
                problems.append(Problem(f"scripts/{filename}", "", message, line))
            continue
        problems.extend(forbidden_imports(app.scripts[filename], f"scripts/{filename}"))
    for where, ref in script_refs(app):
        filename, function = parse_ref(ref)
        script = compiled.get(filename)
        if script is not None and function and function not in script.functions:
            problems.append(Problem(where[0], where[1], f"scripts/{filename} defines no function "
                                    f"{function!r}; it has {', '.join(sorted(script.functions)) or 'none'}"))
    return problems


def script_refs(app: App):
    """Every ``(file, path)`` and script reference in an app's metadata."""
    for entity in app.entities.values():
        base = f"entities/{entity.name}.yaml"
        hooks = entity.spec.get("hooks") or {}
        for key, ref in hooks.items():
            if key == "actions":
                for i, action in enumerate(ref):
                    yield (base, f"hooks.actions[{i}].script"), action["script"]
            elif key not in ("limits", "privileged"):
                yield (base, f"hooks.{key}"), ref
        for name, spec in entity.spec.get("fields", {}).items():
            for key in ("validator", "script"):
                if key in spec:
                    yield (base, f"fields.{name}.{key}"), spec[key]
        for i, tr in enumerate(entity.spec.get("transitions", [])):
            for key in ("before", "after"):
                if key in tr:
                    yield (base, f"transitions[{i}].{key}"), tr[key]
    for kind, key in (("routing", "rules"), ("sla", "policies"), ("schedules", "schedules"), ("portal", "pages"),
                      ("batches", "batches")):
        for i, item in enumerate(app.section(kind).get(key, [])):
            for ref_key in ("script", "when_script"):
                if item.get(ref_key):
                    yield (f"{kind}.yaml", f"{key}[{i}].{ref_key}"), item[ref_key]
            for j, action in enumerate(item.get("actions", [])):
                yield (f"{kind}.yaml", f"{key}[{i}].actions[{j}].script"), action["script"]
