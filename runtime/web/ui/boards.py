"""The kanban page (``/ui/<app>/<entity>/board/<view>``): columns and cards from
:func:`runtime.data.boards.board`, run as the user; dragging a card posts to ``.../move``, which
fires the transition that leads from the card's status to the column's, or answers the reason."""
from __future__ import annotations

from flask import jsonify, render_template, request, url_for

from runtime.data import boards
from runtime.errors import Conflict, Forbidden, LoomError, NotFound

from . import meta
from .base import actor, bp, loom
from .i18n import t, tt


def _board_view(ent, name: str) -> dict:
    try:
        view = ent.view(name)
    except KeyError:
        raise NotFound(f"{ent.name} has no view {name!r}") from None
    if view.get("kind") != "kanban":
        raise NotFound(f"view {name!r} of {ent.name} is not a kanban board")
    return view


@bp.get("/<app>/<entity>/board/<view_name>")
def board_view(app: str, entity: str, view_name: str):
    et = loom().entity_tables(app, entity)
    ent, who = et.entity, actor()
    loom().permissions.require(who, ent, "read")
    view = _board_view(ent, view_name)
    data = boards.board(loom(), et, view, who)
    fields = [ent.fields[k] for k in data["card"] if k in ent.fields and k != ent.title_field]
    return render_template("ui/board.html", app=app, entity=ent, view=view, data=data, fields=fields,
                           title_field=ent.title_field, tt=tt, meta=meta)


@bp.post("/<app>/<entity>/<int:record_id>/move")
def board_move(app: str, entity: str, record_id: int):
    """Move a card to the status column ``to``: 200 with the record, or 409/403 with the reason."""
    ent, who = loom().entity_tables(app, entity).entity, actor()
    target = request.form.get("to", "")
    version = request.form.get("row_version", "")
    record = loom().records.get(app, entity, record_id, who)
    tr = boards.move_for(ent, record.get("status"), target)
    if tr is None:
        return jsonify({"error": t("No transition leads from {a} to {b}",
                                   a=_status_title(ent, record.get("status")), b=_status_title(ent, target))}), 409
    if [n for n in tr.get("required", []) if record.get(n) in (None, "", [])]:
        return jsonify({"dialog": url_for("ui.record_view", app=app, entity=entity, record_id=record_id,
                                          transition=tr["name"])}), 409
    try:
        done = loom().workflow.transition(app, entity, record_id, tr["name"], {},
                                          int(version) if version.isdigit() else None, who)
    except (Conflict, Forbidden, NotFound) as exc:
        return jsonify({"error": exc.detail}), 403 if isinstance(exc, Forbidden) else 409
    except LoomError as exc:
        return jsonify({"error": exc.problem().get("detail") or str(exc)}), 409
    return jsonify({"id": record_id, "status": done.get("status"), "row_version": done.get("row_version")})


def _status_title(ent, name) -> str:
    for s in ent.statuses:
        if s["name"] == name:
            return tt(s.get("title") or name)
    return str(name)
