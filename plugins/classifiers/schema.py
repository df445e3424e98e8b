"""The JSON Schema of ``extensions/classifiers.yaml`` and the checks a schema cannot make."""
from __future__ import annotations

from runtime.plugin_api import titled

NAME = r"^[a-z][a-z0-9_]*$"

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["classifiers"],
    "properties": {"classifiers": {"type": "object", "propertyNames": {"pattern": NAME}, "minProperties": 1,
                                   **titled("Классификаторы", "Classifiers"), "additionalProperties": {
        "type": "object",
        "required": ["entity", "text", "label"],
        "additionalProperties": False,
        "properties": {
            "title": {"oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}}],
                      **titled("Название", "Title")},
            "entity": {"type": "string", **titled("Сущность", "Entity", "сущность, записи которой — размеченные примеры",
                                                  "the entity whose records are the labelled examples")},
            "text": {"type": "array", "minItems": 1, "items": {"type": "string"},
                     **titled("Текстовые поля", "Text fields", "текстовые поля, из которых складывается текст для "
                              "классификации", "text fields joined into the text to classify")},
            "label": {"type": "string", **titled("Поле ответа", "Label field", "поле с правильным ответом",
                                                 "the field holding the right answer")},
            "holdout": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5,
                        **titled("Доля для проверки", "Held-out share", "доля, отложенная для оценки точности "
                                 "(по умолчанию 0.2)", "the part held back to measure accuracy (default 0.2)")},
            "min_confidence": {"type": "number", "minimum": 0, "maximum": 1,
                               **titled("Наименьшая уверенность", "Minimum confidence",
                                        "ниже этой вероятности suggest() возвращает None (по умолчанию 0.2)",
                                        "below this probability suggest() answers None (default 0.2)")},
        },
    }}},
}

TEXTUAL = {"string", "text", "choice"}


def check(section: dict, doc: dict):
    """The entity exists; text fields are text; the label is a single value."""
    entities = doc.get("entities") or {}
    for name, spec in (section.get("classifiers") or {}).items():
        where = ("classifiers", name)
        entity = entities.get(spec["entity"])
        if entity is None:
            yield where + ("entity",), f"no entity {spec['entity']!r} in this app; known: {sorted(entities)}", 0
            continue
        fields = entity.get("fields") or {}
        for i, field in enumerate(spec["text"]):
            kind = (fields.get(field) or {}).get("type")
            if kind not in TEXTUAL:
                yield where + ("text", i), (f"{field!r} is not a text field of {spec['entity']!r}" if kind else
                                            f"entity {spec['entity']!r} has no field {field!r}"), 0
        kind = (fields.get(spec["label"]) or {}).get("type")
        if kind not in TEXTUAL | {"integer"}:
            yield where + ("label",), (f"{spec['label']!r} cannot be a label (a string, choice or integer field)"
                                       if kind else f"entity {spec['entity']!r} has no field {spec['label']!r}"), 0
