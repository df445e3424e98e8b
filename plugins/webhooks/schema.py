"""The JSON Schema of ``extensions/webhooks.yaml`` and the checks a schema cannot make."""
from __future__ import annotations

import re

from runtime.plugin_api import ExpressionError, expression, titled

PATH = r"^\$(\.[A-Za-z_][A-Za-z0-9_]*)*$"
ENV = r"^[A-Z][A-Z0-9_]*$"
NAME = r"^[a-z][a-z0-9_]*$"

_mapping = {"oneOf": [
    {"type": "string", "pattern": PATH},
    {"type": "object", "required": ["path"], "additionalProperties": False, "properties": {
        "path": {"type": "string", "pattern": PATH, **titled("Путь в JSON", "JSON path")},
        "transform": {"type": "string", "minLength": 1, **titled("Преобразование", "Transform")},
        "default": {**titled("По умолчанию", "Default")}}},
    {"type": "object", "required": ["value"], "additionalProperties": False,
     "properties": {"value": {**titled("Значение", "Value")}}},
]}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "endpoints": {"type": "object", "propertyNames": {"pattern": NAME},
                      **titled("Входящие точки", "Inbound endpoints"), "additionalProperties": {
            "type": "object",
            "required": ["entity", "auth", "idempotency_key"],
            "additionalProperties": False,
            "properties": {
                "entity": {"type": "string", **titled("Сущность", "Entity")},
                "action": {"enum": ["create", "comment", "update"], **titled("Действие", "Action")},
                "auth": {"oneOf": [
                    {"type": "object", "required": ["bearer_env"], "additionalProperties": False,
                     "properties": {"bearer_env": {"type": "string", "pattern": ENV,
                                                   **titled("Переменная с токеном", "Bearer token variable")}}},
                    {"type": "object", "required": ["hmac_env"], "additionalProperties": False,
                     "properties": {"hmac_env": {"type": "string", "pattern": ENV,
                                                 **titled("Переменная с ключом HMAC", "HMAC key variable")},
                                    "header": {"type": "string", "minLength": 1,
                                               **titled("Заголовок подписи", "Signature header")}}},
                ], **titled("Проверка подлинности", "Authentication")},
                "idempotency_key": {"type": "string", "pattern": PATH, **titled("Ключ идемпотентности", "Idempotency key")},
                "sender": {**_mapping, **titled("Отправитель", "Sender")},
                "key": {"type": "object", "required": ["field", "path"], "additionalProperties": False,
                        **titled("Поиск записи", "Record key"),
                        "properties": {"field": {"type": "string", **titled("Поле", "Field")},
                                       "path": {"type": "string", "pattern": PATH, **titled("Путь в JSON", "JSON path")}}},
                "text": {**_mapping, **titled("Текст", "Text")},
                "fields": {"type": "object", "additionalProperties": _mapping, **titled("Поля", "Fields")},
            },
        }},
        "webhooks": {"type": "object", "propertyNames": {"pattern": NAME},
                     **titled("Исходящие веб-хуки", "Outgoing webhooks"), "additionalProperties": {
            "type": "object",
            "required": ["entity", "url", "events", "secret_env"],
            "additionalProperties": False,
            "properties": {
                "entity": {"type": "string", **titled("Сущность", "Entity")},
                "url": {"type": "string", "pattern": "^https?://", **titled("Адрес (URL)", "URL")},
                "events": {"type": "array", "minItems": 1, "uniqueItems": True,
                           "items": {"enum": ["created", "changed", "transition"]}, **titled("События", "Events")},
                "fields": {"type": "array", "items": {"type": "string"}, **titled("Поля", "Fields")},
                "transitions": {"type": "array", "items": {"type": "string"}, **titled("Переходы", "Transitions")},
                "secret_env": {"type": "string", "pattern": ENV, **titled("Переменная с секретом", "Secret variable")},
            },
        }},
    },
}


def _path(dotted: str) -> tuple:
    """``endpoints.outage.fields[2]`` as the key path validation reports want."""
    out = []
    for part in dotted.split("."):
        name, *indexes = re.split(r"\[(\d+)\]", part)
        out.append(name)
        out.extend(int(i) for i in indexes if i)
    return tuple(out)


def check(section: dict, doc: dict):
    for where, message, offset in _problems(section, doc):
        yield _path(where), message, offset


def _problems(section: dict, doc: dict):
    """Entities, fields and transforms that exist: ``(path, message, line offset)``."""
    entities = doc.get("entities") or {}
    for name, ep in (section.get("endpoints") or {}).items():
        where = f"endpoints.{name}"
        spec = entities.get(ep["entity"])
        if spec is None:
            yield f"{where}.entity", f"no entity {ep['entity']!r} in this app", 0
            continue
        known = set((spec.get("fields") or {}))
        for field, mapping in (ep.get("fields") or {}).items():
            if field not in known:
                yield f"{where}.fields.{field}", f"entity {ep['entity']!r} has no field {field!r}", 0
            yield from _check_transform(f"{where}.fields.{field}", mapping)
        for part in ("text", "sender"):
            if part in ep:
                yield from _check_transform(f"{where}.{part}", ep[part])
        if ep.get("action") in ("comment", "update") and "key" not in ep:
            yield where, f"a {ep['action']} endpoint needs key: {{field, path}} to find the record", 0
        if "key" in ep and ep["key"]["field"] not in known | {"id", "number"}:
            yield f"{where}.key.field", f"entity {ep['entity']!r} has no field {ep['key']['field']!r}", 0
    for name, hook in (section.get("webhooks") or {}).items():
        where = f"webhooks.{name}"
        spec = entities.get(hook["entity"])
        if spec is None:
            yield f"{where}.entity", f"no entity {hook['entity']!r} in this app", 0
            continue
        known = set((spec.get("fields") or {})) | {"status"}
        for i, field in enumerate(hook.get("fields") or []):
            if field not in known:
                yield f"{where}.fields[{i}]", f"entity {hook['entity']!r} has no field {field!r}", 0
        if "changed" in hook["events"] and not hook.get("fields"):
            yield f"{where}.fields", "event 'changed' needs the fields whose change is sent", 0


def _check_transform(where: str, mapping):
    if isinstance(mapping, dict) and "transform" in mapping:
        try:
            expression(mapping["transform"])
        except (ExpressionError, SyntaxError) as exc:
            yield f"{where}.transform", f"not an expression: {exc}", 0


def read_path(payload, path: str):
    """``$.a.b`` in a JSON payload; ``None`` where it is missing."""
    value = payload
    for part in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)", path):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
