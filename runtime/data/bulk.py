"""Set-wise reads and writes for work over many records at once (master data merges).

A record-by-record save costs a read, hooks and an audit entry per row; a run that links
1.7 million source records to their masters cannot afford that. These functions give the
guarantees of ``loom import`` (runtime/data/importer.py) instead: the acting user's entity
and field permissions and row rules, values coerced and checked as a save checks them,
links that must exist, parents' rollups kept current, and one audit entry per batch, on
the caller's transaction (so a batch and, say, a run's progress commit together).
Script hooks do not run, as they do not for an import.
"""
from __future__ import annotations

import io
import json
import math
from concurrent.futures import ThreadPoolExecutor
from sqlite3 import sqlite_version_info
from types import NoneType

from sqlalchemy import (
    BigInteger,
    Integer,
    LargeBinary,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy import update as update_statement  # this module's update() sets records
from sqlalchemy.dialects.postgresql import ARRAY

from runtime.errors import ValidationFailed

from .importer import _target, bound_column, write_columns
from .records import compute_all
from .storage import utcnow
from .values import FieldError, check, coerce


def _values(et, data: dict, where: str) -> dict:
    out = {}
    for name, raw in data.items():
        f = et.entity.fields.get(name)
        if f is None or f.storage != "column" or f.type == "computed":
            raise ValidationFailed([FieldError(name, f"{where}: not a stored field of {et.entity.name}")])
        try:
            value = coerce(f, raw)
            if value is not None:
                check(f, value)
        except FieldError as exc:
            raise ValidationFailed([FieldError(f"{where}: {exc.field}", exc.message)]) from None
        out[name] = value
    return out


def create(loom, conn, app: str, entity: str, rows: list[dict], actor) -> list[int]:
    """Insert ``rows`` (field -> value) as new records; their ids, in order."""
    if not rows:
        return []
    et = loom.entity_tables(app, entity)
    loom.permissions.require(actor, et.entity, "create")
    names = sorted({k for r in rows for k in r})
    loom.permissions.check_write(actor, et.entity, {n: True for n in names})
    fields = et.entity.fields
    defaults = {f.name: coerce(f, f.spec["default"]) for f in fields.values()
                if "default" in f.spec and f.storage == "column"}
    records = []
    for i, row in enumerate(rows):
        record = {**defaults, **_values(et, row, f"row {i + 1}")}
        missing = [f.name for f in fields.values() if f.required and f.storage == "column"
                   and f.type != "computed" and record.get(f.name) in (None, "")]
        if missing:
            raise ValidationFailed([FieldError(f"row {i + 1}: {m}", "is required") for m in missing])
        if et.entity.computed_order:
            compute_all(et.entity, record)
        records.append({n: record.get(n) for n in sorted(set(record) | set(names))})
    return _insert(loom, conn, et, {k: [r[k] for r in records] for k in records[0]}, names, actor)


def create_columns(loom, conn, app: str, entity: str, columns: dict[str, list], actor) -> list[int]:
    """``create`` from column lists: record ``i`` gets ``columns[field][i]``. The same checks
    (permissions, coerced and checked values, defaults, required fields, links, one audit
    entry) a column at a time, for hundreds of thousands of new records."""
    count = len(next(iter(columns.values()), []))
    if any(len(values) != count for values in columns.values()):
        raise ValidationFailed([FieldError("columns", "each column needs one value per record")])
    if not count:
        return []
    et = loom.entity_tables(app, entity)
    if et.entity.computed_order:   # computed fields are worked out record by record
        return create(loom, conn, app, entity, [dict(zip(columns, row)) for row in zip(*columns.values())], actor)
    loom.permissions.require(actor, et.entity, "create")
    names = sorted(columns)
    loom.permissions.check_write(actor, et.entity, {n: True for n in names})
    typed = {n: _column_values(et, n, columns[n], lambda i: f"row {i + 1}") for n in names}
    for f in et.entity.fields.values():
        if f.name not in typed and "default" in f.spec and f.storage == "column":
            typed[f.name] = [coerce(f, f.spec["default"])] * count
        if f.required and f.storage == "column" and f.type != "computed":
            values = typed.get(f.name) or [None]
            empty = next((i for i, v in enumerate(values) if v is None or v == ""), None)
            if empty is not None:
                raise ValidationFailed([FieldError(f"row {empty + 1}: {f.name}", "is required")])
    return _insert(loom, conn, et, typed, names, actor)


def _insert(loom, conn, et, columns: dict[str, list], names: list[str], actor) -> list[int]:
    """Write checked ``columns`` as ``loom import`` does; the new records' ids, in order."""
    links = {f.name: (_target(loom, et, f), f) for f in et.entity.fields.values()
             if f.name in names and f.value_type in ("link", "user", "group")}
    count, t = len(next(iter(columns.values()))), et.main
    ids = _reserve_ids(conn, t, count) if conn.dialect.name == "sqlite" else None
    numbers = write_columns(loom, conn, et, columns, links, loom.live_version(et.entity.app),
                            et.entity.initial_status, count, actor, ids)
    if ids is None:
        found = dict(conn.execute(select(t.c.number, t.c.id).where(among(conn, t.c.number, numbers))).all())
        ids = [found[n] for n in numbers]
    loom.deliveries.queue(conn, et, ids)  # records that are messages go out (none: no query)
    return ids


def _reserve_ids(conn, t, count: int) -> list[int]:
    """The ids SQLite would give ``count`` records inserted now (the largest id + 1 onwards;
    entity tables have no AUTOINCREMENT), taken explicitly so that no query has to find
    them again by number. Writers are serialised, so none can take them in between."""
    last = conn.execute(select(func.max(t.c.id))).scalar() or 0
    return list(range(last + 1, last + 1 + count))


def update(loom, conn, app: str, entity: str, changes: dict, actor) -> int:
    """Set ``changes`` (record id -> {field: value}) in one statement per set of fields; the
    number of records changed. Every record must exist, be alive and be visible to ``actor``."""
    if not changes:
        return 0
    et = loom.entity_tables(app, entity)
    loom.permissions.require(actor, et.entity, "update")
    t = et.main
    names = sorted({k for data in changes.values() for k in data})
    loom.permissions.check_write(actor, et.entity, {n: True for n in names})
    typed = {int(rid): _values(et, data, f"record {rid}") for rid, data in changes.items()}
    ids = sorted(typed)
    allowed = loom.permissions.row_filter(et.entity, t, actor)
    link_fields = [n for n in names if et.entity.fields[n].value_type in ("link", "user", "group")]
    for name in link_fields:
        f = et.entity.fields[name]
        targets = {v[name] for v in typed.values() if v.get(name) is not None}
        target = _target(loom, et, f)
        found = set(conn.execute(loom.records._visible_targets(
            et, f, target, select(target.c.id).where(target.c.id.in_(targets)), actor)).scalars()) if targets else set()
        if targets - found:
            raise ValidationFailed([FieldError(name, f"no record with id {min(targets - found)}")])
    rolled = loom.rollups.over(et.entity)
    before = ([dict(r) for r in conn.execute(select(t.c.id, *[t.c[n] for n in link_fields])
                                             .where(t.c.id.in_(ids))).mappings()] if rolled else [])
    stamp = (bound_column(conn, t.c.updated_at, [utcnow()])[0], actor.id, loom.live_version(app))
    groups: dict[tuple, list] = {}
    for rid, data in typed.items():
        groups.setdefault(tuple(sorted(data)), []).append((rid, data))
    for cols, items in groups.items():
        _set_columns(conn, t, [rid for rid, _ in items],
                     {c: bound_column(conn, t.c[c], [d[c] for _, d in items]) for c in cols}, stamp, allowed)
    if rolled:
        after = [{"id": rid, **typed[rid]} for rid in ids]
        loom.rollups.imported(conn, et, before + after)  # the parents they left and the ones they joined
    loom.audit.record(conn, actor, "bulk_update", et.entity, None, None,
                      {"rows": len(ids), "fields": names, "first": ids[0], "last": ids[-1]})
    return len(ids)


def update_columns(loom, conn, app: str, entity: str, ids: list[int], columns: dict[str, list], actor,
                   batch: int = 10000) -> int:
    """``update`` from column lists: record ``ids[i]`` gets ``columns[field][i]`` for each field.
    The same guarantees (permissions, row rules, checked values, links that must exist,
    rollups, system columns, one audit entry) without a dict per record, for millions of
    links set at once. Returns the number of records changed."""
    if not ids:
        return 0
    if any(len(values) != len(ids) for values in columns.values()):
        raise ValidationFailed([FieldError("columns", "each column needs one value per id")])
    if len(set(ids)) != len(ids):
        raise ValidationFailed([FieldError("id", "an id is given twice")])
    et = loom.entity_tables(app, entity)
    loom.permissions.require(actor, et.entity, "update")
    t = et.main
    names = sorted(columns)
    loom.permissions.check_write(actor, et.entity, {n: True for n in names})
    ids = [int(i) for i in ids]
    typed = {name: _column_values(et, name, columns[name], lambda i: f"record {ids[i]}") for name in names}
    allowed = loom.permissions.row_filter(et.entity, t, actor)
    link_fields = [n for n in names if et.entity.fields[n].value_type in ("link", "user", "group")]
    for name in link_fields:
        f, target = et.entity.fields[name], _target(loom, et, et.entity.fields[name])
        wanted = sorted({v for v in typed[name] if v is not None})
        for start in range(0, len(wanted), batch * 10):
            part = wanted[start:start + batch * 10]
            visible = loom.records._visible_targets(
                et, f, target, select(target.c.id).where(among(conn, target.c.id, part)), actor).subquery()
            if conn.execute(select(func.count()).select_from(visible)).scalar() != len(part):
                missing = set(part) - set(conn.execute(select(visible.c.id)).scalars())
                raise ValidationFailed([FieldError(name, f"no record with id {min(missing)}")])
    rolled = loom.rollups.over(et.entity)
    before = []
    if rolled:
        for start in range(0, len(ids), batch):
            before += [dict(r) for r in conn.execute(select(t.c.id, *[t.c[n] for n in link_fields])
                                                    .where(among(conn, t.c.id, ids[start:start + batch]))).mappings()]
    stamp = (bound_column(conn, t.c.updated_at, [utcnow()])[0], actor.id, loom.live_version(app))
    bound = [bound_column(conn, t.c[c], typed[c]) for c in names]
    for start in range(0, len(ids), batch * 10):
        _set_columns(conn, t, ids[start:start + batch * 10], {c: b[start:start + batch * 10] for c, b in zip(names, bound)},
                     stamp, allowed)
    if rolled:
        after = [{"id": rid, **{n: typed[n][i] for n in names}} for i, rid in enumerate(ids)]
        loom.rollups.imported(conn, et, before + after)  # the parents they left and the ones they joined
    loom.audit.record(conn, actor, "bulk_update", et.entity, None, None,
                      {"rows": len(ids), "fields": names, "first": min(ids), "last": max(ids)})
    return len(ids)


def _set_columns(conn, t, ids: list[int], bound: dict[str, list], stamp: tuple, visible) -> None:
    """Record ``ids[i]`` gets ``bound[column][i]`` (values as the driver takes them) and the
    system columns ``stamp`` (updated_at, updated_by, meta_version); refused, changing
    nothing, unless every id is a live record the actor may see (``visible``: the row rules).
    On SQLite the values travel as one JSON array of ``[id, value, ...]`` rows joined by id,
    and the rows it changed are counted instead of counted first: a third faster than a
    statement per record, which other databases (and values JSON cannot carry) still get."""
    if conn.dialect.name == "sqlite" and sqlite_version_info >= (3, 38) and all(map(_json_safe, bound.values())):
        rows = func.json_each(bindparam(None, json.dumps(list(zip(ids, *bound.values())), ensure_ascii=False),
                                        Text())).table_valued("value").alias("j")
        stmt = update_statement(t).where(t.c.id == rows.c.value.op("->>")(0), t.c.deleted_at.is_(None)).values(
            {**{c: rows.c.value.op("->>")(i + 1) for i, c in enumerate(bound)},
             "updated_at": bindparam(None, stamp[0], Text()), "updated_by": stamp[1], "meta_version": stamp[2],
             "row_version": t.c.row_version + 1})
        with conn.begin_nested():   # a refused batch leaves nothing behind
            if conn.execute(stmt if visible is None else stmt.where(visible)).rowcount != len(ids):
                raise _not_visible()
        return
    _require_visible(conn, t, visible, ids, len(ids))
    q = conn.dialect.identifier_preparer.quote
    system = "updated_at = {0}, updated_by = {0}, meta_version = {0}, row_version = row_version + 1"
    marker = "%s" if conn.dialect.name == "postgresql" else "?"
    sets = ", ".join(f"{q(c)} = {marker}" for c in bound)
    conn.exec_driver_sql(f"UPDATE {q(t.name)} SET {sets}, {system.format(marker)} WHERE id = {marker}",
                         [(*values, *stamp, rid) for *values, rid in zip(*bound.values(), ids)])


def _json_safe(values: list) -> bool:
    """Whether JSON carries ``values`` to SQLite unchanged: texts, 64-bit integers, finite floats, nulls."""
    for v in values:
        kind = type(v)
        if not (v is None or kind is str or (kind is int and -2 ** 63 <= v < 2 ** 63)
                or (kind is float and math.isfinite(v))):
            return False
    return True


def _column_values(et, name: str, values: list, where) -> list:
    """One column's values coerced and checked as ``_values`` does, an error naming the
    record (``where(i)``: how to name the ``i``-th)."""
    f = et.entity.fields.get(name)
    if f is None or f.storage != "column" or f.type == "computed":
        raise ValidationFailed([FieldError(name, f"not a stored field of {et.entity.name}")])
    if _plain_text(f, values) or _plain_ids(f, values):
        return list(values)
    out = []
    for i, raw in enumerate(values):
        try:
            value = coerce(f, raw)
            if value is not None:
                check(f, value)
        except FieldError as exc:
            raise ValidationFailed([FieldError(f"{where(i)}: {exc.field}", exc.message)]) from None
        out.append(value)
    return out


def _plain_ids(f, values: list) -> bool:
    """Whether ``values`` are record ids (positive 64-bit integers, or empty) a link stores as they are."""
    if f.value_type not in ("link", "user", "group") or not set(map(type, values)) <= {int, NoneType}:
        return False
    present = [v for v in values if v is not None]
    return not present or (min(present) > 0 and max(present) < 2 ** 63)


def _plain_text(f, values: list) -> bool:
    """Whether ``values`` are texts (or empty) that a text field with no constraint but its
    length stores as they are: then coercing and checking each is only its length."""
    if f.value_type not in ("string", "text") or "pattern" in f.spec or f.spec.get("min_length"):
        return False
    if not set(map(type, values)) <= {str, NoneType}:
        return False
    return f.max_length is None or max(map(len, filter(None, values)), default=0) <= f.max_length


def scan(loom, app: str, entity: str, fields: list[str], actor, changed_since=None, batch: int = 20000):
    """Yield lists of rows (``id``, ``updated_at`` and ``fields``) the actor may read, in id
    order; with ``changed_since``, only the records updated after it."""
    t, query = _readable(loom, app, entity, fields, actor, changed_since)
    after = 0
    with loom.reader.connect() as c:
        while True:
            rows = [dict(r) for r in c.execute(query.where(t.c.id > after).order_by(t.c.id).limit(batch))
                    .mappings()]
            if not rows:
                return
            yield rows
            after = rows[-1]["id"]


def _readable(loom, app: str, entity: str, fields: list[str], actor, changed_since=None):
    """The query of ``scan``: the actor's read permission, hidden fields refused, their row
    rules, live records only, and only those updated after ``changed_since`` when given."""
    et = loom.entity_tables(app, entity)
    loom.permissions.require(actor, et.entity, "read")
    unknown = [f for f in fields if f not in et.main.c]
    if unknown:
        raise ValidationFailed([FieldError(f, f"not a stored field of {entity}") for f in unknown])
    hidden = loom.permissions.hidden(actor, et.entity) & set(fields)
    if hidden:
        raise ValidationFailed([FieldError(h, "you may not read this field") for h in sorted(hidden)])
    t = et.main
    query = select(t.c.id, t.c.updated_at, *[t.c[f] for f in fields]).where(t.c.deleted_at.is_(None))
    visible = loom.permissions.row_filter(et.entity, t, actor)
    if visible is not None:
        query = query.where(visible)
    if changed_since is not None:
        query = query.where(t.c.updated_at > changed_since)
    return t, query


def _require_visible(conn, t, visible, ids: list[int], batch: int) -> None:
    """Refuse unless every id is a live record the actor may see (counted ``batch`` ids at a time)."""
    for start in range(0, len(ids), batch):
        part = ids[start:start + batch]
        query = select(func.count()).select_from(t).where(among(conn, t.c.id, part), t.c.deleted_at.is_(None))
        if visible is not None:
            query = query.where(visible)
        if conn.execute(query).scalar() != len(part):
            raise _not_visible()


def _not_visible() -> ValidationFailed:
    return ValidationFailed([FieldError("id", "some of these records do not exist or you may not see them")])


def among(conn, column, values: list):
    """``column IN values`` with the values (ids, numbers) as one parameter (a JSON array on
    SQLite, an array on PostgreSQL): a hundred thousand bind in a millisecond, where a
    parameter each took SQLAlchemy a second."""
    if conn.dialect.name == "postgresql":
        kind = BigInteger() if isinstance(column.type, Integer) else column.type
        return column == any_(bindparam(None, list(values), type_=ARRAY(kind)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(list(values)))))


def scan_columns(loom, app: str, entity: str, fields: list[str], actor, changed_since=None,
                 batch: int = 200000) -> dict[str, list]:
    """What ``scan`` reads, as one list per column (``id``, ``updated_at``, then ``fields``),
    in id order. Plain tuples from one streamed query per batch: no dict per row, which is
    what made reading millions of records slow."""
    names = ["id", "updated_at", *fields]
    out: dict[str, list] = {n: [] for n in names}
    t, query = _readable(loom, app, entity, list(fields), actor, changed_since)
    after = 0
    with loom.reader.connect() as c:
        while True:
            rows = c.execute(query.where(t.c.id > after).order_by(t.c.id).limit(batch)).all()
            if not rows:
                return out
            for name, column in zip(names, zip(*rows)):
                out[name].extend(column)
            after = rows[-1][0]


def scan_arrow(loom, app: str, entity: str, fields: list[str], actor, batch: int = 50000):
    """What ``scan_columns`` reads, as an Arrow table: ``id`` and link fields as 64-bit
    integers, every other column as the database's text of its value (date-times as naive
    UTC, ``YYYY-MM-DD HH:MM:SS[.ffffff]``), for work that goes on in DuckDB or Arrow.

    On SQLite each batch leaves the database as one text of JSON lines that Arrow parses
    in C++: four times faster than a Python tuple per row, which ``scan_columns`` (the
    path on other databases) builds. The text comes as bytes (decoding it to ``str`` and
    encoding it back held the GIL for a third of the time) in batches small enough that
    SQLite writing one and Arrow parsing another keep both cores busy."""
    import pyarrow as pa
    et = loom.entity_tables(app, entity)
    integers = {"id"} | {f for f in fields if f in et.entity.fields and
                         et.entity.fields[f].value_type in ("link", "user", "group")}
    names = ["id", "updated_at", *fields]
    if loom.engine.dialect.name != "sqlite":
        data = scan_columns(loom, app, entity, list(fields), actor)
        return pa.table({n: pa.array(data[n], pa.int64()) if n in integers else pa.array(_texts(data[n]), pa.string())
                         for n in names})
    import pyarrow.json as pj
    t, query = _readable(loom, app, entity, list(fields), actor)
    schema = pa.schema([(f"c{i}", pa.int64() if n in integers else pa.string()) for i, n in enumerate(names)])
    options = pj.ParseOptions(explicit_schema=schema)

    def part(low: int, high: int):
        """Ids ``low`` to ``high`` (excluded) as Arrow, in id order."""
        rows = query.where(t.c.id >= low, t.c.id < high).subquery()
        line = func.json_object(*[part for i, n in enumerate(names) for part in (
            literal(f"c{i}"), rows.c[n] if n in integers else cast(rows.c[n], Text))])
        with loom.reader.connect() as c:
            text = c.execute(select(cast(func.group_concat(line, literal("\n")), LargeBinary))).scalar()
        return pj.read_json(io.BytesIO(text), parse_options=options).sort_by("c0") if text else None

    with loom.reader.connect() as c:
        first, last = c.execute(select(func.min(t.c.id), func.max(t.c.id))).one()
    ranges = [(low, low + batch) for low in range(first, last + 1, batch)] if first is not None else []
    # two threads: SQLite makes one batch's text while Arrow parses another (both let go of the GIL)
    with ThreadPoolExecutor(2) as pool:
        parts = [p for p in pool.map(lambda r: part(*r), ranges) if p is not None]
    return pa.concat_tables(parts).rename_columns(names) if parts else schema.empty_table().rename_columns(names)


def _texts(values: list) -> list:
    import datetime as dt
    out = []
    for v in values:
        if isinstance(v, dt.datetime):
            v = (v.astimezone(dt.UTC).replace(tzinfo=None) if v.tzinfo else v).isoformat(" ", "microseconds")
        elif isinstance(v, dt.date):
            v = v.isoformat()
        out.append(None if v is None else str(v))
    return out


class Bulk:
    """The functions above, bound to one platform (``loom.bulk``)."""

    def __init__(self, loom):
        self.loom = loom

    def create(self, conn, app: str, entity: str, rows: list[dict], actor) -> list[int]:
        return create(self.loom, conn, app, entity, rows, actor)

    def create_columns(self, conn, app: str, entity: str, columns: dict, actor) -> list[int]:
        return create_columns(self.loom, conn, app, entity, columns, actor)

    def update(self, conn, app: str, entity: str, changes: dict, actor) -> int:
        return update(self.loom, conn, app, entity, changes, actor)

    def scan(self, app: str, entity: str, fields: list[str], actor, changed_since=None, batch: int = 20000):
        return scan(self.loom, app, entity, fields, actor, changed_since, batch)

    def scan_columns(self, app: str, entity: str, fields: list[str], actor, changed_since=None,
                     batch: int = 200000) -> dict[str, list]:
        return scan_columns(self.loom, app, entity, fields, actor, changed_since, batch)

    def scan_arrow(self, app: str, entity: str, fields: list[str], actor, batch: int = 50000):
        return scan_arrow(self.loom, app, entity, fields, actor, batch)

    def update_columns(self, conn, app: str, entity: str, ids: list[int], columns: dict, actor) -> int:
        return update_columns(self.loom, conn, app, entity, ids, columns, actor)
