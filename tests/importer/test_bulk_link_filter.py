"""The bulk CSV import (``loom import``) checks link filters as a save does, naming the line."""
from __future__ import annotations

import io

import pytest

from runtime.data.importer import ImportError_, import_csv


def test_the_bulk_import_refuses_a_link_its_filter_does_not_offer(stock):
    suppliers = {r["region"]: r["id"] for r in stock.records.find("stock", "supplier")}
    good = f"name,region,supplier\nМука,north,{suppliers['north']}\nСоль,south,{suppliers['south']}\n"
    assert import_csv(stock, "stock", "product", io.StringIO(good)).rows == 2

    bad = f"name,region,supplier\nСахар,north,{suppliers['north']}\nПерец,north,{suppliers['south']}\n"
    with pytest.raises(ImportError_) as err:
        import_csv(stock, "stock", "product", io.StringIO(bad), actor=stock.actor("klara"))
    assert err.value.errors[0].field == "line 3: supplier"
    assert "not one of the records this field offers" in err.value.errors[0].message
    assert len(stock.records.find("stock", "product")) == 2  # the refused batch wrote nothing
