"""The record timeline (an entity's ``timeline:``, docs/metadata.md "Timeline"): JSON for the API
and the record page's section, and a page of its own that goes further back, page by page.

Each entry says when, which process (the source's title), through which channel, in which status,
and links to its record; what the reader may not see is not there (runtime.data.timeline).
"""
from __future__ import annotations

import datetime as dt

from flask import render_template, request, url_for
from flask_babel import format_date

from runtime.data.query import BadQuery
from runtime.data.timeline import record_timeline
from runtime.data.values import to_json
from runtime.errors import NotFound

from . import meta
from .base import actor, bp, loom
from .i18n import fmt_datetime, t, tt


def timeline_json(app: str, entity: str, record_id: int, who, limit=None, after: str | None = None) -> dict:
    """``{title, items: [{date, entity, process, id, number, title, channel, channel_title, status,
    status_title, summary, url}], next}``, newest first; ``next`` is the cursor of the page after."""
    ent = loom().entity_tables(app, entity).entity
    if "timeline" not in ent.spec:
        raise NotFound(f"{entity} declares no timeline")
    page = record_timeline(loom(), app, entity, record_id, who, limit, after)
    sources = ent.spec["timeline"]["sources"]
    titles = meta.Titles(loom(), who)
    hidden_in = {i: loom().permissions.hidden(who, loom().entity_tables(app, sources[i]["entity"]).entity)
                 for i in page.sources}
    shown = []
    for e in page.entries:
        src, hidden = sources[e.source], hidden_in[e.source]
        fields = {key: meta.column_field(e.entity, src[key]) for key in ("channel", "summary")
                  if src.get(key) and src[key] not in hidden}
        for key, f in fields.items():
            if f is not None:
                titles.want(f, e.row.get(f.name))
        shown.append((e, src, fields, hidden))
    titles.load()
    items = []
    for e, src, fields, hidden in shown:
        row, other = e.row, e.entity
        date = row.get(src.get("date") or "created_at")
        channel, summary = fields.get("channel"), fields.get("summary")
        status = row.get("status") if other.statuses else None
        title = row.get(other.title_field) if other.title_field not in hidden else None
        items.append({
            "date": to_json(date), "entity": other.name, "process": tt(src.get("title") or other.title),
            "id": row["id"], "number": row.get("number"),
            "title": str(title if title is not None else row.get("number") or f"#{row['id']}"),
            "channel": to_json(row.get(channel.name)) if channel is not None else None,
            "channel_title": meta.display(channel, row.get(channel.name), titles).text if channel is not None else "",
            "status": status, "status_title": meta.status_title(other, status) if status else "",
            "status_category": meta.status_category(other, status) if status else "",
            "summary": meta.display(summary, row.get(summary.name), titles).text if summary is not None else "",
            "url": url_for("ui.record_view", app=app, entity=other.name, record_id=row["id"]),
            "_date": date,
        })
    return {"title": tt(ent.spec["timeline"].get("title")) or t("History across processes"),
            "items": items, "next": page.next}


def public(data: dict) -> dict:
    """The JSON without the page's own helpers."""
    return {**data, "items": [{k: v for k, v in item.items() if not k.startswith("_")} for item in data["items"]]}


def for_record(ent, record_id: int) -> dict | None:
    """What the record page shows: the first page, with the address of the rest."""
    if "timeline" not in ent.spec:
        return None
    data = _shown(timeline_json(ent.app, ent.name, record_id, actor()))
    if data["next"]:
        data["more_url"] = url_for("ui.record_timeline", app=ent.app, entity=ent.name, record_id=record_id,
                                   after=data["next"])
    data["url"] = url_for("ui.record_timeline", app=ent.app, entity=ent.name, record_id=record_id)
    return data


def _shown(data: dict) -> dict:
    """Dates as the page shows them: a date and time, or a date alone, both short, so they line up."""
    for item in data["items"]:
        value = item["_date"]
        item["date_text"] = fmt_datetime(value) if isinstance(value, dt.datetime) else (
            format_date(value, "short") if value is not None else "")
    return data


@bp.get("/<app>/<entity>/<int:record_id>/timeline", endpoint="record_timeline")
def record_timeline_view(app: str, entity: str, record_id: int):
    """The timeline as a page of its own, ``?after=`` going further back."""
    et = loom().entity_tables(app, entity)
    record = loom().records.get(app, entity, record_id, actor())
    try:
        data = _shown(timeline_json(app, entity, record_id, actor(), after=request.args.get("after") or None))
    except BadQuery as exc:  # a cursor from another timeline, or typed by hand
        return render_template("ui/error.html", message=exc.detail), exc.status
    if data["next"]:
        data["more_url"] = url_for("ui.record_timeline", app=app, entity=entity, record_id=record_id,
                                   after=data["next"])
    number, title = record.get("number"), record.get(et.entity.title_field)
    heading = f"{number} · {title}" if title and number and et.entity.title_field != "number" else str(title or number)
    return render_template("ui/timeline.html", app=app, entity=et.entity, record=record, heading=heading,
                           timeline=data, first=not request.args.get("after"))
