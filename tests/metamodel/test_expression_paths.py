"""Paths (link.field, table.column), aggregates and date functions in expressions, and what
validation says about them."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from metamodel import MetadataError, validate_document
from metamodel.expressions import ExpressionError, date_functions, parse


def test_paths_are_read_through_resolve_or_from_nested_values():
    expr = parse("consumer.district.name == 'Север' and sum(items.price) > 10")
    assert expr.names == frozenset({"consumer", "items"})
    assert expr.paths == ("consumer.district.name", "items.price")
    assert expr.aggregated == frozenset({("sum", "items.price")})
    asked = []
    resolve = lambda path: asked.append(path) or {"consumer.district.name": "Север",  # noqa: E731
                                                   "items.price": [Decimal("7"), None, Decimal("4")]}[path]
    assert expr.evaluate({}, resolve=resolve) is True
    assert asked == ["consumer.district.name", "items.price"]
    nested = {"consumer": {"district": {"name": "Юг"}}, "items": [{"price": Decimal("20")}]}
    assert expr.evaluate(nested) is False


@pytest.mark.parametrize("source, expected", [
    ("sum(items.price)", Decimal("11.5")),
    ("count(items.price)", 2),
    ("count(items)", 3),
    ("len(items)", 3),
    ("min(items.price)", Decimal("4")),
    ("max(items.price)", Decimal("7.5")),
    ("avg(items.price)", Decimal("5.75")),
    ("sum(items.qty) * 2", 12),
    ("max(a, b)", 3),  # None is skipped, as SQL's GREATEST does
])
def test_aggregates_skip_empty_values(source, expected):
    rows = [{"price": Decimal("7.5"), "qty": 1}, {"price": None, "qty": 2}, {"price": Decimal("4"), "qty": 3}]
    assert parse(source).evaluate({"items": rows, "a": None, "b": 3}) == expected


def test_aggregates_of_no_rows():
    assert [parse(f"{fn}(items.price)").evaluate({"items": []}) for fn in ("sum", "count", "min", "max", "avg")] \
        == [0, 0, None, None, None]


def test_date_functions():
    values = {"a": dt.date(2026, 2, 27), "b": dt.date(2026, 3, 3), "t": dt.datetime(2026, 3, 1, 22, 0,
                                                                                        tzinfo=dt.timezone.utc)}
    ev = lambda source, **kw: parse(source).evaluate(values, **kw)  # noqa: E731
    assert ev("days_between(a, b)") == 4
    assert ev("days_between(b, a)") == -4
    assert (ev("year(a)"), ev("month(a)"), ev("day(a)")) == (2026, 2, 27)
    assert ev("add_days(a, 2)") == dt.date(2026, 3, 1)
    assert ev("days_between(a, t)") == 2  # the datetime's own date (UTC)
    moscow = date_functions(dt.timezone(dt.timedelta(hours=3)))
    assert ev("days_between(a, t)", functions=moscow) == 3  # 1 March 22:00 UTC is 2 March in Moscow
    assert ev("day(t)", functions=moscow) == 2
    assert ev("days_between(a, missing)") is None


def test_bare_now_and_today_are_the_clock():
    frozen = {"now": lambda: dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "today": lambda: dt.date(2026, 1, 1)}
    assert parse("now").evaluate({}, functions=frozen) == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert parse("today - days(1)").evaluate({}, functions=frozen) == dt.date(2025, 12, 31)
    assert parse("now").names == frozenset()


def test_a_field_named_like_a_function_is_still_a_field():
    assert parse("month + 1").evaluate({"month": 4}) == 5
    assert parse("month(d)").evaluate({"d": dt.date(2026, 7, 1), "month": 4}) == 7


def test_business_days_need_the_runtime():
    with pytest.raises(ExpressionError, match="business calendar"):
        parse("business_days_between(a, b)").evaluate({"a": dt.date(2026, 1, 1), "b": dt.date(2026, 2, 1)})


# ---------------------------------------------------------------- validation

def doc(**computed):
    fields = {"consumer": {"type": "link", "entity": "consumer"}, "note": {"type": "string"},
              "items": {"type": "table", "fields": {"name": {"type": "string"}, "price": {"type": "money"}}}}
    fields.update({name: {"type": "computed", "result": "string", "expression": e} for name, e in computed.items()})
    return {"app": {"name": "paths", "title": "Paths"},
            "entities": {"district": {"title": "D", "fields": {"name": {"type": "string"},
                                                              "region": {"type": "link", "entity": "region"}}},
                         "region": {"title": "R", "fields": {"name": {"type": "string"}}},
                         "consumer": {"title": "C", "fields": {"name": {"type": "string"},
                                                              "district": {"type": "link", "entity": "district"}}},
                         "order": {"title": "O", "fields": fields}}}


def problems(**computed):
    with pytest.raises(MetadataError) as err:
        validate_document(doc(**computed))
    return {p.path.rsplit(".", 1)[0].removeprefix("fields."): p.message for p in err.value.problems}


def test_valid_paths_publish():
    validate_document(doc(a="consumer.name", b="consumer.district.name", c="str(sum(items.price))",
                          d="concat(consumer.district.name, count(items.name))", e="consumer.district.id"))


@pytest.mark.parametrize("expression, message", [
    ("consumer.district.region.name", "follows 3 links; an expression follows at most 2"),
    ("consumer.distrct", "unknown field of consumer 'distrct'; did you mean 'district'?"),
    ("consumer.name.x", "'name' is a string field, so 'consumer.name.x' cannot follow it"),
    ("note.x", "'note' is a string field, so 'note.x' cannot follow it"),
    ("items.price", "'items.price' is a column of every row of the table 'items'; aggregate it: sum(items.price)"),
    ("sum(items.cost)", "unknown column of items 'cost'"),
    ("sum(items.name)", "sum(items.name) needs numbers; 'items.name' is a string field"),
])
def test_paths_that_cannot_be_read_are_refused_with_a_reason(expression, message):
    found = problems(x=expression)
    assert message in found["x"]
