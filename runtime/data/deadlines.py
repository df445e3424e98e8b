"""A record's deadline: the earliest of its running SLA targets and its due-date field.

An entity with SLA policies (``sla.yaml``) has the deadlines its targets keep in
``loom_sla.due_at`` (a paused or stopped target has none). An entity may also have the
due-date field its ``tasks:`` declaration (or the naming convention) gives
(:func:`metamodel.tasks.due_field`). The deadline is the earliest of them; a ``date`` due
field beside SLA targets is left out (a day and an instant do not compare in SQL), and so is
a due field hidden from the reader. Lists show the deadline as a column, and
:data:`DEADLINE` is a virtual key that filters and sorts by it like a field
(``?_deadline__lt=now``, ``?sort=_deadline``), so the organiser's "due within 24 hours"
links to a list that shows the same records.

Sorting by an SLA deadline reads a correlated sub-query per row (one unique-index probe
each); it is meant for the narrowed lists people sort by urgency, not for a full scan of
millions of rows, which the default ``-id`` order keeps.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select

from metamodel import Field
from metamodel.tasks import due_field

from . import tables as platform

DEADLINE = "_deadline"  # field names start with a letter, so this never shadows one
LITTLE_LEFT = 0.25  # amber: less than a quarter of an SLA target left ...
LITTLE_LEFT_DUE = dt.timedelta(hours=24)  # ... or a due date less than a day away


@dataclass(frozen=True)
class Deadline:
    at: dt.datetime  # aware, UTC
    total: float | None  # seconds allowed (an SLA target), None for a due date
    source: str  # "sla" or the due field's name

    def state(self, now: dt.datetime) -> str:
        """``overdue``, ``soon`` (amber) or ``ok``."""
        left = (self.at - now).total_seconds()
        if left < 0:
            return "overdue"
        if self.total:
            return "soon" if left < self.total * LITTLE_LEFT else "ok"
        return "soon" if left < LITTLE_LEFT_DUE.total_seconds() else "ok"


def sla_policies(loom, entity) -> list:
    live = loom.live.get(entity.app)
    if live is None:
        return []
    return [p for p in live.app.section("sla").get("policies") or [] if p["entity"].split(".")[-1] == entity.name]


def source(loom, entity) -> str | None:
    """``"sla"``, the due field's name, or ``None`` when the entity has no deadline."""
    if sla_policies(loom, entity):
        return "sla"
    return due_field(entity)


def _beside_sla(entity, hidden) -> str | None:
    """The due field that counts beside SLA targets: a visible datetime one."""
    due = due_field(entity)
    if due is None or due in hidden or entity.fields[due].value_type != "datetime":
        return None
    return due


def column(loom, et, hidden=frozenset()):
    """``(SQL expression, Field)`` of the deadline for filtering and sorting, or ``None``."""
    src = source(loom, et.entity)
    if src is None:
        return None
    if src != "sla":
        return et.main.c[src], et.entity.fields[src]
    s = platform.sla
    expr = select(func.min(s.c.due_at)).where(
        s.c.app == et.entity.app, s.c.entity == et.entity.name, s.c.record_id == et.main.c.id,
        s.c.stopped_at.is_(None)).scalar_subquery()
    due = _beside_sla(et.entity, hidden)
    if due is not None:
        col = et.main.c[due]
        expr = case((expr.is_(None), col), (col.is_(None), expr), (expr < col, expr), else_=col)
    return expr, Field(DEADLINE, "datetime", {"type": "datetime", "title": {"ru": "Срок", "en": "Deadline"}},
                       entity=et.entity)


def for_rows(loom, conn, et, rows: list, hidden=frozenset()) -> dict[int, Deadline]:
    """The deadline of each row (``{id: Deadline}``; rows without one are left out)."""
    src = source(loom, et.entity)
    if src is None or not rows:
        return {}
    if src != "sla":
        tz = _zone(loom, et.entity)
        out = {}
        for row in rows:
            at = _instant(row.get(src), tz)
            if at is not None:
                out[row["id"]] = Deadline(at, None, src)
        return out
    s = platform.sla
    ids = [row["id"] for row in rows]
    found = conn.execute(select(s.c.record_id, s.c.due_at, s.c.target_seconds, s.c.paused_seconds).where(
        s.c.app == et.entity.app, s.c.entity == et.entity.name, s.c.record_id.in_(ids),
        s.c.stopped_at.is_(None), s.c.due_at.is_not(None))).all()
    out = {}
    for r in found:
        at = _aware(r.due_at)
        if r.record_id not in out or at < out[r.record_id].at:
            out[r.record_id] = Deadline(at, float(r.target_seconds or 0) or None, "sla")
    due = _beside_sla(et.entity, hidden)
    for row in rows if due else ():
        at = _instant(row.get(due), None)
        if at is not None and (row["id"] not in out or at < out[row["id"]].at):
            out[row["id"]] = Deadline(at, None, due)
    return out


def _zone(loom, entity):
    from .evaluation import app_timezone
    live = loom.live.get(entity.app)
    return app_timezone(live.app if live else None)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _instant(value, tz) -> dt.datetime | None:
    """A due date or datetime as the instant it runs out: a date lasts to the end of its day."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value) if len(value) > 10 else dt.date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return _aware(value).astimezone(dt.UTC)
    return dt.datetime.combine(value + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
