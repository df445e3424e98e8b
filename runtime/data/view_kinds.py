"""Calendar, Gantt and map views' data: each is the list query with a few more view filters,
run as the reader, so row rules, hidden fields and keyset cursors are a list's (as a kanban
board's columns are, :mod:`runtime.data.boards`).

A calendar reads only its window: records whose start lies between the window's start less
``max_days`` and its end, an indexed range on the start field. A map reads only records that
have a point. A Gantt reads one page of bars (the caller's filters, e.g. one project) and marks
the critical path (:mod:`runtime.data.critical_path`).
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from . import related
from .boards import view_filters
from .critical_path import Cycle, Task, critical_path
from .query import BadQuery, Filter, ListQuery

MAX_WINDOW_DAYS = 92  # a calendar shows at most a quarter; a month grid needs 42 days


def _kept(loom, ent, actor, names) -> list[str]:
    hidden = loom.permissions.hidden(actor, ent)
    keep = ["id", "number", "status", "row_version", ent.title_field, *names]
    return [k for k in dict.fromkeys(keep) if k and k not in hidden]


def _page(loom, et, view, actor, filters, sort, extra, limit, after, keep):
    with loom.reader.connect() as conn:
        page = ListQuery(loom, et).run(conn, filters, sort, limit=limit or view.get("page_size", 500), after=after,
                                       actor=actor, view_filters=view_filters(view) + extra,
                                       view_sort=list(view.get("sort", [])))
        items = [{k: item[k] for k in keep if k in item} for item in loom.records.page_json(et, page.items, actor)]
        return page, items


def editable(loom, ent, actor, names) -> bool:
    """Whether ``actor`` may change the fields ``names`` of some record (row rules still decide
    for each record when it is saved)."""
    if not loom.permissions.allowed(actor, ent, "update"):
        return False
    fixed = loom.permissions.readonly(actor, ent) | loom.permissions.hidden(actor, ent)
    return not any(n in fixed or n not in ent.fields or ent.fields[n].spec.get("readonly") for n in names if n)


def parse_day(text, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise BadQuery(f"{name} must be a date YYYY-MM-DD, not {text!r}", field=name) from None


def _bound(f_type: str, day: dt.date, zone: str, end: bool) -> str:
    """A day's first (or last) moment as a filter value for a date or datetime field."""
    if f_type == "date":
        return day.isoformat()
    moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min, ZoneInfo(zone))
    return moment.astimezone(dt.UTC).isoformat()


def _type(ent, name) -> str:
    f = ent.fields.get(name)
    if f is None:
        return "datetime"  # created_at, updated_at
    return f.spec.get("result", f.type) if f.type in ("rollup", "computed") else f.type


def calendar(loom, et, view: dict, actor, start: dt.date, end: dt.date, filters=(), limit=None, after=None) -> dict:
    """Entries of the window ``start..end`` (days, both included), ordered by their start."""
    ent, spec = et.entity, view["calendar"]
    if end < start:
        raise BadQuery("end must not be before start", field="end")
    if (end - start).days >= MAX_WINDOW_DAYS:
        raise BadQuery(f"a calendar window spans at most {MAX_WINDOW_DAYS} days", field="end")
    first, last = spec["start"], spec.get("end")
    for name in (first, last):
        if name:
            loom.permissions.check_field_use(actor, ent, name, name)  # placing by a hidden date would show it
    zone = ent.timezone
    lookback = start - dt.timedelta(days=spec.get("max_days", 31)) if last else start
    extra = [Filter(first, "between", [_bound(_type(ent, first), lookback, zone, False),
                                       _bound(_type(ent, first), end, zone, True)])]
    if last:
        extra.append(Filter(last, "gte", _bound(_type(ent, last), start, zone, False)))
    keep = _kept(loom, ent, actor, [first, last, *spec.get("card", [])])
    page, items = _page(loom, et, view, actor, list(filters), [first, "id"], extra, limit, after, keep)
    return {"view": view["name"], "start": start.isoformat(), "end": end.isoformat(), "start_field": first,
            "end_field": last, "fields": keep, "editable": editable(loom, ent, actor, [first, last]),
            "entries": items, "next": page.next_cursor}


def gantt(loom, et, view: dict, actor, filters=(), limit=None, after=None) -> dict:
    """Bars ordered by their start, each with its predecessors' ids (those on this page) and
    whether it lies on the critical path."""
    ent, spec = et.entity, view["gantt"]
    for name in (spec["start"], spec["end"], spec.get("depends_on")):
        if name:
            loom.permissions.check_field_use(actor, ent, name, name)
    deps = spec.get("depends_on")
    keep = _kept(loom, ent, actor, [spec["start"], spec["end"], spec.get("progress"), *spec.get("card", [])])
    with loom.reader.connect() as conn:
        page = ListQuery(loom, et).run(conn, list(filters), [spec["start"], "id"], limit=limit or view.get("page_size", 500),
                                       after=after, actor=actor, view_filters=view_filters(view),
                                       view_sort=list(view.get("sort", [])))
        ids = [row["id"] for row in page.items]
        if deps and ent.fields[deps].type == "multilink":
            links = {i: v.get(deps, []) for i, v in related.load(conn, et, ids).items()}
        else:
            links = {row["id"]: [row[deps]] if deps and row[deps] is not None else [] for row in page.items}
    bars = []
    for item in loom.records.page_json(et, page.items, actor):
        bar = {k: item[k] for k in keep if k in item}
        bar["after"] = [i for i in links.get(item["id"], []) if i in links]
        bars.append(bar)
    try:
        critical = critical_path([Task(b["id"], _when(b.get(spec["start"])), _when(b.get(spec["end"]), end=True), b["after"])
                                  for b in bars])
        loop = None
    except Cycle as exc:
        critical, loop = set(), str(exc)
    for bar in bars:
        bar["critical"] = bar["id"] in critical
    return {"view": view["name"], "start_field": spec["start"], "end_field": spec["end"],
            "progress_field": spec.get("progress"), "fields": keep, "bars": bars, "cycle": loop,
            "next": page.next_cursor}


def _when(value, end: bool = False):
    """A moment from a date's or datetime's JSON text; None stays None. A date ``end`` is the
    end of that day (a stage planned to end on the 30th and the next to start on the 1st follow
    each other without slack)."""
    if value in (None, ""):
        return None
    text = str(value)
    if len(text) == 10:
        return dt.datetime.combine(dt.date.fromisoformat(text) + dt.timedelta(days=int(end)), dt.time.min, dt.UTC)
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def map_points(loom, et, view: dict, actor, filters=(), limit=None, after=None) -> dict:
    """Records that have a point, a page at a time (newest first unless the view sorts)."""
    ent, spec = et.entity, view["map"]
    point = spec["point"]
    loom.permissions.check_field_use(actor, ent, point, point)
    keep = _kept(loom, ent, actor, [point, *spec.get("card", [])])
    page, items = _page(loom, et, view, actor, list(filters), [], [Filter(point, "notnull", True)],
                           limit, after, keep)
    return {"view": view["name"], "point_field": point, "fields": keep,
            "markers": [m for m in items if isinstance(m.get(point), dict)], "next": page.next_cursor}


def view_of(ent, name: str, kind: str) -> dict:
    """The view ``name`` of ``ent``, which must be of ``kind``; LookupError otherwise."""
    view = ent.view(name)
    if view.get("kind") != kind:
        raise LookupError(f"view {name!r} of {ent.name} is not a {kind} view")
    return view

