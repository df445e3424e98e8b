"""The terminal and the board of a queue (``/queue/<app>/<queue>/<place id>/terminal|board``)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from runtime.plugin_api import Forbidden, LoomError, NotFound, current_actor, current_platform, lang, login_required, tt

bp = Blueprint("queue", __name__, url_prefix="/queue", template_folder="templates")

DEFAULT_LABELS = {
    "terminal": {"ru": "Возьмите талон", "en": "Take a ticket"},
    "taken": {"ru": "Ваш талон", "en": "Your ticket"},
    "board": {"ru": "Электронная очередь", "en": "Electronic queue"},
    "window": {"ru": "Окно", "en": "Window"},
    "waiting": {"ru": "Ожидают", "en": "Waiting"},
}


def _queue(app: str, name: str) -> dict:
    section = current_platform().app_section(app, "queue") or {}
    spec = (section.get("queues") or {}).get(name)
    if spec is None:
        abort(404)
    return spec


def _labels(spec: dict) -> dict:
    return {k: tt((spec.get("labels") or {}).get(k) or v) for k, v in DEFAULT_LABELS.items()}


def _place(records, app: str, spec: dict, place: int) -> dict:
    model = current_platform().entity_model(app, spec["entity"])
    target = model.fields[spec["place"]].spec["entity"]
    try:
        return {"record": records.get(app, target, place), "title_field": current_platform().entity_model(
            app, target).title_field}
    except NotFound:
        abort(404)
    except Forbidden:  # a user without the app's role: nothing of its queue
        abort(403)


@bp.route("/<app>/<name>/<int:place>/terminal", methods=["GET", "POST"])
@login_required
def terminal(app, name, place):
    spec = _queue(app, name)
    records = current_platform().records(current_actor().username)
    office = _place(records, app, spec, place)
    model = current_platform().entity_model(app, spec["entity"])
    choices = [(c["value"], tt(c.get("title") or c["value"])) for c in _choices(model.fields[spec["choice"]].spec)]
    taken, error = None, None
    if request.method == "POST":
        value = request.form.get("choice")
        if value not in {v for v, _ in choices}:
            abort(400)
        data = {spec["place"]: place, spec["choice"]: value}
        if spec.get("source"):
            data[spec["source"]["field"]] = spec["source"]["value"]
        try:
            taken = records.create(app, spec["entity"], data)
        except LoomError as exc:
            error = str(exc)
    return render_template("queue/terminal.html", spec=spec, labels=_labels(spec), choices=choices, taken=taken,
                           error=error, office=office["record"].get(office["title_field"]), lang=lang())


@bp.route("/<app>/<name>/<int:place>/board")
@login_required
def board(app, name, place):
    spec = _queue(app, name)
    records = current_platform().records(current_actor().username)
    office = _place(records, app, spec, place)
    return render_template("queue/board.html", spec=spec, labels=_labels(spec), lang=lang(),
                           office=office["record"].get(office["title_field"]), app=app, name=name, place=place,
                           refresh=spec.get("refresh_seconds", 2), **_board_rows(records, app, spec, place))


@bp.route("/<app>/<name>/<int:place>/board/rows")
@login_required
def board_rows(app, name, place):
    spec = _queue(app, name)
    records = current_platform().records(current_actor().username)
    _place(records, app, spec, place)
    return render_template("queue/board_rows.html", labels=_labels(spec), **_board_rows(records, app, spec, place))


def _board_rows(records, app: str, spec: dict, place: int) -> dict:
    """The tickets called to a window, latest first, and how many are waiting."""
    called = records.find(app, spec["entity"], {spec["place"]: place, "status__in": spec["called"]},
                          sort=["-updated_at"], limit=10)
    model = current_platform().entity_model(app, spec["entity"])
    window_entity = model.fields[spec["window"]].spec["entity"]
    title_field = current_platform().entity_model(app, window_entity).title_field
    rows = []
    for ticket in called:
        window = ticket.get(spec["window"])
        title = ""
        if window:
            try:
                title = records.get(app, window_entity, window).get(title_field) or ""
            except NotFound:
                title = ""
        rows.append({"number": ticket.get(spec["number"]), "window": title})
    waiting = len(records.find(app, spec["entity"], {spec["place"]: place, "status__in": spec["waiting"]},
                               limit=500)) if spec.get("waiting") else None
    return {"rows": rows, "waiting": waiting}


def _choices(field_spec: dict) -> list[dict]:
    return [c if isinstance(c, dict) else {"value": str(c)} for c in field_spec.get("choices") or []]
