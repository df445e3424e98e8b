"""Publishing script-computed fields, and storage refusals that name file, line and path.

A computed field whose value a script returns (``script: calc.py:total``) is computed by the
record service when a record is saved; publishing never runs scripts over the stored records
(docs/decisions/0015-computed-by-script-at-publish.md). So adding one gives existing records an
empty value until their next save, and turning an expression field into a script one keeps the
values the expression stored until then. Before, both crashed in the migrator with an
AttributeError and no file or line, although validate and diff had said ok.

Every test runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from metamodel import MetadataError
from runtime.data import migrate

SCRIPT = '''
def total(record):
    return (record.qty or 0) * (record.price or 0) + 1

def bigger(record):
    return (record.qty or 0) * 10
'''
BASE = {"name": {"type": "string"}, "qty": {"type": "integer"}, "price": {"type": "decimal"},
        "double": {"type": "computed", "result": "decimal", "expression": "qty * 2"}}


def doc(**extra) -> dict:
    return {"app": {"name": "shop", "title": "Shop"}, "scripts": {"calc.py": SCRIPT},
            "entities": {"item": {"title": "Item", "fields": {**BASE, **extra}}}}


def get(loom, record_id: int) -> dict:
    return loom.records.get("shop", "item", record_id)


def save(loom, record: dict, **changes) -> dict:
    current = get(loom, record["id"])
    return loom.records.update("shop", "item", record["id"], changes, row_version=current["row_version"])


def test_adding_a_script_computed_field_publishes_and_fills_at_the_next_save(loom):
    loom.store.publish(doc(), author="ann")
    old = loom.records.create("shop", "item", {"name": "a", "qty": 3, "price": "2.50"})
    published = loom.store.publish(doc(total={"type": "computed", "result": "decimal", "script": "calc.py:total"}),
                                   author="ann")
    assert published.number == 2
    assert any("add item.total (its script computes it when a record is saved" in s for s in published.plan)
    assert get(loom, old["id"])["total"] is None          # not computed yet: nothing ran over stored rows
    assert Decimal(save(loom, old, name="a2")["total"]) == Decimal("8.50")   # 3 * 2.50 + 1
    new = loom.records.create("shop", "item", {"name": "b", "qty": 2, "price": "1"})
    assert Decimal(new["total"]) == Decimal("3")


def test_an_expression_field_becomes_a_script_field_and_back(loom):
    loom.store.publish(doc(), author="ann")
    rec = loom.records.create("shop", "item", {"name": "a", "qty": 4})
    assert Decimal(rec["double"]) == 8
    to_script = loom.store.publish(doc(double={"type": "computed", "result": "decimal", "script": "calc.py:bigger"}),
                                   author="ann")
    assert "compute item.double by its script when a record is saved (existing records keep their values " \
           "until their next save)" in to_script.plan
    assert Decimal(get(loom, rec["id"])["double"]) == 8    # the expression's value stays ...
    assert Decimal(save(loom, rec, name="b")["double"]) == 40  # ... until the script computes it
    back = loom.store.publish(doc(double={"type": "computed", "result": "decimal", "expression": "qty * 3"}),
                              author="ann")
    assert "recompute item.double" in back.plan
    assert Decimal(get(loom, rec["id"])["double"]) == 12   # an expression is recomputed over every row at once


def test_a_script_field_changing_its_result_type_publishes(loom):
    loom.store.publish(doc(total={"type": "computed", "result": "decimal", "script": "calc.py:total"}), author="ann")
    rec = loom.records.create("shop", "item", {"name": "a", "qty": 1, "price": "1"})
    loom.store.publish(doc(total={"type": "computed", "result": "string", "script": "calc.py:total"}), author="ann")
    assert get(loom, rec["id"])["total"] is None
    assert save(loom, rec, name="b")["total"] == "2.00"  # 1 * 1.00 + 1, as text now


# ---------------------------------------------------------------- refusals name file, line and path

ITEM_YAML = """title: Item
fields:
  name:
    type: string
  code:
    type: {code_type}
  lines:
    type: table
    fields:
      n:
        type: {n_type}
"""


def folder(tmp_path: Path, code_type="string", n_type="integer") -> Path:
    root = tmp_path / "shop"
    (root / "entities").mkdir(parents=True, exist_ok=True)
    (root / "app.yaml").write_text("name: shop\ntitle: Shop\n", encoding="utf-8")
    (root / "entities" / "item.yaml").write_text(ITEM_YAML.format(code_type=code_type, n_type=n_type),
                                                 encoding="utf-8")
    return root


def test_a_lossy_type_change_names_file_line_and_path(loom, tmp_path):
    loom.store.install(folder(tmp_path), author="ann")
    bad = loom.records.create("shop", "item", {"name": "x", "code": "abc"})
    with pytest.raises(MetadataError) as info:
        loom.store.install(folder(tmp_path, code_type="integer"), author="ann")
    p, = info.value.problems
    assert (p.file, p.line, p.path) == ("entities/item.yaml", 5, "fields.code")
    assert bad["number"] in p.message and "changing string to integer would lose 1 value(s)" in p.message
    assert str(p).startswith("entities/item.yaml:5 fields.code: ")


def test_a_refused_change_of_a_table_column_names_its_path(loom, tmp_path):
    loom.store.install(folder(tmp_path), author="ann")
    with pytest.raises(MetadataError) as info:
        loom.store.install(folder(tmp_path, n_type="date"), author="ann")
    p, = info.value.problems
    assert (p.file, p.line, p.path) == ("entities/item.yaml", 10, "fields.lines.fields.n")
    assert p.message == "cannot change integer into date"


def test_a_storage_failure_names_the_field_that_asked_for_it(loom, tmp_path, monkeypatch):
    loom.store.install(folder(tmp_path), author="ann")

    def broken(self, table, f, name):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(migrate.Migrator, "_add_column", broken)
    (tmp_path / "shop" / "entities" / "item.yaml").write_text(
        ITEM_YAML.format(code_type="string", n_type="integer") + "  qty:\n    type: integer\n", encoding="utf-8")
    with pytest.raises(MetadataError) as info:
        loom.store.install(tmp_path / "shop", author="ann")
    p, = info.value.problems
    assert (p.file, p.line, p.path) == ("entities/item.yaml", 12, "fields.qty")
    assert p.message == "could not add item.qty: the disk is full"
    assert loom.live_version("shop") == 1
