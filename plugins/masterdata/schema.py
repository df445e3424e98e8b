"""The JSON Schema of ``extensions/masterdata.yaml`` and the checks a schema cannot make.

One app may declare several match configurations (``matches``), each naming the
entity that holds source records and the entity that holds masters.
"""
from __future__ import annotations

from runtime.plugin_api import titled

from .merge import FILLS
from .normalise import NORMALISERS

NAME = r"^[a-z][a-z0-9_]*$"

_comparison = {
    "type": "object",
    "required": ["field", "kind"],
    "additionalProperties": False,
    "properties": {
        "field": {"type": "string", **titled("Поле", "Field")},
        "kind": {"enum": ["exact", "levenshtein", "jaro_winkler", "date"], **titled("Способ сравнения", "Comparison")},
        "thresholds": {"type": "array", "items": {"type": "number", "minimum": 0}, "maxItems": 4,
                       **titled("Пороги", "Thresholds", "levenshtein — расстояния, jaro_winkler — сходство, date — "
                                "разница в днях", "levenshtein: distances; jaro_winkler: similarities; date: day distances")},
        "day_month_swap": {"type": "boolean", **titled(
            "Перепутанные день и месяц", "Day and month swapped",
            "только для date: дата с переставленными днём и месяцем считается почти совпадающей",
            "date only: a date with its day and month swapped counts as a near match")},
    },
}

_master_field = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "from": {"type": "string", **titled("Из поля источника", "From source field",
                                            "поле источника (по умолчанию с тем же именем)",
                                            "the source field, by default the same name")},
        "priority": {"type": "array", "items": {"type": "string"},
                     **titled("Приоритет систем", "System priority", "системы-источники: побеждает первая со значением",
                              "source systems, the first with a value wins")},
        "fill": {"enum": list(FILLS), **titled("Выбор значения", "Fill", "как выбрать из нескольких значений "
                                               "(по умолчанию most_recent — самое свежее)",
                                               "how to choose among several values (default most_recent)")},
    },
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["matches"],
    "properties": {"matches": {"type": "object", "propertyNames": {"pattern": NAME}, "minProperties": 1,
                               **titled("Сопоставления", "Matches"), "additionalProperties": {
        "type": "object",
        "required": ["sources", "masters", "fields", "blocking", "comparisons"],
        "additionalProperties": False,
        "properties": {
            "sources": {"type": "object", "required": ["entity", "source_field", "source_id_field"],
                        **titled("Исходные записи", "Source records"),
                        "additionalProperties": False, "properties": {
                            "entity": {"type": "string", **titled("Сущность", "Entity")},
                            "source_field": {"type": "string", **titled("Поле системы-источника", "Source system field")},
                            "source_id_field": {"type": "string", **titled("Поле id в системе-источнике",
                                                                           "Source id field")},
                            "master_link": {"type": "string", **titled("Ссылка на эталон", "Link to the master")},
                            "timestamp_field": {"type": "string", **titled(
                                "Поле времени изменения", "Timestamp field",
                                "когда запись последний раз менялась в своей системе: по нему выбирает most_recent",
                                "when a record last changed in its system: most_recent goes by it")}}},
            "masters": {"type": "object", "required": ["entity"], "additionalProperties": False,
                        **titled("Эталонные записи", "Master records"),
                        "properties": {"entity": {"type": "string", **titled("Сущность", "Entity")},
                                       # (items applies to a list, additionalProperties to a mapping:
                                       # unlike oneOf, an error names the bad entry's path)
                                       "fields": {"type": ["array", "object"], "items": {"type": "string"},
                                                  "additionalProperties": _master_field,
                                                  **titled("Поля эталона", "Master fields",
                                                           "список — копируются из одноимённых полей источника, сначала "
                                                           "самые свежие; или поле -> правило",
                                                           "a list: copied from the same-named source field, most recent "
                                                           "first; or field -> rule")},
                                       "ids_field": {"type": "string", **titled(
                                           "Поле идентификаторов", "Ids field",
                                           "текстовое поле эталона со списком id в каждой системе",
                                           "a text field of the master that lists each system's ids")}}},
            "fields": {"type": "object", "minProperties": 1, "additionalProperties": {"enum": sorted(NORMALISERS)},
                       **titled("Нормализация полей", "Field normalisers",
                                "поле исходной сущности -> нормализация перед сопоставлением",
                                "field of the source entity -> normaliser applied before matching")},
            "blocking": {"type": "array", "minItems": 1,
                         "items": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                         **titled("Правила блокировки", "Blocking rules",
                                  "каждое правило — поля, нормализованные значения которых должны совпасть, чтобы пару "
                                  "сравнивали", "each rule: fields whose normalised values must be equal for a pair to be "
                                  "compared")},
            "training": {"type": "array", "minItems": 1,
                         "items": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                         **titled("Правила для обучения", "Training rules",
                                  "правила блокировки, по которым учится EM-алгоритм (по умолчанию все из blocking)",
                                  "blocking rules expectation maximisation learns from; default: all of blocking")},
            "comparisons": {"type": "array", "minItems": 1, "items": _comparison,
                            **titled("Сравнения", "Comparisons")},
            "must_agree": {"type": "array", "items": {"type": "string"},
                           **titled("Должны совпадать", "Must agree",
                                    "сравниваемые поля, расхождение которых (оба заполнены, низший уровень) запрещает «то же»",
                                    "compared fields whose disagreement (both present, lowest level) vetoes \"same\"")},
            "thresholds": {"type": "object", "additionalProperties": False, **titled("Пороги", "Thresholds"),
                           "properties": {
                "same": {"type": "number", "minimum": 0, "maximum": 1,
                         **titled("Та же запись от", "Same from", "вероятность, с которой пара — одна запись",
                                  "the probability from which a pair is the same record")},
                "review": {"type": "number", "minimum": 0, "maximum": 1,
                           **titled("На проверку от", "Review from", "вероятность, с которой пара идёт на проверку "
                                    "человеку", "the probability from which a pair goes to a person for review")}}},
        },
    }}},
}


def check(section: dict, doc: dict):
    """Entities and fields that exist; blocking and comparisons on declared fields."""
    entities = doc.get("entities") or {}
    for name, spec in (section.get("matches") or {}).items():
        where = ("matches", name)
        src = entities.get(spec["sources"]["entity"])
        if src is None:
            yield where + ("sources", "entity"), f"no entity {spec['sources']['entity']!r} in this app", 0
            continue
        known = set(src.get("fields") or {})
        for key in ("source_field", "source_id_field", "master_link"):
            field = spec["sources"].get(key)
            if field is not None and field not in known:
                yield where + ("sources", key), f"entity {spec['sources']['entity']!r} has no field {field!r}", 0
        stamp = spec["sources"].get("timestamp_field")
        if stamp is not None and stamp not in known and stamp not in ("created_at", "updated_at"):
            yield where + ("sources", "timestamp_field"), f"entity {spec['sources']['entity']!r} has no field {stamp!r}", 0
        masters = entities.get(spec["masters"]["entity"])
        if masters is None:
            yield where + ("masters", "entity"), f"no entity {spec['masters']['entity']!r} in this app", 0
        else:
            yield from _check_masters(where, spec, known, set(masters.get("fields") or {}))
        for field in spec["fields"]:
            if field not in known:
                yield where + ("fields", field), f"entity {spec['sources']['entity']!r} has no field {field!r}", 0
        declared = set(spec["fields"])
        for i, rule in enumerate(spec["blocking"]):
            for j, field in enumerate(rule):
                if field not in declared:
                    yield where + ("blocking", i, j), f"{field!r} is not among fields: {sorted(declared)}", 0
        for i, rule in enumerate(spec.get("training") or []):
            for j, field in enumerate(rule):
                if field not in declared:
                    yield where + ("training", i, j), f"{field!r} is not among fields: {sorted(declared)}", 0
        for i, comp in enumerate(spec["comparisons"]):
            if comp["field"] not in declared:
                yield where + ("comparisons", i, "field"), f"{comp['field']!r} is not among fields: {sorted(declared)}", 0
            if comp.get("day_month_swap") and comp["kind"] != "date":
                yield where + ("comparisons", i, "day_month_swap"), "day_month_swap is for kind: date only", 0
        compared = {c["field"] for c in spec["comparisons"]}
        for i, field in enumerate(spec.get("must_agree") or []):
            if field not in compared:
                yield where + ("must_agree", i), f"{field!r} is not compared; compared: {sorted(compared)}", 0
        limits = spec.get("thresholds") or {}
        if limits.get("review", 0) > limits.get("same", 1):
            yield where + ("thresholds", "review"), "review must not be above same", 0


def _check_masters(where, spec: dict, source_fields: set, master_fields: set):
    fields = spec["masters"].get("fields") or {}
    entity, source = spec["masters"]["entity"], spec["sources"]["entity"]
    items = {name: None for name in fields} if isinstance(fields, list) else fields
    for i, (name, rule) in enumerate(items.items()):
        path = where + ("masters", "fields", i if isinstance(fields, list) else name)
        if name not in master_fields:
            yield path, f"entity {entity!r} has no field {name!r}", 0
        take = (rule or {}).get("from", name)
        if take not in source_fields:
            yield path + (("from",) if rule and "from" in rule else ()), \
                f"entity {source!r} has no field {take!r} to take {name!r} from", 0
    ids_field = spec["masters"].get("ids_field")
    if ids_field is not None and ids_field not in master_fields:
        yield where + ("masters", "ids_field"), f"entity {entity!r} has no field {ids_field!r}", 0


def find_match(platform, app: str, entity: str) -> tuple[str, dict]:
    """The match configuration of ``app`` whose sources live in ``entity``."""
    section = platform.app_section(app, "masterdata") or {}
    for name, spec in (section.get("matches") or {}).items():
        if spec["sources"]["entity"] == entity:
            return name, spec
    raise LookupError(f"app {app!r} has no masterdata match over entity {entity!r} "
                      f"(extensions/masterdata.yaml); matches: {sorted(section.get('matches') or {}) or 'none'}")
