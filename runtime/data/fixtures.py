"""Loading an app's ``fixtures/`` (dictionaries, demo data) through the record service.

Link values may name the target record by its title field (``organization:
Минздрав области``) instead of an id, so fixtures read like the data they are.
"""
from __future__ import annotations

from sqlalchemy import select

from .records import SYSTEM


def load_fixtures(loom, app_name: str) -> int:
    """Create every fixture record of ``app_name`` in one transaction; return how many."""
    live = loom.live[app_name]
    fixtures = live.app.fixtures
    order = _dependency_order(live.app, list(fixtures))
    created = 0
    with loom.engine.begin() as conn:
        for entity_name in order:
            et = live.tables[entity_name]
            for record in fixtures[entity_name]:
                data = {k: _resolve(loom, conn, et, k, v) for k, v in record.items()}
                loom.records._insert(conn, et, data, SYSTEM)
                created += 1
    return created


def _dependency_order(app, names: list[str]) -> list[str]:
    done, order = set(), []

    def visit(name, stack=()):
        if name in done or name in stack:
            return
        for f in app.entities[name].fields.values():
            target = (f.target or "").rpartition(".")[2]
            if target in names and target != name:
                visit(target, stack + (name,))
        done.add(name)
        order.append(name)

    for name in names:
        visit(name)
    return order


def _resolve(loom, conn, et, key, value):
    f = et.entity.fields.get(key)
    if f is None or f.target is None:
        return value
    if isinstance(value, list):
        return [_lookup(loom, conn, et, f, v) for v in value]
    return _lookup(loom, conn, et, f, value)


def _lookup(loom, conn, et, f, value):
    if not isinstance(value, str):
        return value
    app, _, name = f.target.rpartition(".")
    target = loom.entity_tables(app or et.entity.app, name)
    column = target.main.c[target.entity.title_field]
    found = conn.execute(select(target.main.c.id).where(column == value)).scalar()
    if found is None:
        raise ValueError(f"fixture {et.entity.name}.{f.name}: no {name} titled {value!r}")
    return found
