"""The terminal and the board of a queue (``/queue/<app>/<queue>/<place id>/terminal|board``),
and its appointments: the free slots as JSON (``.../slots``), the booking page (``.../book``,
for the call centre with ``?via=telephony`` and the terminal) and checking in at the terminal."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, jsonify, render_template, request

from runtime.plugin_api import (Forbidden, LoomError, NotFound, current_actor, current_platform, lang, login_required,
                                now, tt)

from . import booking
from .schema import booking_fields

bp = Blueprint("queue", __name__, url_prefix="/queue", template_folder="templates")

DEFAULT_LABELS = {
    "terminal": {"ru": "Возьмите талон", "en": "Take a ticket"},
    "taken": {"ru": "Ваш талон", "en": "Your ticket"},
    "board": {"ru": "Электронная очередь", "en": "Electronic queue"},
    "window": {"ru": "Окно", "en": "Window"},
    "waiting": {"ru": "Ожидают", "en": "Waiting"},
    "book": {"ru": "Запись на приём", "en": "Book an appointment"},
    "booked": {"ru": "Вы записаны", "en": "You are booked"},
    "code": {"ru": "Номер записи", "en": "Booking number"},
    "checkin": {"ru": "Я записан(а)", "en": "I have a booking"},
    "no_slots": {"ru": "Свободного времени на этот день нет", "en": "No free time on this day"},
    "free": {"ru": "свободно", "en": "free"},
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
    return _terminal_page(app, name, place, spec, office, choices, taken, error)


def _terminal_page(app, name, place, spec, office, choices, taken, error):
    return render_template("queue/terminal.html", spec=spec, labels=_labels(spec), choices=choices, taken=taken,
                           error=error, office=office["record"].get(office["title_field"]), lang=lang(),
                           booking=bool(spec.get("booking")), app=app, name=name, place=place)


@bp.post("/<app>/<name>/<int:place>/checkin")
@login_required
def checkin(app, name, place):
    """A visitor with a booking names its number at the terminal and gets the ticket."""
    spec = _queue(app, name)
    if not spec.get("booking"):
        abort(404)
    records = current_platform().records(current_actor().username)
    office = _place(records, app, spec, place)
    model = current_platform().entity_model(app, spec["entity"])
    choices = [(c["value"], tt(c.get("title") or c["value"])) for c in _choices(model.fields[spec["choice"]].spec)]
    taken, error = None, None
    try:
        taken = booking.check_in(current_platform(), records, app, spec, place, request.form.get("code", ""))
    except LoomError as exc:
        error = exc.detail
    return _terminal_page(app, name, place, spec, office, choices, taken, error)


def _booking_spec(app: str, name: str) -> dict:
    spec = _queue(app, name)
    if not spec.get("booking"):
        abort(404)
    return spec


def _day(value: str | None, app: str) -> dt.date:
    today = now().astimezone(current_platform().timezone(app)).date()
    if not value:
        return today
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        abort(400)


@bp.get("/<app>/<name>/<int:place>/slots")
@login_required
def slot_list(app, name, place):
    """The slots of a service (``?choice=``) on ``?days=`` days from ``?day=`` (today): JSON with
    each slot's ``start``, ``end``, ``capacity``, ``booked`` and ``free``."""
    spec = _booking_spec(app, name)
    records = current_platform().records(current_actor().username)
    _place(records, app, spec, place)
    choice = request.args.get("choice", "")
    model = current_platform().entity_model(app, spec["booking"]["entity"])
    if choice not in {c["value"] for c in _choices(model.fields[booking_fields(spec)["choice"]].spec)}:
        abort(400)
    try:
        days = max(1, min(int(request.args.get("days", 1)), 92))
    except ValueError:
        abort(400)
    found = booking.slots(current_platform(), records, app, spec, place, choice, _day(request.args.get("day"), app),
                          days)
    return jsonify({"place": place, "choice": choice, "slots": [
        {**s, "start": s["start"].isoformat(), "end": s["end"].isoformat()} for s in found]})


@bp.route("/<app>/<name>/<int:place>/book", methods=["GET", "POST"])
@login_required
def book_page(app, name, place):
    """Choose a service, a day and a free time; the booking is made as the signed-in user (an
    operator on the phone with ``?via=telephony``, the terminal with ``?via=terminal``)."""
    spec = _booking_spec(app, name)
    plat = current_platform()
    records = plat.records(current_actor().username)
    office = _place(records, app, spec, place)
    names, conf = booking_fields(spec), spec["booking"]
    model = plat.entity_model(app, conf["entity"])
    choices = [(c["value"], tt(c.get("title") or c["value"])) for c in _choices(model.fields[names["choice"]].spec)]
    choice = request.values.get("choice") or choices[0][0]
    if choice not in {v for v, _ in choices}:
        abort(400)
    via = request.values.get("via") or None
    if via is not None and (not conf.get("source") or via not in
                            {c["value"] for c in _choices(model.fields[conf["source"]].spec)}):
        abort(400)
    day, made, error = _day(request.values.get("day"), app), None, None
    if request.method == "POST":
        data = {names["place"]: place, names["choice"]: choice, names["start"]: request.form.get("start", "")}
        if via is not None:
            data[conf["source"]] = via
        try:
            made = booking.book(plat, records, app, spec, data)
        except LoomError as exc:
            error = exc.detail
    tz = plat.timezone(app)
    today = now().astimezone(tz).date()
    horizon = min(conf.get("days", booking.DEFAULT_DAYS), 14)
    ahead = booking.slots(plat, records, app, spec, place, choice, today, horizon)  # one read for the day buttons
    open_days = {s["start"].astimezone(tz).date() for s in ahead if s["free"]}
    days = [(d, d in open_days) for d in (today + dt.timedelta(days=i) for i in range(horizon))]
    found = [s for s in ahead if s["start"].astimezone(tz).date() == day] if today <= day < today + \
        dt.timedelta(days=horizon) else booking.slots(plat, records, app, spec, place, choice, day, 1)
    booked = None
    if made is not None:
        start = dt.datetime.fromisoformat(made[names["start"]]).astimezone(tz)
        booked = {"code": made[names["code"]], "when": start.strftime("%d.%m.%Y %H:%M"),
                  "service": dict(choices)[choice]}
    return render_template("queue/book.html", spec=spec, labels=_labels(spec), lang=lang(), app=app, name=name,
                           place=place, office=office["record"].get(office["title_field"]), choices=choices,
                           choice=choice, via=via, day=day, days=days, booked=booked, error=error,
                           slots=[{"start": s["start"].isoformat(), "label": s["start"].astimezone(tz).strftime("%H:%M"),
                                   "free": s["free"]} for s in found])


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
