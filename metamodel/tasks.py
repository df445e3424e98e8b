"""Who must do a record and by when: the fields an entity's ``tasks:`` declaration names.

An entity that declares ``tasks: {assignee, due, open}`` (docs/metadata.md, "Personal
organiser") says it outright. Without it, an entity with statuses takes part by convention:
its first ``user`` field named ``assignee``, ``executor`` or ``responsible``, and a ``date``
or ``datetime`` field named ``due_at``, ``due`` or ``deadline``. The organiser, the
deadline column of lists and the "assigned to you" notification all read these three
answers, so an app states them once.
"""
from __future__ import annotations

ASSIGNEE_NAMES = ("assignee", "executor", "responsible")
DUE_NAMES = ("due_at", "due", "deadline")
DUE_TYPES = ("date", "datetime")
CLOSED_CATEGORIES = ("done", "cancelled")


def assignee_field(entity) -> str | None:
    """The user field naming whose task a record is, or ``None``."""
    declared = entity.spec.get("tasks")
    if declared:
        return declared["assignee"]
    if not entity.statuses:
        return None
    return next((n for n in ASSIGNEE_NAMES if n in entity.fields and entity.fields[n].value_type == "user"
                 and entity.fields[n].storage == "column"), None)


def due_field(entity) -> str | None:
    """The date or datetime field of a record's due date, or ``None``."""
    declared = entity.spec.get("tasks")
    if declared:
        return declared.get("due")
    if not entity.statuses:
        return None
    return next((n for n in DUE_NAMES if n in entity.fields and entity.fields[n].value_type in DUE_TYPES
                 and entity.fields[n].storage == "column"), None)


def open_statuses(entity) -> list[str]:
    """The statuses in which a record is still to do."""
    declared = (entity.spec.get("tasks") or {}).get("open")
    return list(declared or [s["name"] for s in entity.statuses if s.get("category") not in CLOSED_CATEGORIES])
