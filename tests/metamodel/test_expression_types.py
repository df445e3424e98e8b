"""Publishing finds expressions whose value would always be empty because they combine types that
never go together (at run time a TypeError gives None, so the mistake would pass silently):
evaluated once with a value of each field's type, such an expression still fails."""
from __future__ import annotations

import pytest

from metamodel import MetadataError, validate_document


def doc(expression: str, where: str = "computed") -> dict:
    loan = {
        "title": "Loan",
        "fields": {
            "title": {"type": "string"}, "amount": {"type": "money"}, "count": {"type": "integer"},
            "taken_on": {"type": "date"}, "returned_on": {"type": "date"}, "due_at": {"type": "datetime"},
            "kind": {"type": "choice", "choices": [{"value": "a"}, {"value": "b"}]},
            "customer": {"type": "link", "entity": "customer"},
            "items": {"type": "table", "fields": {"price": {"type": "money"}, "qty": {"type": "integer"}}},
        },
        "statuses": [{"name": "new", "initial": True}, {"name": "done"}],
        "transitions": [{"name": "finish", "from": "new", "to": "done"}],
    }
    if where == "computed":
        loan["fields"]["value"] = {"type": "computed", "expression": expression}
    else:
        loan["transitions"][0]["condition"] = expression
    return {"app": {"name": "lend", "title": "Lend"},
            "entities": {"loan": loan, "customer": {"title": "Customer",
                                                     "fields": {"discount": {"type": "decimal"},
                                                                "name": {"type": "string"}}}}}


@pytest.mark.parametrize("expression", [
    "days(coalesce(returned_on, today()) - taken_on)",   # days() makes a duration from a number
    "amount + title",
    "len(amount)",
    "due_at < today()",                                    # a datetime against a date
    "customer.name * customer.discount + title",
    "sum(items.price) + title",
])
def test_a_computed_field_that_combines_types_that_never_go_together_is_refused(expression):
    with pytest.raises(MetadataError, match="it fails whatever the fields hold") as err:
        validate_document(doc(expression))
    assert "fields.value.expression" in str(err.value)


def test_a_condition_is_checked_the_same_way():
    with pytest.raises(MetadataError, match=r"transitions\[0\]\.condition: it fails whatever the fields hold"):
        validate_document(doc("amount > title", where="condition"))


@pytest.mark.parametrize("expression", [
    "days_between(taken_on, coalesce(returned_on, today()))",
    "taken_on + days(count)",
    "amount * count + sum(items.price)",
    "customer.discount * amount",
    "kind == 'b' and count > 1",
    "business_days_between(taken_on, now()) > 2",
    "concat(title, ' ', str(count))",
    "'late' if due_at < now() else 'in time'",
    "int(title)",                                          # a value the sample picked, not a type mistake
])
def test_expressions_of_matching_types_pass(expression):
    validate_document(doc(expression))


def test_system_fields_and_statuses_have_their_types_in_conditions():
    validate_document(doc("business_days_between(created_at, now()) > 2 and status == 'new' and number != ''",
                          where="condition"))
    with pytest.raises(MetadataError, match="it fails whatever the fields hold"):
        validate_document(doc("created_at > 2", where="condition"))
