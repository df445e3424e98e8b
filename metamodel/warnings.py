"""Warnings at publish: changes that are valid but likely not what the analyst meant.

They never block publishing (the designer and ``loom apps diff`` show them next to the
diff); each names the file and path to look at and says why.
"""
from __future__ import annotations

from .errors import Problem, dotted
from .model import App


def publish_warnings(old: App | None, new: App) -> list[Problem]:
    """What publishing ``new`` over the live ``old`` may get wrong."""
    return _new_statuses_left_out(old, new)


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
