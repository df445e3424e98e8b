"""The JSON Schema of ``extensions/queue.yaml`` and the checks a schema cannot make."""
from __future__ import annotations

from runtime.plugin_api import titled

_title = {"oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}}]}
_name = {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"}

BOOKING = {
    "type": "object",
    "additionalProperties": False,
    "required": ["entity", "start", "seat", "schedule"],
    **titled("Запись на приём", "Appointments", "запись на приём: слоты из расписания офиса, бронируемые записями сущности",
             "appointments: slots cut from the place's schedule, booked by records of an entity"),
    "properties": {
        "entity": {**_name, **titled("Сущность записей", "Booking entity", "сущность, записи которой — записи на приём",
                                     "the entity whose records are the bookings")},
        "place": {**_name, **titled("Ссылка на офис", "Place link", "её ссылка на офис (по умолчанию — поле офиса очереди)",
                                    "its link to the place (default: the queue's place field name)")},
        "choice": {**_name, **titled("Поле услуги", "Service field", "её поле выбора услуги (по умолчанию — поле услуги очереди)",
                                     "its choice field of the service (default: the queue's choice field name)")},
        "start": {**_name, **titled("Поле времени слота", "Slot time field", "её поле даты и времени: забронированный слот",
                                    "its datetime field: the slot booked")},
        "seat": {**_name, **titled("Поле места в слоте", "Seat field",
                                   "её целое поле с номером места в слоте; уникальный индекс [офис, услуга, время, место] "
                                   "исключает двойную запись",
                                   "its integer field the slot's place is kept in; a unique index "
                                   "[place, choice, start, seat] makes a double booking impossible")},
        "code": {**_name, **titled("Поле кода записи", "Booking code field",
                                   "поле, которое посетитель называет на терминале, чтобы отметиться (по умолчанию номер)",
                                   "the field a visitor names at the terminal to check in (default: number)")},
        "source": {**_name, **titled("Поле канала записи", "Booking channel field",
                                     "поле выбора, которое страница записи заполняет из ?via= (телефон, терминал)",
                                     "a choice field the booking page fills with its ?via= (telephony, terminal)")},
        "arrive": {**_name, **titled("Переход «пришёл»", "Arrival transition",
                                     "переход, отмечающий приход по записи (его хук выдаёт талон)",
                                     "the transition that checks a booking in (its hook makes the ticket)")},
        "ticket": {**_name, **titled("Ссылка на талон", "Ticket link", "ссылка записи на талон, выданный при приходе",
                                     "the booking's link to the ticket its arrival made")},
        "free": {"type": "array", "items": {"type": "string"},
                 **titled("Статусы без места", "Statuses holding no seat",
                          "статусы, в которых запись не занимает место (отменена)",
                          "statuses whose bookings hold no seat (cancelled)")},
        "days": {"type": "integer", "minimum": 1, "maximum": 92,
                 **titled("Дней вперёд", "Days ahead", "на сколько дней вперёд предлагаются слоты",
                          "how many days ahead slots are offered")},
        "no_show": {"type": "object", "additionalProperties": False, "required": ["transition"], "properties": {
            "transition": {**_name, **titled("Переход «не пришёл»", "No-show transition")},
            "after_minutes": {"type": "integer", "minimum": 0, "maximum": 1440,
                              **titled("Через сколько минут", "After minutes")}},
            **titled("Неявка", "No-show", "запись, по которой не отметились столько минут после начала слота, получает этот переход",
                     "a booking not checked in this long after its slot began gets this transition")},
        "schedule": {
            "type": "object", "additionalProperties": False, "required": ["table"],
            **titled("Часы приёма", "Reception hours",
                     "часы приёма офиса: табличное поле сущности офиса, по строке на услугу",
                     "the place's reception hours: a table field of the place entity, one row per service"),
            "properties": {
                "table": {**_name, **titled("Табличное поле", "Table field", "табличное поле сущности офиса",
                                            "the place entity's table field")},
                "choice": {**_name, **titled("Колонка услуги", "Service column",
                                             "её колонка с услугой (по умолчанию — поле услуги записи)",
                                             "its column naming the service (default: the booking's choice)")},
                "calendar": {**_name, **titled("Колонка календаря", "Calendar column",
                                               "её колонка с календарём из sla.yaml (пусто — календарь приложения по умолчанию)",
                                               "its column naming a calendar of sla.yaml (empty: the app's default)")},
                "minutes": {**_name, **titled("Колонка длины слота", "Slot length column",
                                              "её целая колонка: длина слота в минутах",
                                              "its integer column: a slot's length in minutes")},
                "capacity": {**_name, **titled("Колонка вместимости", "Capacity column",
                                               "её целая колонка: сколько записей вмещает слот (окна)",
                                               "its integer column: bookings one slot takes (windows)")},
                "slot_minutes": {"type": "integer", "minimum": 5, "maximum": 480,
                                 **titled("Длина слота, мин", "Slot length, min",
                                          "длина слота, если колонка её не задаёт (по умолчанию 15)",
                                          "a slot's length when no column gives it (default 15)")},
            },
        },
    },
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["queues"],
    "properties": {"queues": {"type": "object", "propertyNames": {"pattern": r"^[a-z][a-z0-9_]*$"},
                              **titled("Очереди", "Queues"), "minProperties": 1, "additionalProperties": {
        "type": "object",
        "required": ["entity", "place", "choice", "number", "window", "called"],
        "additionalProperties": False,
        "properties": {
            "entity": {"type": "string", **titled("Сущность талонов", "Ticket entity", "сущность, записи которой — "
                                                  "талоны", "the entity whose records are the tickets")},
            "place": {"type": "string", **titled("Ссылка на офис", "Office link", "её ссылка на офис, где стоят "
                                                 "терминал и табло", "its link to the office a terminal and a board stand in")},
            "choice": {"type": "string", **titled("Поле услуги", "Service field", "поле выбора: по кнопке терминала "
                                                  "на каждый вариант", "a choice field: one terminal button per choice")},
            "number": {"type": "string", **titled("Поле номера талона", "Ticket number field", "поле, которое печатает "
                                                  "терминал и показывает табло",
                                                  "the field the terminal prints and the board shows")},
            "window": {"type": "string", **titled("Ссылка на окно", "Window link", "её ссылка на окно, к которому "
                                                  "вызывают талон", "its link to the window a ticket is called to")},
            "called": {"type": "array", "minItems": 1, "items": {"type": "string"},
                       **titled("Статусы вызова", "Called statuses", "статусы, в которых талон виден на табло",
                                "statuses in which a ticket is on the board")},
            "waiting": {"type": "array", "items": {"type": "string"},
                        **titled("Статусы ожидания", "Waiting statuses", "статусы, которые считаются ожиданием",
                                 "statuses counted as waiting")},
            "source": {"type": "object", "additionalProperties": False, "required": ["field", "value"],
                       "properties": {"field": {"type": "string", **titled("Поле", "Field")},
                                      "value": {"type": "string", **titled("Значение", "Value")}},
                       **titled("Отметка терминала", "Terminal mark", "поле, которое терминал заполняет в каждом "
                                "выданном талоне", "a field the terminal fills on each ticket it takes")},
            "labels": {"type": "object", "additionalProperties": _title,
                       **titled("Надписи страниц", "Page labels", "надписи страниц: terminal, taken, board, window, "
                                "waiting", "the pages' words: terminal, taken, board, window, waiting")},
            "refresh_seconds": {"type": "integer", "minimum": 1, "maximum": 60,
                                **titled("Обновление табло, с", "Board refresh, s")},
            "booking": BOOKING,
        },
    }}},
}


def check(section: dict, doc: dict):
    """The entity and its fields exist with fitting types; the statuses exist."""
    entities = doc.get("entities") or {}
    for name, spec in (section.get("queues") or {}).items():
        where = ("queues", name)
        entity = entities.get(spec["entity"])
        if entity is None:
            yield where + ("entity",), f"no entity {spec['entity']!r} in this app; known: {sorted(entities)}", 0
            continue
        fields = entity.get("fields") or {}
        wanted = {"place": ("link",), "choice": ("choice",), "number": ("string",), "window": ("link",)}
        for key, types in wanted.items():
            kind = (fields.get(spec[key]) or {}).get("type")
            if kind not in types:
                yield where + (key,), (f"{spec[key]!r} is a {kind} field, expected {' or '.join(types)}" if kind
                                       else f"entity {spec['entity']!r} has no field {spec[key]!r}"), 0
        statuses = {s.get("name") for s in entity.get("statuses") or []}
        for key in ("called", "waiting"):
            for i, status in enumerate(spec.get(key) or []):
                if status not in statuses:
                    yield where + (key, i), f"no status {status!r}; statuses: {sorted(statuses)}", 0
        source = spec.get("source")
        if source and source["field"] not in fields:
            yield where + ("source", "field"), f"entity {spec['entity']!r} has no field {source['field']!r}", 0
        if spec.get("booking"):
            yield from check_booking(where, spec, doc)


def booking_fields(spec: dict) -> dict:
    """The booking's field names, with the queue's as defaults."""
    booking = spec["booking"]
    return {"place": booking.get("place", spec["place"]), "choice": booking.get("choice", spec["choice"]),
            "start": booking["start"], "seat": booking["seat"], "code": booking.get("code", "number")}


def check_booking(where: tuple, spec: dict, doc: dict):
    """The booking entity, its fields, index, hook, statuses and transitions, and the schedule
    table of the place entity exist and fit."""
    booking = spec["booking"]
    entities = doc.get("entities") or {}
    here = where + ("booking",)
    entity = entities.get(booking["entity"])
    if entity is None:
        yield here + ("entity",), f"no entity {booking['entity']!r} in this app; known: {sorted(entities)}", 0
        return
    fields, names = entity.get("fields") or {}, booking_fields(spec)
    wanted = {"place": ("link",), "choice": ("choice",), "start": ("datetime",), "seat": ("integer",)}
    for key, types in wanted.items():
        kind = (fields.get(names[key]) or {}).get("type")
        if kind not in types:
            yield here + ((key,) if key in booking else ("entity",)), (
                f"{names[key]!r} is a {kind} field of {booking['entity']!r}, expected {types[0]}" if kind
                else f"entity {booking['entity']!r} has no field {names[key]!r}"), 0
    source = fields.get(booking.get("source") or "") if booking.get("source") else {"type": "choice"}
    if (source or {}).get("type") != "choice":
        yield here + ("source",), f"{booking['source']!r} must be a choice field of {booking['entity']!r}", 0
    if names["code"] != "number" and names["code"] not in fields:
        yield here + ("code",), f"entity {booking['entity']!r} has no field {names['code']!r}", 0
    key = {names["place"], names["choice"], names["start"], names["seat"]}
    unique = [set(i["fields"]) for i in entity.get("indexes") or [] if isinstance(i, dict) and i.get("unique")]
    if key not in unique:
        yield here + ("seat",), (f"add a unique index to {booking['entity']!r} so a slot's place is taken once: "
                                 f"indexes: [{{fields: [{', '.join(sorted(key))}], unique: true}}]"), 0
    if not (entity.get("hooks") or {}).get("before_save"):
        yield here + ("entity",), (f"{booking['entity']!r} needs a before_save hook that takes the slot's place: "
                                   f"record.{names['seat']} = book_slot(<queue>, record)"), 0
    statuses = {s.get("name") for s in entity.get("statuses") or []}
    transitions = {t.get("name"): t for t in entity.get("transitions") or []}
    for i, status in enumerate(booking.get("free") or []):
        if status not in statuses:
            yield here + ("free", i), f"no status {status!r}; statuses: {sorted(statuses)}", 0
    for path, name in ((("arrive",), booking.get("arrive")),
                       (("no_show", "transition"), (booking.get("no_show") or {}).get("transition"))):
        if name is not None and name not in transitions:
            yield here + path, f"{booking['entity']!r} has no transition {name!r}; transitions: {sorted(transitions)}", 0
    if booking.get("ticket"):
        link = fields.get(booking["ticket"]) or {}
        if link.get("type") != "link" or link.get("entity") != spec["entity"]:
            yield here + ("ticket",), f"{booking['ticket']!r} must be a link of {booking['entity']!r} to {spec['entity']!r}", 0
    place = (fields.get(names["place"]) or {}).get("entity")
    yield from _check_schedule(here + ("schedule",), booking["schedule"], place, entities.get(place) or {}, names, doc)


def _check_schedule(here: tuple, schedule: dict, place: str | None, entity: dict, names: dict, doc: dict):
    table = (entity.get("fields") or {}).get(schedule["table"]) or {}
    if table.get("type") != "table":
        yield here + ("table",), f"the place entity {place!r} has no table field {schedule['table']!r}", 0
        return
    columns = table.get("fields") or {}
    wanted = {"choice": (schedule.get("choice", names["choice"]), ("choice", "string")),
              "calendar": (schedule.get("calendar"), ("choice", "string")),
              "minutes": (schedule.get("minutes"), ("integer",)), "capacity": (schedule.get("capacity"), ("integer",))}
    for key, (column, types) in wanted.items():
        if column is None:
            continue
        kind = (columns.get(column) or {}).get("type")
        if kind not in types:
            yield here + ((key,) if key in schedule else ("table",)), (
                f"column {column!r} of {schedule['table']!r} is a {kind}, expected {' or '.join(types)}" if kind
                else f"table {schedule['table']!r} has no column {column!r}"), 0
    calendars = set((doc.get("sla") or {}).get("calendars") or {})
    column = columns.get(schedule.get("calendar") or "") or {}
    for choice in column.get("choices") or [] if column.get("type") == "choice" else []:
        value = choice if isinstance(choice, str) else choice.get("value")
        if value not in calendars:
            yield here + ("calendar",), (f"choice {value!r} of column {schedule['calendar']!r} is no calendar of "
                                         f"sla.yaml; calendars: {', '.join(sorted(calendars)) or 'none'}"), 0
