"""Scripts and expressions see all of a record: typed table rows, linked records, dates, sums.

Runs on SQLite and PostgreSQL through the record service and the workflow.
"""
import datetime as dt
from decimal import Decimal

import pytest

from metamodel import MetadataError
from runtime import clock
from runtime.errors import Conflict

SCRIPT = '''
import datetime

def before_save(record):
    total = Decimal("0")
    for row in record.items:
        if row.price is not None:
            total += row.price * row.qty
    record.script_total = total
    dates = [row["delivered"] for row in record.items if row.delivered]
    record.first_delivery = min(dates) if dates else None

def inspect(record):
    got = get("order", record.id)
    found = find("order", where={"id": record.id})[0]
    row, again = got["items"][0], found.items[0]
    return [isinstance(row["price"], Decimal), isinstance(row.delivered, datetime.date),
            isinstance(got["amount"], Decimal), again.price == row["price"], len(found.items),
            isinstance(found.due, datetime.date)]

def double_prices(record):
    record.items = [dict(row, price=row.price * 2 if row.price else None) for row in record.items]
'''


def app_doc():
    return {
        "app": {"name": "orders", "title": "Orders", "timezone": "Europe/Moscow",
                "roles": [{"name": "clerk"}, {"name": "boss"}]},
        "entities": {
            "district": {"title": "District", "fields": {"name": {"type": "string"}},
                         "permissions": {"read": ["boss"], "create": ["boss"]}},
            "consumer": {"title": "Consumer", "fields": {
                "name": {"type": "string"}, "district": {"type": "link", "entity": "district"}},
                "permissions": {"read": ["clerk", "boss"], "create": ["boss"]}},
            "order": {
                "title": "Order", "number": "ORD-{0000}",
                "fields": {
                    "title": {"type": "string"},
                    "consumer": {"type": "link", "entity": "consumer"},
                    "amount": {"type": "money"},
                    "due": {"type": "date"},
                    "opened": {"type": "datetime"},
                    "items": {"type": "table", "fields": {
                        "product": {"type": "string"}, "price": {"type": "money"},
                        "qty": {"type": "integer", "default": 1}, "delivered": {"type": "date"}}},
                    "total": {"type": "computed", "result": "money", "expression": "sum(items.price)"},
                    "rows": {"type": "computed", "result": "integer", "expression": "count(items)"},
                    "top": {"type": "computed", "result": "money", "expression": "max(items.price)"},
                    "mean": {"type": "computed", "result": "decimal", "scale": 4,
                             "expression": "avg(items.price)"},
                    "district_name": {"type": "computed", "result": "string",
                                      "expression": "consumer.district.name"},
                    "age": {"type": "computed", "result": "integer", "expression": "days_between(opened, today)"},
                    "due_year": {"type": "computed", "result": "integer", "expression": "year(due)"},
                    "due_month": {"type": "computed", "result": "integer", "expression": "month(due)"},
                    "reminder": {"type": "computed", "result": "date", "expression": "add_days(due, 10)"},
                    "work_days": {"type": "computed", "result": "integer",
                                  "expression": "business_days_between(opened, due)"},
                    "script_total": {"type": "money"},
                    "first_delivery": {"type": "date"},
                    "closed_at": {"type": "datetime"},
                    "closed_on": {"type": "date"},
                },
                "statuses": [{"name": "new", "initial": True}, {"name": "approved"},
                             {"name": "closed", "category": "done"}],
                "transitions": [
                    {"name": "approve", "from": "new", "to": "approved", "condition": "amount >= 3000"},
                    {"name": "north", "from": "new", "to": "approved",
                     "condition": "consumer.district.name == 'Север'"},
                    {"name": "close", "from": ["new", "approved"], "to": "closed",
                     "set": {"closed_at": "now", "closed_on": "now()"}},
                ],
                "permissions": {"read": ["clerk", "boss"], "create": ["clerk", "boss"],
                                "update": ["clerk", "boss"]},
                "hooks": {"before_save": "o.py:before_save",
                          "actions": [{"name": "inspect", "script": "o.py:inspect"},
                                      {"name": "double", "script": "o.py:double_prices"}]},
            },
        },
        "sla": {"calendars": {"msk": {"timezone": "Europe/Moscow", "country": "RU", "default": True,
                                      "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}}},
        "scripts": {"o.py": SCRIPT},
    }


@pytest.fixture
def orders(loom):
    loom.store.publish(app_doc(), author="tester")
    loom.accounts.create_user("clerk", "pw-clerk-1234", roles=["orders:clerk"])
    loom.accounts.create_user("boss", "pw-boss-12345", roles=["orders:boss"])
    north = loom.records.create("orders", "district", {"name": "Север"})
    loom.records.create("orders", "consumer", {"name": "ООО Ромашка", "district": north["id"]})
    return loom


ITEMS = [{"product": "кабель", "price": "1200.50", "qty": 2, "delivered": "2026-03-02"},
         {"product": "щиток", "price": "300", "delivered": "2026-02-27"},
         {"product": "счётчик", "price": None}]


def test_scripts_get_table_rows_typed_and_find_get_return_them(orders):
    rec = orders.records.create("orders", "order", {"title": "A", "amount": "10", "due": "2026-05-01",
                                                     "items": ITEMS})
    # before_save summed Decimal rows (price x qty) and compared dates
    assert rec["script_total"] == "2701.00"
    assert rec["first_delivery"] == "2026-02-27"
    out = orders.workflow.action("orders", "order", rec["id"], "inspect")
    assert out["result"] == [True, True, True, True, 3, True]
    doubled = orders.workflow.action("orders", "order", rec["id"], "double")["record"]
    assert [r["price"] for r in doubled["items"]] == ["2401.00", "600.00", None]
    assert doubled["script_total"] == "5402.00"  # before_save saw the rows the action wrote


def test_computed_fields_aggregate_a_table_and_use_dates(orders):
    with clock.frozen(dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.timezone.utc)):  # 11 March in Moscow
        rec = orders.records.create("orders", "order", {
            "title": "B", "due": "2026-03-16", "opened": "2026-03-06T10:00:00Z", "items": ITEMS})
    assert rec["total"] == "1500.50"  # the empty price is skipped, as in SQL
    assert rec["rows"] == 3
    assert rec["top"] == "1200.50"
    assert rec["mean"] == "750.2500"
    assert rec["age"] == 5  # 6 March -> 11 March on the app's (Moscow) calendar, by the frozen platform clock
    assert (rec["due_year"], rec["due_month"], rec["reminder"]) == (2026, 3, "2026-03-26")
    assert rec["work_days"] == 5  # 6, 10, 11, 12, 13 March: 7-9 March are days off in Russia (8 March moved)
    empty = orders.records.create("orders", "order", {"title": "C"})
    assert (empty["total"], empty["rows"], empty["top"], empty["mean"]) == ("0.00", 0, None, None)


def test_links_are_followed_with_the_readers_permissions(orders):
    clerk, boss = orders.actor("clerk"), orders.actor("boss")
    consumer = orders.records.find("orders", "consumer")[0]["id"]
    by_boss = orders.records.create("orders", "order", {"title": "D", "consumer": consumer}, boss)
    assert by_boss["district_name"] == "Север"  # two links: order -> consumer -> district
    by_clerk = orders.records.create("orders", "order", {"title": "E", "consumer": consumer}, clerk)
    assert by_clerk["district_name"] is None  # the clerk may not read districts: nothing leaks through
    with pytest.raises(Conflict, match="condition"):
        orders.workflow.transition("orders", "order", by_clerk["id"], "north", {}, None, clerk)
    assert orders.workflow.transition("orders", "order", by_boss["id"], "north", {}, None, boss)["status"] == \
        "approved"


def test_a_condition_compares_typed_values(orders):
    rec = orders.records.create("orders", "order", {"title": "F", "amount": "100"})
    with pytest.raises(Conflict, match="condition"):
        orders.workflow.transition("orders", "order", rec["id"], "approve", {"amount": "2999.99"})
    done = orders.workflow.transition("orders", "order", rec["id"], "approve", {"amount": "3000"})
    assert done["status"] == "approved" and done["amount"] == "3000.00"


def test_now_in_a_transitions_set_reads_the_platform_clock(orders):
    rec = orders.records.create("orders", "order", {"title": "G"})
    with clock.frozen(dt.datetime(2026, 1, 31, 21, 15, tzinfo=dt.timezone.utc)):
        closed = orders.workflow.transition("orders", "order", rec["id"], "close")
    assert closed["closed_at"] == "2026-01-31T21:15:00Z"
    assert closed["closed_on"] == "2026-02-01"  # now set into a date field: the date in the app's time zone


def test_set_with_now_into_a_field_that_cannot_hold_it_is_refused_at_publish(loom):
    doc = app_doc()
    doc["entities"]["order"]["transitions"][2]["set"] = {"title": "now", "amount": "today"}
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="tester")
    messages = [(p.path, p.message) for p in err.value.problems]
    assert messages == [("transitions[2].set.amount",
                         "'today' gives a date, and 'amount' is a money field; assign it to a date, datetime or "
                         "text field")]


def test_an_expression_that_cannot_be_evaluated_is_a_clear_error(loom):
    from runtime.errors import LoomError
    loom.store.publish({"app": {"name": "big", "title": "Big"}, "entities": {"note": {"title": "Note", "fields": {
        "text": {"type": "string"},
        "echo": {"type": "computed", "result": "text", "expression": "text * 1000000"}}}}}, author="tester")
    with pytest.raises(LoomError, match="'text \\* 1000000' cannot be evaluated: expression result too large"):
        loom.records.create("big", "note", {"text": "ab"})
