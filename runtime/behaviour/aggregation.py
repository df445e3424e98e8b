"""Aggregation rules: records that arrive together are collected under one parent.

A rule of ``entities/<name>.yaml: aggregations`` says: when at least ``min_count``
records (from that many different ``distinct`` values) with equal ``match`` fields
(and/or with points ``near`` each other: within a distance of the new record's)
arrive within ``window``, find or create a parent record and link them all to it by
``link_field``. An open parent that already matches (``parent.find``) absorbs new
records at once — a monitoring alert that came first collects the tickets after it.
A mass incident is this rule plus a ``cascade`` action on the parent's transitions.

A rule acts with the rights of the user who saved the record: it counts and links only
records they may see. ``privileged: true`` lets it act with system rights on their behalf
(requesters cannot see each other's tickets, yet three of them make a mass incident); the
audit log then records what it read and marks what it changed.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from metamodel.geo import Point, parse_distance
from runtime.clock import now as clock_now
from runtime.data import geo
from runtime.data.records import elevated
from runtime.data.values import to_json
from runtime.errors import Forbidden

from .calendars import parse_duration
from .hooks import Reads


def collect(loom, conn, et, row: dict, actor) -> None:
    """Apply every aggregation rule of the entity to the just-created ``row``, saved by ``actor``."""
    for rule in et.entity.spec.get("aggregations", []):
        _apply(loom, conn, et, rule, row, actor)


def _apply(loom, conn, et, rule: dict, row: dict, actor) -> None:
    """One rule, with the rights of ``actor`` (who saved the record): it counts, finds and links
    only records they may see and change, unless the rule is ``privileged``; then it acts with
    system rights on their behalf, and the audit log records what it read and changed."""
    records = loom.records
    link = rule["link_field"]
    if row.get(link) is not None or any(row.get(m) is None for m in rule.get("match", [])):
        return
    if "near" in rule and _point(et, rule, row) is None:
        return
    if "where" in rule and not records.evaluate(conn, et.entity, rule["where"], row, actor):
        return
    rights = elevated(actor, f"aggregation:{rule['name']}") if rule.get("privileged") else actor
    reads = Reads()
    try:
        _gather(loom, conn, et, rule, row, rights, reads)
    except Forbidden as exc:
        raise Forbidden(f"aggregation rule {rule['name']!r} acts with the rights of {actor.username}, who is refused: {exc}; "
                        f"declare privileged: true on the rule to let it act with system rights") from None
    if rights is not actor and reads:
        loom.audit.record(conn, actor, "privileged_read", et.entity, row["id"], None,
                          {"hook": f"aggregation:{rule['name']}", "read": reads.counts()})


def _gather(loom, conn, et, rule: dict, row: dict, rights, reads: Reads) -> None:
    """Link ``row`` to an open parent, or, at the threshold, create the parent and link every member."""
    records, link = loom.records, rule["link_field"]
    parent = _open_parent(loom, conn, et, rule, row, rights, reads)
    if parent is None:
        members = _members(loom, conn, et, rule, row, rights, reads)
        distinct = rule.get("distinct")
        voices = {m.get(distinct) for m in members} if distinct else {m["id"] for m in members}
        if len(voices - {None}) < rule["min_count"]:
            return
        data = {m: to_json(row[m]) for m in rule.get("match", [])}
        if "near" in rule:  # the parent stands where the record that completed the group was reported
            data[rule["near"]["field"]] = _point(et, rule, row).json()
        data.update({k: to_json(records.evaluate(conn, et.entity, e, row, rights))
                     for k, e in rule["parent"].get("set", {}).items()})
        parent = records.create(et.entity.app, et.entity.name, data, actor=rights, conn=conn)
    else:
        members = [row]
    for member in members:
        if member["id"] != parent["id"]:
            current = records._fetch(conn, et, member["id"])
            records.update(et.entity.app, et.entity.name, member["id"], {link: parent["id"]},
                           current["row_version"], actor=rights, conn=conn, check_fields=False)


def _same(et, rule: dict, row: dict):
    """Conditions for records that count with ``row``: equal ``match`` values, and a point within
    ``near.within`` of ``row``'s (a bounding box on the indexed columns, then the distance)."""
    t = et.main
    out = [t.c[m] == row[m] for m in rule.get("match", [])] + [t.c.deleted_at.is_(None)]
    if "near" in rule:
        lat, lon = et.entity.fields[rule["near"]["field"]].columns
        out.append(geo.near(t.c[lat], t.c[lon], _point(et, rule, row), parse_distance(rule["near"]["within"])))
    return out


def _point(et, rule: dict, row: dict) -> Point | None:
    lat, lon = et.entity.fields[rule["near"]["field"]].columns
    return Point(row[lat], row[lon]) if row.get(lat) is not None and row.get(lon) is not None else None


def _open_parent(loom, conn, et, rule: dict, row: dict, rights, reads: Reads) -> dict | None:
    """The newest open record with the same ``match`` values that ``parent.find`` accepts."""
    entity, t = et.entity, et.main
    closed = entity.statuses_in("done", "cancelled")
    query = select(t).where(*_same(et, rule, row), t.c.id != row["id"], t.c[rule["link_field"]].is_(None))
    if closed:
        query = query.where(t.c.status.not_in(closed))
    query = loom.permissions.restrict(query.order_by(t.c.id.desc()).limit(50), et, rights)
    find = rule["parent"].get("find")
    for candidate in conn.execute(query).mappings():
        reads.add(entity.ref, [candidate["id"]])
        if find and loom.records.evaluate(conn, entity, find, dict(candidate), rights):
            return dict(candidate)
    return None


def _members(loom, conn, et, rule: dict, row: dict, rights, reads: Reads) -> list[dict]:
    """Unlinked records with the same ``match`` values created within the window (``row`` included)."""
    t = et.main
    window = parse_duration(rule["window"])
    since = clock_now() - dt.timedelta(days=window.days, seconds=window.seconds)
    query = select(t).where(*_same(et, rule, row), t.c.created_at >= since, t.c[rule["link_field"]].is_(None))
    query = loom.permissions.restrict(query.order_by(t.c.id), et, rights)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    reads.add(et.entity.ref, [r["id"] for r in rows])
    if "where" in rule:
        rows = [r for r in rows if loom.records.evaluate(conn, et.entity, rule["where"], r, rights)]
    return rows
