"""A master's values from its sources: source priority first, then the fill rule."""
from __future__ import annotations

from plugins.masterdata import merge

RULES = merge.rules({"masters": {"fields": {
    "address": {"priority": ["billing", "crm"], "fill": "most_frequent"},
    "email": {"priority": ["portal"], "fill": "most_recent"},
    "name": {"fill": "longest"},
    "phone": {"fill": "most_frequent"},
    "inn": {"from": "tax_id"},
}}})
SOURCES = [
    {"id": 1, "source": "crm", "address": "ул. Мира 1", "email": "old@mail.ru", "name": "Иванов И.",
     "phone": "111", "at": "2024-01-01"},
    {"id": 2, "source": "portal", "address": "ул. Мира, д. 1", "email": "new@mail.ru",
     "name": "Иванов Иван Иванович", "phone": "222", "at": "2023-05-01", "tax_id": "500100732259"},
    {"id": 3, "source": "portal", "address": None, "email": "newest@mail.ru", "name": "Иванов Иван",
     "phone": "222", "at": "2025-02-01"},
    {"id": 4, "source": "billing", "address": "  ", "email": None, "name": None, "phone": "111", "at": None},
]


def test_the_first_source_in_priority_with_a_value_wins():
    values = merge.values(SOURCES, RULES, "source", "at")
    assert values["address"] == "ул. Мира 1"            # billing's is blank, so crm's
    assert values["email"] == "newest@mail.ru"          # portal, the most recent of its two


def test_fill_rules_without_priority():
    values = merge.values(SOURCES, RULES, "source", "at")
    assert values["name"] == "Иванов Иван Иванович"     # longest
    assert values["inn"] == "500100732259"              # taken from another field of the sources
    # most frequent: "111" and "222" twice each; the tie goes to the most recent record
    assert values["phone"] == "222"


def test_most_recent_goes_by_the_record_id_without_a_timestamp():
    rules = merge.rules({"masters": {"fields": ["email"]}})
    assert merge.values(SOURCES, rules, "source")["email"] == "newest@mail.ru"
    assert merge.values(SOURCES[:2], rules, "source")["email"] == "new@mail.ru"
    assert merge.values([], rules, "source") == {"email": None}


def test_each_system_s_ids_are_listed():
    rows = [{"source": "crm", "sid": "C-2"}, {"source": "billing", "sid": "B-1"}, {"source": "crm", "sid": "C-1"}]
    assert merge.ids_text(rows, "source", "sid") == "billing: B-1; crm: C-1, C-2"


def _sql_values(rows: list[dict], rules: dict, stamp, ids=None) -> dict:
    import duckdb
    import pyarrow as pa
    columns = sorted({k for r in rows for k in r} - {"_ord", "id"})
    table = pa.table({"_ord": [r["_ord"] for r in rows], "id": [r["id"] for r in rows],
                      **{c: pa.array([None if r.get(c) is None else str(r[c]) for r in rows], pa.string())
                         for c in columns}})
    con = duckdb.connect()
    con.register("members", table)
    result = con.sql(merge.values_sql(rules, "source", stamp, ids)).fetchall()
    names = list(rules) + ([ids[0]] if ids else [])
    return {row[0]: dict(zip(names, row[1:])) for row in result}


def test_the_sql_fill_rules_agree_with_the_python_ones():
    import random

    from tests.masterdata.synth import generate
    records, truth = generate(4000, seed=3)
    rng = random.Random(1)
    for r in records:   # few distinct stamps and many missing: ties and the id break them
        r["_ord"], r["changed_at"] = truth[r["id"]], rng.choice([None, f"2024-01-0{rng.randint(1, 3)}"])
    rules = merge.rules({"masters": {"fields": {
        "name": {"fill": "longest"}, "phone": {"priority": ["billing", "crm"], "fill": "most_recent"},
        "email": {"priority": ["portal"], "fill": "most_frequent"}, "address": {"priority": ["billing"]},
        "inn": {"fill": "most_frequent"}, "first": {"from": "first_name", "priority": ["crm", "billing"]}}}})
    groups: dict = {}
    for r in records:
        groups.setdefault(r["_ord"], []).append(r)
    for stamp in ("changed_at", None):
        got = _sql_values(records, rules, stamp, ("ids", "source_id"))
        assert len(got) == len(groups) > 1000
        for key, members in groups.items():
            expected = merge.values(members, rules, "source", stamp)
            expected["ids"] = merge.ids_text(members, "source", "source_id")
            assert got[key] == expected, key
    one = _sql_values([dict(r, _ord=1) for r in SOURCES], RULES, "at")[1]
    assert one == merge.values(SOURCES, RULES, "source", "at")
