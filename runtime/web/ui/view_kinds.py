"""The calendar, Gantt and map pages (``/ui/<app>/<entity>/calendar|gantt|map/<view>``): server
shells over :mod:`runtime.data.view_kinds`, run as the user, with a little JS each
(``calendar.js`` moves an entry, ``map.js`` draws the markers). A moved calendar entry is saved
through the record service with the record's row version, so the form's permissions, row rules
and validation decide, and a refusal comes back with its reason."""
from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

from flask import current_app, jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from runtime import clock
from runtime.data import view_kinds
from runtime.data.query import BadQuery, parse_args
from runtime.errors import LoomError, NotFound

from . import meta
from .base import actor, bp, loom
from .calendar_grid import MODES, MONTHS, WEEKDAYS, step, title, window
from .i18n import fmt_date, fmt_datetime, t, tt

MAP_MARKERS = 5000  # a map shows this many records at most, a page of 500 at a time
OWN_ARGS = ("mode", "date", "view")


def _view(ent, name: str, kind: str) -> dict:
    try:
        return view_kinds.view_of(ent, name, kind)
    except KeyError:
        raise NotFound(f"{ent.name} has no view {name!r}") from None
    except LookupError as exc:
        raise NotFound(str(exc)) from None


def _filters():
    """The list filters of the page's query string (``field__op=value``), as on a list page."""
    args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k not in OWN_ARGS and v != ""])
    return parse_args(args)[0]


def _setup(app: str, entity: str, view_name: str, kind: str):
    et = loom().entity_tables(app, entity)
    who = actor()
    loom().permissions.require(who, et.entity, "read")
    return et, who, _view(et.entity, view_name, kind)


def _lines(ent, item: dict, names, titles) -> list[dict]:
    """The card fields of an entry as label and text (links by their titles)."""
    out = []
    for name in names:
        f = ent.fields.get(name)
        if f is None or item.get(name) in (None, "", []):
            continue
        if f.type in ("date", "datetime") or (f.type == "rollup" and f.spec.get("result") in ("date", "datetime")):
            text = _fmt(item[name])
        else:
            text = meta.display(f, item[name], titles).text
        out.append({"name": name, "label": tt(f.title or name), "text": text})
    return out


def _fmt(value) -> str:
    text = str(value)
    if len(text) == 10:
        return fmt_date(dt.date.fromisoformat(text))
    return fmt_datetime(dt.datetime.fromisoformat(text))


def _titles(ent, items, names):
    titles = meta.Titles(loom(), actor())
    for item in items:
        for name in names:
            f = ent.fields.get(name)
            if f is not None and f.type not in ("date", "datetime"):
                titles.want(f, item.get(name))
    return titles.load()


def _day(value, zone: str) -> dt.date | None:
    if value in (None, ""):
        return None
    text = str(value)
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    moment = dt.datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(ZoneInfo(zone)).date()


@bp.get("/<app>/<entity>/calendar/<view_name>")
def calendar_view(app: str, entity: str, view_name: str):
    et, who, view = _setup(app, entity, view_name, "calendar")
    ent, spec = et.entity, view["calendar"]
    mode = request.args.get("mode") if request.args.get("mode") in MODES else "month"
    try:
        day = dt.date.fromisoformat(request.args["date"]) if request.args.get("date") else clock.now().date()
    except ValueError:
        raise BadQuery(f"date must be YYYY-MM-DD, not {request.args['date']!r}", field="date") from None
    first, last = window(mode, day)
    data = view_kinds.calendar(loom(), et, view, who, first, last, _filters(), limit=500)
    names = [n for n in spec.get("card", []) if n in data["fields"]]
    titles = _titles(ent, data["entries"], names)
    by_day: dict[dt.date, list] = {}
    for item in data["entries"]:
        begins = _day(item.get(spec["start"]), ent.timezone)
        ends = _day(item.get(spec.get("end")), ent.timezone) if spec.get("end") else None
        ends = max(begins, ends or begins)
        entry = {"id": item["id"], "version": item["row_version"], "title": item.get(ent.title_field) or item["number"],
                 "url": url_for("ui.record_view", app=app, entity=entity, record_id=item["id"]),
                 "lines": _lines(ent, item, names, titles), "start": begins.isoformat()}
        d = max(begins, first)
        while d <= min(ends, last):
            by_day.setdefault(d, []).append({**entry, "continues": d != begins})
            d += dt.timedelta(days=1)
    today = clock.now().date()
    days = [{"iso": d.isoformat(), "day": d.day, "today": d == today, "other": mode == "month" and d.month != day.month,
             "label": f"{t(WEEKDAYS[d.weekday()])} {fmt_date(d)}", "items": by_day.get(d, [])}
            for d in (first + dt.timedelta(days=i) for i in range((last - first).days + 1))]
    here = {k: v for k, v in request.args.items() if k not in ("mode", "date")}

    def link(**kw):
        return url_for("ui.calendar_view", app=app, entity=entity, view_name=view_name, **{**here, **kw})

    nav = {"prev": link(mode=mode, date=step(mode, day, -1).isoformat()),
           "next": link(mode=mode, date=step(mode, day, 1).isoformat()),
           "today": link(mode=mode), "modes": [(m, link(mode=m, date=day.isoformat()), t(label)) for m, label in MODES.items()]}
    weeks = [days[i:i + 7] for i in range(0, len(days), 7)] if mode != "day" else [days]
    return render_template("ui/calendar.html", app=app, entity=ent, view=view, mode=mode, title=title(mode, day), nav=nav,
                           weeks=weeks, weekdays=[t(w) for w in WEEKDAYS][:len(weeks[0])] if mode != "day" else [],
                           editable=data["editable"], more=data["next"] is not None, tt=tt, meta=meta)


@bp.post("/<app>/<entity>/<int:record_id>/reschedule/<view_name>")
def calendar_move(app: str, entity: str, record_id: int, view_name: str):
    """Move a calendar entry by ``days`` (its start, and its end with it): 200 with the record's
    new row version, or the refusal's status with the reason."""
    _, who, view = _setup(app, entity, view_name, "calendar")
    spec = view["calendar"]
    days = request.form.get("days", "")
    version = request.form.get("row_version", "")
    try:
        if not days.lstrip("-").isdigit():
            raise BadQuery(f"days must be a whole number, not {days!r}", field="days")
        record = loom().records.get(app, entity, record_id, who)
        changes = {}
        for name in (spec["start"], spec.get("end")):
            if name and record.get(name) not in (None, ""):
                changes[name] = _shift(record[name], int(days))
        done = loom().records.update(app, entity, record_id, changes,
                                     int(version) if version.isdigit() else None, who)
    except LoomError as exc:
        problem = exc.problem()
        reason = problem.get("detail") or str(exc)
        if problem.get("errors"):
            reason = "; ".join(f"{e.get('field', '')}: {e.get('message', '')}" for e in problem["errors"])
        return jsonify({"error": reason}), problem.get("status") or 409
    return jsonify({"id": record_id, "row_version": done.get("row_version"),
                    **{k: done.get(k) for k in changes}})


def _shift(value, days: int) -> str:
    text = str(value)
    if len(text) == 10:
        return (dt.date.fromisoformat(text) + dt.timedelta(days=days)).isoformat()
    return (dt.datetime.fromisoformat(text) + dt.timedelta(days=days)).isoformat()


@bp.get("/<app>/<entity>/gantt/<view_name>")
def gantt_view(app: str, entity: str, view_name: str):
    et, who, view = _setup(app, entity, view_name, "gantt")
    ent, spec = et.entity, view["gantt"]
    data = view_kinds.gantt(loom(), et, view, who, _filters(), limit=500)
    names = [n for n in spec.get("card", []) if n in data["fields"]]
    titles = _titles(ent, data["bars"], names)
    spans = [(b, _day(b.get(spec["start"]), ent.timezone), _day(b.get(spec["end"]), ent.timezone)) for b in data["bars"]]
    spans = [(b, s, max(s, e)) for b, s, e in spans if s is not None and e is not None]
    bars, scale = [], []
    if spans:
        low = min(s for _, s, _ in spans).replace(day=1)
        high = max(e for _, _, e in spans) + dt.timedelta(days=1)
        total = (high - low).days
        numbers = {b["id"]: b.get("number") for b, _, _ in spans}
        for b, s, e in spans:
            progress = b.get(spec.get("progress")) if spec.get("progress") else None
            bars.append({"id": b["id"], "title": b.get(ent.title_field) or b["number"], "number": b.get("number"),
                         "url": url_for("ui.record_view", app=app, entity=entity, record_id=b["id"]),
                         "left": 100 * (s - low).days / total, "width": max(0.5, 100 * ((e - s).days + 1) / total),
                         "progress": max(0, min(100, float(progress))) if progress not in (None, "") else None,
                         "critical": b["critical"], "dates": f"{fmt_date(s)} – {fmt_date(e)}",
                         "after": [numbers[a] for a in b["after"] if a in numbers], "after_ids": b["after"],
                         "lines": _lines(ent, b, names, titles)})
        d = low
        while d < high:
            scale.append({"label": f"{t(MONTHS[d.month - 1])[:3]} {d.year}", "left": 100 * (d - low).days / total})
            d = step("month", d, 1)
    return render_template("ui/gantt.html", app=app, entity=ent, view=view, bars=bars, scale=scale,
                           cycle=data["cycle"], more=data["next"] is not None, tt=tt)


@bp.get("/<app>/<entity>/map/<view_name>")
def map_view(app: str, entity: str, view_name: str):
    et, who, view = _setup(app, entity, view_name, "map")
    ent, spec = et.entity, view["map"]
    filters, markers, after = _filters(), [], None
    while len(markers) < MAP_MARKERS:
        data = view_kinds.map_points(loom(), et, view, who, filters, limit=500, after=after)
        markers += data["markers"]
        after = data["next"]
        if after is None:
            break
    names = [n for n in spec.get("card", []) if n in data["fields"]]
    titles = _titles(ent, markers, names)
    points = [{"id": m["id"], "lat": m[spec["point"]]["lat"], "lon": m[spec["point"]]["lon"],
               "title": str(m.get(ent.title_field) or m["number"]), "number": m.get("number"),
               "url": url_for("ui.record_view", app=app, entity=entity, record_id=m["id"]),
               "lines": [f"{x['label']}: {x['text']}" for x in _lines(ent, m, names, titles)]} for m in markers]
    tiles = spec.get("tiles")
    if tiles is None:
        tiles = current_app.config.get("LOOM_MAP_TILES", os.environ.get("LOOM_MAP_TILES", ""))
    return render_template("ui/map.html", app=app, entity=ent, view=view, points=points, tiles=tiles,
                           attribution=spec.get("attribution", ""), more=after is not None, tt=tt)
