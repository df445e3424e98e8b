"""Computed columns of a table: each row's cell is worked out from the row (and the records its link
columns point at) when the record is saved, before the record's own computed fields read the rows.
Two shapes: a work order's parts (quantity × the part's catalogue price) and an invoice's lines
(quantity × a price typed in the row, with VAT)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from metamodel import MetadataError

MONEY = {"type": "money"}


def shop_app(parts_amount: str = "quantity * part.price") -> dict:
    return {
        "app": {"name": "shop", "title": "Shop", "roles": [{"name": "clerk"}]},
        "entities": {
            "part": {"title": "Part", "title_field": "name",
                     "fields": {"name": {"type": "string", "required": True}, "price": MONEY}},
            "order": {
                "title": "Order", "title_field": "number",
                "fields": {
                    "parts": {"type": "table", "fields": {
                        "part": {"type": "link", "entity": "part"},
                        "quantity": {"type": "decimal", "scale": 3},
                        "amount": {"type": "computed", "result": "money", "expression": parts_amount}}},
                    "total": {"type": "computed", "result": "money", "expression": "sum(parts.amount)"}}},
            "invoice": {
                "title": "Invoice", "title_field": "number",
                "fields": {
                    "lines": {"type": "table", "fields": {
                        "quantity": {"type": "integer"}, "price": MONEY,
                        "net": {"type": "computed", "result": "money", "expression": "quantity * price"},
                        "gross": {"type": "computed", "result": "money", "expression": "net * 1.2"}}},
                    "net": {"type": "computed", "result": "money", "expression": "sum(lines.net)"},
                    "gross": {"type": "computed", "result": "money", "expression": "sum(lines.gross)"}}},
        },
    }


@pytest.fixture
def shop(loom):
    loom.store.publish(shop_app(), author="tester")
    return loom


def cells(rows, *names):
    """The rows' cells as numbers (a table row reads its money as text, as JSON carries it)."""
    out = [tuple(None if r[n] is None else Decimal(str(r[n])) for n in names) for r in rows]
    return [o[0] for o in out] if len(names) == 1 else out


def test_a_row_reads_its_link_and_the_record_sums_the_rows(shop):
    create, update = shop.records.create, shop.records.update
    brake = create("shop", "part", {"name": "Колодки", "price": "1250.00"})["id"]
    oil = create("shop", "part", {"name": "Масло", "price": "480.50"})["id"]
    order = create("shop", "order", {"parts": [{"part": brake, "quantity": "2"}, {"part": oil, "quantity": "1.5"}]})
    assert cells(order["parts"], "amount") == [Decimal("2500.00"), Decimal("720.75")]
    assert Decimal(str(order["total"])) == Decimal("3220.75")
    # A changed row is worked out again; a value sent for the computed cell does not stand.
    rows = [{**order["parts"][0], "quantity": "1", "amount": "1.00"}, order["parts"][1]]
    changed = update("shop", "order", order["id"], {"parts": rows}, order["row_version"])
    assert cells(changed["parts"], "amount") == [Decimal("1250.00"), Decimal("720.75")]
    assert Decimal(str(shop.records.get("shop", "order", order["id"])["total"])) == Decimal("1970.75")


def test_computed_cells_read_computed_cells_declared_before_them(shop):
    invoice = shop.records.create("shop", "invoice", {"lines": [{"quantity": 3, "price": "100.00"},
                                                                {"quantity": 1, "price": None}]})
    assert cells(invoice["lines"], "net", "gross") == [(Decimal("300.00"), Decimal("360.00")),
                                                                  (None, None)]
    assert (Decimal(str(invoice["net"])), Decimal(str(invoice["gross"]))) == (Decimal("300.00"), Decimal("360.00"))


@pytest.mark.parametrize("expression, message", [
    ("quantity * part.prise", "unknown field of part 'prise'; did you mean 'price'?"),
    ("quantity * qty", "unknown field 'qty'"),
])
def test_a_computed_cell_is_checked_against_the_row(sqlite_loom, expression, message):
    with pytest.raises(MetadataError, match=message) as err:
        sqlite_loom.store.publish(shop_app(expression), author="tester")
    assert "fields.parts.fields.amount.expression" in str(err.value)
