"""Record page extras: comments with @mentions, attachments (upload and download with the
session; their authors delete them again), records linking to this one, and the form rules
of the metadata (``form.rules``: visible_if / required_if / readonly_if, and a section's
visible_if).

The routes hang on the ``ui`` blueprint, so they share its login check and error pages.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json

from flask import Response, flash, redirect, request, send_file, url_for
from markupsafe import Markup, escape
from sqlalchemy import select

from metamodel.expressions import ExpressionError
from runtime import clock
from runtime.data import comments as comment_service
from runtime.data import tables as platform
from runtime.data.files import FileStore
from runtime.data.query import Filter, ListQuery
from runtime.errors import LoomError, NotFound, ValidationFailed

from . import meta
from .base import actor, bp, loom
from .i18n import N_, fmt_datetime, message, t, tt

LINKED_LIMIT = 10


# ---------------------------------------------------------------------- comments
def render_comment(body: str, mentions: list[str]) -> Markup:
    """The comment text, escaped, with the mentions of known users highlighted."""
    known = set(mentions)
    out, last = [], 0
    for m in comment_service.MENTION.finditer(body):
        if m.group(1) in known:
            out.append(escape(body[last:m.start()]))
            out.append(Markup('<span class="mention">@{}</span>').format(m.group(1)))
            last = m.end()
    out.append(escape(body[last:]))
    return Markup("").join(out)


def comments_for(app: str, entity: str, record_id: int) -> list[dict]:
    who = actor()
    ent = loom().entity_tables(app, entity).entity
    may_publish = not who.external and loom().permissions.allowed(who, ent, "update")
    return [{"id": c["id"], "author": c["author"], "username": c["username"], "at": fmt_datetime(c["created_at"]),
             "html": render_comment(c["body"], c["mentions"]), "public": c["public"],
             "publish_url": url_for("ui.publish_comment", app=app, entity=entity, record_id=record_id,
                                    comment_id=c["id"]) if may_publish else None,
             "delete_url": url_for("ui.delete_comment", app=app, entity=entity, record_id=record_id,
                                   comment_id=c["id"]) if c["user_id"] == who.id or who.is_admin else None}
            for c in comment_service.list_for(loom(), app, entity, record_id, who)]


def _back(app, entity, record_id, anchor):
    return redirect(url_for("ui.record_view", app=app, entity=entity, record_id=record_id) + anchor)


@bp.post("/<app>/<entity>/<int:record_id>/comments")
def post_comment(app: str, entity: str, record_id: int):
    try:
        comment_service.add(loom(), app, entity, record_id, request.form.get("body", ""), actor(),
                            public=request.form.get("public") == "1")
        flash(t("Comment added."), "ok")
    except ValidationFailed as exc:
        flash(t("Comment") + ": " + "; ".join(message(e.message) for e in exc.errors), "error")
    return _back(app, entity, record_id, "#comments")


@bp.post("/<app>/<entity>/<int:record_id>/comments/<int:comment_id>/delete")
def delete_comment(app: str, entity: str, record_id: int, comment_id: int):
    comment_service.delete(loom(), app, entity, record_id, comment_id, actor())
    flash(t("Comment deleted."), "ok")
    return _back(app, entity, record_id, "#comments")


@bp.post("/<app>/<entity>/<int:record_id>/comments/<int:comment_id>/public")
def publish_comment(app: str, entity: str, record_id: int, comment_id: int):
    """Show a comment on the portal, or make it internal again (``public=0``)."""
    public = request.form.get("public") == "1"
    comment_service.set_public(loom(), app, entity, record_id, comment_id, public, actor())
    flash(t("The comment is public now.") if public else t("The comment is internal now."), "ok")
    return _back(app, entity, record_id, f"#comment-{comment_id}")


# ---------------------------------------------------------------------- approvals
ROUND_STATES = {"open": N_("Voting"), "approved": N_("Approved"), "rejected": N_("Rejected"),
                "expired": N_("Deadline passed"), "cancelled": N_("Cancelled")}
DECISIONS = {"approve": N_("Approves"), "reject": N_("Rejects"), None: N_("Has not voted")}


def approvals_for(app: str, entity: str, record_id: int) -> list[dict]:
    """The record's approval rounds for its page: who must vote, the votes with comments, and
    the vote form for an approver whose vote is still due."""
    if not loom().approvals.specs(app, entity):
        return []
    rounds = loom().approvals.rounds(app, entity, record_id, actor())
    return [{**r, "title": tt(r["title"]) if r["title"] else r["approval"], "state_text": t(ROUND_STATES[r["state"]]),
             "deadline": fmt_datetime(dt.datetime.fromisoformat(r["deadline_at"])) if r["deadline_at"] else "",
             "votes": [{**v, "text": t(DECISIONS[v["decision"]]),
                        "at": fmt_datetime(dt.datetime.fromisoformat(v["voted_at"])) if v["voted_at"] else ""}
                       for v in r["votes"]],
             "vote_url": url_for("ui.vote", app=app, entity=entity, record_id=record_id, name=r["approval"])
             if r["can_vote"] else None}
            for r in rounds]


@bp.post("/<app>/<entity>/<int:record_id>/approvals/<name>/vote")
def vote(app: str, entity: str, record_id: int, name: str):
    try:
        loom().approvals.vote(app, entity, record_id, name, request.form.get("decision", ""),
                              request.form.get("comment"), actor())
        flash(t("Your vote is counted."), "ok")
    except ValidationFailed as exc:
        flash("; ".join(message(e.message) for e in exc.errors), "error")
    except LoomError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(exc.detail, "error")
    return _back(app, entity, record_id, "#approvals")


# ---------------------------------------------------------------------- attachments
def human_size(size: int) -> str:
    for unit in (N_("B"), N_("KB"), N_("MB")):
        if size < 1024 or unit == "MB":
            return f"{size} {t(unit)}" if unit == "B" else f"{size:.1f} {t(unit)}".replace(".", ",")
        size /= 1024
    return str(size)


def file_fields(ent, shown_fields, record) -> list[dict]:
    """Each file field on the page with its files (download links) and whether one may upload."""
    who = actor()
    may_upload = loom().permissions.allowed(who, ent, "update")
    locked = loom().permissions.readonly(who, ent)
    fields = [f for f in shown_fields if f.storage == "attachments"]
    uploaders = _uploaders([a["id"] for f in fields for a in record.get(f.name) or []])
    out = []
    for f in fields:
        may_delete = may_upload and f.name not in locked
        files = [{"name": a["filename"], "size": human_size(a["size"] or 0),
                  "url": url_for("ui.download_file", app=ent.app, entity=ent.name, record_id=record["id"],
                                 attachment_id=a["id"]),
                  "delete_url": url_for("ui.delete_file", app=ent.app, entity=ent.name, record_id=record["id"],
                                        attachment_id=a["id"])
                  if may_delete and (who.is_admin or uploaders.get(a["id"]) == who.id) else None}
                 for a in record.get(f.name) or []]
        accept = [a.lower().lstrip(".") for a in f.spec.get("accept", [])]
        out.append({"name": f.name, "title": tt(f.title), "files": files,
                    "upload": may_upload and f.name not in locked, "multiple": bool(f.spec.get("multiple")),
                    "accept": ",".join("." + a for a in accept), "max_mb": f.spec.get("max_size_mb", 50)})
    return out


def _uploaders(ids: list[int]) -> dict[int, int]:
    """Who uploaded each of these attachments."""
    if not ids:
        return {}
    a = platform.attachment
    with loom().reader.connect() as c:
        return dict(c.execute(select(a.c.id, a.c.created_by).where(a.c.id.in_(ids))).all())


@bp.post("/<app>/<entity>/<int:record_id>/files/<field>")
def upload_file(app: str, entity: str, record_id: int, field: str):
    uploads = [u for u in request.files.getlist("file") if u and u.filename]
    if not uploads:
        flash(t("Choose a file to upload."), "error")
        return _back(app, entity, record_id, "#files")
    store = FileStore(loom())
    done, failed = [], []
    for upload in uploads:
        try:
            store.attach(app, entity, record_id, field, upload.filename, upload.mimetype, upload.stream, actor())
            done.append(upload.filename)
        except ValidationFailed as exc:
            failed += [message(e.message) for e in exc.errors]
    if done:
        flash(t("Uploaded: {names}", names=", ".join(done)), "ok")
    if failed:
        flash(t("Not uploaded") + ": " + "; ".join(failed), "error")
    return _back(app, entity, record_id, "#files")


@bp.post("/<app>/<entity>/<int:record_id>/files/<int:attachment_id>/delete")
def delete_file(app: str, entity: str, record_id: int, attachment_id: int):
    store = FileStore(loom())
    info, _ = store.open(attachment_id, actor())
    if (info["app"], info["entity"], info["record_id"]) != (app, entity, record_id):
        raise NotFound(f"no file {attachment_id} on this record")
    store.detach(attachment_id, actor())
    flash(t("File deleted: {name}", name=info["filename"]), "ok")
    return _back(app, entity, record_id, "#files")


@bp.get("/<app>/<entity>/<int:record_id>/files/<int:attachment_id>")
def download_file(app: str, entity: str, record_id: int, attachment_id: int):
    info, path = FileStore(loom()).open(attachment_id, actor())
    if (info["app"], info["entity"], info["record_id"]) != (app, entity, record_id):
        raise NotFound(f"no file {attachment_id} on this record")
    return send_file(path, mimetype=info["content_type"] or "application/octet-stream", as_attachment=True,
                     download_name=info["filename"])


# ---------------------------------------------------------------------- linked records
def _points_to(f, app: str, entity: str) -> bool:
    if not (f.value_type == "link" or f.type == "multilink") or not f.target:
        return False
    target_app, _, target = f.target.rpartition(".")
    return (target_app or f.entity.app) == app and target == entity


def linked_records(ent, record_id: int) -> list[dict]:
    """Records of this app (and of the apps depending on it) whose link/multilink fields point
    here: up to ``LINKED_LIMIT`` per field, only what the actor may read."""
    who, perms = actor(), loom().permissions
    apps = [ent.app] + sorted(name for name, lv in loom().live.items()
                              if name != ent.app and ent.app in lv.app.depends_on)
    groups = []
    for app_name in apps:
        live = loom().live.get(app_name)
        for other in live.app.entities.values():
            refs = [f for f in other.fields.values() if _points_to(f, ent.app, ent.name)]
            if not refs or not perms.allowed(who, other, "read"):
                continue
            et = loom().entity_tables(app_name, other.name)
            hidden = perms.hidden(who, other)
            for f in refs:
                if f.name in hidden:
                    continue
                try:
                    rows, more = _linked_rows(et, f, record_id, who)
                except LoomError:
                    continue
                if not rows:
                    continue
                items = [{"text": _row_title(other, r),
                          "url": url_for("ui.record_view", app=app_name, entity=other.name, record_id=r["id"]),
                          "status": meta.status_title(other, r.get("status")) if r.get("status") else ""}
                         for r in rows]
                list_url = (url_for("ui.list_view", app=app_name, entity=other.name, **{f.name: record_id})
                            if f.storage == "column" else None)
                groups.append({"title": tt(other.plural), "field": tt(f.title), "entity": other.name,
                               "items": items, "more": more, "list_url": list_url})
    return groups


def _linked_rows(et, f, record_id: int, who) -> tuple[list[dict], bool]:
    if f.storage == "column":
        with loom().reader.connect() as c:
            page = ListQuery(loom(), et).run(c, [Filter(f.name, "eq", record_id)], ["-id"],
                                             limit=LINKED_LIMIT, actor=who)
        return [dict(r) for r in page.items], page.next_cursor is not None
    assoc, main = et.assoc[f.name], et.main
    query = (select(main).join(assoc, assoc.c.parent_id == main.c.id)
             .where(assoc.c.target_id == record_id, main.c.deleted_at.is_(None)))
    query = loom().permissions.restrict(query, et, who).order_by(main.c.id.desc()).limit(LINKED_LIMIT + 1)
    with loom().reader.connect() as c:
        rows = [dict(r) for r in c.execute(query).mappings()]
    return rows[:LINKED_LIMIT], len(rows) > LINKED_LIMIT


def _row_title(ent, row) -> str:
    title, number = row.get(ent.title_field), row.get("number")
    if title is not None and number and ent.title_field != "number":
        return f"{number} · {title}"
    return str(title if title is not None else number or f"#{row['id']}")


# ---------------------------------------------------------------------- form rules
def _sections_spec(ent) -> list[dict]:
    spec = ent.spec.get("form") or {}
    tabs = spec.get("tabs") or [{"sections": spec.get("sections", [])}]
    return [sec for tab in tabs for sec in tab.get("sections", [])]


def has_rules(ent) -> bool:
    spec = ent.spec.get("form") or {}
    return bool(spec.get("rules")) or any("visible_if" in s for s in _sections_spec(ent))


def _typed(ent, values: dict) -> dict:
    """Form text as the expressions expect it: numbers as numbers, ids as integers."""
    out = {}
    for name, value in values.items():
        f = ent.fields.get(name)
        if f is not None and isinstance(value, str) and value != "":
            try:
                if f.value_type == "integer" or f.value_type in ("link", "user", "group"):
                    value = int(value)
                elif f.value_type in ("decimal", "money"):
                    value = decimal.Decimal(value.replace("\u00a0", "").replace(" ", "").replace(",", "."))
            except (ValueError, decimal.InvalidOperation):
                pass
        out[name] = None if value == "" else value
    return out


def _truth(ent, source: str, values: dict) -> bool:
    try:
        return bool(loom().records.evaluate(None, ent, source, values, actor()))
    except (ExpressionError, LoomError):
        return False


def rule_state(ent, values: dict) -> dict:
    """``{"fields": {name: {visible, required, readonly}}, "sections": {first field: visible}}``
    for the fields and sections that have rules, evaluated over ``values``."""
    values = _typed(ent, values)
    fields = {}
    for rule in (ent.spec.get("form") or {}).get("rules", []):
        state = fields.setdefault(rule["field"], {"visible": True, "required": False, "readonly": False})
        if "visible_if" in rule:
            state["visible"] = _truth(ent, rule["visible_if"], values)
        if "required_if" in rule:
            state["required"] = _truth(ent, rule["required_if"], values)
        if "readonly_if" in rule:
            state["readonly"] = _truth(ent, rule["readonly_if"], values)
    for state in fields.values():  # a hidden field is neither required nor edited
        if not state["visible"]:
            state["required"] = False
    sections = {}
    for sec in _sections_spec(ent):
        if "visible_if" in sec and sec.get("fields"):
            visible = _truth(ent, sec["visible_if"], values)
            for name in sec["fields"]:
                sections[name] = visible
                if not visible and name in fields:
                    fields[name]["required"] = False
                elif not visible:
                    fields[name] = {"visible": True, "required": False, "readonly": False}
    return {"fields": fields, "sections": sections}


def section_visible(state: dict, sec) -> bool:
    """Whether a layout section is shown (sections are keyed by their fields)."""
    return all(state["sections"].get(f.name, True) for f in sec.fields)


def enforce_rules(ent, state: dict, data: dict, on_form: set) -> dict:
    """Drop the values of fields a rule makes read-only; return the errors of fields a rule
    makes required but left empty (checked before the record service is called)."""
    errors = {}
    for name, s in state["fields"].items():
        if name not in on_form:
            continue
        if s["readonly"]:
            data.pop(name, None)
        elif s["required"] and data.get(name) in (None, "", []):
            errors[name] = [t("is required")]
    return errors


@bp.post("/<app>/<entity>/rules")
def form_rules(app: str, entity: str):
    """Re-evaluate the form rules over the form being edited (htmx, on every change): the answer
    is an ``HX-Trigger`` event carrying the state, which the form's script applies."""
    et = loom().entity_tables(app, entity)
    ent, who = et.entity, actor()
    record_id = request.form.get("_record_id", "")
    values = {}
    if record_id.isdigit():
        values = loom().records.get(app, entity, int(record_id), who)
    hidden = loom().permissions.hidden(who, ent)
    fields = [f for f in ent.fields.values() if f.name not in hidden and f.storage in ("column", "assoc")]
    _, raw, _ = meta.parse([f for f in fields if f.name in request.form or f.value_type == "boolean"], request.form)
    values = {**values, **raw}
    state = rule_state(ent, values)
    response = Response("", 200)
    response.headers["HX-Trigger"] = json.dumps({"loom-rules": state})
    return response


# ---------------------------------------------------------------------- status history
def status_history(ent, record: dict, creator: str) -> list[dict]:
    """The statuses a record has been in, oldest first: when it entered each, who or what moved
    it there (a transition, a timer, a cascade), and how long it stayed (wall-clock time; the
    SLA badges give business time)."""
    if not ent.statuses or not record.get("status"):
        return []
    transitions = meta.transition_titles(ent)
    changes = loom().behaviour.history(ent.app, ent.name, record["id"])
    first = changes[0]["from"] if changes else record["status"]
    created = record.get("created_at")
    created = dt.datetime.fromisoformat(created.replace("Z", "+00:00")) if isinstance(created, str) else created
    stays = [{"status": first, "at": created, "user": creator, "via": t("created")}]
    for ch in changes:
        via, _, name = (ch["transition"] or "").rpartition(":")
        via = set(via.split(":"))  # "timer", "cascade", and "return" for a transition back to $previous
        label = transitions.get(name, name)
        if "timer" in via:
            label = t("{transition} (timer)", transition=label)
        elif "cascade" in via:
            label = t("{transition} (with the linked record)", transition=label)
        stays.append({"status": ch["to"], "at": dt.datetime.fromisoformat(ch["at"]), "user": ch["user"], "via": label})
    now = clock.now()
    out = []
    for i, stay in enumerate(stays):
        entered = stay["at"]
        left = stays[i + 1]["at"] if i + 1 < len(stays) else None
        seconds = int(((left or now) - entered).total_seconds()) if entered else None
        out.append({"status": meta.status_title(ent, stay["status"]), "category": meta.status_category(ent, stay["status"]),
                    "entered": fmt_datetime(entered), "user": stay["user"], "via": stay["via"],
                    "duration": fmt_duration(seconds) if seconds is not None else "", "current": left is None})
    return out


def fmt_duration(seconds: int) -> str:
    """Wall-clock time as its two largest units: "3 d 4 h", "2 h 15 min", "40 s"."""
    seconds = max(0, seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return t("{d} d", d=days) + (" " + t("{h} h", h=hours) if hours else "")
    if hours:
        return t("{h} h", h=hours) + (" " + t("{m} min", m=minutes) if minutes else "")
    if minutes:
        return t("{m} min", m=minutes)
    return t("{s} s", s=secs)
