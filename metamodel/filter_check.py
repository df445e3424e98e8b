"""Cross-checks of filter values: what publishes, runs.

A filter (``{field, op, value}`` of a list view, a report or a record-list
widget) and a row condition compare a field with values the database will
read. A value the runtime cannot coerce would pass publishing and then answer
every list with an error, so each is checked here against its field: the
operator fits the field's type, a list goes with ``in``/``not_in``/``between``,
numbers are numbers, dates are ISO dates or relative times
(:mod:`metamodel.reltime`), a choice is one of the field's choices and a
status one of the entity's statuses.
"""
from __future__ import annotations

import datetime as dt
import decimal

from . import reltime
from .model import CURRENT_USER, TEXT_TYPES, Field
from .predicates import comparisons, fields, relative_values

SYSTEM_TYPES = {"id": "integer", "number": "string", "status": "status", "created_at": "datetime",
                "created_by": "user", "updated_at": "datetime", "updated_by": "user", "row_version": "integer",
                "meta_version": "integer", "deleted_at": "datetime"}
LIST_OPS = ("in", "not_in")
TEXT_OPS = ("contains", "startswith")
ORDER_OPS = ("lt", "lte", "gt", "gte", "between")
UNORDERED = ("boolean", "link", "user", "group")
MAX_PATH_LINKS = 3  # links a row condition's path follows (vacancy.department.head is two)
_BOOLEAN_WORDS = {"true", "false", "1", "0", "yes", "no", "да", "нет", "t", "f", "y", "n"}


class FilterCheck:
    """Runs inside :class:`metamodel.validate._CrossCheck`, sharing its collector and helpers."""

    def __init__(self, check):
        self.check, self.out = check, check.out

    def filters(self, entity, filters: list, path: tuple, storage: bool = True, person: bool = False) -> None:
        """Check each filter of ``filters`` (at ``path``). Unknown field names are the caller's to
        report; with ``storage`` a field that has no column (a table, a file) is reported here.
        ``person``: the filter is applied for a reader (a view, a report), so a user field may be
        compared with ``$user``, the reader."""
        for j, flt in enumerate(filters):
            self.filter(entity, flt, path + (j,), storage, person)

    def filter(self, entity, flt: dict, path: tuple, storage: bool = True, person: bool = False) -> None:
        name, op = flt["field"], flt.get("op", "eq")
        f, owner = self.field(entity, name)
        if f is None:
            return
        if f.type == "geo" or op == "near":
            return  # a point is filtered with near (isnull, notnull): the geo check reads those
        if f.storage != "column":
            if storage:
                self.out.add(path + ("field",), f"{name!r} is a {f.type} field and has no column to filter by; "
                                                "filter by a single-value field")
            return
        kind = self.kind(f)
        if op in TEXT_OPS and kind not in TEXT_TYPES + ("status",):
            self.out.add(path + ("op",), f"{op} looks for text, and {name!r} is a {kind} field; "
                                         f"use eq, in or a range (lt, gte, between)")
            return
        if op in ORDER_OPS and kind in UNORDERED:
            self.out.add(path + ("op",), f"{name!r} is a {kind} field, which has no order for {op}; use eq, ne or in")
            return
        value, vpath = flt.get("value"), path + ("value",)
        if op in ("isnull", "notnull"):
            if value is not None and not isinstance(value, bool):
                self.out.add(vpath, f"{op} takes true or false (or no value, meaning true), not {value!r}")
            return
        if value is None:
            self.out.add(vpath if "value" in flt else path, f"{op} needs a value; to find records where "
                                                            f"{name!r} is empty use op: isnull")
            return
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                self.out.add(vpath, "between needs two values: [low, high]")
                return
            items = list(enumerate(value))
        elif op in LIST_OPS:
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        elif isinstance(value, (list, dict)):
            self.out.add(vpath, f"{op} compares with one value; a list goes with in, not_in or between")
            return
        else:
            items = [(None, value)]
        for k, item in items:
            if item == CURRENT_USER:
                problem = self.user_problem(f, kind, person)
            else:
                problem = self.value_problem(f, owner, item)
            if problem:
                self.out.add(vpath if k is None else vpath + (k,), problem)

    def condition(self, entity, tree: tuple, path: tuple) -> None:
        """A row condition's paths through links, literals and relative times against their
        fields (a parsed tree)."""
        for name in sorted({n for n in fields(tree) if "." in n}):
            problem = self.link_path(entity, name)
            if problem:
                self.out.add(path, problem)
                return
        for name, text in relative_values(tree):
            problem = reltime.check(text, self.kind(self._walk(entity, name)[0]))
            if problem:
                self.out.add(path, f"{name}: {problem}")
        for name, value in _literals(tree):
            f, owner, _ = self._walk(entity, name)
            problem = self.value_problem(f, owner, value) if f is not None and value is not None else None
            if problem:
                self.out.add(path, f"{name}: {problem}")

    def link_path(self, entity, dotted: str) -> str | None:
        """What is wrong with ``link.link.field`` in a row condition: each step but the last a
        link, a table or a multi-link (at most three), the last a field of what it reaches."""
        if dotted.count(".") > MAX_PATH_LINKS:
            return f"{dotted!r} follows {dotted.count('.')} links; a row condition follows at most {MAX_PATH_LINKS}"
        return self._walk(entity, dotted)[2]

    def _walk(self, entity, dotted: str) -> tuple[Field | None, object, str | None]:
        """Follow ``dotted`` from ``entity``: through a link or a multi-link to its entity, through
        a table to its rows. The last field, where it is, and what is wrong on the way."""
        *steps, last = dotted.split(".")
        current = entity
        for name in steps:
            f = _column(current, name)
            if f is not None and f.storage == "child":
                current = f.row_entity
                continue
            target = self.check.resolve(f.target) if f is not None and f.value_type in ("link", "multilink") \
                and f.target else None
            if target is None:
                what = "no field" if f is None else f"a {f.type} field"
                return None, None, (f"{name!r} of {current.name} is {what}, so {dotted!r} cannot follow it; a path "
                                    f"follows links, multi-links and tables")
            current = target
        f = current.fields.get(last) if "." in current.name else _column(current, last)  # a table row has no system fields
        if f is None or f.storage != "column":
            known = {n for n, g in current.fields.items() if g.storage == "column"}
            return None, None, self.check._unknown(f"field of {current.name}", last, known)
        return f, current, None

    # ------------------------------------------------------------------ fields and values
    def field(self, entity, dotted: str) -> tuple[Field | None, object]:
        """The field ``name`` or ``link.name`` stands for, and the entity that has it (None, None if unknown)."""
        head, _, rest = dotted.partition(".")
        f = _column(entity, head)
        if not rest:
            return f, entity
        target = self.check.resolve(f.target) if f is not None and f.value_type == "link" and f.target else None
        if target is None:
            return None, None
        inner = _column(target, rest)
        return (inner, target) if inner is not None else (None, None)

    @staticmethod
    def kind(f: Field | None) -> str:
        return "status" if f is not None and f.type == "status" else f.value_type if f is not None else "string"

    @staticmethod
    def user_problem(f: Field, kind: str, person: bool) -> str | None:
        """Why ``$user`` (the reader) cannot be the value compared with ``f``, or None."""
        if kind != "user":
            return f"{CURRENT_USER} is the person reading, and {f.name!r} is a {kind} field; compare it with a " \
                   f"user field (assignee, created_by)"
        if not person:
            return f"{CURRENT_USER} is the person reading, and nobody reads here: it filters views and reports"
        return None

    def value_problem(self, f: Field, owner, value) -> str | None:
        """Why ``value`` cannot be compared with ``f`` (a field of ``owner``), or None."""
        kind = self.kind(f)
        if isinstance(value, (list, dict)):
            return f"{value!r} is not a single value"
        if kind == "status":
            statuses = [s["name"] for s in owner.statuses]
            if not statuses:
                return f"{owner.name} has no statuses"
            if str(value) not in statuses:
                return self.check._unknown(f"status of {owner.name}", value, set(statuses))
            return None
        if kind in TEXT_TYPES:
            if isinstance(value, bool):
                return f"{value!r} is true/false; {f.name!r} is a {kind} field"
            if kind == "choice" and f.choices and str(value) not in f.choice_values:
                return self.check._unknown(f"choice of {f.name}", value, set(f.choice_values))
            return None
        if kind in ("date", "datetime"):
            if reltime.is_relative(value):
                return reltime.check(value, kind)
            return None if _is_date(value, kind) else (
                f"{value!r} is not a {'date (YYYY-MM-DD)' if kind == 'date' else 'date and time (ISO 8601)'} "
                f"nor a relative time such as today, now - 7d or start_of_month")
        if kind == "integer":
            return None if _is_number(value, whole=True) else f"{value!r} is not a whole number"
        if kind in ("decimal", "money"):
            return None if _is_number(value) else f"{value!r} is not a number"
        if kind == "boolean":
            ok = isinstance(value, bool) or value in (0, 1) or str(value).strip().lower() in _BOOLEAN_WORDS
            return None if ok else f"{value!r} is not true or false"
        if kind in ("link", "user", "group"):
            ok = not isinstance(value, bool) and str(value).strip().isdigit() and int(str(value).strip()) > 0
            what = {"link": "a record id", "user": "a user id", "group": "a group id"}[kind]
            return None if ok else f"{value!r} is not {what} (a whole number)"
        return None


def _column(entity, name: str) -> Field | None:
    if name in entity.fields:
        return entity.fields[name]
    if name in SYSTEM_TYPES:
        kind = SYSTEM_TYPES[name]
        return Field(name, kind, {"type": kind}, entity)
    return None


def _literals(tree: tuple):
    """``(field, literal)`` of every comparison with a literal (each item of a literal list)."""
    for name, (kind, value) in comparisons(tree):
        if kind == "lit":
            yield name, value
        elif kind == "list":
            for item in value:
                yield name, item


def _is_number(value, whole: bool = False) -> bool:
    if isinstance(value, bool):
        return False
    try:
        number = decimal.Decimal(str(value).strip().replace(",", "."))
    except decimal.InvalidOperation:
        return False
    return number.is_finite() and (not whole or number == number.to_integral_value())


def _is_date(value, kind: str) -> bool:
    if not isinstance(value, str):
        return False
    try:
        if kind == "date":
            dt.date.fromisoformat(value.strip())
        else:
            dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
