"""Carry out a migration plan on a live connection, inside the caller's transaction.

Nothing here drops data. Retiring renames a column (or table) to a
``_r<version>_`` name and records it in ``loom_retired``; adding a field
whose retired column still fits brings that column back, so a rollback
finds its data again. A type change is copied value by value and refused,
with the records named, if any value would not survive.
"""
from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, MetaData, Table, and_, bindparam, func, insert, inspect, select, text, update

import logging

from metamodel import App, Field
from metamodel.migration import Plan, Refusal, Step

from . import evaluation
from . import tables as platform
from .db import ID
from .storage import (
    EntityTables,
    build_tables,
    field_column,
    index_name,
    new_metadata,
    point_columns,
    search_sql,
    sql_type,
    statistics_name,
    table_name,
    utcnow,
)
from .values import FieldError, convert

BATCH = 2000
SHOW_AT_MOST = 20
log = logging.getLogger(__name__)
_WHERE = {"add_index": ("indexes",), "drop_index": ("indexes",), "rebuild_search": ("search",),
          "create_entity": (), "retire_entity": ()}


class MigrationRefused(Exception):
    """A change publishing cannot make; ``reasons`` (each a :class:`Refusal`, naming the entity and
    the path of the field in its file) say which records would lose what, or what failed."""

    def __init__(self, reasons: list[Refusal]):
        self.reasons = reasons
        super().__init__("; ".join(reasons))


class Migrator:
    def __init__(self, conn, old: App | None, new: App, version: int, others: list[App] = (), calendar=None):
        """``calendar()``: the new app's business calendar, for computed fields that count working days."""
        self.conn, self.old, self.new, self.version = conn, old, new, version
        self.ops = Operations(MigrationContext.configure(conn))
        self.sqlite = conn.dialect.name == "sqlite"
        self.md = new_metadata()
        self.others = {other.name: build_tables(other, self.md) for other in others}  # cross-app link targets
        self.tables: dict[str, EntityTables] = build_tables(new, self.md)
        self.functions = evaluation.functions(new, calendar)

    def apply(self, plan: Plan) -> None:
        if plan.refused:
            raise MigrationRefused(plan.refused)
        # Indexes go first so a retired column never keeps a unique index.
        order = {"drop_index": 0, "retire_entity": 1}
        steps = sorted(plan.steps, key=lambda s: order.get(s.kind, 2))
        self.create_entities([s.entity for s in steps if s.kind == "create_entity"])
        for step in steps:
            if step.kind == "create_entity":
                continue
            try:
                getattr(self, step.kind)(step)
            except MigrationRefused:
                raise
            except Exception as exc:  # the database said no: name the metadata that asked for it
                log.exception("publishing %s: %s failed", self.new.name, step.describe())
                where = _WHERE.get(step.kind)
                raise MigrationRefused([Refusal(step.entity, step.field, f"could not {step.describe()}: {exc}",
                                                path=where)]) from exc
        if not self.sqlite:
            self.sync_statistics()

    # ------------------------------------------------------------------ entities
    def create_entities(self, names: list[str]) -> None:
        """Create new entities' tables together, so foreign keys find their targets in any order."""
        new_tables = []
        for name in names:
            et = self.tables[name]
            for t in [et.main, *et.children.values(), *et.assoc.values()]:
                if self._table_exists(t.name):  # a retired namesake keeps its data under another name
                    self._retire_table(t.name, name, None if t is et.main else t.name)
                new_tables.append(t)
        self.md.create_all(self.conn, tables=new_tables)
        for name in names:
            self._search(self.tables[name])

    def retire_entity(self, step: Step) -> None:
        name = table_name(self.new.name, step.entity)
        self.conn.execute(insert(platform.retired).values(
            app=self.new.name, entity=step.entity, field=None, table_name=name, column_name=None,
            reason="removed", version=self.version, retired_at=utcnow()))

    def _retire_table(self, name: str, entity: str, field: str | None, reason: str = "replaced") -> None:
        retired_name = f"_r{self.version}_{name}"[:63]
        for stmt in _drop_search_if_sqlite(self.conn, name):
            self.conn.exec_driver_sql(stmt)
        self.ops.rename_table(name, retired_name)
        self.conn.execute(insert(platform.retired).values(
            app=self.new.name, entity=entity, field=field, table_name=retired_name, column_name=None,
            reason=reason, version=self.version, retired_at=utcnow()))

    # ------------------------------------------------------------------ fields
    def add_field(self, step: Step) -> None:
        et = self.tables[step.entity]
        f = step.new
        if step.detail.get("table"):
            child = et.children[step.detail["table"]]
            self._add_column(child.name, f, f.name)
            return
        if f.storage == "column":
            restored = self._restore_column(et.main.name, step.entity, f)
            if not restored:
                self._add_column(et.main.name, f, f.name)
        elif f.storage == "child":
            self._create_fresh(et.children[f.name], step.entity, f.name)
        elif f.storage == "assoc":
            self._create_fresh(et.assoc[f.name], step.entity, f.name)
        elif f.storage == "point":
            for col in point_columns(f):
                self.ops.add_column(et.main.name, col)
        if f.type == "computed" and f.expression is not None:  # a script's values come at each record's save
            self._recompute(et, f)

    def _create_fresh(self, table: Table, entity: str, field: str) -> None:
        if self._table_exists(table.name):
            self._retire_table(table.name, entity, field)
        table.create(self.conn)

    def _add_column(self, table: str, f: Field, name: str) -> None:
        col = field_column(f, self.new.name, name)
        if self.sqlite and col.foreign_keys:
            # SQLite adds a REFERENCES column natively; Alembic would want batch mode.
            fk = next(iter(col.foreign_keys))
            self.conn.exec_driver_sql(
                f"ALTER TABLE {table} ADD COLUMN {name} INTEGER REFERENCES {fk.target_fullname.split('.')[0]}(id)")
        else:
            self.ops.add_column(table, col)

    def _restore_column(self, table: str, entity: str, f: Field) -> bool:
        """Bring back a retired column of the same name and shape, data and all."""
        r = platform.retired
        row = self.conn.execute(
            select(r).where(r.c.app == self.new.name, r.c.entity == entity, r.c.field == f.name,
                            r.c.table_name == table, r.c.purged_at.is_(None), r.c.column_name.is_not(None),
                            r.c.reason == "removed")
            .order_by(r.c.version.desc()).limit(1)).first()
        if row is None or tuple(row.signature or ()) != tuple(_jsonable(f.storage_signature())):
            return False
        self._rename_column(table, row.column_name, f.name)
        self.conn.execute(r.delete().where(r.c.id == row.id))
        return True

    def retire_field(self, step: Step) -> None:
        et_name = table_name(self.new.name, step.entity)
        f = step.old
        if step.detail.get("table"):
            table = f"{et_name}__{step.detail['table']}"
            self._retire_column(table, step.entity, step.field, f, f.name)
            return
        if f.storage == "column":
            self._retire_column(et_name, step.entity, f.name, f, f.name)
        elif f.storage == "point":  # both columns, each recorded as retired
            for column in f.columns:
                self._retire_column(et_name, step.entity, f.name, f, column)
        elif f.storage in ("child", "assoc"):
            self._retire_table(f"{et_name}__{f.name}", step.entity, f.name, reason="removed")
        # attachments stay in loom_attachment, keyed by field name

    def _retire_column(self, table: str, entity: str, field: str, f: Field, column: str) -> None:
        retired_name = f"_r{self.version}_{column}"
        for stmt in _drop_search_if_sqlite(self.conn, table):
            self.conn.exec_driver_sql(stmt)
        self._rename_column(table, column, retired_name)
        self.conn.execute(insert(platform.retired).values(
            app=self.new.name, entity=entity, field=field, table_name=table, column_name=retired_name,
            value_type=f.value_type, signature=_jsonable(f.storage_signature()), reason="removed",
            version=self.version, retired_at=utcnow()))
        self._refresh_search(table)

    def rename_field(self, step: Step) -> None:
        # A rename that also changes the type gets its own change_field step from the planner.
        et = self.tables[step.entity]
        old_name, f = step.detail["from"], step.new
        if f.storage == "column":
            for stmt in _drop_search_if_sqlite(self.conn, et.main.name):
                self.conn.exec_driver_sql(stmt)
            self._rename_column(et.main.name, old_name, f.name)
            self._refresh_search(et.main.name)
        elif f.storage == "point":
            for old, new in zip(step.old.columns, f.columns):
                self._rename_column(et.main.name, old, new)
        elif f.storage in ("child", "assoc"):
            self.ops.rename_table(f"{et.main.name}__{old_name}", f"{et.main.name}__{f.name}")

    def change_field(self, step: Step) -> None:
        et = self.tables[step.entity]
        old, new = step.old, step.new
        table = et.main if not step.detail.get("table") else et.children[step.detail["table"]]
        column = new.name
        retired_name = f"_r{self.version}_{column}"
        for stmt in _drop_search_if_sqlite(self.conn, table.name):
            self.conn.exec_driver_sql(stmt)
        self._rename_column(table.name, column, retired_name)
        self._add_column(table.name, new, column)
        self.conn.execute(insert(platform.retired).values(
            app=self.new.name, entity=step.entity, field=step.field, table_name=table.name,
            column_name=retired_name, value_type=old.value_type, signature=_jsonable(old.storage_signature()),
            reason="type_change", version=self.version, retired_at=utcnow()))
        src = Table(table.name, MetaData(), Column("id", ID), Column(retired_name, sql_type(old)),
                    Column(column, sql_type(new)))
        has_number = table is et.main
        failures: list[str] = []
        last = 0
        while True:
            cols = [src.c.id, src.c[retired_name]]
            if has_number:
                cols.append(text("number"))
            rows = self.conn.execute(select(*cols).where(src.c.id > last, src.c[retired_name].is_not(None))
                                     .order_by(src.c.id).limit(BATCH)).all()
            if not rows:
                break
            updates = []
            for row in rows:
                try:
                    updates.append({"_id": row[0], "_v": convert(old, new, row[1])})
                except FieldError as exc:
                    label = row[2] if has_number else f"row {row[0]}"
                    failures.append(f"{label}: {row[1]!r} ({exc.message})")
            if updates and not failures:
                self.conn.execute(update(src).where(src.c.id == bindparam("_id")).values({column: bindparam("_v")}),
                                  updates)
            last = rows[-1][0]
        if failures:
            shown = failures[:SHOW_AT_MOST]
            more = f" and {len(failures) - SHOW_AT_MOST} more" if len(failures) > SHOW_AT_MOST else ""
            raise MigrationRefused([Refusal(step.entity, step.field, f"changing {old.type} to {new.type} would lose "
                                                                     f"{len(failures)} value(s): " + "; ".join(shown)
                                                                     + more)])
        self._refresh_search(table.name)

    def recompute_field(self, step: Step) -> None:
        if step.new.type == "rollup":
            return  # the app store recomputes rollups once the version is live (runtime.behaviour.rollups)
        self._recompute(self.tables[step.entity], step.new)

    def compute_on_save(self, step: Step) -> None:
        """An expression field became a script one: its column stays as it is, and the record
        service computes each record's value through the script when the record is next saved."""

    def _recompute(self, et: EntityTables, f: Field) -> None:
        from .records import compute_all  # computed fields share one evaluator with the record service
        main = et.main
        names = sorted(n for n in f.expression.names if n in main.c)
        last = 0

        def evaluate(expr, values):  # as the system: a stored value must not depend on who published
            paths = evaluation.Paths(self.conn, et.entity, values, self._tables) if expr.paths else None
            return expr.evaluate(values, None, self.functions, paths)

        while True:
            rows = self.conn.execute(select(main.c.id, *[main.c[n] for n in names]).where(main.c.id > last)
                                     .order_by(main.c.id).limit(BATCH)).mappings().all()
            if not rows:
                break
            params = [{"_id": r["id"], "_v": compute_all(et.entity, dict(r), only=f.name, evaluate=evaluate)}
                      for r in rows]
            self.conn.execute(update(main).where(main.c.id == bindparam("_id")).values({f.name: bindparam("_v")}),
                              params)
            last = rows[-1]["id"]

    def _tables(self, app: str, entity: str) -> EntityTables:
        return self.tables[entity] if app == self.new.name else self.others[app][entity]

    # ------------------------------------------------------------------ indexes and search
    def add_index(self, step: Step) -> None:
        et = self.tables[step.entity]
        cols, unique = step.detail["columns"], step.detail["unique"]
        if unique:
            dupes = self.conn.execute(
                select(*[et.main.c[c] for c in cols], func.count()).where(
                    and_(*[et.main.c[c].is_not(None) for c in cols]))
                .group_by(*[et.main.c[c] for c in cols]).having(func.count() > 1).limit(SHOW_AT_MOST)).all()
            if dupes:
                shown = "; ".join(f"{tuple(d[:-1]) if len(cols) > 1 else d[0]!r} x{d[-1]}" for d in dupes)
                raise MigrationRefused([Refusal(step.entity, None, f"cannot make {', '.join(cols)} unique, these "
                                                                   f"values repeat: {shown}",
                                                path=self._index_path(step.entity, cols))])
        self.ops.create_index(index_name(et.main.name, cols, unique), et.main.name, cols, unique=unique)

    def sync_statistics(self) -> None:
        """PostgreSQL's extended statistics on each entity's correlated columns
        (:meth:`metamodel.Entity.correlated_columns`): created, analysed, and dropped with the
        view that wanted them. SQLite's planner keeps to the board's index without them."""
        prefix = f"st_{table_name(self.new.name, '')}"
        have = set(self.conn.execute(text(
            "SELECT stxname FROM pg_statistic_ext WHERE starts_with(stxname, :prefix)"), {"prefix": prefix}).scalars())
        want = {}
        for entity in self.new.entities.values():
            table = table_name(self.new.name, entity.name)
            for cols in entity.correlated_columns():
                want[statistics_name(table, cols)] = (table, cols)
        q = self.conn.dialect.identifier_preparer.quote
        for name in sorted(have - set(want)):
            self.conn.exec_driver_sql(f"DROP STATISTICS IF EXISTS {q(name)}")
        for name in sorted(set(want) - have):
            table, cols = want[name]
            self.conn.exec_driver_sql(f"CREATE STATISTICS {q(name)} (mcv, dependencies) "
                                      f"ON {', '.join(map(q, cols))} FROM {q(table)}")
            self.conn.exec_driver_sql(f"ANALYZE {q(table)} ({', '.join(map(q, cols))})")

    def _index_path(self, entity: str, cols: list) -> tuple:
        """Where an index is declared: ``fields.<name>.unique`` or the ``indexes`` list."""
        f = self.new.entities[entity].fields.get(cols[0])
        if len(cols) == 1 and f is not None and f.spec.get("unique"):
            return ("fields", cols[0], "unique")
        return ("indexes",)

    def drop_index(self, step: Step) -> None:
        name = index_name(table_name(self.new.name, step.entity), step.detail["columns"], step.detail["unique"])
        self.ops.drop_index(name, table_name=table_name(self.new.name, step.entity))

    def rebuild_search(self, step: Step) -> None:
        self._search(self.tables[step.entity])

    def _search(self, et: EntityTables) -> None:
        for stmt in search_sql(self.conn, et.main.name, et.entity.search_fields):
            self.conn.exec_driver_sql(stmt)

    def _refresh_search(self, table: str) -> None:
        """Re-create the search index after its table's columns moved."""
        for et in self.tables.values():
            if et.main.name == table and et.entity.search_fields:
                self._search(et)

    # ------------------------------------------------------------------ helpers
    def _rename_column(self, table: str, old: str, new: str) -> None:
        if self.sqlite:
            self.conn.exec_driver_sql(f'ALTER TABLE {table} RENAME COLUMN "{old}" TO "{new}"')
        else:
            self.ops.alter_column(table, old, new_column_name=new)

    def _table_exists(self, name: str) -> bool:
        return inspect(self.conn).has_table(name)


def _drop_search_if_sqlite(conn, table: str) -> list[str]:
    # SQLite's FTS triggers name columns; they must go before a column is renamed.
    if conn.dialect.name != "sqlite":
        return []
    fts = f"{table}__fts"
    return [f"DROP TRIGGER IF EXISTS {fts}_{k}" for k in ("ai", "ad", "au")] + [f"DROP TABLE IF EXISTS {fts}"]


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value
