"""Record checks (``checks:``): conditions a record must meet at every save, with the analyst's
message at a field or for the whole record. Two shapes: a vacancy's salary range and an order
whose parts must stay within its budget (a table summed)."""
from __future__ import annotations

import pytest

from metamodel import MetadataError
from runtime.errors import ValidationFailed

RANGE = {"condition": "salary_min <= salary_max", "field": "salary_max",
         "message": {"ru": "Максимум не меньше минимума", "en": "The maximum is at least the minimum"}}
BUDGET = {"condition": "sum(parts.amount) <= budget",
          "message": {"ru": "Запчасти дороже бюджета", "en": "The parts cost more than the budget"}}


def app(*checks) -> dict:
    return {
        "app": {"name": "chk", "title": "Checks"},
        "entities": {
            "vacancy": {"title": "Vacancy", "fields": {"title": {"type": "string"},
                                                     "salary_min": {"type": "money"}, "salary_max": {"type": "money"}},
                        "checks": [RANGE, *checks]},
            "order": {"title": "Order", "fields": {
                "budget": {"type": "money"},
                "parts": {"type": "table", "fields": {"amount": {"type": "money"}}}},
                "checks": [BUDGET]},
        },
    }


@pytest.fixture
def chk(loom):
    loom.store.publish(app(), author="tester")
    return loom


def refusal(call) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as info:
        call()
    return [(e.field, e.message) for e in info.value.errors]


def test_a_check_refuses_the_save_and_names_its_field(chk):
    create, update = chk.records.create, chk.records.update
    assert refusal(lambda: create("chk", "vacancy", {"salary_min": "90000", "salary_max": "60000"})) == [
        ("salary_max", "The maximum is at least the minimum")]
    made = create("chk", "vacancy", {"salary_min": "60000", "salary_max": "90000"})
    assert refusal(lambda: update("chk", "vacancy", made["id"], {"salary_min": "95000"}, made["row_version"])) == [
        ("salary_max", "The maximum is at least the minimum")]  # the stored maximum is read with the change
    assert chk.records.get("chk", "vacancy", made["id"])["salary_min"] is not None
    # an empty value decides nothing: required is what asks for one
    assert create("chk", "vacancy", {"salary_min": "60000"})["salary_max"] is None


def test_a_check_over_a_table_refuses_the_whole_record(chk):
    create = chk.records.create
    assert refusal(lambda: create("chk", "order", {"budget": "100.00", "parts": [{"amount": "60"}, {"amount": "50"}]})) \
        == [("record", "The parts cost more than the budget")]
    assert create("chk", "order", {"budget": "100.00", "parts": [{"amount": "60"}, {"amount": "40"}]})["id"]


@pytest.mark.parametrize("check, message", [
    ({"condition": "salary_min <= salary_maxx", "message": "x"}, "unknown field 'salary_maxx'"),
    ({"condition": "salary_min <= salary_max", "field": "salary", "message": "x"}, "unknown field 'salary'"),
    ({"condition": "salary_min <=", "message": "x"}, "cannot parse"),
])
def test_a_wrong_check_is_refused_at_publish(sqlite_loom, check, message):
    with pytest.raises(MetadataError, match=message) as err:
        sqlite_loom.store.publish(app(check), author="tester")
    assert "entities.vacancy.checks[1]" in str(err.value) or "checks[1]" in str(err.value)
