"""The JSON Schemas of every metadata kind, loaded once from ``schemas/``.

Every property carries ``x-title: {ru, en}``, and ``x-description: {ru, en}`` beside a
``description``: the designer's forms show them in the user's language (ADR 0038). JSON
Schema's own ``title`` and ``description`` stay plain English strings for validation messages
and YAML tooling.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).with_name("schemas")
KINDS = ("app", "entity", "routing", "sla", "schedules", "notifications", "portal", "reports", "approvals", "batches",
         "fixture", "accounts")


@lru_cache(maxsize=None)
def schema(kind: str) -> dict:
    """The raw JSON Schema of ``kind`` (the designer builds its editors from these)."""
    return json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _registry() -> Registry:
    resources = [(schema(k)["$id"], Resource.from_contents(schema(k))) for k in KINDS + ("common",)]
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(schema(kind), registry=_registry())


def titled(ru: str, en: str, description_ru: str | None = None, description_en: str | None = None) -> dict:
    """The keys that name a property in both languages (and describe it), to spread into its
    schema: ``{"type": "string", **titled("Сущность", "Entity", "её записи …", "its records …")}``."""
    out: dict = {"x-title": {"ru": ru, "en": en}}
    if description_en:
        out["description"] = description_en
        out["x-description"] = {"ru": description_ru or description_en, "en": description_en}
    return out
