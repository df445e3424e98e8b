"""What people and commands do with masters: run a match, export the links, merge two
masters, split sources off a master, decide a reviewed pair.

A run writes set-wise (``runs``); a person's merge or split goes record by record
through the record service as that person, so each change is in the history with
its author, and a comment on each master says why.
"""
from __future__ import annotations

import csv

from runtime.plugin_api import Forbidden, ValidationFailed, now

from . import merge as rules
from . import runs, state
from .schema import find_match


def run(platform, app: str, entity: str, user: str | None = None, incremental: bool = False) -> dict:
    """Start a run and carry it out here; its figures (see :func:`runs.counts`)."""
    run_id = runs.start(platform, app, entity, user, incremental)
    outcome = runs.run(platform, run_id)
    job = platform.file_run(run_id)
    if outcome != "done":
        raise RuntimeError(f"run {run_id} {outcome}: {job.get('error')}")
    return {"run": run_id, **runs.counts(job)}


def export(platform, app: str, entity: str, out) -> int:
    """``source,source_id,master_id`` for each linked source record, into the open text file ``out``."""
    _, spec = find_match(platform, app, entity)
    src = spec["sources"]
    link = src.get("master_link")
    if not link:
        raise LookupError(f"match over {entity!r} declares no sources.master_link to export")
    writer = csv.writer(out)
    writer.writerow(["source", "source_id", "master_id"])
    count = 0
    for batch in platform.records().scan(app, entity, [src["source_field"], src["source_id_field"], link]):
        rows = [[r[src["source_field"]], r[src["source_id_field"]], r[link]] for r in batch if r[link] is not None]
        writer.writerows(rows)
        count += len(rows)
    return count


def _sources_of(records, spec: dict, app: str, master_id: int) -> list[dict]:
    src = spec["sources"]
    return records.find(app, src["entity"], {src["master_link"]: int(master_id)}, sort=("id",), limit=10000)


def _plain(record: dict) -> dict:
    return {k: (v.get("id") if isinstance(v, dict) and "id" in v else v) for k, v in record.items()}


def _recompute(records, spec: dict, app: str, master_id: int, sources: list[dict]) -> dict:
    """Write the master's values from ``sources`` (empty: the ids field is cleared)."""
    src, masters = spec["sources"], spec["masters"]
    field_rules = rules.rules(spec)
    plain = [_plain(s) for s in sources]
    values = rules.values(plain, field_rules, src["source_field"], src.get("timestamp_field")) if plain else {}
    if masters.get("ids_field"):
        values[masters["ids_field"]] = rules.ids_text(plain, src["source_field"], src["source_id_field"]) or None
    return records.update(app, masters["entity"], master_id, values) if values else records.get(
        app, masters["entity"], master_id)


def merge_masters(platform, app: str, entity: str, survivor: int, other: int, user, reason: str) -> dict:
    """Move every source record of master ``other`` to ``survivor`` and recompute both; the
    pair is remembered as "same" so the next run keeps them together."""
    _, spec = find_match(platform, app, entity)
    if not (reason or "").strip():
        raise ValidationFailed([_error("reason", "say why these masters are one consumer")])
    if int(survivor) == int(other):
        raise ValidationFailed([_error("other", "a master cannot be merged into itself")])
    records = platform.records(user)
    link, masters = spec["sources"]["master_link"], spec["masters"]["entity"]
    records.get(app, masters, survivor)
    records.get(app, masters, other)
    kept, moved = _sources_of(records, spec, app, survivor), _sources_of(records, spec, app, other)
    if not moved:
        raise ValidationFailed([_error("other", f"master {other} has no source records to merge")])
    for s in moved:
        records.update(app, entity, s["id"], {link: int(survivor)}, s["row_version"])
    _recompute(records, spec, app, survivor, kept + moved)
    _recompute(records, spec, app, other, [])
    records.comment(app, masters, survivor, f"Merged master {other} into this one: {reason}")
    records.comment(app, masters, other, f"Merged into master {survivor}: {reason}")
    actor = records.actor.username
    if kept:
        state.decide(platform, app, entity, [(kept[0]["id"], moved[0]["id"])], "same", actor, reason)
    state.note_merge(platform, app, entity, {"survivor": int(survivor), "other": int(other),
                                             "sources": [s["id"] for s in moved], "user": actor,
                                             "reason": reason, "at": now().isoformat()})
    return {"survivor": int(survivor), "moved": len(moved)}


def split_master(platform, app: str, entity: str, master_id: int, source_ids, user, reason: str) -> dict:
    """Detach ``source_ids`` from a master into another: the master they were merged from
    when exactly these came with a merge and it has none left, a new master otherwise.
    Every detached record is remembered as "different" from every one that stays."""
    _, spec = find_match(platform, app, entity)
    if not (reason or "").strip():
        raise ValidationFailed([_error("reason", "say why these records are another consumer")])
    records = platform.records(user)
    link, masters = spec["sources"]["master_link"], spec["masters"]["entity"]
    sources = _sources_of(records, spec, app, master_id)
    chosen = {int(i) for i in source_ids}
    mine = {s["id"] for s in sources}
    if not chosen or chosen - mine:
        raise ValidationFailed([_error("sources", f"choose source records of master {master_id}; "
                                                  f"not its: {sorted(chosen - mine) or 'none chosen'}")])
    if chosen == mine:
        raise ValidationFailed([_error("sources", "leave at least one source record with the master")])
    target = None
    for entry in reversed(state.merges(platform, app, entity)):
        if entry["survivor"] == int(master_id) and set(entry["sources"]) == chosen \
                and not _sources_of(records, spec, app, entry["other"]):
            target = entry["other"]
            break
    if target is None:
        target = records.create(app, masters, {})["id"]
    for s in sources:
        if s["id"] in chosen:
            records.update(app, entity, s["id"], {link: target}, s["row_version"])
    staying = [s for s in sources if s["id"] not in chosen]
    going = [records.get(app, entity, i) for i in sorted(chosen)]
    _recompute(records, spec, app, master_id, staying)
    _recompute(records, spec, app, target, going)
    records.comment(app, masters, master_id, f"Split records {sorted(chosen)} off into master {target}: {reason}")
    records.comment(app, masters, target, f"Split off master {master_id}: {reason}")
    actor = records.actor.username
    pairs = [(a["id"], b["id"]) for a in going for b in staying]
    state.decide(platform, app, entity, pairs, "different", actor, reason)
    return {"master": target, "moved": len(chosen)}


def decide_pair(platform, app: str, entity: str, a: int, b: int, verdict: str, user, reason: str = "") -> None:
    """A reviewer's "same" or "different" on two source records; the next run honours it."""
    find_match(platform, app, entity)
    if verdict not in ("same", "different"):
        raise ValidationFailed([_error("verdict", "is 'same' or 'different'")])
    records = platform.records(user)
    if not records.may(app, entity, "update"):
        raise Forbidden(f"you may not change records of {entity}")
    records.get(app, entity, a)
    records.get(app, entity, b)
    state.decide(platform, app, entity, [(a, b)], verdict, records.actor.username, reason)


class _Problem:
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message


def _error(field: str, message: str) -> _Problem:
    """One field's problem for ``ValidationFailed`` (422, naming the field)."""
    return _Problem(field, message)
