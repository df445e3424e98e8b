"""Expressions as the runtime evaluates them.

The metamodel's expressions are pure; here they meet the platform:

* ``now``/``today`` read the platform clock (:mod:`runtime.clock`, which tests freeze),
  ``today`` and the date functions in the app's time zone;
* ``business_days_between`` counts working days of the app's default business calendar,
  ``business_hours_between`` its working hours between two instants;
* a path follows links as the reader (``consumer.district``): a record they may not read,
  or a field hidden from them, reads as nothing, so an expression never shows more than its
  reader could open; a child-table column (``items.price``) is the list of the rows' values.
"""
from __future__ import annotations

import datetime as dt
import decimal
import functools
import zoneinfo

from sqlalchemy import select

from metamodel.expressions import Expression, date_functions, follow, parse
from runtime import clock

from . import related

expression = functools.lru_cache(maxsize=2048)(parse)
DEFAULT_TIMEZONE = "Europe/Moscow"


def app_timezone(app) -> zoneinfo.ZoneInfo:
    """The time zone of an app (``app.yaml: timezone``), in which ``today`` turns."""
    name = (app.document.get("app") or {}).get("timezone", DEFAULT_TIMEZONE) if app is not None else "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def functions(app, calendar=None) -> dict:
    """The functions an app's expressions call: the platform clock, dates in the app's time zone
    and, given ``calendar()`` (the app's business calendar), ``business_days_between``."""
    tz = app_timezone(app)

    def today():
        return clock.now().astimezone(tz).date()

    def business_days_between(a, b):
        if a is None or b is None:
            return None
        cal = calendar()
        a, b = _local_date(a, cal.tz), _local_date(b, cal.tz)
        return cal.working_days(a, b) if a <= b else -cal.working_days(b, a)

    def business_hours_between(a, b):
        """Working hours from instant ``a`` to ``b`` (a date is its first instant), to 0.01 h."""
        if a is None or b is None:
            return None
        cal = calendar()
        seconds = cal.between(_instant(a, cal.tz), _instant(b, cal.tz))
        return (decimal.Decimal(seconds) / 3600).quantize(decimal.Decimal("0.01"))

    return {**date_functions(tz), "now": clock.now, "today": today,
            "business_days_between": business_days_between, "business_hours_between": business_hours_between}


def _instant(value, tz) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tz)
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def _local_date(value, tz) -> dt.date:
    if isinstance(value, dt.datetime):
        return (value.astimezone(tz) if value.tzinfo is not None else value).date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"expected a date, got {type(value).__name__}")


class Paths:
    """Reads the dotted paths of one evaluation over ``values`` (a record of ``entity``).

    ``tables(app, entity)`` gives the tables of an entity; ``permissions`` and ``actor``
    decide what may be read (``actor=None``: the system, which reads everything).
    """

    def __init__(self, conn, entity, values, tables, permissions=None, actor=None, reader=None):
        self.conn, self.entity, self.values = conn, entity, values
        self.tables, self.permissions, self.actor = tables, permissions, actor
        self.reader = reader  # an engine to read from when there is no connection
        self._rows: dict = {}

    def __call__(self, path: str):
        head, *rest = path.split(".")
        f = self.entity.fields.get(head)
        if f is None:
            return follow(self.values, path)
        if self.permissions is not None and head in self.permissions.hidden(self.actor, self.entity):
            return None  # a link or table hidden from the reader is not followed for them either
        if f.storage == "child":
            rows = self.values.get(head)
            if rows is None and self.values.get("id") is not None:
                et = self.tables(self.entity.app, self.entity.name)
                rows = self._run(lambda c: related.load(c, et, [self.values["id"]])[self.values["id"]].get(head))
            return [row.get(rest[0]) if hasattr(row, "get") else None for row in rows or ()]
        value, current = self.values.get(head), f
        for i, part in enumerate(rest):
            if value is None or current is None or current.value_type != "link" or not current.target:
                return None
            app, _, name = current.target.rpartition(".")
            row = self._row(app or current.entity.app, name, value)
            if row is None:
                return None
            et = self.tables(app or current.entity.app, name)
            if self.permissions is not None and part in self.permissions.hidden(self.actor, et.entity):
                return None
            value, current = row.get(part), et.entity.fields.get(part)
        return value

    def _row(self, app: str, name: str, record_id):
        key = (app, name, record_id)
        if key not in self._rows:
            et = self.tables(app, name)
            row = None
            if self.permissions is None or self.permissions.allowed(self.actor, et.entity, "read"):
                t = et.main
                query = select(t).where(t.c.id == record_id, t.c.deleted_at.is_(None))
                if self.permissions is not None:
                    query = self.permissions.restrict(query, et, self.actor)
                found = self._run(lambda c: c.execute(query).mappings().first())
                row = dict(found) if found is not None else None
            self._rows[key] = row
        return self._rows[key]

    def _run(self, read):
        if self.conn is not None:
            return read(self.conn)
        with self.reader.connect() as c:
            return read(c)


def evaluate(expr: Expression, values, *, functions_: dict, paths: Paths | None = None, extra: dict | None = None):
    """``expr`` over ``values`` with the runtime's functions and, when it has paths, ``paths``."""
    return expr.evaluate(values, extra, functions_, paths if expr.paths else None)
