"""Structural diff between two versions of an app document."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import dotted


@dataclass(frozen=True)
class Change:
    op: str  # "added", "removed", "changed"
    path: tuple
    old: object = None
    new: object = None

    def __str__(self) -> str:
        where = dotted(self.path)
        if self.op == "added":
            return f"+ {where}: {_short(self.new)}"
        if self.op == "removed":
            return f"- {where}: {_short(self.old)}"
        return f"~ {where}: {_short(self.old)} -> {_short(self.new)}"

    def as_dict(self) -> dict:
        return {"op": self.op, "path": dotted(self.path), "old": self.old, "new": self.new}


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def diff(old: dict | None, new: dict, path: tuple = ()) -> list[Change]:
    """Every leaf-level difference from ``old`` to ``new``.

    Mappings are compared key by key; lists of mappings that all carry a
    ``name`` are compared by name (so reordering statuses is one change,
    not a cascade); other lists compare as whole values.
    """
    old = {} if old is None and isinstance(new, dict) else old
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in old:
            if key not in new:
                out.append(Change("removed", path + (key,), old[key], None))
            else:
                out.extend(diff(old[key], new[key], path + (key,)))
        for key in new:
            if key not in old:
                out.append(Change("added", path + (key,), None, new[key]))
        return out
    if _named_list(old) and _named_list(new):
        old_map = {item["name"]: item for item in old}
        new_map = {item["name"]: item for item in new}
        if len(old_map) == len(old) and len(new_map) == len(new):
            out = diff(old_map, new_map, path)
            if [i["name"] for i in old if i["name"] in new_map] != [i["name"] for i in new if i["name"] in old_map]:
                out.append(Change("changed", path + ("order",), [i["name"] for i in old], [i["name"] for i in new]))
            return out
    if old != new or type(old) is not type(new):
        return [Change("changed", path, old, new)]
    return []


def _named_list(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)
