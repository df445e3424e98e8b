"""The pages of the generated UI: home, entity lists, record forms and record pages."""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from metamodel import title_text
from metamodel.reltime import RelativeTimeError, is_relative
from metamodel.reltime import parse as parse_relative
from runtime import clock
from runtime.data import deadlines
from runtime.data import tables as platform
from runtime.data.query import Filter, ListQuery, parse_args
from runtime.errors import Conflict, Forbidden, LoomError, NotFound, ValidationFailed

from . import graph, meta, proposals
from . import timeline as timelines
from . import records_extra as extra
from .base import actor, bp, loom
from .i18n import N_, fmt_datetime, message, t, tc, tt

PAGE_SIZE = 25
SLA_STATES = {"paused": N_("paused"), "met": N_("met"), "breached": N_("missed")}
TIMELINE_LIMIT = 100


@bp.get("/")
def home():
    apps = []
    for name, live in sorted(loom().live.items()):
        if not loom().permissions.readable(actor(), live.app):
            continue  # an app the user has no role in is not theirs to see
        apps.append({"name": name, "title": tt(live.app.title), "description": tt(live.app.document["app"].get("description")),
                     "url": url_for("ui.app_home", app=name)})
    return render_template("ui/home.html", apps=apps)


@bp.get("/<app>/")
def app_home(app: str):
    live = loom().live.get(app)
    if live is None:
        raise NotFound(f"app {app!r}")
    for entry in live.app.document["app"].get("navigation") or []:
        for name in [entry.get("entity")] + [x.get("entity") for x in entry.get("items", [])]:
            e = live.app.entities.get(name)
            if e is not None and loom().permissions.allowed(actor(), e, "read"):
                return redirect(url_for("ui.list_view", app=app, entity=name))
    for e in live.app.entities.values():
        if loom().permissions.allowed(actor(), e, "read"):
            return redirect(url_for("ui.list_view", app=app, entity=e.name))
    raise NotFound(f"nothing you may read in {app!r}")


# ---------------------------------------------------------------------- list
def _url(**changes) -> str:
    """This page's URL with some arguments changed (``None`` removes one)."""
    args = MultiDict(request.args)
    for key, value in changes.items():
        args.pop(key, None)
        if value not in (None, ""):
            args[key] = value
    return url_for(request.endpoint, **request.view_args, **args.to_dict(flat=False))


OP_TEXT = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "∈", "not_in": "∉",
           "contains": "∋", "startswith": "^", "isnull": "∅", "notnull": "≠ ∅", "between": "↔"}


def _shown(value, dated: bool) -> str:
    """A filter value as its chip shows it: a date field's relative time in its written form
    (``today + 30d``, which a URL's ``+`` turned into ``today 30d``)."""
    if dated and is_relative(value):
        try:
            return str(parse_relative(value))
        except RelativeTimeError:
            pass
    return str(value)


@bp.get("/<app>/<entity>")
def list_view(app: str, entity: str):
    et = loom().entity_tables(app, entity)
    ent, who = et.entity, actor()
    loom().permissions.require(who, ent, "read")
    views = ent.spec.get("views") or []
    try:
        view = ent.view(request.args.get("view") or None)
    except KeyError:
        raise NotFound(f"{entity} has no view {request.args.get('view')!r}") from None
    if view.get("kind") == "kanban":
        return redirect(url_for("ui.board_view", app=app, entity=entity, view_name=view["name"]))
    if view.get("kind") in ("calendar", "gantt", "map"):
        args = {k: v for k, v in request.args.items() if k != "view"}
        return redirect(url_for(f"ui.{view['kind']}_view", app=app, entity=entity, view_name=view["name"], **args))
    hidden = loom().permissions.hidden(who, ent)
    offered = column_choices(ent, view, hidden)
    chosen = [c for c in request.args.get("columns", "").split(",") if c in offered]
    columns = [offered[c] for c in chosen] if chosen else \
        [offered[c] for c in view.get("columns", []) if c in offered]
    deadline_source = deadlines.source(loom(), ent)
    show_deadline = deadline_source is not None and deadline_source not in hidden
    error, page, filters, sort = None, None, [], []
    marks = {}
    try:
        filters, sort, options = parse_args(request.args)
        view_filters = [Filter(f["field"], f.get("op", "eq"), f.get("value")) for f in view.get("filters", [])]
        with loom().reader.connect() as conn:
            page = ListQuery(loom(), et).run(conn, filters, sort, limit=PAGE_SIZE, after=options.get("after"),
                                             search=(options.get("q") or "").strip() or None, count="capped",
                                             actor=who, view_filters=view_filters,
                                             view_sort=list(view.get("sort", [])))
            if show_deadline:
                marks = deadlines.for_rows(loom(), conn, et, page.items, hidden)
    except LoomError as exc:
        error = exc.detail
    titles = meta.Titles(loom(), who)
    rows = []
    now = clock.now()
    if page is not None:
        for row in page.items:
            for f in columns:
                titles.want(f, meta.row_value(f, row))
        titles.load()
        for row in page.items:
            rows.append({"id": row["id"],
                         "url": url_for("ui.record_view", app=app, entity=entity, record_id=row["id"]),
                         "cells": [meta.display(f, meta.row_value(f, row), titles) for f in columns],
                         "deadline": deadline_cell(marks.get(row["id"]), now) if show_deadline else None})
    current_sort = request.args.get("sort", "")
    headers = []
    for f in columns:
        direction = "asc" if current_sort == f.name else "desc" if current_sort == f"-{f.name}" else None
        headers.append({"name": f.name, "title": meta.field_title(f), "dir": direction,
                        "url": _url(sort=f"-{f.name}" if direction == "asc" else f.name, after=None)})
    if show_deadline:
        key = deadlines.DEADLINE
        direction = "asc" if current_sort == key else "desc" if current_sort == f"-{key}" else None
        headers.append({"name": key, "title": t("Deadline"), "dir": direction, "deadline": True,
                        "url": _url(sort=f"-{key}" if direction == "asc" else key, after=None)})
    chips = []
    for flt in filters:
        key = flt.field if flt.op == "eq" else f"{flt.field}__{flt.op}"
        f = meta.column_field(ent, flt.field.partition(".")[0])
        dated = (f is not None and f.value_type in ("date", "datetime") and "." not in flt.field) \
            or flt.field == deadlines.DEADLINE
        value = ", ".join(_shown(v, dated) for v in flt.value) if isinstance(flt.value, list) else \
            _shown(flt.value, dated)
        if f is not None and f.value_type == "choice" and isinstance(flt.value, str):
            value = meta.display(f, flt.value, titles).text
        name = t("Deadline") if flt.field == deadlines.DEADLINE else meta.field_title(f) if f else flt.field
        chips.append({"text": f"{name} {OP_TEXT[flt.op]} {value}",
                      "url": _url(**{key: None, "after": None})})
    return render_template(
        "ui/list.html", app=app, entity=ent, title=tt(ent.plural), headers=headers, rows=rows, error=error,
        page=page, chips=chips, q=request.args.get("q", ""), view_name=view.get("name"),
        views=[{"name": v["name"], "title": tt(v.get("title", v["name"]))} for v in views],
        searchable=bool(ent.search_fields),
        next_url=_url(after=page.next_cursor) if page is not None and page.next_cursor else None,
        first_url=_url(after=None) if request.args.get("after") else None,
        can_create=loom().permissions.allowed(who, ent, "create"),
        keep={k: v for k, v in request.args.items() if k not in ("q", "after")},
        column_options=[{"name": n, "title": meta.field_title(f), "on": f in columns} for n, f in offered.items()],
        columns_arg=request.args.get("columns", ""),
        quick=quick_filters(ent, columns, request.args))


def column_choices(ent, view: dict, hidden) -> dict:
    """The columns a user may pick for a list: the view's, then every other stored field and the
    system stamps; never a hidden one."""
    names = list(view.get("columns", [])) + [f.name for f in ent.fields.values()]
    names += (["status"] if ent.statuses else []) + (["number"] if ent.spec.get("number") else [])
    names += ["created_at", "created_by", "updated_at"]
    out = {}
    for name in names:
        f = meta.column_field(ent, name)
        if f is not None and name not in hidden and f.storage in ("column", "point") and name not in out:
            out[name] = f
    return out


QUICK_KINDS = {"choice": "choice", "string": "text", "text": "text", "email": "text", "phone": "text",
               "boolean": "bool"}


def quick_filters(ent, columns, args) -> list[dict | None]:
    """One small control under each column header (``None`` where the type has none): a
    choice or status picks one value, text matches a part, a flag picks yes or no."""
    out = []
    for f in columns:
        kind = "choice" if f.type == "status" else QUICK_KINDS.get(f.value_type)
        if kind is None:
            out.append(None)
        elif kind == "choice":
            options = [(s["name"], tt(s.get("title", s["name"]))) for s in ent.statuses] if f.type == "status" \
                else [(c.value, tt(c.title) if c.title else c.value) for c in f.choices]
            out.append({"kind": kind, "name": f.name, "value": args.get(f.name, ""), "options": options,
                        "title": meta.field_title(f)})
        elif kind == "bool":
            out.append({"kind": kind, "name": f.name, "value": args.get(f.name, ""), "title": meta.field_title(f)})
        else:
            out.append({"kind": kind, "name": f"{f.name}__contains", "value": args.get(f"{f.name}__contains", ""),
                        "title": meta.field_title(f)})
    return out


def deadline_cell(mark, now) -> dict:
    """The deadline column's cell: time left (``ok``), little left (``soon``) or overdue."""
    if mark is None:
        return {"text": "", "state": "none", "title": ""}
    state = mark.state(now)
    left = int((mark.at - now).total_seconds())
    text = t("overdue by {late}", late=_wall_span(-left)) if state == "overdue" else \
        t("{left} left", left=_wall_span(left))
    return {"text": text, "state": state, "title": fmt_datetime(mark.at)}


def _wall_span(seconds: int) -> str:
    """Calendar time as "3 d 4 h", "2 h 15 min" or "5 min"."""
    minutes = max(0, seconds) // 60
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return t("{d} d", d=days) + (" " + t("{h} h", h=hours) if hours else "")
    return (t("{h} h", h=hours) + " " if hours else "") + t("{m} min", m=mins)


# ---------------------------------------------------------------------- record page
@bp.get("/<app>/<entity>/<int:record_id>")
def record_view(app: str, entity: str, record_id: int):
    return _record_page(app, entity, record_id)


def _record_page(app: str, entity: str, record_id: int, refused: dict | None = None):
    """The record page; ``refused`` (a transition's dialog that came back with errors) opens
    that dialog again with the values and errors."""
    et = loom().entity_tables(app, entity)
    ent, who = et.entity, actor()
    record = loom().records.get(app, entity, record_id, who)
    tabs = meta.layout(ent, loom().permissions.hidden(who, ent))
    titles = meta.Titles(loom(), who)
    fields = meta.form_fields(tabs)
    for f in fields:
        if f.storage in ("column", "assoc"):
            titles.want(f, record.get(f.name))
        elif f.storage == "child":
            for row in record.get(f.name) or []:
                for c in f.children.values():
                    titles.want(c, row.get(c.name))
    titles.want(meta.column_field(ent, "created_by"), record.get("created_by"))
    titles.load()
    shown = {}
    for f in fields:
        if f.storage == "child":
            shown[f.name] = [[_row_cell(ent, record_id, c, row.get(c.name), titles) for c in f.children.values()]
                             for row in record.get(f.name) or []]
        elif f.storage == "attachments":
            shown[f.name] = record.get(f.name) or []
        else:
            shown[f.name] = meta.display(f, record.get(f.name), titles)
    status = record.get("status")
    transitions = [_transition_button(app, ent, tr, record, who, refused)
                   for tr in loom().workflow.available(ent, status, who)]
    rules = extra.rule_state(ent, record)
    author = meta.display(meta.column_field(ent, "created_by"), record.get("created_by"), titles)
    return render_template(
        "ui/record.html", app=app, entity=ent, record=record, tabs=tabs, shown=shown, rules=rules,
        section_visible=extra.section_visible, files=extra.file_fields(ent, fields, record),
        comments=extra.comments_for(app, entity, record_id), approvals=extra.approvals_for(app, entity, record_id),
        linked=extra.linked_records(ent, record_id), graph=graph.for_record(ent, record_id),
        timeline_section=timelines.for_record(ent, record_id),
        title=_record_title(ent, record), status=status and meta.status_title(ent, status),
        status_category=meta.status_category(ent, status), transitions=transitions,
        timeline=_timeline(ent, record_id, loom().permissions.hidden(who, ent)), sla=sla_badges(app, entity, record_id), author=author,
        statuses=extra.status_history(ent, record, author.text),
        created=fmt_datetime(record.get("created_at")),
        can_edit=loom().permissions.allowed(who, ent, "update")), 422 if refused else 200


def asked_fields(ent, tr: dict, record: dict, who) -> list:
    """The fields a transition needs from the person firing it: its ``required`` fields that are
    empty, that its ``set`` does not fill and that the person may edit (a required file is
    uploaded in the dialog; a table's rows are edited on the form, so they are not asked here)."""
    perms = loom().permissions
    locked = set(perms.readonly(who, ent)) | set(perms.hidden(who, ent))
    out = []
    for name in tr.get("required", []):
        f = ent.fields.get(name)
        if (f is None or name in (tr.get("set") or {}) or name in locked or f.type in ("computed", "rollup")
                or f.storage == "child" or record.get(name) not in (None, "", [])):
            continue
        out.append(f)
    return out


def _transition_button(app: str, ent, tr: dict, record: dict, who, refused: dict | None) -> dict:
    """A transition button, with the dialog of the fields it asks for (if any)."""
    fields = asked_fields(ent, tr, record, who)
    mine = refused if refused and refused["name"] == tr["name"] else None
    values = mine["values"] if mine else {f.name: meta.input_value(f, None) for f in fields}
    picks = {f.name: meta.options(loom(), who, f, selected=values.get(f.name) or [])
             for f in fields if f.value_type in ("link", "user", "group") or f.type == "multilink"}
    return {"name": tr["name"], "title": tt(tr.get("title", tr["name"])), "fields": fields, "values": values,
            "picks": picks, "errors": mine["errors"] if mine else {}, "general": mine["general"] if mine else [],
            "open": bool(mine)}


def _row_cell(ent, record_id: int, c, value, titles) -> meta.Cell:
    """A table row's value on the record page; a file is its name, linked for download."""
    if c.type == "file" and isinstance(value, dict):
        return meta.Cell(value["filename"], url_for("ui.download_file", app=ent.app, entity=ent.name,
                                                    record_id=record_id, attachment_id=value["id"]))
    return meta.display(c, value, titles)


def sla_badges(app: str, entity: str, record_id: int) -> list[dict]:
    """The SLA targets of a record as badges: state and the business time left or overdue."""
    with loom().reader.connect() as c:
        targets = loom().sla.status(c, app, entity, record_id)
    badges = []
    for target in targets:
        state, left = target["state"], target["remaining_seconds"]
        if state == "running":
            text = t("{left} left", left=_span(left))
        elif state == "breached" and target["stopped_at"] is None:
            text = t("overdue by {late}", late=_span(-left))
        else:
            text = t(SLA_STATES[state])
        badges.append({"target": target["target"], "title": tt(target["title"]), "state": state, "text": text,
                       "due": fmt_datetime(target["due_at"]) if target["due_at"] else ""})
    return badges


def _span(seconds: int) -> str:
    """Business time as "2 h 15 min" (working hours, so days are not shown)."""
    hours, minutes = divmod(max(0, seconds) // 60, 60)
    return (t("{h} h", h=hours) + " " if hours else "") + t("{m} min", m=minutes)


def _record_title(ent, record) -> str:
    title = record.get(ent.title_field)
    number = record.get("number")
    return f"{number} · {title}" if title and number and ent.title_field != "number" else str(title or number or "")


def _timeline(ent, record_id: int, hidden=frozenset()) -> list[dict]:
    """The record's history from the audit log, newest first; a deleted comment's text is left out
    (the audit log page still has it). Fields in ``hidden`` (the reader may not see them) are not
    named, and a change of hidden fields only is left out."""
    a = platform.audit
    with loom().reader.connect() as c:
        rows = c.execute(select(a.c.action, a.c.username, a.c.at, a.c.before, a.c.after)
                         .where(a.c.app == ent.app, a.c.entity == ent.name, a.c.record_id == record_id)
                         .order_by(a.c.seq.desc()).limit(TIMELINE_LIMIT)).all()
    transitions = meta.transition_titles(ent)
    deleted = {(r.before or {}).get("comment_id") for r in rows if r.action == "comment_delete"}
    out = []
    for r in rows:
        after, before = r.after or {}, r.before or {}
        label = {"create": tc("history", "created"), "update": tc("history", "changed"),
                 "delete": tc("history", "deleted"), "restore": tc("history", "restored"),
                 "comment": tc("history", "comment"), "attach": tc("history", "file attached"),
                 "comment_delete": tc("history", "comment deleted"), "detach": tc("history", "file deleted"),
                 "route": tc("history", "re-routed"), "privileged_read": tc("history", "read with system rights"),
                 "approval_open": tc("history", "approval opened"), "approval_vote": tc("history", "vote"),
                 "approval_decided": tc("history", "approval decided"),
                 "proposal": tc("history", "improvement proposed"),
                 "proposal_answer": tc("history", "proposal answered"),
                 }.get(r.action, r.action)
        detail = after.get("text") or after.get("filename") or "" if r.action in ("comment", "attach") else ""
        if r.action in ("comment_delete", "detach") or (r.action == "comment" and after.get("comment_id") in deleted):
            detail = before.get("filename") or ""
        if r.action == "route":
            detail = after.get("rule") or ""
        elif r.action == "proposal":
            detail = f"#{after.get('proposal')}: {after.get('text') or ''}"
        elif r.action == "proposal_answer":
            detail = " · ".join(filter(None, [f"#{after.get('proposal')}", after.get("status") and
                                              proposals.status_text(after["status"]),
                                              after.get("version") and t("version {n}", n=after["version"])]))
        if r.action == "transition":
            label = tc("history", "transition") + f": {transitions.get(after.get('transition'), after.get('transition'))}"
            detail = f"{meta.status_title(ent, before.get('status'))} → {meta.status_title(ent, after.get('status'))}"
        if r.action == "approval_vote":
            detail = " · ".join(filter(None, [t(extra.DECISIONS[after.get("decision")]), after.get("comment")]))
        elif r.action == "approval_decided":
            detail = t(extra.ROUND_STATES.get(after.get("outcome"), after.get("outcome") or ""))
        if r.action == "privileged_read":
            detail = after.get("hook") or ""
        elif after.get("_privileged"):  # made by a privileged hook on the user's behalf
            detail = " · ".join(filter(None, [detail, t("with system rights: {hook}", hook=after["_privileged"])]))
        changed = [tt(ent.fields[k].title) for k in after if k in ent.fields and k not in hidden]
        if r.action == "update" and not changed and any(k in hidden for k in after):
            continue
        out.append({"action": label, "user": r.username or "", "at": fmt_datetime(r.at), "detail": detail,
                    "fields": changed if r.action not in ("create", "comment", "attach", "detach", "proposal",
                                                          "proposal_answer") else []})
    return out


@bp.post("/<app>/<entity>/<int:record_id>/transitions/<name>")
def fire(app: str, entity: str, record_id: int, name: str):
    """Fire a transition with the values its dialog asked for; a refusal for a field opens the
    dialog again with the values kept and the reason next to the field."""
    version = request.form.get("row_version", "")
    ent, who = loom().entity_tables(app, entity).entity, actor()
    tr = next((x for x in ent.spec.get("transitions", []) if x["name"] == name), None)
    fields = [f for f in (ent.fields.get(n) for n in (tr or {}).get("required", [])) if f is not None
              and (f.name in request.form or f.name in request.files)] if tr else []
    data, raw, files = meta.parse(fields, request.form, request.files)
    try:
        loom().workflow.transition(app, entity, record_id, name, data, int(version) if version.isdigit() else None,
                                   who, files=files)
        flash(t("Done"), "ok")
    except ValidationFailed as exc:
        record = loom().records.get(app, entity, record_id, who)
        asked = {f.name for f in asked_fields(ent, tr, record, who)} if tr else set()
        if asked:
            errors, general = field_errors(ent, exc.errors, asked)
            return _record_page(app, entity, record_id, refused={
                "name": name, "values": {**{n: "" for n in asked}, **raw}, "errors": errors, "general": general})
        flash("; ".join(f"{tt(ent.fields[e.field].title) if e.field in ent.fields else e.field}: {message(e.message)}"
                        for e in exc.errors), "error")
    except (Conflict, Forbidden, NotFound) as exc:
        flash(exc.detail, "error")
    return redirect(url_for("ui.record_view", app=app, entity=entity, record_id=record_id))


# ---------------------------------------------------------------------- forms
@bp.route("/<app>/<entity>/new", methods=["GET", "POST"])
def create(app: str, entity: str):
    return _form(app, entity, None)


@bp.route("/<app>/<entity>/<int:record_id>/edit", methods=["GET", "POST"])
def edit(app: str, entity: str, record_id: int):
    return _form(app, entity, record_id)


def _form(app: str, entity: str, record_id: int | None):
    et = loom().entity_tables(app, entity)
    ent, who = et.entity, actor()
    perms = loom().permissions
    perms.require(who, ent, "create" if record_id is None else "update")
    tabs = meta.layout(ent, perms.hidden(who, ent))
    fields = meta.form_fields(tabs)
    locked = set(perms.readonly(who, ent))  # readonly: true fields too, on a new record as well
    editable = [f for f in fields if f.type not in ("computed", "rollup") and f.name not in locked]
    record = loom().records.get(app, entity, record_id, who) if record_id is not None else {}
    errors, general, conflict = {}, [], None
    values = {f.name: meta.input_value(f, record.get(f.name, f.spec.get("default") if record_id is None else None))
              for f in fields}
    row_version = record.get("row_version")
    status = 200
    on_form = {f.name for f in editable}
    files: dict = {}
    if request.method == "POST":
        data, raw, files = meta.parse(editable, request.form, request.files)
        values.update(raw)
        rules = extra.rule_state(ent, {**record, **raw})
        try:
            errors = extra.enforce_rules(ent, rules, data, on_form)
            if errors:
                raise ValidationFailed([])
            if record_id is None:
                saved = loom().records.create(app, entity, data, who, files=files, channel="ui")
                flash(t("Created."), "ok")
            else:
                version = request.form.get("row_version", "")
                row_version = int(version) if version.isdigit() else None
                saved = loom().records.update(app, entity, record_id, data, row_version, who, files=files)
                flash(t("Saved."), "ok")
            return redirect(url_for("ui.record_view", app=app, entity=entity, record_id=saved["id"]))
        except ValidationFailed as exc:
            status = 422
            if exc.errors or not errors:
                errors, general = field_errors(ent, exc.errors, {f.name for f in fields})
        except Forbidden as exc:
            status = 403
            errors, general = field_errors(ent, [_E(e["field"], e["message"]) for e in exc.extra.get("errors", [])],
                                            {f.name for f in fields})
            general = general or [exc.detail]
        except Conflict as exc:
            status = 409
            current = (exc.extra.get("current") or {}).get("row_version")
            conflict = t("This record was changed by someone else while you were editing it "
                         "(you edited version {yours}, it is now at version {now}). "
                         "Open the record again and repeat your change.", yours=row_version, now=current)
    else:
        rules = extra.rule_state(ent, {**record, **values})
    picks = {}
    for f in fields:
        if f.value_type in ("link", "user", "group") or f.type == "multilink":
            if f.storage == "child":
                continue
            selected = values.get(f.name)
            selected = selected if isinstance(selected, list) else [selected] if selected not in (None, "") else []
            picks[f.name] = meta.options(loom(), who, f, selected=selected)
    computed = {}
    if record_id is not None:
        titles = meta.Titles(loom(), who)
        computed = {f.name: meta.display(f, record.get(f.name), titles).text for f in fields if f.type in ("computed", "rollup")}
    title = _record_title(ent, record) if record_id is not None else tt(ent.title) + ": " + t("New")
    return render_template(
        "ui/form.html", app=app, entity=ent, record_id=record_id, tabs=tabs, values=values, errors=errors,
        general=general, conflict=conflict, row_version=row_version, picks=picks, locked=locked,
        computed=computed, title=title, field_title=meta.field_title, rules=rules,
        section_visible=extra.section_visible, has_rules=extra.has_rules(ent),
        has_files=any(f.storage == "attachments" or any(c.type == "file" for c in f.children.values())
                      for f in fields), resend=bool(files)), status


class _E:
    def __init__(self, field, message_):
        self.field, self.message = field, message_


def field_errors(ent, items, on_form: set) -> tuple[dict, list]:
    """Errors by form field (a child row's error goes to its table), and the rest."""
    errors, general = {}, []
    for e in items:
        name, _, rest = e.field.partition("[")
        text = message(e.message)
        f = ent.fields.get(name)
        if rest and f is not None and f.storage == "child":
            f = f.children.get(rest.partition("].")[2])
        words = _declared_message(ent, f, name, e.message)
        if words is not None:
            text = tt(words)  # the analyst's words (a pattern_message, a check's message), in the reader's language
        if rest:  # works[0].hours
            index, _, col = rest.partition("].")
            f = ent.fields.get(name)
            col_title = tt(f.children[col].title) if f is not None and col in f.children else col
            text = t("Row") + f" {int(index) + 1 if index.isdigit() else index}, {col_title}: {text}"
        if name in on_form:
            errors.setdefault(name, []).append(text)
        elif name == "record":
            general.append(text)
        else:
            label = tt(ent.fields[name].title) if name in ent.fields else name
            general.append(f"{label}: {text}")
    return errors, general


def _declared_message(ent, f, name: str, sent: str):
    """The ``{ru, en}`` message metadata declared for this refusal, if it is one (the record
    service sends its English text)."""
    if f is not None and f.spec.get("pattern_message") and sent == title_text(f.spec["pattern_message"], "en"):
        return f.spec["pattern_message"]
    for check in ent.spec.get("checks") or []:
        if (check.get("field") or "record") == name and sent == title_text(check["message"], "en"):
            return check["message"]
    return None


@bp.get("/<app>/<entity>/options/<field>")
def picker_options(app: str, entity: str, field: str):
    """The ``<option>``s of a link picker matching the search text (for htmx)."""
    et = loom().entity_tables(app, entity)
    f = et.entity.fields.get(field)
    if f is None or not (f.value_type in ("link", "user", "group") or f.type == "multilink") \
            or field in loom().permissions.hidden(actor(), et.entity):
        abort(404)
    selected = [v for v in request.args.getlist(field) if v]
    record = None
    if f.spec.get("filter") or f.spec.get("filter_script"):
        with loom().reader.connect() as c:
            record = loom().link_filters.record_from_args(c, et, request.args, actor())
    options = meta.options(loom(), actor(), f, request.args.get("q", ""), selected, record=record)
    if request.args.get("format") == "json":  # the combo box of forms (loom.js)
        return jsonify([{"id": i, "text": text} for i, text in options])
    return render_template("ui/_options.html", options=options, selected=selected, multiple=f.type == "multilink")
