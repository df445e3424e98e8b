"""The personal organiser page (``/ui/organiser``): the signed-in user's open assignments across
every app, a month calendar of their due dates, and the approvals awaiting their vote.

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

from . import meta
from .base import actor, bp, loom
from .i18n import N_, fmt_date, fmt_datetime, t, tt
from .tasks import _awaiting_approval, sources
from .views import _record_title

LIST_LIMIT = 200  # per entity: an organiser, not an export
MONTHS = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"), N_("July"),
          N_("August"), N_("September"), N_("October"), N_("November"), N_("December"))
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


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


def month_calendar(who, first: dt.date) -> dict:
    """Weeks (Monday first) of the month of ``first``, each day with the assignments due then."""
    days_in = calendar.monthrange(first.year, first.month)[1]
    last = first.replace(day=days_in)
    due = assignments(who, extra_for=lambda src: _bounds(src, first, last))
    by_day: dict[dt.date, list] = {}
    for it in due:
        by_day.setdefault(it["day"], []).append(it)
    today = clock.now().date()
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        weeks.append([{"date": d, "day": d.day, "iso": d.isoformat(), "in_month": d.month == first.month,
                       "today": d == today, "items": by_day.get(d, []) if d.month == first.month else []}
                      for d in week])
    prev = (first - dt.timedelta(days=1)).replace(day=1)
    following = last + dt.timedelta(days=1)
    return {"title": f"{t(MONTHS[first.month - 1])} {first.year}", "weeks": weeks,
            "weekdays": [t(w) for w in WEEKDAYS], "month": first.strftime("%Y-%m"),
            "prev": url_for("ui.organiser", month=prev.strftime("%Y-%m")),
            "next": url_for("ui.organiser", month=following.strftime("%Y-%m")),
            "this": url_for("ui.organiser"), "count": len(due)}


@bp.get("/organiser")
def organiser():
    who = actor()
    with loom().reader.connect() as conn:
        approvals = _awaiting_approval(loom(), conn, who, clock.now())
    return render_template("ui/organiser.html", items=assignments(who), approvals=approvals,
                           cal=month_calendar(who, _month(request.args.get("month"))))
