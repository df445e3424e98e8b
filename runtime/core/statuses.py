"""No record is stranded in a status the new version of its app does not have.

Publishing (a rollback is a publish of an old document) checks, inside its transaction,
which statuses of the live version the new one drops and whether records are in them.
Without a mapping the publish is refused, naming the entity, the status, how many
records and their numbers; with a mapping (``{entity: {old: new}}``) those records move
to the mapped status in the same transaction, with a status-history row each and an
audit entry per mapping.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, literal, select, update

from metamodel import App, MetadataError, Problem
from runtime.data import tables as platform
from runtime.data.storage import utcnow

SHOWN = 10  # record numbers named per stranded status


@dataclass(frozen=True)
class Stranded:
    entity: str
    status: str
    count: int
    numbers: tuple[str, ...]
    targets: tuple[str, ...]  # the statuses of the new version they may be mapped to


class StatusesStranded(MetadataError):
    """Records are in statuses the new version drops; ``stranded`` says which, for a mapping form."""

    def __init__(self, stranded: list[Stranded], problems: list[Problem] | None = None):
        super().__init__(problems or [_problem(s) for s in stranded])
        self.stranded = stranded


def _problem(s: Stranded) -> Problem:
    shown = ", ".join(s.numbers) + (" ..." if s.count > len(s.numbers) else "")
    return Problem(f"entities/{s.entity}.yaml", "statuses",
                   f"status {s.status!r} is not in this version, but {s.count} record(s) are in it ({shown}); "
                   f"keep the status, or map it to one of: {', '.join(s.targets)}")


def find_stranded(conn, old: App | None, new: App, tables: dict) -> list[Stranded]:
    """The dropped statuses records are still in (soft-deleted records count: they can be restored)."""
    out = []
    for name, before in (old.entities if old is not None else {}).items():
        after = new.entities.get(name)
        if after is None or not before.statuses or name not in tables:
            continue  # a removed entity is retired whole; a dictionary has no statuses
        keep = [s["name"] for s in after.statuses]
        gone = [s["name"] for s in before.statuses if s["name"] not in keep]
        if not gone:
            continue
        t = tables[name].main
        counts = dict(conn.execute(select(t.c.status, func.count()).where(t.c.status.in_(gone))
                                   .group_by(t.c.status)).all())
        for status in gone:
            if counts.get(status):
                numbers = conn.execute(select(t.c.number).where(t.c.status == status).order_by(t.c.id)
                                       .limit(SHOWN)).scalars().all()
                out.append(Stranded(name, status, counts[status], tuple(str(n) for n in numbers), tuple(keep)))
    return out


def check_mapping(stranded: list[Stranded], mapping: dict | None) -> None:
    """Refuse unless every stranded status is mapped to a status of the new version."""
    mapping = mapping or {}
    problems = []
    for s in stranded:
        target = (mapping.get(s.entity) or {}).get(s.status)
        if target is None:
            problems.append(_problem(s))
        elif target not in s.targets:
            problems.append(Problem(f"entities/{s.entity}.yaml", "statuses",
                                    f"status {s.status!r} is mapped to {target!r}, which this version does not "
                                    f"have; choose one of: {', '.join(s.targets)}"))
    if problems:
        raise StatusesStranded(stranded, problems)


def move(conn, loom, app: str, stranded: list[Stranded], mapping: dict, tables: dict, author: str) -> None:
    """Move the stranded records to their mapped statuses, with history and audit."""
    h = platform.status_history
    for s in stranded:
        target = mapping[s.entity][s.status]
        t = tables[s.entity].main
        conn.execute(insert(h).from_select(
            ["app", "entity", "record_id", "from_status", "to_status", "transition", "at"],
            select(literal(app), literal(s.entity), t.c.id, t.c.status, literal(target), literal("publish:map"),
                   literal(utcnow(), type_=h.c.at.type)).where(t.c.status == s.status)))
        conn.execute(update(t).where(t.c.status == s.status).values(status=target, row_version=t.c.row_version + 1))
        loom.audit.record(conn, None, "status.map", tables[s.entity].entity, None, {"status": s.status},
                          {"status": target, "records": s.count}, username=author)
