"""Statuses and transitions, buttons, and dry runs of scripts.

A transition is fired by name: its source statuses, roles, condition and
required fields are checked, its ``set`` expressions and the caller's values
applied, and its ``before``/``after`` scripts run, all in one change that the
audit log records with the old and new status.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select, update

from metamodel import App
from metamodel.model import CURRENT_USER, PREVIOUS_STATUS
from runtime.data import tables as platform
from runtime.data.evaluation import app_timezone
from runtime.data.files import merge_uploads
from runtime.data.records import SYSTEM, Actor, _jsonish
from runtime.data.roles import holds
from runtime.data.storage import utcnow
from runtime.data.values import FieldError, to_json
from runtime.errors import Conflict, Forbidden, LoomError, NotFound, ValidationFailed

from .hub import history_label


class Workflow:
    def __init__(self, loom):
        self.loom = loom
        self.records = loom.records

    @staticmethod
    def may_fire(actor, entity, tr: dict) -> bool:
        """Whether ``actor``'s roles in ``entity``'s app allow transition ``tr`` (its other checks
        come when it fires)."""
        roles = tr.get("roles")
        return not roles or holds(actor, entity.app, roles)

    def available(self, entity, status: str | None, actor) -> list[dict]:
        """The transitions ``actor`` may fire from ``status``: the buttons a record page shows."""
        out = []
        for tr in entity.spec.get("transitions", []):
            sources = tr["from"] if isinstance(tr["from"], list) else [tr["from"]]
            if (("*" in sources or status in sources) and self.may_fire(actor, entity, tr)
                    and self.loom.approvals.deciding(entity, status, tr["name"], actor) is None):
                out.append(tr)
        return out

    def transition(self, app: str, entity: str, record_id: int, name: str, data: dict | None = None,
                   row_version: int | None = None, actor: Actor = SYSTEM, conn=None, via: str | None = None,
                   files: dict | None = None) -> dict:
        """Fire transition ``name``: check source status, roles, groups, condition and required fields,
        apply ``set`` and the caller's field values, run the before/after hooks and the actions, all in
        one change (``$user`` in ``set`` is the person firing it). ``via`` names what fired it when no
        person did ("timer", "cascade"). ``files``:
        uploads that come with it (a required photo), as for :meth:`RecordService.create`."""
        et = self.loom.entity_tables(app, entity)
        with self.records._uploads(et, files) as staged:
            return self._transition(et, record_id, name, merge_uploads(dict(data or {}), staged), row_version,
                                    actor, conn, via)

    def _transition(self, et, record_id: int, name: str, data: dict, row_version, actor, conn, via) -> dict:
        app, entity = et.entity.app, et.entity.name
        entity_ = et.entity
        tr = next((x for x in entity_.spec.get("transitions", []) if x["name"] == name), None)
        if tr is None:
            raise NotFound(f"{entity} has no transition {name!r}")
        # A transition that names its roles or groups decides who fires it (a requester confirms a fix
        # without the right to edit tickets); one that does not needs the right to update the record.
        self.loom.permissions.require(actor, entity_, "read" if tr.get("roles") or tr.get("groups") else "update")
        if not self.may_fire(actor, entity_, tr):
            raise Forbidden(f"{name!r} needs one of the roles {', '.join(tr['roles'])}")
        with self.records._tx(conn) as c:
            current = self.records._fetch(c, et, record_id, actor=actor)
            self.loom.permissions.check_write(actor, entity_, data, current)
            if row_version is not None and current["row_version"] != row_version:
                raise self.records._conflict(c, et, current, data, row_version, actor)
            sources = tr["from"] if isinstance(tr["from"], list) else [tr["from"]]
            if "*" not in sources and current["status"] not in sources:
                raise Conflict(f"{name!r} cannot be fired from status {current['status']!r}; "
                               f"it goes from {', '.join(sources)} to {tr['to']}")
            deciding = self.loom.approvals.deciding(entity_, current["status"], name, actor)
            if deciding is not None:
                raise Forbidden(f"{name!r} is decided by the approval {deciding!r}: its approvers vote on it")
            if not self._in_groups(c, actor, tr):
                raise Forbidden(f"{name!r} may be fired by members of {', '.join(tr['groups'])} only")
            # The record as it will be: stored values, table rows and files, with the caller's values
            # typed ("3000" for money is a Decimal), so the condition compares like with like.
            merged = self.records.full(c, et, current, self.records.typed(et, data))
            scope = {"user": actor.username, "status": current["status"]}
            if "condition" in tr and not self.records.evaluate(c, entity_, tr["condition"], merged, actor, scope):
                raise Conflict(f"{name!r} is not allowed now: the condition {tr['condition']!r} is not met")
            for field_name, expr in tr.get("set", {}).items():
                if expr == CURRENT_USER:
                    if actor.id is None:  # fired by the system: nobody to set, the field stays as it is
                        continue
                    value = actor.id
                else:
                    value = self._settable(entity_, field_name, self.records.evaluate(c, entity_, expr, merged, actor,
                                                                                       scope))
                data[field_name] = _jsonish(value)
                merged[field_name] = value
            if tr.get("before"):
                _, changes = self.records._hook(c, et, tr["before"], f"transition:{name}.before", actor,
                                                merged, writable=True, record_id=record_id)
                data.update(_jsonish(changes, files=False))
                merged.update(changes)
            missing = [f for f in tr.get("required", []) if _empty(merged.get(f))]
            if missing:
                raise ValidationFailed([FieldError(f, f"is required to {name}") for f in missing])
            returning = tr["to"] == PREVIOUS_STATUS
            target = self._previous(c, et, record_id, name) if returning else tr["to"]
            values, related = self.records._prepare(c, et, data, actor, existing=current)
            routed = self.loom.behaviour.before_write(c, et, {**values, "status": target}, current, actor)
            values.update(routed)
            t = et.main
            values.update(status=target, updated_at=utcnow(), updated_by=actor.id,
                          row_version=current["row_version"] + 1, meta_version=self.loom.live_version(app))
            c.execute(update(t).where(t.c.id == record_id, t.c.row_version == current["row_version"]).values(values))
            self.records._write_related(c, et, record_id, related, replace=True, actor=actor)
            self.records.changed(c, actor, "transition", entity_, record_id,
                                 {"status": current["status"]},
                                 {"status": target, "transition": name, **self.records._audit_view(
                                     {k: v for k, v in values.items() if k in data or k in routed}, related)})
            self.loom.behaviour.after_write(c, et, record_id, current, actor,
                                            transition=history_label(name, via, returning))
            if tr.get("after"):
                record = self.records.full(c, et, self.records._fetch(c, et, record_id))
                self.records._hook(c, et, tr["after"], f"transition:{name}.after", actor, record, record_id=record_id)
            for action in tr.get("actions", []):
                self._act(c, et, record_id, action, actor, name)
            self.records._require_visible(c, et, record_id, actor)
            return self.records.to_json(c, et, self.records._fetch(c, et, record_id), actor)

    def _previous(self, conn, et, record_id: int, name: str) -> str:
        """The status a record returns to by a ``$previous`` transition, or a Conflict saying why
        there is none."""
        status = self.loom.behaviour.previous_status(conn, et.entity.app, et.entity.name, record_id)
        if status is None:
            raise Conflict(f"{name!r} returns to the previous status, and this {et.entity.name} has not "
                           f"been in another status yet")
        if status not in et.entity.status_categories:
            raise Conflict(f"{name!r} would return to status {status!r}, which {et.entity.name} no longer has")
        return status

    def _settable(self, entity, field_name: str, value):
        """A ``set`` value as its field takes it: ``now`` set into a date field is today's date
        in the app's time zone (not a time of day the field cannot hold)."""
        f = entity.fields.get(field_name)
        if f is not None and f.value_type == "date" and isinstance(value, dt.datetime):
            return value.astimezone(app_timezone(self.loom.live[entity.app].app)).date()
        return value

    def _in_groups(self, conn, actor, tr: dict) -> bool:
        """Whether ``actor`` belongs to one of the transition's ``groups`` (when it names any)."""
        names = tr.get("groups")
        if not names or actor.is_admin or actor.system:
            return True
        g = platform.group
        ids = set(conn.execute(select(g.c.id).where(g.c.name.in_(names))).scalars())
        return bool(ids & set(actor.groups))

    def _act(self, c, et, record_id: int, action: dict, actor, transition: str) -> None:
        """One of a transition's ``actions``: notify, create a linked record, run a hook, cascade."""
        entity = et.entity
        record = self.records.full(c, et, self.records._fetch(c, et, record_id))
        if "notify" in action:
            spec = action["notify"]
            self.loom.notifier.send(c, entity.app, spec["template"], entity=entity.name, record_id=record_id,
                                    to=spec.get("to", []), cc=spec.get("cc", []), record=record)
        elif "create" in action:
            spec = action["create"]
            target = spec["entity"].split(".")[-1]
            owner = entity.app if "." not in spec["entity"] else spec["entity"].split(".")[0]
            target_entity = self.loom.entity_tables(owner, target).entity
            scope = {"user": actor.username}
            data = {k: _jsonish(self._settable(target_entity, k, self.records.evaluate(c, entity, e, record, actor,
                                                                                         scope)))
                    for k, e in spec.get("set", {}).items() if e != CURRENT_USER}
            data.update({k: actor.id for k, e in spec.get("set", {}).items() if e == CURRENT_USER and actor.id})
            self.records.create(owner, target, data, actor=SYSTEM, conn=c)
        elif "run" in action:
            self.records._hook(c, et, action["run"], f"transition:{transition}.run", actor, record,
                               record_id=record_id)
        elif "cascade" in action:
            self._cascade(c, et, record, action["cascade"])

    def _cascade(self, c, et, parent: dict, spec: dict) -> None:
        """Fire ``spec.transition`` on every record linked to ``parent`` by ``spec.field`` that can take it."""
        t = et.main
        tr = next(x for x in et.entity.spec.get("transitions", []) if x["name"] == spec["transition"])
        sources = tr["from"] if isinstance(tr["from"], list) else [tr["from"]]
        query = select(t.c.id).where(t.c[spec["field"]] == parent["id"], t.c.deleted_at.is_(None))
        if "*" not in sources:
            query = query.where(t.c.status.in_(sources))
        data = {name: to_json(parent.get(name)) for name in spec.get("copy", [])}
        for child_id in c.execute(query.order_by(t.c.id)).scalars().all():
            self.transition(et.entity.app, et.entity.name, child_id, spec["transition"], dict(data),
                            actor=SYSTEM, conn=c, via="cascade")

    def action(self, app: str, entity: str, record_id: int, name: str, actor: Actor = SYSTEM, conn=None) -> dict:
        """Run a button script on a record; what it changes on the record is saved as one update."""
        et = self.loom.entity_tables(app, entity)
        action = next((a for a in (et.entity.spec.get("hooks") or {}).get("actions", []) if a["name"] == name), None)
        if action is None:
            raise NotFound(f"{entity} has no action {name!r}")
        roles = action.get("roles")
        if roles and not holds(actor, app, roles):
            raise Forbidden(f"action {name!r} needs one of the roles {', '.join(roles)}")
        return self.button(app, entity, record_id, action["script"], f"action:{name}", actor, conn)

    def button(self, app: str, entity: str, record_id: int, script: str, hook: str, actor: Actor = SYSTEM,
               conn=None) -> dict:
        """Run ``script`` as a button on a record the actor may read (an entity's ``hooks.actions``,
        a portal page's ``actions``), in one transaction: what it changes on the record is saved as
        one update with the actor's rights, and a ``reject`` or a refused update leaves nothing."""
        et = self.loom.entity_tables(app, entity)
        self.loom.permissions.require(actor, et.entity, "read")
        with self.records._tx(conn) as c:
            current = self.records._fetch(c, et, record_id, actor=actor)
            result, changes = self.records._hook(c, et, script, hook, actor,
                                                 self.records.full(c, et, current), writable=True, record_id=record_id)
            record = self.records.to_json(c, et, current, actor)
            if changes:
                record = self.records.update(app, entity, record_id, _jsonish(changes),
                                             current["row_version"], actor, conn=c, check_fields=False)
            return {"record": record, "result": to_json(result) if not isinstance(result, (dict, list)) else result}

    def dry_run(self, app: str, entity: str, ref: str, actor: Actor, record_id: int | None = None,
                data: dict | None = None, writable: bool = True, scripts: dict | None = None) -> dict:
        """Run a script against a record (stored or given) and roll everything back.

        Returns the result, the field changes it would make, its log lines and the run report,
        or the error with script, line and reason: what the designer shows an analyst.
        ``scripts`` (file name -> source) stand in for the live app's files during this run:
        the designer runs a draft's script against live records.
        """
        et = self.loom.entity_tables(app, entity)
        self.loom.permissions.require(actor, et.entity, "read")
        with self.loom.engine.connect() as c:
            tx = c.begin()
            try:
                record = dict(data or {})
                if record_id is not None:
                    record = self.records.full(c, et, self.records._fetch(c, et, record_id, actor=actor),
                                               self.records.typed(et, record))
                try:
                    if scripts:
                        live = self.loom.live[et.entity.app].app
                        trial = App({**live.document, "scripts": {**live.scripts, **scripts}})
                        result, changes = self.loom.hooks.run(c, trial, ref, "dry_run", actor=actor, record=record,
                                                              writable=writable, entity=et.entity,
                                                              record_id=record_id, dry_run=True)
                    else:
                        result, changes = self.records._hook(c, et, ref, "dry_run", actor, record,
                                                             writable=writable, record_id=record_id, dry_run=True)
                    error = None
                except LoomError as exc:
                    result, changes, error = None, {}, exc.problem()
                report = self.loom.hooks.last_report
            finally:
                tx.rollback()
                self.loom.hooks.flush()
        return {"ok": error is None, "result": _shown(result, "result"), "changes": _shown(changes, "changes"),
                "error": error,
                "logs": list(report.logs) if report else [],
                "report": {"duration_ms": round(report.duration * 1000, 3), "steps": report.steps,
                           "outcome": report.outcome, "line": report.line} if report else None}


def _empty(value) -> bool:
    """Whether a required field has nothing: no value, blank text, no table rows, no files."""
    return value is None or (isinstance(value, str) and not value.strip()) or \
        (isinstance(value, (list, tuple)) and not value)


def _shown(value, what: str):
    """A dry run's result or changes as JSON, or a 400 naming what the script returned."""
    value = _jsonish(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LoomError(f"the script's {what} cannot be shown as JSON ({exc}); return dicts, lists, "
                        f"text, numbers, true/false or null", field=what) from None
    return value
