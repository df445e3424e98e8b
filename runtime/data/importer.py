"""Bulk CSV import: streamed, validated by the same rules as the API, written in batches.

Rows are read lazily, checked field by field, and written with one
``executemany`` per batch (``COPY`` on PostgreSQL). Human numbers are
reserved a batch at a time. Links must exist, be visible to the importing
user and pass their field's link filter (docs/metadata.md, "Link filters"),
as in a save. A bad row stops the import with its line number and the
field; the batches before it stay committed, so a re-run with ``--skip N``
continues where it stopped.
"""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from itertools import repeat
from operator import is_

from sqlalchemy import select

from runtime.errors import ValidationFailed

from .records import SYSTEM, compute_all
from .storage import expand_point, refresh_statistics, utcnow
from .values import FieldError, check, coerce

BATCH = 5000


@dataclass
class ImportResult:
    rows: int
    batches: int


class ImportError_(ValidationFailed):
    """A row the import refused; the message names the CSV line and field."""


def import_csv(loom, app: str, entity: str, stream, batch: int = BATCH, actor=SYSTEM, skip: int = 0,
               progress=None) -> ImportResult:
    et = loom.entity_tables(app, entity)
    loom.permissions.require(actor, et.entity, "create")
    reader = csv.reader(stream)
    header = next(reader)
    fields = et.entity.fields
    unknown = [h for h in header if h not in fields and h not in ("number", "status")]
    if unknown:
        raise ValidationFailed([FieldError(h, f"column {h!r} is not a field of {entity}") for h in unknown])
    # A column is a value for every row: hidden and read-only fields may not be columns at all.
    loom.permissions.check_write(actor, et.entity, {h: True for h in header if h in fields})
    columns = [(i, fields.get(h), h) for i, h in enumerate(header)]
    for _, f, name in columns:
        if f is not None and f.storage not in ("column", "point"):
            raise ValidationFailed([FieldError(name, f"{f.type} fields cannot be imported from CSV")])
    required = [f.name for f in fields.values()
                if f.required and f.storage in ("column", "point") and f.type != "computed"]
    missing = [r for r in required if r not in header and "default" not in fields[r].spec]
    if missing:
        raise ValidationFailed([FieldError(m, "is required but the file has no such column") for m in missing])
    defaults = {f.name: coerce(f, f.spec["default"]) for f in fields.values()
                if "default" in f.spec and f.name not in header and f.storage == "column"}
    links = {f.name: (_target(loom, et, f), f) for _, f, _ in columns
             if f is not None and f.value_type in ("link", "user", "group")}
    computed = bool(et.entity.computed_order)
    points = [f for _, f, _ in columns if f is not None and f.storage == "point"]
    version = loom.live_version(app)
    initial = et.entity.initial_status
    total = batches = 0
    line = 1
    for _ in range(skip):
        next(reader, None)
        line += 1
    rows: list[dict] = []
    for raw in reader:
        line += 1
        record = dict(defaults)
        for i, f, name in columns:
            value = raw[i] if i < len(raw) else ""
            if f is None:
                record[name] = value or None
                continue
            try:
                v = coerce(f, value)
                if v is not None:
                    check(f, v)
            except FieldError as exc:
                raise ImportError_([FieldError(f"line {line}: {exc.field}", exc.message)]) from None
            record[name] = v
        for name in required:
            if record.get(name) in (None, ""):
                raise ImportError_([FieldError(f"line {line}: {name}", "is required")])
        for f in points:  # a point ("lat,lon" in the file) is two columns
            record.update(expand_point(f, record.pop(f.name, None)))
        if computed:
            compute_all(et.entity, record)
        rows.append(record)
        if len(rows) >= batch:
            _write(loom, et, rows, links, version, initial, line, actor)
            total += len(rows)
            batches += 1
            rows = []
            if progress:
                progress(total)
    if rows:
        _write(loom, et, rows, links, version, initial, line, actor)
        total += len(rows)
        batches += 1
        if progress:
            progress(total)
    with loom.engine.begin() as conn:
        refresh_statistics(conn, [et.main.name])
    return ImportResult(total, batches)


def _target(loom, et, f):
    from . import tables as platform
    if f.value_type == "user":
        return platform.user
    if f.value_type == "group":
        return platform.group
    app, _, name = f.target.rpartition(".")
    return loom.entity_tables(app or et.entity.app, name).main


def _write(loom, et, rows, links, version, initial, line, actor) -> None:
    with loom.engine.begin() as conn:
        write_columns(loom, conn, et, {k: [r[k] for r in rows] for k in rows[0]}, links, version, initial, line,
                      actor)


def write_columns(loom, conn, et, columns: dict[str, list], links, version, initial, line, actor,
                  ids: list[int] | None = None) -> list[str]:
    """Insert one batch on ``conn``, given as ``{column: [value per row]}`` of checked values:
    links checked, numbers reserved, system columns set, rollups and one audit entry. ``line``:
    the batch's last CSV line, for errors; ``ids``: the new records' ids (else the database's).
    Returns the rows' numbers. Columns, not a dict per row: the per-row work was a third of
    writing hundreds of thousands of records."""
    count = len(next(iter(columns.values())))
    for name, (target, f) in links.items():
        wanted = set(columns[name]) - {None}
        if wanted:
            found = set(conn.execute(loom.records._visible_targets(
                et, f, target, select(target.c.id).where(target.c.id.in_(wanted)), actor)).scalars())
            if wanted - found:
                raise ImportError_([FieldError(name, f"no record with id {min(wanted - found)} "
                                                     f"(in the batch ending at line {line})")])
        if f.spec.get("filter") or f.spec.get("filter_script"):
            _check_link_filter(loom, conn, f, _rows(columns), line, actor)
    numbers = list(columns.get("number") or [None] * count)
    missing = [i for i, n in enumerate(numbers) if not n]
    if missing:
        reserved = loom.records.next_number(conn, et.entity, len(missing))
        for i, n in zip(missing, [reserved] if isinstance(reserved, str) else reserved):
            numbers[i] = n
    now = utcnow()
    columns.update(number=numbers, status=[initial if s is None else s for s in columns.get("status") or [None] * count],
                   created_at=[now] * count, created_by=[actor.id] * count, updated_at=[now] * count,
                   updated_by=[actor.id] * count, row_version=[1] * count, meta_version=[version] * count)
    for f in et.entity.rollups:  # nothing links to a new record yet
        columns[f.name] = [0 if f.spec.get("function", "count") in ("count", "sum") else None] * count
    if ids is not None:
        columns["id"] = ids
    if conn.dialect.name == "postgresql":
        _copy(conn, et.main, columns)
    else:
        _executemany(conn, et.main, columns)
    _require_visible(loom, conn, et, numbers, line, actor)
    if loom.rollups.over(et.entity):
        loom.rollups.imported(conn, et, _rows(columns))  # the parents the batch links to count it
    loom.audit.record(conn, actor, "import", et.entity, None, None,
                      {"rows": count, "first": numbers[0], "last": numbers[-1]})
    return numbers


def _rows(columns: dict[str, list]) -> list[dict]:
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def _check_link_filter(loom, conn, f, rows, line, actor) -> None:
    """Each row's link must be one its field's filter offers for that row, as a save requires."""
    first = line - len(rows) + 1
    for i, r in enumerate(rows):
        if r.get(f.name) is None:
            continue
        try:
            loom.link_filters.check(conn, f, [r[f.name]], r, actor)
        except FieldError as exc:
            raise ImportError_([FieldError(f"line {first + i}: {exc.field}", exc.message)]) from None


def _require_visible(loom, conn, et, numbers: list[str], line, actor) -> None:
    """Refuse a batch holding a row the importing user's row rules would hide from them."""
    visible = loom.permissions.row_filter(et.entity, et.main, actor)
    if visible is None:
        return
    t = et.main
    seen = set(conn.execute(select(t.c.number).where(t.c.number.in_(numbers), visible)).scalars())
    for i, number in enumerate(numbers):
        if number not in seen:
            raise ImportError_([FieldError(f"line {line - len(numbers) + 1 + i}", "you may not import this row: it "
                                           "would be a record you are not allowed to see")])


def _executemany(conn, table, columns: dict[str, list]) -> None:
    """One driver-level executemany of plain tuples: SQLAlchemy's per-row parameter
    handling would cost more than SQLite's insert itself. A column holding one integer,
    text or null throughout (the system columns of a batch) is written into the statement
    once instead of bound for every row: half the parameters of a wide insert."""
    q = conn.dialect.identifier_preparer.quote
    bound = {c: bound_column(conn, table.c[c], values) for c, values in columns.items()}
    places, varying = [], []
    for values in bound.values():
        constant = _sql_constant(values)
        places.append(constant if constant is not None else "?")
        if constant is None:
            varying.append(values)
    sql = f"INSERT INTO {q(table.name)} ({', '.join(map(q, bound))}) VALUES ({', '.join(places)})"
    conn.exec_driver_sql(sql, list(zip(*varying)) if varying else [()] * len(next(iter(bound.values()))))


def _sql_constant(values: list) -> str | None:
    """The SQL literal of a column bound to one integer, text or null throughout, else ``None``."""
    if len(values) < 2:   # one row gains nothing
        return None
    one = values[0]
    if not all(map(is_, values, repeat(one))):
        return None
    if one is None:
        return "NULL"
    if type(one) is int:
        return str(one)
    if type(one) is str and "\x00" not in one:
        return "'" + one.replace("'", "''") + "'"
    return None


def bound_column(conn, column, values: list) -> list:
    """A column's ``values`` as the driver takes them (the column type's bind processor).
    A column holding one value throughout (a batch's time stamps) is bound once, and on
    SQLite a date-time once made the text sqlite3's adapter would make of it per row."""
    processor = column.type.bind_processor(conn.dialect)
    if values and all(map(is_, values, repeat(values[0]))):
        one = processor(values[0]) if processor else values[0]
        if conn.dialect.name == "sqlite" and isinstance(one, (dt.date, dt.datetime)):
            one = one.isoformat(" ") if isinstance(one, dt.datetime) else one.isoformat()
        return [one] * len(values)
    return [processor(v) for v in values] if processor else values


def _copy(conn, table, columns: dict[str, list]) -> None:
    """PostgreSQL COPY through psycopg, typed by the table's own bind processors."""
    bound = [bound_column(conn, table.c[c], values) for c, values in columns.items()]
    raw = conn.connection.driver_connection
    q = conn.dialect.identifier_preparer.quote
    with raw.cursor().copy(f"COPY {q(table.name)} ({', '.join(map(q, columns))}) FROM STDIN") as copy:
        for row in zip(*bound):
            copy.write_row(row)


def open_csv(path: str):
    return open(path, newline="", encoding="utf-8-sig")
