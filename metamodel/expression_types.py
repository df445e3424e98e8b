"""Expressions that combine types which never go together, found at publish.

At run time an expression's ``TypeError`` gives ``None``, so a half-filled form never fails to
compute; the same rule hides a mistake such as ``days(returned_on - taken_on)`` (``days``
makes a duration from a number) or ``amount + title``, whose value is then always empty. To
tell the two apart, publishing evaluates the expression once with a value of each field's
type in place of every field it reads: a ``TypeError`` then cannot come from a missing
value. Expressions whose fields have no sample (an unknown name, a point) are not judged.
"""
from __future__ import annotations

import datetime as dt
import decimal

from .model import Entity

_SAMPLES = {
    "string": "x", "text": "x", "email": "a@example.org", "phone": "+70000000000", "integer": 1,
    "decimal": decimal.Decimal("1"), "money": decimal.Decimal("1"), "boolean": True,
    "date": dt.date(2026, 1, 15), "datetime": dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.timezone.utc),
    "user": 1, "group": 1, "link": 1, "file": 1, "multilink": [1], "table": [],
}
_SYSTEM = {"id": 1, "number": "N-1", "row_version": 1, "meta_version": 1, "created_by": 1, "updated_by": 1,
           "created_at": _SAMPLES["datetime"], "updated_at": _SAMPLES["datetime"],
           "deleted_at": _SAMPLES["datetime"]}
# The runtime's functions that need what only it has (the app's calendar): a number of the right kind.
_RUNTIME_FUNCTIONS = {"business_days_between": lambda a, b: 1, "business_hours_between": lambda a, b: 1}


def type_problem(entity: Entity, expr, resolve) -> str | None:
    """Why ``expr`` (read over ``entity``'s fields) fails whatever the fields hold, or None.
    ``resolve(ref)``: the entity a link's ``ref`` names (or None)."""
    values = {}
    for name in expr.names:
        value = sample(entity, name)
        if value is None:
            return None
        values[name] = value
    paths = {}
    for dotted in expr.paths:
        value = _path_sample(entity, dotted, resolve)
        if value is None:
            return None
        paths[dotted] = value
    try:
        expr.evaluate(values, functions=_RUNTIME_FUNCTIONS, resolve=paths.get, strict=True)
    except TypeError as exc:
        return (f"it fails whatever the fields hold ({exc}), so its value would always be empty; check "
                f"what each function takes and the types it combines")
    except Exception:  # noqa: BLE001 - a value of the sample's choosing (int('x'), 1/0): not a type mistake
        return None
    return None


def sample(entity: Entity, name: str):
    """A value of the type of ``entity``'s field ``name`` (a status, a choice's first value)."""
    if name == "status":
        return entity.statuses[0]["name"] if entity.statuses else None
    f = entity.fields.get(name)
    if f is None:
        return _SYSTEM.get(name)
    if f.type == "choice" and f.choices:
        return f.choices[0].value
    if f.type == "table":
        return []
    return _SAMPLES.get(f.value_type)


def _path_sample(entity: Entity, dotted: str, resolve):
    """A value of the field at the end of ``link.field`` (through links), or the list a
    ``table.column`` gives an aggregate."""
    head, *rest = dotted.split(".")
    f = entity.fields.get(head)
    if f is None:
        return None
    if f.storage == "child":
        column = f.children.get(rest[0]) if len(rest) == 1 else None
        value = sample(f.row_entity, column.name) if column is not None else None
        return None if value is None else [value]
    current = entity
    for name in [head, *rest[:-1]]:
        link = current.fields.get(name)
        if link is None or link.value_type != "link" or not link.target:
            return None
        current = resolve(link.target)
        if current is None:
            return None
    return sample(current, rest[-1]) if rest else None
