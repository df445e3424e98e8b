"""A kanban view's data: each column is the list query with one more view filter, run as the
reader, so row rules, hidden fields, capped counts and keyset cursors are a list's."""
from __future__ import annotations

from runtime.data.query import Filter, ListQuery


def view_filters(view: dict) -> list[Filter]:
    return [Filter(f["field"], f.get("op", "eq"), f.get("value")) for f in view.get("filters", [])]


def board(loom, et, view: dict, actor, limit=None, column: str | None = None, after: str | None = None) -> dict:
    """Columns with value, title, count, cards (the card fields ``actor`` may see) and a cursor.
    ``column``: that column only, paged on from ``after``. Raises KeyError for an unknown column."""
    ent = et.entity
    group_by = view["kanban"]["group_by"]
    loom.permissions.check_field_use(actor, ent, group_by, group_by)  # grouping would show a hidden field
    hidden = loom.permissions.hidden(actor, ent)
    keep = ["id", "number", "status", "row_version", group_by, ent.title_field, *view["kanban"].get("card", [])]
    keep = [k for k in dict.fromkeys(keep) if k not in hidden]
    columns = ent.board_columns(view)
    if column is not None:
        columns = [c for c in columns if c[0] == column]
        if not columns:
            raise KeyError(column)
    out = []
    with loom.reader.connect() as conn:
        for value, title in columns:
            page = ListQuery(loom, et).run(
                conn, [], [], limit=limit or view.get("page_size", 20), after=after if column is not None else None,
                count="capped", actor=actor, view_filters=view_filters(view) + [Filter(group_by, "eq", value)],
                view_sort=list(view.get("sort", [])))
            cards = [{k: item[k] for k in keep if k in item} for item in loom.records.page_json(et, page.items, actor)]
            out.append({"value": value, "title": title, "count": page.count, "count_exact": page.count_exact,
                        "cards": cards, "next": page.next_cursor})
    return {"view": view["name"], "group_by": group_by, "card": keep, "columns": out,
            "transitions": moves(ent) if group_by == "status" else []}


def moves(ent) -> list[dict]:
    return [{"name": tr["name"], "title": tr.get("title") or tr["name"], "to": tr["to"],
             "from": [tr["from"]] if isinstance(tr.get("from"), str) else list(tr.get("from") or [])}
            for tr in ent.spec.get("transitions", [])]


def move_for(ent, current: str, target: str) -> dict | None:
    """The transition a card moved from status ``current`` to ``target`` fires: the first that
    leads there from ``current`` (or from any status when ``from`` is left out)."""
    for tr in ent.spec.get("transitions", []):
        sources = [tr["from"]] if isinstance(tr.get("from"), str) else list(tr.get("from") or [])
        if tr["to"] == target and (not sources or current in sources or "*" in sources):
            return tr
    return None
