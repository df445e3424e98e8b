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
portal pages[].actions    ``f(record)``                          writable
========================  =====================================  ==============

Scripts see a narrow API: ``record``, ``old``, ``user``, ``find``, ``get``,
``create``, ``update``, ``notify``, ``log``, ``now``, ``today``, ``money``,
``Decimal``, ``reject`` and the frozen modules math, decimal, datetime, re
and json. ``create``/``update`` go through the record service on the same
transaction, so validation, permissions and audit apply and a failure
rolls everything back.
"""
from __future__ import annotations

import threading

from sqlalchemy import insert

from metamodel import App, Problem
from runtime import sandbox
from runtime.data import tables as platform
from runtime.data.storage import utcnow
from runtime.data.values import FieldError, to_json
from runtime.errors import LoomError, ValidationFailed
from runtime.extension.platform import Platform, Records, ScriptCall

MAX_DEPTH = 5  # a hook that saves a record runs that record's hooks: bound the chain


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

    def check_app(self, app: App) -> list[Problem]:
        """Compile every script and check that every referenced function exists."""
        problems: list[Problem] = []
        compiled = {}
        for filename in app.scripts:
            try:
                compiled[filename] = self.compile(app, filename)
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

    # ------------------------------------------------------------------ running
    def run(self, conn, app: App, ref: str, hook: str, *, actor, record: dict | None = None,
            writable: bool = False, old: dict | None = None, args: tuple = (), entity=None,
            record_id: int | None = None, dry_run: bool = False):
        """Run one hook; return ``(result, changes)``. Script errors become :class:`ScriptFailed`
        (or :class:`ValidationFailed` when the script called ``reject``)."""
        depth = getattr(self._local, "depth", 0)
        if depth >= MAX_DEPTH:
            raise LoomError(f"hooks call each other more than {MAX_DEPTH} levels deep ({hook} of {ref})")
        filename, function = parse_ref(ref)
        script = self.compile(app, filename)
        fields = list(entity.fields) if entity is not None else None
        proxy = sandbox.RecordProxy(record or {}, writable=writable, fields=fields) if record is not None else None
        api = self._api(conn, app, actor, proxy, old)
        limits = self._limits(entity)
        report = lambda r: self._remember(r, app, hook, entity, record_id, actor, dry_run)  # noqa: E731
        if proxy is not None:
            args = tuple(args) + (proxy,)  # the record is always the last argument
        self._local.depth = depth + 1
        try:
            result = sandbox.run(script, function, api=api, args=args, limits=limits, on_report=report)
        except sandbox.ScriptRejected as exc:
            raise ValidationFailed([FieldError("record", exc.safe_message)]) from None
        except sandbox.ScriptError as exc:
            raise ScriptFailed(exc, hook) from None
        finally:
            self._local.depth = depth
        return result, sandbox.record_changes(proxy) if proxy is not None else {}

    # ------------------------------------------------------------------ engine entry points
    def run_scheduled(self, app_name: str, ref: str, actor=None) -> dict:
        """Run a scheduled script (``schedules[].script``) in its own transaction.

        The scheduler calls this; so does ``loom scripts run``. The script acts
        as the system user unless an actor is given.
        """
        from runtime.data.records import SYSTEM
        actor = actor or SYSTEM
        live = self.loom.live.get(app_name)
        if live is None:
            raise LoomError(f"no published app {app_name!r}")
        try:
            with self.loom.engine.begin() as conn:
                result, _ = self.run(conn, live.app, ref, f"schedule:{ref}", actor=actor)
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

    def _api(self, conn, app: App, actor, proxy, old) -> dict:
        records = self.loom.records
        safe = (LoomError,)

        def resolve(entity: str):
            owner, _, name = entity.rpartition(".")
            owner = owner or app.name
            if owner != app.name and owner not in app.depends_on:
                raise LoomError(f"{app.name} does not depend on {owner}; add it to depends_on")
            return owner, name

        def find(entity, where=None, sort=None, limit=50):
            owner, name = resolve(entity)
            return records.find(owner, name, where, sort or [], limit, actor, conn=conn)

        def get(entity, record_id):
            owner, name = resolve(entity)
            try:
                return records.get(owner, name, int(record_id), actor, conn=conn)
            except LoomError:
                return None

        def create(entity, data):
            owner, name = resolve(entity)
            return records.create(owner, name, _plain(data), actor, conn=conn)

        def update(entity, record_id, data):
            owner, name = resolve(entity)
            current = records.get(owner, name, int(record_id), actor, conn=conn)
            return records.update(owner, name, int(record_id), _plain(data), current["row_version"], actor, conn=conn)

        def notify(user, title, body=None):
            from sqlalchemy import select
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

        user = {"id": actor.id, "username": actor.username, "roles": list(actor.roles)}
        api = sandbox.build_api(None, tz=app.timezone, user=user, old=old,
                                find=sandbox.expose(find, "find", errors=safe),
                                get=sandbox.expose(get, "get", errors=safe),
                                create=sandbox.expose(create, "create", errors=safe),
                                update=sandbox.expose(update, "update", errors=safe),
                                notify=sandbox.expose(notify, "notify", errors=safe),
                                business_add=sandbox.expose(business_add, "business_add", errors=(ValueError,)),
                                business_between=sandbox.expose(business_between, "business_between",
                                                                errors=(ValueError,)))
        for name, function in self.loom.plugins.script_functions().items():
            if name not in api:  # the platform's own names come first
                api[name] = self._plugin_function(function, conn, app, actor, user)
        if proxy is not None:
            api["record"] = proxy
        return api

    def _plugin_function(self, function, conn, app: App, actor, user: dict):
        """A plugin's script function, refused to callers without one of its roles."""
        def call(*args, **kwargs):
            if function.roles and not (actor.is_admin or actor.system or set(actor.roles) & set(function.roles)):
                raise LoomError(f"{function.name}() may be called by {', '.join(function.roles)} only; "
                                f"{actor.username} holds none of these roles")
            context = ScriptCall(app.name, user, Records(self.loom, actor, conn), Platform(self.loom))
            return function.function(context, *args, **kwargs)
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


def script_refs(app: App):
    """Every ``(file, path)`` and script reference in an app's metadata."""
    for entity in app.entities.values():
        base = f"entities/{entity.name}.yaml"
        hooks = entity.spec.get("hooks") or {}
        for key, ref in hooks.items():
            if key == "actions":
                for i, action in enumerate(ref):
                    yield (base, f"hooks.actions[{i}].script"), action["script"]
            elif key != "limits":
                yield (base, f"hooks.{key}"), ref
        for name, spec in entity.spec.get("fields", {}).items():
            for key in ("validator", "script"):
                if key in spec:
                    yield (base, f"fields.{name}.{key}"), spec[key]
        for i, tr in enumerate(entity.spec.get("transitions", [])):
            for key in ("before", "after"):
                if key in tr:
                    yield (base, f"transitions[{i}].{key}"), tr[key]
    for kind, key in (("routing", "rules"), ("sla", "policies"), ("schedules", "schedules"), ("portal", "pages")):
        for i, item in enumerate(app.section(kind).get(key, [])):
            for ref_key in ("script", "when_script"):
                if item.get(ref_key):
                    yield (f"{kind}.yaml", f"{key}[{i}].{ref_key}"), item[ref_key]
            for j, action in enumerate(item.get("actions", [])):
                yield (f"{kind}.yaml", f"{key}[{i}].actions[{j}].script"), action["script"]
