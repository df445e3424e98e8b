"""A field may be named with a word SQL reserves (``order``): the bulk import and the bulk
update quote it as the table's own statements do."""
from __future__ import annotations

import io

from runtime.extension.platform import Platform
from runtime.data.importer import import_csv


def test_a_field_named_order_is_imported_and_bulk_updated(stock):
    result = import_csv(stock, "stock", "supplier", io.StringIO("name,region,order\nВосточный склад,north,3\n"))
    assert result.rows == 1
    [record] = [r for r in stock.records.find("stock", "supplier") if r["name"] == "Восточный склад"]
    assert record["order"] == 3

    assert Platform(stock).records().bulk_update("stock", "supplier", {record["id"]: {"order": 7}}) == 1
    assert stock.records.get("stock", "supplier", record["id"])["order"] == 7
