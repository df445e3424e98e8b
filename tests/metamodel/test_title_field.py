"""``title_field``: one of the entity's single-value fields, or ``number`` (the record's human number).

Before, ``title_field: number`` was refused with a hint at an unrelated field. The pages test runs
on SQLite and PostgreSQL: a record whose title is its number is shown by its number where it is linked.
"""
from __future__ import annotations

import re

import pytest

from metamodel import MetadataError, validate_document
from runtime.core.config import Settings
from runtime.web import create_app
from tests.ui.conftest import Browser


def shop(title_field: str) -> dict:
    return {"app": {"name": "shop", "title": "Shop"},
            "entities": {
                "order": {"title": "Order", "number": "ORD-{0000}", "title_field": title_field,
                          "fields": {"name": {"type": "string"}, "note": {"type": "text"},
                                     "lines": {"type": "table", "fields": {"qty": {"type": "integer"}}}}},
                "line": {"title": "Line", "fields": {"label": {"type": "string"},
                                                     "order": {"type": "link", "entity": "order"}}}}}


def problem(title_field: str):
    try:
        validate_document(shop(title_field))
    except MetadataError as exc:
        assert len(exc.problems) == 1, exc.problems
        return exc.problems[0]
    return None


@pytest.mark.parametrize("title_field", ["number", "name", "note"])
def test_the_number_or_a_field_is_a_title(title_field):
    assert problem(title_field) is None


@pytest.mark.parametrize("title_field, message", [
    ("numbr", "unknown field 'numbr'; did you mean 'number'?"),
    ("nme", "unknown field 'nme'; did you mean 'name'?"),
    ("status", "'status' is a system column; a record's title is one of its fields or number"),
    ("lines", "'lines' is a table field; a title is a single-value field or number"),
])
def test_a_wrong_title_field_says_what_would_be_right(title_field, message):
    p = problem(title_field)
    assert (p.file, p.path) == ("entities/order.yaml", "title_field")
    assert p.message == message


def test_a_record_titled_by_its_number_shows_it_where_it_is_linked(loom, tmp_path):
    loom.store.publish(shop("number"), author="ann")
    order = loom.records.create("shop", "order", {"name": "Заказ столов"})
    line = loom.records.create("shop", "line", {"label": "Стол", "order": order["id"]})
    assert order["number"] == "ORD-0001"
    loom.accounts.create_user("admin", "admin-pass-1", is_admin=True)
    browser = Browser(create_app(Settings(tmp_path, loom.database_url), loom).test_client())
    assert browser.login("admin", "admin-pass-1").status_code == 302
    page = browser.get(f"/ui/shop/line/{line['id']}").get_data(as_text=True)
    assert re.search(rf'<a [^>]*href="/ui/shop/order/{order["id"]}"[^>]*>ORD-0001</a>', page), page
    listing = browser.get("/ui/shop/order").get_data(as_text=True)
    assert listing.count(">ORD-0001<") == 1  # one column: the number is the title, not shown twice
