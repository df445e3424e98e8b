"""A kanban view's data: each column (and, with swimlanes, each cell of a lane and a column) is
the list query with one more view filter, run as the reader, so row rules, hidden fields,
capped counts and keyset cursors are a list's.

Swimlanes split the board into rows by a second field (``kanban.swimlanes``): a choice or a
boolean field has one lane per value, a user, group or link field one lane per value among
the newest :data:`LANE_SAMPLE` records on the board (at most :data:`MAX_LANES`), and records
without a value have the last lane. Moving a card changes its column (the status through a
transition, a choice field by an edit) and, across lanes, its lane field by an edit.
"""
from __future__ import annotations

from runtime.data.query import Filter, ListQuery

LANE_SAMPLE = 500
MAX_LANES = 20
NO_LANE = {"ru": "Без значения", "en": "No value"}
YES_NO = ((True, {"ru": "Да", "en": "Yes"}), (False, {"ru": "Нет", "en": "No"}))


def view_filters(view: dict) -> list[Filter]:
    return [Filter(f["field"], f.get("op", "eq"), f.get("value")) for f in view.get("filters", [])]


def board(loom, et, view: dict, actor, limit=None, column: str | None = None, after: str | None = None,
          lane=None) -> dict:
    """Columns with value, title, count, cards (the card fields ``actor`` may see) and a cursor;
    with swimlanes also ``lanes``, each with its cells per column (the columns then carry their
    counts and no cards). ``column``: that column only (of ``lane``, a lane's value as text,
    when the board has lanes), paged on from ``after``. Raises KeyError for an unknown column."""
    ent = et.entity
    spec = view["kanban"]
    group_by, swim = spec["group_by"], spec.get("swimlanes")
    for name in (group_by, swim):
        if name:
            loom.permissions.check_field_use(actor, ent, name, name)  # grouping would show a hidden field
    hidden = loom.permissions.hidden(actor, ent)
    keep = ["id", "number", "status", "row_version", group_by, swim, ent.title_field, *spec.get("card", [])]
    keep = [k for k in dict.fromkeys(keep) if k and k not in hidden]
    columns = ent.board_columns(view)
    if column is not None:
        columns = [c for c in columns if c[0] == column]
        if not columns:
            raise KeyError(column)
    size = limit or view.get("page_size", 20)
    out = {"view": view["name"], "group_by": group_by, "swimlanes": swim, "card": keep,
           "transitions": moves(ent) if group_by == "status" else []}
    with loom.reader.connect() as conn:
        def cell(value, extra=(), with_cards=True):
            page = ListQuery(loom, et).run(
                conn, [], [], limit=size if with_cards else 1, after=after if column is not None else None,
                count="capped", actor=actor, view_filters=view_filters(view) + [Filter(group_by, "eq", value), *extra],
                view_sort=list(view.get("sort", [])))
            cards = [{k: item[k] for k in keep if k in item} for item in loom.records.page_json(et, page.items, actor)]
            return {"value": value, "count": page.count, "count_exact": page.count_exact,
                    "cards": cards if with_cards else [], "next": page.next_cursor if with_cards else None}

        if not swim:
            out["columns"] = [{**cell(value), "title": title} for value, title in columns]
            return out
        out["columns"] = [{**cell(value, with_cards=False), "title": title} for value, title in columns]
        lanes = lane_values(loom, et, view, actor, conn)
        if lane is not None:
            lanes = [item for item in lanes if _text(item[0]) == lane]
            if not lanes:
                raise KeyError(lane)
        out["lanes"] = [{"value": value, "title": title,
                         "cells": [cell(col, [_lane_filter(swim, value)]) for col, _ in columns]}
                        for value, title in lanes]
    return out


def _lane_filter(swim: str, value) -> Filter:
    return Filter(swim, "isnull", True) if value is None else Filter(swim, "eq", value)


def _text(value) -> str:
    """A lane's value as it travels in a query string: ``""`` for the lane without a value."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def lane_values(loom, et, view: dict, actor, conn) -> list[tuple]:
    """The lanes as ``(value, title)``: a choice's or a boolean's values in order, or the values
    of a link among the newest records on the board (title ``None``: the caller names them);
    the lane without a value comes last."""
    f = et.entity.fields[view["kanban"]["swimlanes"]]
    if f.type == "choice":
        lanes = [(c.value, c.title or c.value) for c in f.choices]
    elif f.type == "boolean":
        lanes = list(YES_NO)
    else:
        page = ListQuery(loom, et).run(conn, [], [], limit=LANE_SAMPLE, actor=actor, view_filters=view_filters(view),
                                       view_sort=list(view.get("sort", [])))
        seen = dict.fromkeys(row[f.name] for row in page.items if row[f.name] is not None)
        lanes = [(value, None) for value in list(seen)[:MAX_LANES]]
    return lanes + [(None, NO_LANE)]


def moves(ent) -> list[dict]:
    return [{"name": tr["name"], "title": tr.get("title") or tr["name"], "to": tr["to"],
             "from": [tr["from"]] if isinstance(tr.get("from"), str) else list(tr.get("from") or [])}
            for tr in ent.spec.get("transitions", [])]


def move_for(ent, current: str, target: str, may=None) -> dict | None:
    """The transition a card moved from status ``current`` to ``target`` fires: of those that lead
    there from ``current`` (or from any status), the first one the person may fire (``may(tr)``),
    or the first of them when they may fire none, so the refusal says why."""
    leading = []
    for tr in ent.spec.get("transitions", []):
        sources = [tr["from"]] if isinstance(tr.get("from"), str) else list(tr.get("from") or [])
        if tr["to"] == target and (not sources or current in sources or "*" in sources):
            leading.append(tr)
    allowed = [tr for tr in leading if may is None or may(tr)]
    return (allowed or leading or [None])[0]
