"""List queries: filters, sort, keyset pagination, full-text search, capped counts.

Filters come as ``field__op=value`` (``priority__in=1,2``,
``created_at__gte=2026-01-01``, ``organization.short_name__contains=мин``,
``location__near=56.8389,60.6057,500`` for a geo field: within 500 m;
a date or datetime field also takes a relative time, ``due_at__lt=now``,
``created_at__gte=start_of_month``, resolved when the query runs);
sort as ``-created_at,priority``. Pagination is by keyset: the cursor holds
the sort values of the last row, so page 1000 costs what page 1 costs.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select

from metamodel import Field
from metamodel.geo import parse_near
from metamodel.model import CURRENT_USER
from metamodel.reltime import RelativeTimeError, is_relative
from runtime import clock
from runtime.errors import Forbidden, LoomError

from . import deadlines, geo
from .storage import EntityTables, search_condition
from .values import FieldError, coerce, to_json

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "startswith", "isnull", "notnull",
       "between", "near")
POINT_OPS = ("near", "isnull", "notnull")
SYSTEM_FIELDS = {
    "id": "integer", "number": "string", "status": "string", "created_at": "datetime", "created_by": "user",
    "updated_at": "datetime", "updated_by": "user", "row_version": "integer", "meta_version": "integer",
    "deleted_at": "datetime",
}
MAX_LIMIT = 500
COUNT_CAP = 10_000


class BadQuery(LoomError):
    title = "Invalid query"


class BadCursor(BadQuery):
    """An ``after`` cursor that is well-formed text but no cursor of this query: 422, as for any
    value that is understood and refused."""

    status = 422


class PointColumns(NamedTuple):
    """The two columns of a geo field, where a one-column field has its column."""

    lat: object
    lon: object


@dataclass
class Filter:
    field: str
    op: str
    value: object


@dataclass
class Page:
    items: list
    next_cursor: str | None
    count: int | None
    count_exact: bool


def parse_args(args) -> tuple[list[Filter], list[str], dict]:
    """Split request arguments into filters, sort keys and options."""
    filters, sort, options = [], [], {}
    for key, value in args.items(multi=True) if hasattr(args, "items") and hasattr(args, "getlist") else args.items():
        if key in ("limit", "after", "q", "count", "view", "deleted", "fields", "columns"):
            if key == "limit" and not (isinstance(value, int) or str(value).isdecimal() and int(value) > 0):
                raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {value!r}", field="limit")
            if key == "count" and value not in ("capped", "exact"):
                raise BadQuery(f"count is 'capped' or 'exact', not {value!r}", field="count")
            options[key] = value
        elif key == "sort":
            sort.extend(s.strip() for s in value.split(",") if s.strip())
        else:
            name, _, op = key.partition("__")
            op = op or "eq"
            if op not in OPS:
                raise BadQuery(f"unknown filter operator {op!r} in {key!r}; use one of {', '.join(OPS)}")
            if op in ("in", "not_in", "between") and isinstance(value, str):
                value = [v for v in value.split(",")]
            if op in ("isnull", "notnull") and isinstance(value, str):
                value = value.lower() not in ("0", "false", "no")
            filters.append(Filter(name, op, value))
    return filters, sort, options


class ListQuery:
    """Build and run one list query over an entity's table.

    Permissions apply here, so the API and scripts' ``find`` get the same:
    row rules narrow the query (and so its count), hidden fields cannot be
    filtered, sorted or searched, and a ``link.field`` path only sees
    linked records the actor may read.
    """

    def __init__(self, loom, et: EntityTables):
        self.loom, self.et, self.t = loom, et, et.main
        self.computed = False  # a sort key is an expression, not a column: the page carries its values

    def column_and_field(self, name: str, joins: list, actor=None, checked: bool = True, path: str | None = None):
        """Resolve ``field`` or ``link.field`` to a column and a typed Field for coercion.

        ``checked`` applies the actor's field permissions; filters and sort
        that come from the app's own view definition are not checked.
        """
        head, _, rest = name.partition(".")
        entity = self.et.entity
        permissions = self.loom.permissions
        if head == deadlines.DEADLINE and not rest:
            return self._deadline(actor, checked)
        if checked:
            permissions.check_field_use(actor, entity, head, path or name)
        if not rest:
            if head in SYSTEM_FIELDS:
                return self.t.c[head], Field(head, SYSTEM_FIELDS[head], {"type": SYSTEM_FIELDS[head], "max_length": 100})
            f = entity.fields.get(head)
            if f is not None and f.storage == "point":
                return PointColumns(*(self.t.c[c] for c in f.columns)), f
            if f is None or f.storage != "column":
                raise BadQuery(f"cannot filter or sort by {name!r}: not a column of {entity.name}",
                               field=name)
            return self.t.c[head], f
        f = entity.fields.get(head)
        if f is None or f.value_type != "link":
            raise BadQuery(f"{head!r} is not a link, so {name!r} cannot follow it", field=name)
        app, _, target = f.target.rpartition(".")
        other = self.loom.entity_tables(app or entity.app, target)
        if checked:
            permissions.require(actor, other.entity, "read")
        alias = other.main.alias(f"j_{head}")
        on = self.t.c[head] == alias.c.id
        visible = permissions.row_filter(other.entity, alias, actor)  # a hidden target reads as no target
        joins.append((alias, on if visible is None else and_(on, visible)))
        inner = ListQuery(self.loom, other)
        col, tf = inner.column_and_field(rest, [], actor, checked, path or name)
        if isinstance(col, PointColumns):
            return PointColumns(alias.c[col.lat.name], alias.c[col.lon.name]), tf
        return alias.c[col.name], tf

    def _deadline(self, actor, checked: bool):
        """The virtual ``_deadline`` key (:mod:`runtime.data.deadlines`); a hidden due field hides it too."""
        hidden = self.loom.permissions.hidden(actor, self.et.entity) if checked else frozenset()
        found = deadlines.column(self.loom, self.et, hidden)
        if found is None:
            raise BadQuery(f"{self.et.entity.name} has no deadline: no SLA policy and no due-date field "
                           f"(tasks: due)", field=deadlines.DEADLINE)
        col, f = found
        if checked and f.name != deadlines.DEADLINE:
            self.loom.permissions.check_field_use(actor, self.et.entity, f.name, deadlines.DEADLINE)
        self.computed = self.computed or f.name == deadlines.DEADLINE
        return col, f

    def condition(self, flt: Filter, joins: list, actor=None, checked: bool = True):
        col, f = self.column_and_field(flt.field, joins, actor, checked)
        op, value = flt.op, flt.value
        if isinstance(col, PointColumns):
            return self._point_condition(flt, col)
        if op == "near":
            raise BadQuery(f"filter {flt.field}__near needs a geo field; {flt.field!r} is {f.type}", field=flt.field)

        def one(v):
            if v == CURRENT_USER and f.value_type == "user":
                # the reader; when nobody reads (the system), no user: id 0 is nobody's
                return actor.id if actor is not None and actor.id and not actor.system else 0
            if f.value_type == "choice" and f.choices and str(v) not in f.choice_values:
                raise BadQuery(f"filter {flt.field}: {v!r} is not one of {', '.join(c.value for c in f.choices)}",
                               field=flt.field)
            if f.value_type in ("string", "text", "email", "phone", "choice"):
                return str(v)
            if isinstance(v, str) and v == "":
                raise BadQuery(f"filter {flt.field}: no value given; use {flt.field.partition('__')[0]}__isnull=1 "
                               f"for records where it is empty", field=flt.field)
            try:
                if f.value_type in ("date", "datetime") and is_relative(v):
                    v = clock.relative(v, f.value_type, (f.entity or self.et.entity).timezone)
                return coerce(f, v)
            except (FieldError, RelativeTimeError) as exc:
                raise BadQuery(f"filter {flt.field}: {getattr(exc, 'message', exc)}", field=flt.field) from None

        if op in ("isnull", "notnull"):
            wanted = value is None or bool(value)  # ``{field: x, op: isnull}`` with no value means "is empty"
            return col.is_(None) if wanted == (op == "isnull") else col.is_not(None)
        if op in ("in", "not_in"):
            values = [one(v) for v in (value if isinstance(value, list) else [value])]
            return col.in_(values) if op == "in" else col.not_in(values)
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise BadQuery(f"filter {flt.field}__between needs two values: low,high", field=flt.field)
            return col.between(one(value[0]), one(value[1]))
        if op == "contains":
            return func.lower(col).contains(str(value).lower(), autoescape=True)
        if op == "startswith":
            return col.startswith(str(value), autoescape=True)
        v = one(value)
        if op == "ne":
            return or_(col != v, col.is_(None))
        # only the operator asked for is built: an order comparison with true/false is not SQL
        return {"eq": col.__eq__, "lt": col.__lt__, "lte": col.__le__, "gt": col.__gt__, "gte": col.__ge__}[op](v)

    @staticmethod
    def _point_condition(flt: Filter, col: PointColumns):
        """``near`` (a bounding box on the indexed columns, then the exact distance), ``isnull``, ``notnull``."""
        if flt.op not in POINT_OPS:
            raise BadQuery(f"a geo field is filtered with {', '.join(POINT_OPS)}, not {flt.op!r} "
                           f"(e.g. {flt.field}__near=56.8389,60.6057,500: within 500 m)", field=flt.field)
        if flt.op in ("isnull", "notnull"):
            empty = flt.value if flt.op == "isnull" else not flt.value
            return col.lat.is_(None) if empty else col.lat.is_not(None)
        try:
            centre, radius = parse_near(flt.value)
        except ValueError as exc:
            raise BadQuery(f"filter {flt.field}__near: {exc}", field=flt.field) from None
        return geo.near(col.lat, col.lon, centre, radius)

    def run(self, conn, filters: list[Filter], sort: list[str], limit: int = 50, after: str | None = None,
            search: str | None = None, count: str | None = None, actor=None, include_deleted: bool = False,
            view_filters: list[Filter] = (), view_sort: list[str] = (), condition: str | None = None) -> Page:
        """One page. ``condition``: a row condition (metadata's, e.g. a portal page's filter). ``filters``/``sort`` are the caller's; ``view_filters``/``view_sort`` come
        from a list view in the app's metadata (used when the caller gives no sort)."""
        limit = max(1, min(int(limit), MAX_LIMIT))
        joins: list = []
        where = [self.condition(f, joins, actor, checked=False) for f in view_filters]
        where += [self.condition(f, joins, actor) for f in filters]
        if condition:
            where.append(self.loom.permissions.condition(self.et.entity, self.t, condition, actor))
        if not include_deleted:
            where.append(self.t.c.deleted_at.is_(None))
        if search:
            entity = self.et.entity
            if not entity.search_fields:
                raise BadQuery(f"{entity.name} has no full-text search; declare search fields")
            fields = self.loom.permissions.search_fields(actor, entity)
            if not fields:
                raise Forbidden(f"you may not search {entity.name}: its search fields are hidden from you")
            where.append(search_condition(conn, self.t, search, fields if fields != entity.search_fields else None))
        if sort:
            keys = self._sort_keys(sort, joins, actor)
        else:
            keys = self._sort_keys(list(view_sort) or ["-id"], joins, actor, checked=False)
        base = self.t
        for alias, on in joins:
            base = base.outerjoin(alias, on)
        query = select(self.t).select_from(base).where(*where)
        query = self.loom.permissions.restrict(query, self.et, actor)
        labelled = bool(joins) or self.computed

        def page_of(q, size):
            q = q.order_by(*[col.desc() if desc else col.asc() for col, desc in keys]).limit(size)
            if labelled:
                q = q.add_columns(*[col.label(f"_k{i}") for i, (col, _) in enumerate(keys)])
            return conn.execute(q).mappings().all()

        null_tail = False
        if after:
            nulls_large = conn.dialect.name != "sqlite"
            condition, null_tail = self._after(keys, decode_cursor(after, len(keys)), nulls_large)
            rows = page_of(query.where(condition), limit + 1)
        else:
            rows = page_of(query, limit + 1)
        if null_tail and len(rows) <= limit:
            # Rows whose leading key is NULL come after every value: read them as a second
            # range rather than OR them in, which would stop the index scan at the cursor.
            rows += page_of(query.where(keys[0][0].is_(None)), limit + 1 - len(rows))
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = None
        if more and rows:
            last = rows[-1]
            cursor = encode_cursor([last[f"_k{i}"] if labelled else last[col.name] for i, (col, _) in enumerate(keys)])
        total, exact = None, False
        if count in ("capped", "exact", "1", "true"):
            inner = query.with_only_columns(self.t.c.id).order_by(None)
            if count == "exact":
                total, exact = conn.execute(select(func.count()).select_from(inner.subquery())).scalar_one(), True
            else:
                capped = conn.execute(select(func.count()).select_from(inner.limit(COUNT_CAP + 1).subquery())).scalar_one()
                total, exact = min(capped, COUNT_CAP), capped <= COUNT_CAP
        return Page(rows, cursor, total, exact)

    def _sort_keys(self, sort: list[str], joins: list, actor=None, checked: bool = True):
        keys, seen = [], set()
        for item in sort:
            desc = item.startswith("-")
            name = item.lstrip("-")
            col, _ = self.column_and_field(name, joins, actor, checked)
            if isinstance(col, PointColumns):
                raise BadQuery(f"cannot sort by the point {name!r}; filter with {name}__near instead", field=name)
            if name not in seen:
                keys.append((col, desc))
                seen.add(name)
        if "id" not in seen:  # the tie-breaker that makes the keyset total
            keys.append((self.t.c.id, keys[-1][1] if keys else True))
        return keys

    @staticmethod
    def _after(keys, values, nulls_large: bool):
        """Rows strictly after ``values`` in the sort order, as ``(condition, null_tail)``.

        Each backend keeps its natural NULL order (SQLite: NULL is smallest,
        PostgreSQL: largest), because forcing one with NULLS FIRST/LAST would
        stop PostgreSQL from reading the sort straight off an index. With
        ``null_tail`` the rows whose leading key is NULL also follow, but the
        condition leaves them out: the caller reads them separately.
        """
        lead, lead_desc = keys[0]
        first = values[0]
        null_tail = first is not None and (not lead_desc) == nulls_large and getattr(lead, "nullable", True)
        clauses = []
        for i, (col, desc) in enumerate(keys):
            value = values[i]
            equal = [_eq(keys[j][0], values[j]) for j in range(i)]
            nulls_at_end = (not desc) == nulls_large
            if value is None:
                beyond = None if nulls_at_end else col.is_not(None)
            else:
                beyond = (col < value) if desc else (col > value)
                if nulls_at_end and getattr(col, "nullable", True) and not (i == 0 and null_tail):
                    beyond = or_(beyond, col.is_(None))
            if beyond is not None:
                clauses.append(and_(*equal, beyond))
        if first is None:
            return or_(*clauses), False
        # Redundant with the OR chain, but a plain range on the leading key is what
        # lets either database start the index scan at the cursor instead of filtering.
        bound = (lead <= first) if lead_desc else (lead >= first)
        return and_(bound, or_(*clauses)), null_tail


def _eq(col, value):
    return col.is_(None) if value is None else col == value


def encode_cursor(values: list) -> str:
    raw = json.dumps([_cursor_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_value(v):
    import datetime as dt
    import decimal
    if isinstance(v, dt.datetime):
        return {"dt": v.isoformat()}
    if isinstance(v, dt.date):
        return {"d": v.isoformat()}
    if isinstance(v, decimal.Decimal):
        return {"n": str(v)}
    return v


def decode_cursor(cursor: str, size: int) -> list:
    import datetime as dt
    import decimal
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        out = []
        for v in raw:
            if isinstance(v, dict):
                (kind, text), = v.items()
                v = {"dt": dt.datetime.fromisoformat, "d": dt.date.fromisoformat, "n": decimal.Decimal}[kind](text)
            out.append(v)
        if len(out) != size:
            raise ValueError
        return out
    except (ValueError, TypeError, KeyError):
        raise BadCursor("the cursor is not valid for this query; start from the first page", field="after") from None


def page_json(page: Page) -> dict:
    return {"items": page.items, "next": page.next_cursor, "count": page.count, "count_exact": page.count_exact}


__all__ = ["ListQuery", "Filter", "Page", "parse_args", "page_json", "to_json"]
