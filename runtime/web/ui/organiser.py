"""The personal organiser page (``/ui/organiser``): the signed-in user's open assignments across
every app, a calendar of their due dates (month, week or day, the days of
:mod:`.calendar_grid` as in calendar views), and the approvals awaiting their vote.

What counts as an assignment is the entity's ``tasks:`` declaration (or, without one, the
naming convention of :mod:`.tasks`). Every query runs as the user, so row rules and hidden
fields apply exactly as on a list page.
"""
from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

from flask import render_template, request, url_for

from runtime import clock
from runtime.data.query import Filter, ListQuery
from runtime.errors import LoomError

from . import calendar_grid as grid
from . import meta
from .base import actor, bp, loom
from .i18n import fmt_date, fmt_datetime, t, tt
from .tasks import _awaiting_approval, sources
from .views import _record_title

LIST_LIMIT = 200  # per entity: an organiser, not an export


def _item(src, row, today: dt.date) -> dict:
    due = row.get(src.due) if src.due else None
    day = _day(due, src.entity.timezone)
    label = row.get(src.entity.title_field)
    return {"title": _record_title(src.entity, row), "label": str(label or row.get("number") or ""), "app": src.app, "entity": tt(src.entity.title),
            "url": url_for("ui.record_view", app=src.app, entity=src.entity.name, record_id=row["id"]),
            "status": meta.status_title(src.entity, row.get("status")),
            "category": meta.status_category(src.entity, row.get("status")),
            "due": (fmt_date(due) if src.due_is_date else fmt_datetime(due)) if due else "",
            "day": day, "overdue": day is not None and day < today, "key": f"{src.app}.{src.entity.name}.{row['id']}"}


def _day(value, zone: str) -> dt.date | None:
    """The calendar day of a due date or a due instant (in the app's time zone)."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(ZoneInfo(zone)).date()
    return value


def assignments(who, extra_for=None) -> list[dict]:
    """The user's open assignments, soonest due first (those without a due date last);
    ``extra_for(source)`` adds filters for an entity (None leaves the entity out)."""
    today = clock.now().date()
    items = []
    with loom().reader.connect() as conn:
        for src in sources(loom(), who):
            filters = [Filter("status", "in", src.open_statuses), Filter(src.assignee, "eq", who.id)]
            if extra_for is not None:
                more = extra_for(src)
                if more is None:
                    continue
                filters += more
            sort = [src.due, "id"] if src.due else ["id"]
            try:
                page = ListQuery(loom(), loom().entity_tables(src.app, src.entity.name)).run(
                    conn, filters, sort, limit=LIST_LIMIT, actor=who)
            except LoomError:  # a field hidden from the user: nothing of theirs to list from here
                continue
            items.extend(_item(src, row, today) for row in page.items)
    items.sort(key=lambda it: (it["day"] is None, it["day"] or dt.date.max, it["title"]))
    return items


def _month(arg: str | None) -> dt.date:
    try:
        year, month = (int(x) for x in (arg or "").split("-"))
        return dt.date(year, month, 1)
    except ValueError:
        return clock.now().date().replace(day=1)


def _bounds(src, first: dt.date, last: dt.date) -> list[Filter] | None:
    """Filters for due dates within ``first..last`` (days in the app's time zone)."""
    if not src.due:
        return None
    if src.due_is_date:
        return [Filter(src.due, "between", [first.isoformat(), last.isoformat()])]
    zone = ZoneInfo(src.entity.timezone)
    low = dt.datetime.combine(first, dt.time.min, zone).astimezone(dt.UTC)
    high = dt.datetime.combine(last, dt.time.max, zone).astimezone(dt.UTC)
    return [Filter(src.due, "between", [low.isoformat(), high.isoformat()])]


def month_calendar(who, first: dt.date, mode: str = "month") -> dict:
    """The days of the month (six Monday-first weeks), week or day of ``first``, each with the
    assignments due then; a month shows only its own days' assignments."""
    low, high = grid.window(mode, first)
    if mode == "month":
        low, high = first, first.replace(day=calendar.monthrange(first.year, first.month)[1])
    due = assignments(who, extra_for=lambda src: _bounds(src, low, high))
    by_day: dict[dt.date, list] = {}
    for it in due:
        by_day.setdefault(it["day"], []).append(it)
    today = clock.now().date()
    start, end = grid.window(mode, first)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    cells = [{"date": d, "day": d.day, "iso": d.isoformat(), "in_month": mode != "month" or d.month == first.month,
              "today": d == today, "label": f"{t(grid.WEEKDAYS[d.weekday()])} {fmt_date(d)}",
              "items": by_day.get(d, []) if low <= d <= high else []} for d in days]

    def link(day: dt.date, to: str = mode) -> str:
        if to == "month":
            return url_for("ui.organiser", month=day.strftime("%Y-%m"))
        return url_for("ui.organiser", mode=to, date=day.isoformat())

    return {"title": grid.title(mode, first), "weeks": [cells[i:i + 7] for i in range(0, len(cells), 7)],
            "weekdays": [t(w) for w in grid.WEEKDAYS][:len(cells)], "month": first.strftime("%Y-%m"), "mode": mode,
            "prev": link(grid.step(mode, first, -1)), "next": link(grid.step(mode, first, 1)),
            "this": url_for("ui.organiser") if mode == "month" else link(today),
            "modes": [(m, link(first, m), t(label)) for m, label in grid.MODES.items()], "count": len(due)}


def _day_arg(arg: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(arg or "")
    except ValueError:
        return clock.now().date()


@bp.get("/organiser")
def organiser():
    who = actor()
    with loom().reader.connect() as conn:
        approvals = _awaiting_approval(loom(), conn, who, clock.now())
    return render_template("ui/organiser.html", items=assignments(who), approvals=approvals,
                           cal=_calendar(who, request.args))


def _calendar(who, args) -> dict:
    mode = args.get("mode") if args.get("mode") in grid.MODES else "month"
    if mode == "month":
        return month_calendar(who, _month(args.get("month") or (args.get("date") or "")[:7] or None))
    return month_calendar(who, _day_arg(args.get("date")), mode)
