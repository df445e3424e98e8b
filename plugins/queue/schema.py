"""The JSON Schema of ``extensions/queue.yaml`` and the checks a schema cannot make."""
from __future__ import annotations

from runtime.plugin_api import titled

_title = {"oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}}]}

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
