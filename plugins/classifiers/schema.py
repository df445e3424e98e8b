"""The JSON Schema of ``extensions/classifiers.yaml`` and the checks a schema cannot make."""
from __future__ import annotations

NAME = r"^[a-z][a-z0-9_]*$"

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["classifiers"],
    "properties": {"classifiers": {"type": "object", "propertyNames": {"pattern": NAME}, "minProperties": 1,
                                   "additionalProperties": {
        "type": "object",
        "required": ["entity", "text", "label"],
        "additionalProperties": False,
        "properties": {
            "title": {"oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}}]},
            "entity": {"type": "string", "description": "the entity whose records are the labelled examples"},
            "text": {"type": "array", "minItems": 1, "items": {"type": "string"},
                     "description": "text fields joined into the text to classify"},
            "label": {"type": "string", "description": "the field holding the right answer"},
            "holdout": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5,
                        "description": "the part held back to measure accuracy (default 0.2)"},
            "min_confidence": {"type": "number", "minimum": 0, "maximum": 1,
                               "description": "below this probability suggest() answers None (default 0.2)"},
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
