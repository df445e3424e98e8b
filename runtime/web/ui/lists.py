"""List-page extras: saved views, bulk actions and export of the current list.

Routes hang on the ``ui`` blueprint (login, error pages and navigation are
shared with the other pages). Everything goes through the same permission
checks as the list itself: exports run :class:`runtime.query.ListQuery` with
the actor (row rules, hidden fields cannot be filtered, sorted or searched,
hidden columns are left out), bulk actions call the record services with the
actor for each record in its own transaction.

Export formats:

* ``.xlsx`` - an openpyxl write-only workbook (rows go to a temporary file,
  never all in memory); header row with field titles in the UI language,
  links/users as their titles, choices and statuses as titles, dates and
  numbers as real Excel values (date-times in UTC).
* ``.csv`` - UTF-8 with a BOM (so Excel detects the encoding), ``,`` as the
  separator (RFC 4180). Russian-locale Excel expects ``;`` when opening a
  file by double click; use Data > From Text/CSV there, or the xlsx export.
  Dates are ISO (``2026-01-31``, date-times ``2026-01-31 12:00:00`` UTC),
  numbers use ``.``; the response is streamed batch by batch.

Both read the list in keyset batches of ``EXPORT_BATCH`` rows and stop after
``EXPORT_CAP`` rows with a note as the last line (and the response header
``X-Loom-Export-Truncated``).
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import tempfile
from urllib.parse import parse_qsl, urlencode

from flask import Response, flash, redirect, request, send_file, stream_with_context, url_for
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from runtime.data import tables as platform
from runtime.data.query import MAX_LIMIT, Filter, ListQuery, parse_args
from runtime.data.storage import utcnow
from runtime.errors import LoomError, NotFound, ValidationFailed
from runtime.security.permissions import holds

from runtime.web.safe_next import safe_next
from . import meta
from .base import actor, bp, loom
from .i18n import message, t, tt

EXPORT_CAP = 100_000
EXPORT_BATCH = MAX_LIMIT
BULK_LIMIT = 500
STATE_KEYS_DROPPED = ("after", "csrf_token")
SYSTEM_TAIL = ("created_at", "created_by", "updated_at")


# ---------------------------------------------------------------------- the list page's extras
def list_extras(app: str, ent, view_name: str | None) -> dict:
    """What list.html needs besides rows: saved views, bulk actions, export links."""
    who = actor()
    perms = loom().permissions
    state = _state_args(request.args)
    saved = []
    for row in _saved_rows(app, ent.name, who.id):
        args = _args_of(row.query)
        saved.append({"id": row.id, "name": row.name,
                      "url": url_for("ui.list_view", app=app, entity=ent.name, **args.to_dict(flat=False)),
                      "active": sorted(args.items(multi=True)) == sorted(state.items(multi=True)),
                      "delete_url": url_for("ui.saved_view_delete", app=app, entity=ent.name, view_id=row.id)})
    actions = []
    if perms.allowed(who, ent, "update"):
        for tr in ent.spec.get("transitions", []):
            roles = tr.get("roles")
            if roles and not holds(who, app, roles):
                continue
            actions.append({"value": f"transition:{tr['name']}", "title": tt(tr.get("title", tr["name"]))})
    if perms.allowed(who, ent, "delete"):
        actions.append({"value": "delete", "title": t("Delete")})
    query = state.to_dict(flat=False)
    return {
        "saved_views": saved,
        "save_view_url": url_for("ui.saved_view_save", app=app, entity=ent.name),
        "state": urlencode(list(state.items(multi=True))),
        "bulk_actions": actions,
        "bulk_url": url_for("ui.bulk", app=app, entity=ent.name),
        "back_url": request.script_root + request.full_path.rstrip("?"),
        "export_xlsx": url_for("ui.export", app=app, entity=ent.name, fmt="xlsx", **query),
        "export_csv": url_for("ui.export", app=app, entity=ent.name, fmt="csv", **query),
    }


@bp.context_processor
def _list_page():
    if request.endpoint != "ui.list_view" or not request.view_args:
        return {}
    try:
        ent = loom().entity_tables(request.view_args["app"], request.view_args["entity"]).entity
    except LoomError:
        return {}

    def extras():
        return list_extras(request.view_args["app"], ent, request.args.get("view"))
    return {"list_extras": extras}


# ---------------------------------------------------------------------- saved views
def _state_args(args) -> MultiDict:
    """The list state worth saving: filters, sort, search and view (no cursor, no token)."""
    return MultiDict([(k, v) for k, v in args.items(multi=True) if k not in STATE_KEYS_DROPPED and v != ""])


def _args_of(query: dict) -> MultiDict:
    out = MultiDict()
    if query.get("view"):
        out.add("view", query["view"])
    for key, value in (query.get("filters") or {}).items():
        for v in value if isinstance(value, list) else [value]:
            out.add(key, v)
    if query.get("sort"):
        out.add("sort", ",".join(query["sort"]))
    if query.get("q"):
        out.add("q", query["q"])
    if query.get("columns"):
        out.add("columns", ",".join(query["columns"]))
    return out


def _query_of(args: MultiDict) -> dict:
    filters, sort, q, view, columns = {}, [], None, None, []
    for key, value in args.items(multi=True):
        if key == "columns":  # the column chooser's pick, remembered with the view
            columns.extend(c.strip() for c in value.split(",") if c.strip())
        elif key == "sort":
            sort.extend(s.strip() for s in value.split(",") if s.strip())
        elif key == "q":
            q = value
        elif key == "view":
            view = value
        elif key in filters:
            prev = filters[key]
            filters[key] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            filters[key] = value
    return {"filters": filters, "sort": sort, "q": q, "view": view, "columns": columns}


def _saved_rows(app: str, entity: str, user_id):
    sv = platform.saved_view
    if user_id is None:
        return []
    with loom().reader.connect() as c:
        return c.execute(select(sv.c.id, sv.c.name, sv.c.query)
                         .where(sv.c.user_id == user_id, sv.c.app == app, sv.c.entity == entity)
                         .order_by(sv.c.name)).all()


def _list_url(app: str, entity: str, args: MultiDict | None = None) -> str:
    return url_for("ui.list_view", app=app, entity=entity, **(args.to_dict(flat=False) if args else {}))


def _back(app: str, entity: str) -> str:
    """Where to return after a POST: the list page it came from (same site only)."""
    target = request.form.get("next", "")
    prefix = _list_url(app, entity)
    return safe_next(target, prefix, prefix)


@bp.post("/<app>/<entity>/saved-views")
def saved_view_save(app: str, entity: str):
    et = loom().entity_tables(app, entity)
    who = actor()
    loom().permissions.require(who, et.entity, "read")
    name = request.form.get("name", "").strip()[:100]
    args = _state_args(MultiDict(parse_qsl(request.form.get("state", ""), keep_blank_values=False)))
    if not name:
        flash(t("Give the view a name."), "error")
        return redirect(_back(app, entity))
    try:
        parse_args(args)  # an unknown operator is refused here, not when the view is opened
        if args.get("view"):
            et.entity.view(args["view"])
    except (LoomError, KeyError):
        flash(t("This list state cannot be saved."), "error")
        return redirect(_back(app, entity))
    sv = platform.saved_view
    query = _query_of(args)
    with loom().engine.begin() as c:
        key = (sv.c.user_id == who.id, sv.c.app == app, sv.c.entity == entity, sv.c.name == name)
        if c.execute(update(sv).where(*key).values(query=query)).rowcount == 0:
            try:
                c.execute(insert(sv).values(user_id=who.id, app=app, entity=entity, name=name, query=query,
                                            created_at=utcnow()))
            except IntegrityError:  # saved at the same moment in another tab
                pass
    flash(t("View saved."), "ok")
    return redirect(_list_url(app, entity, args))


@bp.post("/<app>/<entity>/saved-views/<int:view_id>/delete")
def saved_view_delete(app: str, entity: str, view_id: int):
    sv = platform.saved_view
    with loom().engine.begin() as c:
        gone = c.execute(delete(sv).where(sv.c.id == view_id, sv.c.user_id == actor().id, sv.c.app == app,
                                          sv.c.entity == entity)).rowcount
    if not gone:  # someone else's view is "not found", like a record hidden by row rules
        raise NotFound(f"saved view {view_id}")
    flash(t("View deleted."), "ok")
    return redirect(_back(app, entity))


# ---------------------------------------------------------------------- bulk actions
@bp.post("/<app>/<entity>/bulk")
def bulk(app: str, entity: str):
    """Run one action on each selected record, each in its own transaction; report per record."""
    et = loom().entity_tables(app, entity)
    ent, who = et.entity, actor()
    ids = []
    for raw in request.form.getlist("id"):
        if raw.isdigit() and int(raw) not in ids:
            ids.append(int(raw))
    action = request.form.get("action", "")
    back = _back(app, entity)
    if not action:  # nothing is ever done by default: deleting must be chosen
        flash(t("Choose an action."), "error")
        return redirect(back)
    if not ids:
        flash(t("Select records first."), "error")
        return redirect(back)
    if len(ids) > BULK_LIMIT:
        flash(t("Too many records selected (at most {n}).", n=BULK_LIMIT), "error")
        return redirect(back)
    kind, _, name = action.partition(":")
    if kind == "transition" and any(tr["name"] == name for tr in ent.spec.get("transitions", [])):
        def run(record_id):
            loom().workflow.transition(app, entity, record_id, name, {}, None, who)
    elif kind == "delete" and not name:
        def run(record_id):
            loom().records.delete(app, entity, record_id, who)
    else:
        flash(t("Unknown action."), "error")
        return redirect(back)
    labels = _labels(et, ids, who)
    done, failed = 0, []
    for record_id in ids:
        try:
            run(record_id)
            done += 1
        except ValidationFailed as exc:
            failed.append((record_id, "; ".join(
                f"{tt(ent.fields[e.field].title) if e.field in ent.fields else e.field}: {message(e.message)}"
                for e in exc.errors)))
        except LoomError as exc:
            failed.append((record_id, exc.detail))
    if done:
        flash(t("Done: {n}", n=done), "ok")
    for record_id, reason in failed:
        flash(t("Could not") + f": {labels.get(record_id, f'#{record_id}')}: {reason}", "error")
    return redirect(back)


def _labels(et, ids: list[int], who) -> dict:
    """Number (or title) of the selected records the actor may see, for the report."""
    tb, ent = et.main, et.entity
    col = tb.c["number"] if "number" in tb.c and ent.spec.get("number") else tb.c[ent.title_field]
    query = loom().permissions.restrict(select(tb.c.id, col.label("label")).where(tb.c.id.in_(ids)), et, who)
    with loom().reader.connect() as c:
        return {r.id: str(r.label) for r in c.execute(query) if r.label is not None}


# ---------------------------------------------------------------------- export
def export_columns(ent, hidden) -> list:
    """The list view's columns, then the entity's other stored fields, then system stamps; never hidden ones."""
    try:
        view = ent.view(request.args.get("view") or None)
    except KeyError:
        raise NotFound(f"{ent.name} has no view {request.args.get('view')!r}") from None
    names = list(view.get("columns", []))
    names += [f.name for f in ent.fields.values() if f.storage in ("column", "point")]
    if ent.statuses:
        names.append("status")
    names += list(SYSTEM_TAIL)
    out, seen = [], set()
    for name in names:
        f = meta.column_field(ent, name)
        if f is None or name in seen or name in hidden or f.storage not in ("column", "point"):
            continue
        seen.add(name)
        out.append(f)
    return view, out


def _batches(et, who, view, cap: int):
    """Rows of the current list, in keyset batches, at most ``cap`` (then one extra marker)."""
    filters, sort, options = parse_args(_state_args(request.args))
    view_filters = [Filter(f["field"], f.get("op", "eq"), f.get("value")) for f in view.get("filters", [])]
    search = (options.get("q") or "").strip() or None
    after, total = None, 0
    while True:
        with loom().reader.connect() as conn:
            page = ListQuery(loom(), et).run(conn, filters, sort, limit=min(EXPORT_BATCH, cap - total + 1),
                                             after=after, search=search, actor=who, view_filters=view_filters,
                                             view_sort=list(view.get("sort", [])))
        items = page.items
        if total + len(items) > cap:
            yield items[:cap - total], True
            return
        total += len(items)
        yield items, False
        if not page.next_cursor or total >= cap and not items:
            return
        after = page.next_cursor


def _cells(columns, items, titles: meta.Titles, excel: bool) -> list[list]:
    for row in items:
        for f in columns:
            titles.want(f, meta.row_value(f, row))
    titles.load()
    return [[_value(f, meta.row_value(f, row), titles, excel) for f in columns] for row in items]


def _value(f, value, titles, excel: bool):
    if f.type == "status":
        return meta.status_title(f.entity, value)
    if value is None or value == "":
        return None
    kind = f.value_type
    if kind in ("link", "user", "group", "choice"):
        return meta.display(f, value, titles).text
    if kind == "geo":  # "lat,lon": what the import reads back
        return f"{value['lat']},{value['lon']}"
    if kind == "boolean":
        return bool(value) if excel else (t("Yes") if value else t("No"))
    if kind == "datetime":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value if excel else value.isoformat(" ", "seconds")
    if kind == "date":
        if isinstance(value, str):
            value = dt.date.fromisoformat(value[:10])
        if isinstance(value, dt.datetime):
            value = value.date()
        return value if excel else value.isoformat()
    if kind in ("decimal", "money", "integer"):
        if excel:
            return value if isinstance(value, (int, decimal.Decimal, float)) else decimal.Decimal(str(value))
        return str(value)
    return str(value)


@bp.get("/<app>/<entity>/export.<fmt>")
def export(app: str, entity: str, fmt: str):
    if fmt not in ("xlsx", "csv"):
        raise NotFound(f"export format {fmt!r}")
    et = loom().entity_tables(app, entity)
    ent, who = et.entity, actor()
    loom().permissions.require(who, ent, "read")
    view, columns = export_columns(ent, loom().permissions.hidden(who, ent))
    heads = [meta.field_title(f) for f in columns]
    cap = EXPORT_CAP
    batches = _batches(et, who, view, cap)
    first = next(batches)  # a bad filter or a forbidden one fails here, before any byte is sent
    note = t("Only the first {n} records were exported; narrow the list with filters.", n=cap)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    filename = f"{entity}-{stamp}.{fmt}"

    def all_batches():
        yield first
        yield from batches

    if fmt == "csv":
        def generate():
            buf = io.StringIO()
            writer = csv.writer(buf)
            buf.write("\ufeff")
            writer.writerow(heads)
            truncated = False
            for items, cut in all_batches():
                for r in _cells(columns, items, meta.Titles(loom(), who), excel=False):
                    writer.writerow(["" if v is None else v for v in r])
                truncated = truncated or cut
                yield buf.getvalue().encode("utf-8")
                buf.seek(0)
                buf.truncate()
            if truncated:
                writer.writerow([note])
                yield buf.getvalue().encode("utf-8")
        response = Response(stream_with_context(generate()), mimetype="text/csv")
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
    else:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(tt(ent.plural)[:31] or entity)
        bold = Font(bold=True)
        head_cells = []
        for h in heads:
            cell = WriteOnlyCell(ws, value=h)
            cell.font = bold
            head_cells.append(cell)
        ws.append(head_cells)
        formats = {i: ("yyyy-mm-dd hh:mm" if f.value_type == "datetime" else "yyyy-mm-dd")
                   for i, f in enumerate(columns) if f.value_type in ("date", "datetime")}
        truncated = False
        for items, cut in all_batches():
            for r in _cells(columns, items, meta.Titles(loom(), who), excel=True):
                if formats:
                    r = list(r)
                    for i, fmt_ in formats.items():
                        if r[i] is not None:
                            cell = WriteOnlyCell(ws, value=r[i])
                            cell.number_format = fmt_
                            r[i] = cell
                ws.append(r)
            truncated = truncated or cut
        if truncated:
            ws.append([note])
        out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (send_file closes it)
        wb.save(out)
        out.seek(0)
        response = send_file(out, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                             as_attachment=True, download_name=filename)
        response.headers["X-Loom-Export-Truncated"] = "1" if truncated else "0"
        return response
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------------- filter panel
PANEL_KINDS = {"choice": "choice", "status": "choice", "link": "link", "user": "link", "group": "link",
               "date": "range", "datetime": "range", "integer": "range", "decimal": "range", "money": "range",
               "boolean": "bool", "string": "text", "text": "text", "email": "text", "phone": "text"}
PANEL_SKIP = ("id", "row_version")


def _panel_kind(f) -> str | None:
    if f.name in PANEL_SKIP or f.storage != "column":
        return None
    return PANEL_KINDS.get("status" if f.type == "status" else f.value_type)


def _panel_keys(f, kind: str) -> tuple[str, ...]:
    """The query arguments a control owns: submitting the panel replaces them."""
    n = f.name
    return {"choice": (n, f"{n}__in"), "link": (n,), "range": (f"{n}__gte", f"{n}__lte"), "bool": (n,),
            "text": (f"{n}__contains",)}[kind]


def _panel_control(app: str, ent, f, kind: str, args, who, more: bool) -> dict:
    n = f.name
    c = {"name": n, "title": meta.field_title(f), "kind": kind, "more": more, "id": f"flt-{n}"}
    if kind == "choice":
        if f.type == "status":
            values = [(s["name"], tt(s.get("title", s["name"]))) for s in ent.statuses]
        else:
            values = [(ch.value, tt(ch.title) if ch.title else ch.value) for ch in f.choices]
        chosen = set(args.getlist(n))
        for raw in args.getlist(f"{n}__in"):
            chosen.update(v for v in raw.split(",") if v)
        c.update(options=values, selected=chosen, active=bool(chosen))
    elif kind == "link":
        value = args.get(n, "")
        c.update(options=meta.options(loom(), who, f, "", [value] if value else []), value=value,
                 active=bool(value),
                 picker_url=url_for("ui.picker_options", app=app, entity=ent.name, field=n) if n in ent.fields
                 else None)
    elif kind == "range":
        low, high = args.get(f"{n}__gte", ""), args.get(f"{n}__lte", "")
        dated = f.value_type in ("date", "datetime")
        if dated:
            low, high = low[:10], high[:10]
        c.update(low=low, high=high, active=bool(low or high),
                 input="date" if dated else "number" if f.value_type == "integer" else "decimal")
    elif kind == "bool":
        value = args.get(n, "").lower()
        value = "true" if value in ("true", "1", "yes") else "false" if value in ("false", "0", "no") else ""
        c.update(value=value, active=bool(value))
    else:
        value = args.get(f"{n}__contains", "")
        c.update(value=value, active=bool(value))
    return c


def filter_panel(app: str, ent, view: dict) -> dict:
    """Controls for the view's columns, then (under "more") the other column-stored fields; never hidden ones."""
    who = actor()
    hidden = loom().permissions.hidden(who, ent)
    args = request.args
    names = list(view.get("columns", []))
    primary = len(names)
    names += [f.name for f in ent.fields.values() if f.storage == "column"]
    if ent.statuses:
        names.append("status")
    names += ["number", *SYSTEM_TAIL] if ent.spec.get("number") else list(SYSTEM_TAIL)
    controls, managed, seen = [], set(), set()
    for i, name in enumerate(names):
        f = meta.column_field(ent, name)
        if f is None or name in seen or name in hidden or (name == "status" and not ent.statuses):
            continue
        kind = _panel_kind(f)
        if kind is None:
            continue
        seen.add(name)
        managed.update(_panel_keys(f, kind))
        controls.append(_panel_control(app, ent, f, kind, args, who, more=i >= primary))
    keep = [(k, v) for k, v in args.items(multi=True) if k not in managed and k not in STATE_KEYS_DROPPED and v != ""]
    reset = MultiDict([(k, v) for k, v in args.items(multi=True) if k in ("view", "sort", "q") and v != ""])
    return {"controls": [c for c in controls if not c["more"]],
            "more": [c for c in controls if c["more"]],
            "keep": keep, "active": any(c["active"] for c in controls),
            "url": url_for("ui.filter_apply", app=app, entity=ent.name),
            "reset_url": _list_url(app, ent.name, reset)}


@bp.get("/<app>/<entity>/filter")
def filter_apply(app: str, entity: str):
    """The panel's GET: drop empty controls, join multi-selects, and open the list with the result."""
    et = loom().entity_tables(app, entity)
    ent = et.entity
    loom().permissions.require(actor(), ent, "read")
    out = MultiDict()
    for key in dict.fromkeys(request.args.keys()):
        values = [v.strip() for v in request.args.getlist(key) if v.strip() and v.strip() != "any"]
        if not values or key in STATE_KEYS_DROPPED:
            continue
        name, _, op = key.partition("__")
        f = meta.column_field(ent, name.partition(".")[0])
        if op == "in":
            out.add(key, ",".join(v for raw in values for v in raw.split(",") if v))
            continue
        for v in values:
            if f is not None and f.value_type in ("decimal", "money", "integer") and op in ("gte", "lte"):
                v = v.replace("\u00a0", "").replace(" ", "").replace(",", ".")
            if f is not None and f.value_type == "datetime" and op == "lte" and len(v) == 10:
                v += "T23:59:59"  # "to" a day means to its end
            out.add(key, v)
    return redirect(_list_url(app, entity, out))


@bp.context_processor
def _list_filter_panel():
    if request.endpoint != "ui.list_view" or not request.view_args:
        return {}
    try:
        ent = loom().entity_tables(request.view_args["app"], request.view_args["entity"]).entity
        view = ent.view(request.args.get("view") or None)
    except (LoomError, KeyError):
        return {}

    def panel():
        return filter_panel(request.view_args["app"], ent, view)
    return {"filter_panel": panel}
