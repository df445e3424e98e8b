"""Matching an app's source records and writing masters and links through the record service."""
from __future__ import annotations

import csv

from .match import match


def find_match(platform, app: str, entity: str) -> tuple[str, dict]:
    """The match configuration of ``app`` whose sources live in ``entity``."""
    section = platform.app_section(app, "masterdata") or {}
    for name, spec in (section.get("matches") or {}).items():
        if spec["sources"]["entity"] == entity:
            return name, spec
    raise LookupError(f"app {app!r} has no masterdata match over entity {entity!r} "
                      f"(extensions/masterdata.yaml); matches: {sorted(section.get('matches') or {}) or 'none'}")


def read_all(records, app: str, entity: str) -> list[dict]:
    rows, after = [], None
    while True:
        page = records.page(app, entity, limit=500, after=after, sort=("id",))
        rows.extend(page["items"])
        after = page.get("next")
        if not after:
            return rows


def run(platform, app: str, entity: str) -> dict:
    """Match, then give every cluster one master (an existing one of its members, or a new
    one filled from its first record) and link each source record to it."""
    _, spec = find_match(platform, app, entity)
    records = platform.records()
    rows = read_all(records, app, entity)
    result = match(rows, spec)
    link = spec["sources"].get("master_link")
    masters, copy = spec["masters"]["entity"], spec["masters"].get("fields") or []
    by_id = {row["id"]: row for row in rows}
    members: dict[int, list[int]] = {}
    for record_id, cluster in result.clusters.items():
        members.setdefault(cluster, []).append(record_id)
    created = linked = 0
    for ids in members.values():
        ids.sort()
        existing = sorted({_link_id(by_id[i].get(link)) for i in ids} - {None}) if link else []
        if existing:
            master_id = existing[0]
        else:
            first = by_id[ids[0]]
            master_id = records.create(app, masters, {f: first.get(f) for f in copy if first.get(f) is not None})["id"]
            created += 1
        for i in ids:
            if link and _link_id(by_id[i].get(link)) != master_id:
                records.update(app, entity, i, {link: master_id})
                linked += 1
    return {"records": len(rows), "masters": len(members), "created": created, "linked": linked,
            "review": len(result.review)}


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
    for row in read_all(platform.records(), app, entity):
        master = _link_id(row.get(link))
        if master is not None:
            writer.writerow([row.get(src["source_field"]), row.get(src["source_id_field"]), master])
            count += 1
    return count


def _link_id(value):
    """A link field's value as the record service returns it: an id or ``{"id": ...}``."""
    if isinstance(value, dict):
        return value.get("id")
    return int(value) if value is not None else None
