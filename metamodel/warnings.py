"""Warnings at publish: changes that are valid but likely not what the analyst meant.

They never block publishing (the designer and ``loom apps diff`` show them next to the
diff); each names the file and path to look at and says why.
"""
from __future__ import annotations

import re

from .document import file_of
from .errors import Problem, dotted
from .model import App

_GROUP_RECIPIENT = re.compile(r"group:([\w-]+)(\.lead)?")


def publish_warnings(old: App | None, new: App, groups: set[str] | None = None) -> list[Problem]:
    """What publishing ``new`` over the live ``old`` may get wrong; ``groups``: the names of the
    groups the platform has (None: not known here)."""
    out = _new_statuses_left_out(old, new) + _readers_without_a_row_rule(new)
    if groups is not None:
        out += _groups_nobody_made(new, groups)
    return out


def _readers_without_a_row_rule(app: App) -> list[Problem]:
    """A role that reads an entity whose row rules name other roles but not it sees every row:
    rules narrow only the roles they name. Often meant (the office that sees everything), so a
    rule naming the role with no condition says so and silences this."""
    out = []
    for name, entity in app.entities.items():
        spec = entity.spec.get("permissions") or {}
        rules = spec.get("rows") or []
        if not rules:
            continue
        named = {role for rule in rules for role in rule.get("roles", [])}
        for role in spec.get("read") or []:
            if role not in named and role != "admin":
                out.append(Problem(f"entities/{name}.yaml", "permissions.read",
                                   f"{role!r} reads {name} and no row rule names it, so it sees every row; if that "
                                   f"is meant, add {{roles: [{role}]}} to permissions.rows to say so"))
    return out


def named_groups(app: App):
    """``(document path, group name)`` of every group the metadata names: routing's ``group``,
    a ``group:<name>`` recipient anywhere, a transition's ``groups``."""
    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "group" and isinstance(value, str) and path[:1] == ("routing",):
                    yield path + (key,), value
                elif key == "groups" and isinstance(value, list) and "transitions" in path:
                    yield from ((path + (key, i), v) for i, v in enumerate(value) if isinstance(v, str))
                else:
                    yield from walk(value, path + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, path + (i,))
        elif isinstance(node, str):
            match = _GROUP_RECIPIENT.fullmatch(node)
            if match:
                yield path, match.group(1)

    for key, section in app.document.items():
        if key not in ("scripts", "fixtures"):
            yield from walk(section, (key,))


def _groups_nobody_made(app: App, groups: set[str]) -> list[Problem]:
    """A group the metadata routes or writes to that neither exists nor is declared (app.yaml's
    ``groups``, fixtures/_accounts.yaml): routing to it refuses the record and nobody gets what
    is sent to it until someone creates it, most often because its name is mistyped."""
    declared = set(groups) | {g.get("name") for g in app.document["app"].get("groups") or []}
    declared |= {g.get("name") for g in (app.fixtures.get("_accounts") or {}).get("groups", [])}
    out = []
    for path, name in named_groups(app):
        if name not in declared:
            filename, inner = file_of(path)
            out.append(Problem(filename, dotted(inner), f"no group {name!r} exists or is declared (app.yaml groups, "
                                                        f"fixtures/_accounts.yaml): correct the name, or create the "
                                                        f"group before records reach it"))
    return out


def _new_statuses_left_out(old: App | None, new: App) -> list[Problem]:
    """A status added in this version that a list view or report filters out with a status
    list (``status in [...]``): records entering it would vanish from that list."""
    out = []
    for name, entity in new.entities.items():
        before = old.entities.get(name) if old is not None else None
        if before is None:
            continue  # a new entity's views were written together with its statuses
        known = {s["name"] for s in before.statuses}
        added = [s["name"] for s in entity.statuses if s["name"] not in known]
        if not added:
            continue
        for i, view in enumerate(entity.spec.get("views") or []):
            label = f"view {view.get('name')!r}"
            out += _left_out(f"entities/{name}.yaml", ("views", i), view.get("filters"), added, label)
        for i, report in enumerate(new.section("reports").get("reports") or []):
            if report.get("entity") == name:
                out += _left_out("reports.yaml", ("reports", i), report.get("filters"), added,
                                 f"report {report.get('name')!r}")
    return out


def _left_out(file: str, where: tuple, filters, added: list[str], label: str) -> list[Problem]:
    out = []
    for j, flt in enumerate(filters or []):
        if flt.get("field") != "status" or flt.get("op") != "in" or not isinstance(flt.get("value"), list):
            continue
        for status in added:
            if status not in flt["value"]:
                out.append(Problem(file, dotted(where + ("filters", j)),
                                   f"the new status {status!r} is not in this status list: records in it will "
                                   f"not show in {label}; add it to the list if they should"))
    return out
