"""Real tables from metadata, and carrying out migration plans.

One table per entity (``<app>__<entity>``) with system columns and a typed
column per field; ``table`` fields get child tables, ``multilink`` fields
association tables, ``file`` fields rows in ``loom_attachment`` (a ``file`` column of a
table row is a column of the child table holding the attachment's id).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field as dc_field

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    column,
    text,
)

from metamodel import App, Entity, Field
from metamodel.model import SYSTEM_INDEXES
from metamodel.geo import Point

from . import tables as platform
from .db import ID, Money, UTCDateTime

# "Status X, newest first" is the typical list, so status leads a composite index.


def table_name(app: str, entity: str) -> str:
    return f"{app}__{entity}"


def index_name(table: str, columns, unique: bool) -> str:
    return f"{'uq' if unique else 'ix'}_{table}__{'_'.join(columns)}"[:63]


def statistics_name(table: str, columns) -> str:
    return f"st_{table}__{'_'.join(columns)}"[:63]


@dataclass
class EntityTables:
    """The tables behind one entity."""

    entity: Entity
    main: Table
    children: dict[str, Table] = dc_field(default_factory=dict)  # table field -> child rows
    assoc: dict[str, Table] = dc_field(default_factory=dict)  # multilink field -> pairs
    statements: dict = dc_field(default_factory=dict, compare=False, repr=False)  # hot statements, built once


def sql_type(f: Field):
    kind = f.value_type
    if kind in ("string", "email", "phone", "choice"):
        return String(f.max_length)
    if kind == "text":
        return Text()
    if kind == "integer":
        return BigInteger()
    if kind in ("decimal", "money"):
        return Money(f.precision, f.scale)
    if kind == "boolean":
        return Boolean()
    if kind == "date":
        return Date()
    if kind == "datetime":
        return UTCDateTime()
    if kind in ("link", "user", "group", "file"):  # a file column of a table row holds its attachment's id
        return ID
    raise ValueError(f"{f.type} fields have no column")



def target_table(f: Field, app_name: str) -> str:
    if f.value_type == "user":
        return "loom_user"
    if f.value_type == "group":
        return "loom_group"
    ref = f.target
    other_app, _, name = ref.rpartition(".")
    return table_name(other_app or app_name, name)


def point_columns(f: Field, names: tuple[str, str] | None = None) -> list[Column]:
    """A geo field's latitude and longitude: double-precision degrees, indexed together
    (:attr:`metamodel.Entity.indexes`) so that a bounding box is a range scan."""
    return [Column(name, Float(precision=53), nullable=True) for name in (names or f.columns)]


def expand_point(f: Field, value: Point | None) -> dict:
    """The column values of a geo field's point (both ``None`` for no point)."""
    lat, lon = f.columns
    return {lat: value.lat, lon: value.lon} if value is not None else {lat: None, lon: None}


def fold_points(entity: Entity, row, json: bool = False) -> dict:
    """``row`` (a table row or audit values) with each geo field's two columns folded into one
    value under the field's name: a :class:`Point`, or its JSON with ``json=True``. Rows of
    entities without geo fields come back as they are."""
    points = [f for f in entity.fields.values() if f.storage == "point"]
    if not points:
        return row
    out = dict(row)
    for f in points:
        lat, lon = f.columns
        if lat in out or lon in out:
            a, b = out.pop(lat, None), out.pop(lon, None)
            point = Point(float(a), float(b)) if a is not None and b is not None else None
            out[f.name] = point.json() if json and point is not None else point
    return out


def field_column(f: Field, app_name: str, name: str | None = None) -> Column:
    """The column of a column-stored field (constraints beyond FKs live in indexes)."""
    args = []
    if f.value_type in ("link", "user", "group"):
        args.append(ForeignKey(f"{target_table(f, app_name)}.id"))
    elif f.value_type == "file":
        args.append(ForeignKey("loom_attachment.id"))
    return Column(name or f.name, sql_type(f), *args, nullable=True)


def system_columns() -> list[Column]:
    return [
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("number", String(40), nullable=False, unique=True),
        Column("status", String(40)),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("created_by", ID),
        Column("updated_at", UTCDateTime(), nullable=False),
        Column("updated_by", ID),
        Column("row_version", Integer, nullable=False),
        Column("meta_version", Integer, nullable=False),
        Column("deleted_at", UTCDateTime()),
    ]


def build_tables(app: App, md: MetaData, retired_columns: dict[str, list[tuple[str, object]]] | None = None
                 ) -> dict[str, EntityTables]:
    """Add ``app``'s tables to ``md`` and return them by entity name.

    ``retired_columns`` lists, per table, retired columns that still exist;
    they are part of the table so that nothing reading it is surprised.
    """
    out = {}
    for entity in app.entities.values():
        name = table_name(app.name, entity.name)
        cols = system_columns()
        for f in entity.fields.values():
            if f.storage == "column":
                cols.append(field_column(f, app.name))
            elif f.storage == "point":
                cols.extend(point_columns(f))
        for col_name, col_type in (retired_columns or {}).get(name, []):
            cols.append(Column(col_name, col_type, nullable=True))
        main = Table(name, md, *cols)
        for cols_, unique in entity.indexes:
            Index(index_name(name, cols_, unique), *[main.c[c] for c in cols_], unique=unique)
        for cols_ in SYSTEM_INDEXES:
            if not any(ix.columns.keys() == list(cols_) for ix in main.indexes):
                Index(index_name(name, cols_, False), *[main.c[c] for c in cols_])
        et = EntityTables(entity, main)
        for f in entity.fields.values():
            if f.storage == "child":
                et.children[f.name] = child_table(app.name, entity, f, md)
            elif f.storage == "assoc":
                et.assoc[f.name] = assoc_table(app.name, entity, f, md)
        out[entity.name] = et
    return out


def child_table(app_name: str, entity: Entity, f: Field, md: MetaData, name: str | None = None) -> Table:
    parent = table_name(app_name, entity.name)
    name = name or f"{parent}__{f.name}"
    cols = [Column("id", ID, primary_key=True, autoincrement=True),
            Column("parent_id", ID, ForeignKey(f"{parent}.id", ondelete="CASCADE"), nullable=False, index=True),
            Column("position", Integer, nullable=False)]
    cols += [field_column(child, app_name) for child in f.children.values()]
    return Table(name, md, *cols)


def assoc_table(app_name: str, entity: Entity, f: Field, md: MetaData, name: str | None = None) -> Table:
    parent = table_name(app_name, entity.name)
    name = name or f"{parent}__{f.name}"
    t = Table(name, md,
              Column("parent_id", ID, ForeignKey(f"{parent}.id", ondelete="CASCADE"), primary_key=True),
              Column("target_id", ID, ForeignKey(f"{target_table(f, app_name)}.id"), primary_key=True),
              Column("position", Integer, nullable=False))
    Index(f"ix_{name}__target"[:63], t.c.target_id)
    return t


def new_metadata() -> MetaData:
    """A MetaData holding the platform tables, for entity tables to reference."""
    md = MetaData()
    for t in platform.metadata.sorted_tables:
        t.to_metadata(md)
    return md


# ---------------------------------------------------------------- full-text search

def search_sql(conn, table: str, fields: list[str]) -> list[str]:
    """DDL that (re)creates the full-text index of ``table`` over ``fields``."""
    drop = drop_search_sql(conn, table)
    if not fields:
        return drop
    if conn.dialect.name == "sqlite":
        cols = ", ".join(fields)
        new = ", ".join(f"new.{c}" for c in fields)
        old = ", ".join(f"old.{c}" for c in fields)
        fts = f"{table}__fts"
        return drop + [
            f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', content_rowid='id', "
            f"tokenize='unicode61 remove_diacritics 2')",
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END",
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); END",
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {cols} ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
            f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END",
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
        ]
    doc = " || ' ' || ".join(f"coalesce({c}::text, '')" for c in fields)
    return drop + [
        f"ALTER TABLE {table} ADD COLUMN _search tsvector GENERATED ALWAYS AS (to_tsvector('russian', {doc})) STORED",
        f"CREATE INDEX ix_{table}___search ON {table} USING gin (_search)"[:200],
    ]


def drop_search_sql(conn, table: str) -> list[str]:
    if conn.dialect.name == "sqlite":
        fts = f"{table}__fts"
        return [f"DROP TRIGGER IF EXISTS {fts}_{k}" for k in ("ai", "ad", "au")] + [f"DROP TABLE IF EXISTS {fts}"]
    return [f"ALTER TABLE {table} DROP COLUMN IF EXISTS _search"]


def search_term(word: str) -> str:
    from .stemming import search_term as stemmed
    return stemmed(word)


def search_condition(conn_or_dialect, table: Table, query: str, fields: list[str] | None = None):
    """A WHERE clause matching ``query`` against the table's full-text index.

    ``fields`` narrows matching to some of the indexed fields (those a user may
    see), so a hidden field's words never decide whether a record matches.
    """
    dialect = getattr(conn_or_dialect, "name", None) or conn_or_dialect.dialect.name
    if dialect == "sqlite":
        # FTS5 does not stem: a Russian word matches its Snowball stem as a prefix (stemming.py)
        # "a or b" means either, as websearch_to_tsquery reads it on PostgreSQL
        parts = []
        for word in query.split():
            if word.lower() == "or":
                if parts and parts[-1] != "OR":
                    parts.append("OR")
                continue
            parts.append('"' + search_term(word).replace('"', '""') + '"*')
        while parts and parts[-1] == "OR":
            parts.pop()
        match = " ".join(parts) or '""'
        if fields is not None:  # an FTS5 column filter: the index still does the work
            match = f"{{{' '.join(fields)}}} : ({match})"
        return table.c.id.in_(text(f"SELECT rowid FROM {table.name}__fts WHERE {table.name}__fts MATCH :q")
                              .bindparams(q=match).columns(column("rowid", Integer)))
    if fields is None:
        return text(f"{table.name}._search @@ websearch_to_tsquery('russian', :q)").bindparams(q=query)
    # The stored vector covers every search field, so it cannot answer for a subset. Recompute
    # the visible fields' vector; while the query has no negation, the stored vector (a superset)
    # still pre-filters through its index.
    doc = " || ' ' || ".join(f"coalesce({table.name}.{c}::text, '')" for c in fields)
    exact = f"to_tsvector('russian', {doc}) @@ websearch_to_tsquery('russian', :q)"
    if not any(term.startswith("-") for term in query.split()):
        exact = f"{table.name}._search @@ websearch_to_tsquery('russian', :q) AND {exact}"
    return text(exact).bindparams(q=query)


def refresh_statistics(conn, tables: list[str]) -> None:
    """Give the query planner fresh statistics after big changes (publish, import).

    SQLite keeps none until asked, and without them picks the wrong index for a
    filter on one column sorted by another. ``analysis_limit`` samples, so this
    stays cheap on tables with millions of rows.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")
    else:
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")


def utcnow() -> dt.datetime:
    from runtime import clock
    return clock.now()
