"""The personal organiser on the home page: "my tasks" across every live app.

An entity that declares ``tasks:`` (docs/metadata.md, "Personal organiser") takes part as
it says: its ``assignee`` field, its ``due`` field and its ``open`` statuses. Without the
declaration, an entity takes part when it has statuses and a ``user`` field named
``assignee``, ``executor`` or ``responsible`` (:mod:`metamodel.tasks`). Its
optional ``group`` field (the first one) gives "my groups' records".

"Due within 24 hours" and "overdue" count the records assigned to the user by their
deadline (:mod:`runtime.data.deadlines`): the earliest running SLA target where the entity
has SLA policies, its due-date field otherwise. Each section links to the list filtered the
same way (``_deadline`` in the query), so the count and the list agree.
Only records in an open status count. Every query is a
:class:`runtime.query.ListQuery` run with the actor, so the entity's row rules and field
permissions apply exactly as on a list page.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import url_for

from metamodel.tasks import ASSIGNEE_NAMES, CLOSED_CATEGORIES, DUE_NAMES, assignee_field, due_field, open_statuses  # noqa: F401
from runtime import clock
from runtime.data import deadlines
from runtime.data.query import Filter, ListQuery
from runtime.errors import LoomError

from . import meta
from .i18n import N_, fmt_date, fmt_datetime, t, tt

TOP = 10
SECTIONS = (("mine", N_("Assigned to me")), ("groups", N_("My groups' records")),
            ("due_soon", N_("Due within 24 hours")), ("overdue", N_("Overdue")))


@dataclass
class TaskSource:
    """One entity that has tasks: which of its fields say who, which group and when."""
    app: str
    entity: object
    assignee: str
    group: str | None
    due: str | None  # the due-date field
    due_is_date: bool
    open_statuses: list
    deadline: str | None = None  # what sets the deadline: "sla", the due field, or nothing

    @property
    def deadline_is_date(self) -> bool:
        return self.deadline not in (None, "sla") and self.due_is_date


@dataclass
class Section:
    key: str
    title: str
    count: int = 0
    more: bool = False  # the count was capped
    items: list = field(default_factory=list)
    links: list = field(default_factory=list)  # (entity title, filtered list URL, count) per entity


def sources(loom, actor) -> list[TaskSource]:
    out = []
    for app_name, live in sorted(loom.live.items()):
        for ent in live.app.entities.values():
            if not ent.statuses or not loom.permissions.allowed(actor, ent, "read"):
                continue
            assignee = assignee_field(ent)
            if assignee is None:
                continue
            group = next((f.name for f in ent.fields.values() if f.value_type == "group" and f.storage == "column"), None)
            due = due_field(ent)
            statuses = open_statuses(ent)
            if statuses:
                out.append(TaskSource(app_name, ent, assignee, group, due,
                                      due is not None and ent.fields[due].value_type == "date", statuses,
                                      deadlines.source(loom, ent)))
    return out


def _filters(src: TaskSource, key: str, actor, now: dt.datetime | None = None) -> list[Filter] | None:
    """The section's filters over one entity (relative times, so the list link shows the same)."""
    base = [Filter("status", "in", src.open_statuses)]
    if key == "mine":
        return base + [Filter(src.assignee, "eq", actor.id)]
    if key == "groups":
        if not src.group or not actor.groups:
            return None
        return base + [Filter(src.group, "in", list(actor.groups))]
    if src.deadline is None:
        return None
    low, high = ("today", "today + 1d") if src.deadline_is_date else ("now", "now + 24h")
    mine = base + [Filter(src.assignee, "eq", actor.id)]
    if key == "due_soon":
        return mine + [Filter(deadlines.DEADLINE, "gte", low), Filter(deadlines.DEADLINE, "lte", high)]
    return mine + [Filter(deadlines.DEADLINE, "lt", low)]  # overdue


def _list_url(src: TaskSource, filters: list[Filter]) -> str:
    args = []
    for f in filters:
        key = f.field if f.op == "eq" else f"{f.field}__{f.op}"
        args.append((key, ",".join(map(str, f.value)) if isinstance(f.value, list) else str(f.value)))
    if any(f.field == deadlines.DEADLINE for f in filters):
        args.append(("sort", deadlines.DEADLINE))
    query = "&".join(f"{k}={_quote(v)}" for k, v in args)
    return url_for("ui.list_view", app=src.app, entity=src.entity.name) + "?" + query


def _quote(value: str) -> str:
    from urllib.parse import quote
    return quote(value, safe=",")


def my_tasks(loom, actor, now: dt.datetime | None = None) -> list[Section]:
    """The four sections of the organiser, each with its count, its first ``TOP`` records and a
    link per entity to the list that shows them all."""
    from .views import _record_title

    now = now or clock.now()
    found = sources(loom, actor)
    sections = []
    with loom.reader.connect() as conn:
        for key, title in SECTIONS:
            section = Section(key, t(title))
            if key == "groups" and not actor.groups:
                continue
            rows = []
            for src in found:
                filters = _filters(src, key, actor, now)
                if filters is None:
                    continue
                sort = [deadlines.DEADLINE, "-id"] if src.deadline else ["-id"]
                et = loom.entity_tables(src.app, src.entity.name)
                try:
                    page = ListQuery(loom, et).run(conn, filters, sort, limit=TOP, count="capped", actor=actor)
                    marks = deadlines.for_rows(loom, conn, et, page.items,
                                               loom.permissions.hidden(actor, et.entity)) if src.deadline else {}
                except LoomError:  # e.g. a field the user may not filter on: no tasks from here
                    continue
                section.count += page.count or 0
                section.more = section.more or not page.count_exact
                if page.count:
                    section.links.append({"entity": tt(src.entity.plural), "url": _list_url(src, filters),
                                          "count": page.count})
                for row in page.items:
                    mark = marks.get(row["id"])
                    due = (row.get(src.deadline) if src.deadline_is_date else mark.at) if mark else None
                    rows.append({
                        "sort": (_as_datetime(due) is None, _as_datetime(due) or now, -row["id"]),
                        "title": _record_title(src.entity, row),
                        "url": url_for("ui.record_view", app=src.app, entity=src.entity.name, record_id=row["id"]),
                        "entity": tt(src.entity.title),
                        "status": meta.status_title(src.entity, row.get("status")),
                        "category": meta.status_category(src.entity, row.get("status")),
                        "due": (fmt_date(due) if src.deadline_is_date else fmt_datetime(due)) if due else "",
                        "overdue": _as_datetime(due) is not None and _as_datetime(due) < now,
                    })
            rows.sort(key=lambda r: r["sort"])
            section.items = rows[:TOP]
            sections.append(section)
        awaiting = _awaiting_approval(loom, conn, actor, now)
        if awaiting is not None:
            sections.insert(0, awaiting)
    return sections


def _awaiting_approval(loom, conn, actor, now: dt.datetime) -> Section | None:
    """Open approval rounds where the user has yet to vote, earliest deadline first; shown only
    to those who have some (docs/behaviour.md, "Approvals")."""
    from runtime.errors import NotFound

    from .views import _record_title

    rounds = loom.approvals.awaiting(actor, limit=TOP + 1)
    if not rounds:
        return None
    section = Section("approvals", t(N_("Awaiting my approval")), count=min(len(rounds), TOP), more=len(rounds) > TOP)
    for r in rounds[:TOP]:
        try:
            et = loom.entity_tables(r["app"], r["entity"])
            row = loom.records._fetch(conn, et, r["record_id"], actor=actor)
        except (KeyError, NotFound):  # the app or entity is gone, or the record is hidden from them
            continue
        deadline = r["deadline_at"]
        section.items.append({
            "title": _record_title(et.entity, row),
            "url": url_for("ui.record_view", app=r["app"], entity=r["entity"], record_id=r["record_id"]) + "#approvals",
            "entity": tt(et.entity.title),
            "status": meta.status_title(et.entity, row.get("status")),
            "category": meta.status_category(et.entity, row.get("status")),
            "due": fmt_datetime(deadline) if deadline else "",
            "overdue": deadline is not None and deadline < now,
        })
    return section


def _as_datetime(value) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value or " " in value \
                else dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return None
