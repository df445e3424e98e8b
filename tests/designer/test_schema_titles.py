"""Issue 19, item 1: every property of every metadata JSON Schema (metamodel/schemas and the kinds
plugins register) is titled in Russian and English, and every description is given in both, so
the designer's generated forms label their inputs in the user's language, never by a property
name. A property added without them fails here (ADR 0038)."""
from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from designer.editors import inline_refs
from metamodel.schemas import KINDS, SCHEMA_DIR, titled

ROOT = Path(__file__).resolve().parents[2]
CYRILLIC = re.compile("[а-яА-ЯёЁ]")
#: subschemas that only constrain (no input is drawn for them)
CONSTRAINTS = ("if", "not")


def plugin_kinds() -> dict[str, dict]:
    """Every metadata kind the plugins in this repository register: name -> schema."""
    out = {}
    for init in sorted(ROOT.glob("plugins/*/__init__.py")):
        module = importlib.import_module(f"plugins.{init.parent.name}")
        hook = getattr(module, "loom_metadata_kinds", None)
        for kind in (hook() if hook else []):
            out[kind.name] = kind.schema
    return out


def schemas() -> dict[str, dict]:
    found = {path.name.split(".")[0]: json.loads(path.read_text(encoding="utf-8"))
             for path in sorted(SCHEMA_DIR.glob("*.schema.json"))}
    assert set(KINDS) <= set(found)
    found.update({f"extensions/{k}": v for k, v in plugin_kinds().items()})
    return found


def problems(schema, where: str = "") -> list[str]:
    """Properties without a {ru, en} x-title, descriptions without a {ru, en} x-description."""
    out = []
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            out += problems(item, f"{where}[{i}]")
        return out
    if not isinstance(schema, dict):
        return out
    if isinstance(schema.get("description"), str):
        out += [f"{where}: x-description {p}" for p in bilingual(schema.get("x-description"))]
    for key, value in schema.items():
        if key in CONSTRAINTS:
            continue
        if key == "properties" and isinstance(value, dict):
            for name, prop in value.items():
                path = f"{where}/{name}"
                out += [f"{path}: x-title {p}" for p in bilingual((prop or {}).get("x-title"))]
                out += problems(prop, path)
        elif isinstance(value, (dict, list)):
            out += problems(value, where if key in ("items", "additionalProperties", "oneOf", "anyOf", "allOf")
                            else f"{where}/{key}")
    return out


def bilingual(text) -> list[str]:
    if not isinstance(text, dict):
        return ["missing"]
    out = [f"has no {lang}" for lang in ("ru", "en") if not isinstance(text.get(lang), str) or not text[lang].strip()]
    if not out and not CYRILLIC.search(text["ru"]):
        out.append(f"ru {text['ru']!r} is not Russian")
    if not out and CYRILLIC.search(text["en"]):
        out.append(f"en {text['en']!r} is not English")
    return out


@pytest.mark.parametrize("kind", sorted(schemas()))
def test_every_property_has_a_russian_and_an_english_title(kind):
    assert problems(schemas()[kind]) == []
    Draft202012Validator.check_schema(schemas()[kind])  # x- keywords keep the schema a valid JSON Schema


def test_the_walk_finds_a_property_without_a_title():
    schema = {"properties": {"a": {"type": "string", **titled("А", "A")},
                             "b": {"type": "object", "properties": {"raw_name": {"type": "string"}}, **titled("Б", "B")},
                             "c": {"type": "string", "description": "only English", **titled("В", "C")},
                             "d": {"type": "string", "x-title": {"ru": "D", "en": "D"}}},
              "$defs": {"x": {"type": "array", "items": {"properties": {"e": {"x-title": {"en": "E"}}}}}}}
    assert problems(schema) == ["/b/raw_name: x-title missing", "/c: x-description missing",
                                "/d: x-title ru 'D' is not Russian", "/$defs/x/e: x-title has no ru"]


def test_the_designer_gets_the_titles_with_refs_inlined():
    """A property that is a $ref keeps its own title (siblings win) and the ref's description."""
    entity = inline_refs("entity")
    name = entity["properties"]["name"]
    assert name["x-title"] == {"ru": "Имя", "en": "Name"}
    assert name["x-description"]["ru"].startswith("код латиницей")
    assert entity["properties"]["title_field"]["x-title"]["ru"] == "Поле названия"
