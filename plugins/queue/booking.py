"""Appointments of a queue (``booking:`` in ``extensions/queue.yaml``): slots cut from each
place's reception hours, booked by records of an entity, checked in at the terminal for a ticket.

**Slots are computed, not stored.** A place (an office) has a schedule table, one row per
service: the calendar of ``sla.yaml`` whose working hours, holidays and time zone it receives
in (empty: the app's default), the slot length and the capacity (how many windows take bookings
for that service). A slot is a piece of a working interval, cut from the interval's start; one
that has begun is no longer offered. Changing the schedule changes the slots at once, and no
generated rows go stale.

**A booking holds a seat.** The booking entity's ``before_save`` hook calls
``book_slot(queue, record)`` (a script function of this plugin): it checks the slot is one the
schedule offers within ``days`` and not past, and returns the lowest seat (1..capacity) nobody
holds there. A unique index over (place, service, start, seat) is the guard: of two bookings
racing for the last seat, the database lets one in and refuses the other, whatever the
isolation level; the booking page tries once more for another seat. A booking in a ``free``
status (cancelled) holds no seat; an unchanged booking keeps its own.

**Arrival gives the ticket.** At the terminal a visitor names the booking's code; the
``arrive`` transition is fired and its hook makes the ticket, which the terminal shows. A booking
nobody checked in ``no_show.after_minutes`` after its slot began gets the ``no_show``
transition from a periodic job.
"""
from __future__ import annotations

import datetime as dt

from runtime.plugin_api import LoomError, NotFound, ValidationFailed, now

from .schema import booking_fields

DEFAULT_DAYS = 14
DEFAULT_MINUTES = 15


class BookingRefused(LoomError):
    """The slot asked for cannot be booked (not offered, past, or full)."""

    status, title = 422, "Booking refused"


def say(ru: str, en: str) -> str:
    """A message in the language of the request, Russian outside one."""
    try:
        from runtime.plugin_api import lang
        return en if lang() == "en" else ru
    except RuntimeError:  # no request: a job
        return ru


def queue_spec(platform, app: str, name: str) -> dict:
    spec = ((platform.app_section(app, "queue") or {}).get("queues") or {}).get(name)
    if spec is None or not spec.get("booking"):
        raise NotFound(f"app {app!r} has no queue {name!r} with booking")
    return spec


def _instant(value) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat()


def place_entity(platform, app: str, spec: dict) -> str:
    names = booking_fields(spec)
    return platform.entity_model(app, spec["booking"]["entity"]).fields[names["place"]].spec["entity"]


def offered(platform, records, app: str, spec: dict, place_id: int, choice: str, first: dt.date,
            days: int) -> dict[dt.datetime, list]:
    """The slots the schedule of place ``place_id`` offers for ``choice`` on ``days`` days from
    ``first`` (local dates), not begun yet and within the booking horizon: ``{start: [end, capacity]}``."""
    booking, names = spec["booking"], booking_fields(spec)
    schedule = booking["schedule"]
    place = records.get(app, place_entity(platform, app, spec), place_id)
    tz = platform.timezone(app)
    moment = now()
    today = moment.astimezone(tz).date()
    last = min(first + dt.timedelta(days=days), today + dt.timedelta(days=booking.get("days", DEFAULT_DAYS)))
    lo = dt.datetime.combine(max(first, today), dt.time.min, tz)
    hi = dt.datetime.combine(last, dt.time.min, tz)
    column = schedule.get("choice", names["choice"])
    out: dict[dt.datetime, list] = {}
    for row in place.get(schedule["table"]) or []:
        if row.get(column) != choice:
            continue
        capacity = int(row.get(schedule["capacity"]) or 0) if schedule.get("capacity") else 1
        minutes = int((row.get(schedule["minutes"]) if schedule.get("minutes") else None)
                      or schedule.get("slot_minutes", DEFAULT_MINUTES))
        if capacity <= 0 or minutes <= 0:
            continue
        step = dt.timedelta(minutes=minutes)
        calendar = platform.calendar(app, (row.get(schedule["calendar"]) if schedule.get("calendar") else None) or None)
        for a, b in calendar.intervals(lo, hi):
            start = a
            while start + step <= b:
                if start >= moment:
                    slot = out.setdefault(start, [start + step, 0])
                    slot[1] += capacity
                start += step
    return out


def held(records, app: str, spec: dict, place_id: int, choice: str, lo: dt.datetime, hi: dt.datetime,
         but: int | None = None) -> dict[dt.datetime, set]:
    """The seats bookings hold in ``[lo, hi)``: ``{start: {seat, ...}}`` (but booking ``but``'s)."""
    booking, names = spec["booking"], booking_fields(spec)
    where = {names["place"]: place_id, names["choice"]: choice, f"{names['start']}__gte": _iso(lo),
             f"{names['start']}__lt": _iso(hi), f"{names['seat']}__notnull": 1}
    if but is not None:
        where["id__ne"] = but
    out: dict[dt.datetime, set] = {}
    for found in records.find(app, booking["entity"], where, limit=10000):
        out.setdefault(_instant(found[names["start"]]), set()).add(found[names["seat"]])
    return out


def slots(platform, records, app: str, spec: dict, place_id: int, choice: str, first: dt.date,
          days: int = 1) -> list[dict]:
    """The slots of ``days`` days from ``first``: ``start``, ``end``, ``capacity``, ``booked``, ``free``."""
    found = offered(platform, records, app, spec, place_id, choice, first, days)
    if not found:
        return []
    taken = held(records, app, spec, place_id, choice, min(found), max(found) + dt.timedelta(seconds=1))
    return [{"start": start, "end": end, "capacity": capacity, "booked": len(taken.get(start, ())),
             "free": max(capacity - len(taken.get(start, ())), 0)}
            for start, (end, capacity) in sorted(found.items())]


def book_slot(call, queue: str, record) -> int | None:
    """Script function: the seat a booking takes at its slot (``record.seat = book_slot("q", record)``
    in the booking entity's ``before_save``); ``None`` in a ``free`` status. Refuses, naming the
    slot, a time the schedule does not offer, a past or too distant one, and a full slot."""
    platform, records, app = call.platform, call.records, call.app
    spec = queue_spec(platform, app, queue)
    booking, names = spec["booking"], booking_fields(spec)
    if record.get("status") in (booking.get("free") or ()):
        return None
    place, choice, start = record.get(names["place"]), record.get(names["choice"]), _instant(record.get(names["start"]))
    if place is None or not choice or start is None:
        raise BookingRefused(say("Выберите офис, услугу и время записи", "Choose the office, the service and the time"))
    record_id = record.get("id")
    if record_id is not None:
        stored = records.get(app, booking["entity"], record_id)
        if (stored[names["seat"]] is not None and stored[names["place"]] == place
                and stored[names["choice"]] == choice and _instant(stored[names["start"]]) == start):
            return stored[names["seat"]]  # the same slot: the seat it holds
    tz = platform.timezone(app)
    when = start.astimezone(tz).strftime("%d.%m.%Y %H:%M")
    slot = offered(platform, records, app, spec, place, choice, start.astimezone(tz).date(), 1).get(start)
    if slot is None:
        raise BookingRefused(say(f"На {when} запись не ведётся: выберите свободное время по графику приёма",
                                 f"No appointments at {when}: choose a free time of the reception hours"))
    taken = held(records, app, spec, place, choice, start, start + dt.timedelta(seconds=1), but=record_id)
    free = [seat for seat in range(1, slot[1] + 1) if seat not in taken.get(start, set())]
    if not free:
        raise BookingRefused(say(f"Время {when} уже занято: выберите другое", f"{when} is taken: choose another time"))
    return free[0]


def book(platform, records, app: str, spec: dict, data: dict) -> dict:
    """Create a booking (the record service as the page's user); a race lost to another booking
    of the last seat read is tried once more, and then refused as the slot's being full."""
    entity = spec["booking"]["entity"]
    try:
        return records.create(app, entity, data)
    except ValidationFailed:  # the unique index: someone took the seat meanwhile
        return records.create(app, entity, data)


def check_in(platform, records, app: str, spec: dict, place_id: int, code: str) -> dict:
    """The visitor at the terminal names their booking: fire ``arrive`` (its hook makes the
    ticket) and return the ticket. Only today's bookings of this place; checking in twice shows
    the same ticket."""
    booking, names = spec["booking"], booking_fields(spec)
    entity = booking["entity"]
    code = (code or "").strip()
    found = records.find(app, entity, {names["code"]: code, names["place"]: place_id}, limit=2) if code else []
    if len(found) != 1:
        raise BookingRefused(say(f"Запись {code} не найдена в этом офисе", f"No booking {code} at this office"))
    record = found[0]
    ticket_field = booking.get("ticket")
    if ticket_field and record.get(ticket_field):
        return records.get(app, spec["entity"], record[ticket_field])
    tz = platform.timezone(app)
    start = _instant(record[names["start"]])
    if start.astimezone(tz).date() != now().astimezone(tz).date():
        raise BookingRefused(say(f"Запись {code} — на {start.astimezone(tz):%d.%m.%Y %H:%M}",
                                 f"Booking {code} is for {start.astimezone(tz):%d.%m.%Y %H:%M}"))
    if not booking.get("arrive") or not ticket_field:
        raise BookingRefused(say("Регистрация по записи не настроена", "Checking in is not set up"))
    done = records.transition(app, entity, record["id"], booking["arrive"])
    if not done.get(ticket_field):
        raise BookingRefused(say("Талон по записи не выдан", "No ticket was made for the booking"))
    return records.get(app, spec["entity"], done[ticket_field])


def no_shows(platform) -> dict:
    """The periodic job: bookings not checked in ``after_minutes`` after their slot began get the
    ``no_show`` transition (as the system)."""
    records, moved = platform.records(), 0
    for app in platform.apps():
        for spec in ((platform.app_section(app, "queue") or {}).get("queues") or {}).values():
            booking = spec.get("booking") or {}
            rule = booking.get("no_show")
            if not rule:
                continue
            model = platform.entity_model(app, booking["entity"])
            transition = next(t for t in model.spec.get("transitions", []) if t["name"] == rule["transition"])
            sources = transition["from"] if isinstance(transition["from"], list) else [transition["from"]]
            cutoff = now() - dt.timedelta(minutes=rule.get("after_minutes", 15))
            names = booking_fields(spec)
            for found in records.find(app, booking["entity"], {f"{names['start']}__lt": _iso(cutoff),
                                                                "status__in": sources}, limit=1000):
                try:
                    records.transition(app, booking["entity"], found["id"], rule["transition"])
                    moved += 1
                except LoomError:  # changed meanwhile (checked in): the next run sees it as it is
                    continue
    return {"no_shows": moved}


def wants_no_shows(platform) -> bool:
    return any(((spec.get("booking") or {}).get("no_show"))
               for app in platform.apps()
               for spec in ((platform.app_section(app, "queue") or {}).get("queues") or {}).values())
