"""The JSON Schemas of every metadata kind, loaded once from ``schemas/``."""
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
