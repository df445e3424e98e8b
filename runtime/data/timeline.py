"""A record's timeline (an entity's ``timeline:``, docs/metadata.md "Timeline"): the records of
several other entities that link to it — a consumer's appeals, readings, requests, tickets — as
one list, newest first, a page at a time.

Each source is read as its own list would be, by :class:`ListQuery`: the reader's right to read
the entity, its row rules and its hidden fields apply exactly as on the source's list page, so
an entry the reader may not see is not there (a source whose link or date field is hidden from
them is left out whole). A page reads at most ``limit + 1`` rows of each source, in the order of
the index ``(link, date, id)`` the metamodel gives every source, and merges them; the cursor of
the next page holds, per source, the list cursor after the last entry this page showed of it
(or that the source is done), so paging is exact however many entries share a date.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from .query import BadCursor, Filter, ListQuery, encode_cursor

DEFAULT_PAGE = 20
MAX_PAGE = 100
DONE = 0  # a source's place in the cursor once every entry of it was shown


@dataclass
class Entry:
    source: int   # index in the timeline's sources
    entity: object  # the source's metamodel Entity
    row: dict


@dataclass
class Timeline:
    entries: list[Entry] = field(default_factory=list)
    next: str | None = None
    sources: list[int] = field(default_factory=list)  # the sources the reader sees


def sources(entity) -> list[dict]:
    """The timeline's sources as declared, each with its ``date`` filled in."""
    return [{**s, "date": s.get("date") or "created_at"} for s in entity.spec["timeline"]["sources"]]


def page_size(entity, limit=None) -> int:
    if limit is None:
        return int(entity.spec["timeline"].get("page_size", DEFAULT_PAGE))
    return max(1, min(int(limit), MAX_PAGE))


def record_timeline(loom, app: str, entity: str, record_id: int, actor, limit: int | None = None,
                    after: str | None = None) -> Timeline:
    """One page of the timeline of record ``record_id``; ``NotFound`` when the reader may not read
    the record, ``BadCursor`` for a cursor that is not this timeline's."""
    et = loom.entity_tables(app, entity)
    declared = sources(et.entity)
    size = page_size(et.entity, limit)
    state = _decode(after, len(declared))
    perms = loom.permissions
    out = Timeline()
    fetched: dict[int, tuple[list, str | None]] = {}
    with loom.reader.connect() as c:
        loom.records._fetch(c, et, record_id, actor=actor)  # 404 unless the reader may read it
        nulls_large = c.dialect.name != "sqlite"
        for i, src in enumerate(declared):
            other = loom.entity_tables(app, src["entity"])
            hidden = perms.hidden(actor, other.entity)
            if not perms.allowed(actor, other.entity, "read") or src["link"] in hidden or src["date"] in hidden:
                continue
            out.sources.append(i)
            if state[i] == DONE:
                continue
            page = ListQuery(loom, other).run(c, [Filter(src["link"], "eq", record_id)], [], limit=size,
                                              after=state[i], actor=actor,
                                              view_sort=[f"-{src['date']}", "-id"])
            fetched[i] = ([dict(r) for r in page.items], page.next_cursor)
    merged = sorted(((i, row) for i, (rows, _) in fetched.items() for row in rows),
                    key=lambda item: _order(item, declared, et.entity.timezone, nulls_large))[:size]
    shown: dict[int, list] = {}
    for i, row in merged:
        shown.setdefault(i, []).append(row)
        out.entries.append(Entry(i, loom.entity_tables(app, declared[i]["entity"]).entity, row))
    following = list(state)
    for i, (rows, cursor) in fetched.items():
        taken = shown.get(i, [])
        if len(taken) == len(rows) and cursor is None:
            following[i] = DONE
        elif taken:
            last = taken[-1]
            following[i] = encode_cursor([last[declared[i]["date"]], last["id"]])
    # a source the reader does not see is not read; it counts as done for them
    for i in range(len(declared)):
        if i not in out.sources:
            following[i] = DONE
    if any(s != DONE for s in following):
        out.next = _encode(following)
    return out


def _order(item, declared: list[dict], zone: str, nulls_large: bool):
    """Newest first, as each source's own list orders it: by the instant of its date (a date is its
    first instant in the app's time zone), then by source, then the newest id. An empty date
    comes where that database puts it in a descending list (PostgreSQL first, SQLite last)."""
    i, row = item
    value = row.get(declared[i]["date"])
    if value is None:
        return (0 if nulls_large else 2, 0.0, i, -row["id"])
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(0), tzinfo=ZoneInfo(zone))
    return (1, -value.timestamp(), i, -row["id"])


def _encode(state: list) -> str:
    raw = json.dumps(state, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str | None, size: int) -> list:
    if not cursor:
        return [None] * size
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(state, list) or len(state) != size or not all(
                s is None or s == DONE or isinstance(s, str) for s in state):
            raise ValueError
        return state
    except (ValueError, TypeError):
        raise BadCursor("the cursor is not valid for this timeline; start from the first page", field="after") from None
