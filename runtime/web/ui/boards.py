"""The kanban page (``/ui/<app>/<entity>/board/<view>``): columns (and swimlanes) of cards from
:func:`runtime.data.boards.board`, run as the user; dragging a card posts to ``.../move``: a
status column fires the transition that leads there from the card's status, a choice column or
another lane is an edit of that field. Either way the record's permissions decide, and a refusal
comes back with its reason."""
from __future__ import annotations

from flask import jsonify, render_template, request, url_for

from runtime.data import boards
from runtime.errors import LoomError, NotFound

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


def _cards(data):
    for col in data["columns"]:
        yield from col["cards"]
    for lane in data.get("lanes", []):
        for cell in lane["cells"]:
            yield from cell["cards"]


@bp.get("/<app>/<entity>/board/<view_name>")
def board_view(app: str, entity: str, view_name: str):
    et = loom().entity_tables(app, entity)
    ent, who = et.entity, actor()
    loom().permissions.require(who, ent, "read")
    view = _board_view(ent, view_name)
    data = boards.board(loom(), et, view, who)
    fields = [ent.fields[k] for k in data["card"]
              if k in ent.fields and k not in (ent.title_field, data["group_by"], data["swimlanes"])]
    titles = meta.Titles(loom(), who)
    swim = ent.fields.get(data["swimlanes"] or "")
    for card in _cards(data):
        for f in fields:
            titles.want(f, card.get(f.name))
    for lane in data.get("lanes", []):
        titles.want(swim, lane["value"])
    titles.load()
    for lane in data.get("lanes", []):
        lane["text"] = tt(lane["title"]) if lane["title"] is not None else meta.display(swim, lane["value"], titles).text
        lane["key"] = boards._text(lane["value"])
    group_field = ent.fields.get(data["group_by"])
    return render_template("ui/board.html", app=app, entity=ent, view=view, data=data, fields=fields,
                           title_field=ent.title_field, tt=tt, meta=meta, titles=titles,
                           list_url=lambda value: _list_url(app, ent, view, data["group_by"], value),
                           group_field=group_field)


def _list_url(app, ent, view, group_by, value) -> str:
    """The list of a column's records (all of them, where the board shows its first cards)."""
    args = {f"{f['field']}__{f.get('op', 'eq')}" if f.get("op", "eq") != "eq" else f["field"]:
            ",".join(map(str, f["value"])) if isinstance(f.get("value"), list) else f.get("value")
            for f in view.get("filters", [])}
    args[group_by] = value
    return url_for("ui.list_view", app=app, entity=ent.name, **args)


@bp.post("/<app>/<entity>/<int:record_id>/move")
def board_move(app: str, entity: str, record_id: int):
    """Move a card to the column ``to`` (and, on a board with swimlanes, the lane ``lane``) of the
    board ``view``: 200 with the record's new status and row version, or 409/403 with the reason."""
    ent, who = loom().entity_tables(app, entity).entity, actor()
    view = _board_view(ent, request.form.get("view", ""))
    group_by, swim = view["kanban"]["group_by"], view["kanban"].get("swimlanes")
    target = request.form.get("to", "")
    version = request.form.get("row_version", "")
    version = int(version) if version.isdigit() else None
    try:
        record = loom().records.get(app, entity, record_id, who)
        changes = {}
        if swim and "lane" in request.form:
            lane = request.form["lane"]
            changes[swim] = _lane_value(ent.fields[swim], lane)
        if group_by != "status" and target != str(record.get(group_by)):
            changes[group_by] = target
        if changes and any(record.get(k) != v for k, v in changes.items()):
            record = loom().records.update(app, entity, record_id, changes, version, who)
            version = record.get("row_version")
        if group_by == "status" and target != record.get("status"):
            tr = boards.move_for(ent, record.get("status"), target,
                                 may=lambda tr: loom().workflow.may_fire(who, ent, tr))
            if tr is None:
                return jsonify({"error": t("No transition leads from {a} to {b}",
                                           a=_status_title(ent, record.get("status")),
                                           b=_status_title(ent, target))}), 409
            if [n for n in tr.get("required", []) if record.get(n) in (None, "", [])]:
                return jsonify({"dialog": url_for("ui.record_view", app=app, entity=entity, record_id=record_id,
                                                  transition=tr["name"])}), 409
            record = loom().workflow.transition(app, entity, record_id, tr["name"], {}, version, who)
    except LoomError as exc:
        problem = exc.problem()
        reason = problem.get("detail") or str(exc)
        if problem.get("errors"):
            reason = "; ".join(f"{e.get('field', '')}: {e.get('message', '')}" for e in problem["errors"])
        return jsonify({"error": reason}), 403 if problem.get("status") == 403 else 409
    return jsonify({"id": record_id, "status": record.get("status"), "row_version": record.get("row_version")})


def _lane_value(f, text: str):
    """A lane's value from its text in the form (``""``: no value)."""
    if text == "":
        return None
    if f.type == "boolean":
        return text == "true"
    if f.value_type in ("user", "group", "link"):
        return int(text) if text.isdigit() else text
    return text


def _status_title(ent, name) -> str:
    for s in ent.statuses:
        if s["name"] == name:
            return tt(s.get("title") or name)
    return str(name)
