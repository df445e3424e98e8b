"""Check digits of INN, SNILS and OGRN (a field's ``format``), on known good numbers and each with
one digit changed; and the field refusing a bad one, naming it."""
from __future__ import annotations

import pytest

from metamodel import Field
from metamodel.identifiers import inn, ogrn, snils
from runtime.data.values import FieldError, check

GOOD = [(inn, "7707083893"), (inn, "500100732259"), (snils, "112-233-445 95"), (snils, "11223344595"),
        (ogrn, "1027700132195"), (ogrn, "304500116000157")]


@pytest.mark.parametrize("valid, number", GOOD)
def test_a_good_number_passes_and_one_changed_digit_fails(valid, number):
    assert valid(number)
    last = number[-1]
    assert not valid(number[:-1] + str((int(last) + 1) % 10))


@pytest.mark.parametrize("valid, text", [(inn, "77070838931"), (inn, "770708389A"), (snils, "112-233-445"),
                                         (ogrn, "102770013219"), (inn, "7707 083893")])
def test_a_wrong_shape_fails(valid, text):
    assert not valid(text)


def test_a_field_with_a_format_refuses_a_bad_number():
    f = Field("inn", "string", {"type": "string", "format": "inn"})
    check(f, "7707083893")
    with pytest.raises(FieldError, match="7707083894 is not a valid INN"):
        check(f, "7707083894")


def test_format_applies_to_text_fields_only():
    from metamodel import MetadataError, validate_document
    doc = {"app": {"name": "ids", "title": "Ids"},
           "entities": {"firm": {"title": "Firm", "fields": {"inn": {"type": "string", "format": "inn"},
                                                             "code": {"type": "integer", "format": "ogrn"}}}}}
    with pytest.raises(MetadataError, match="format applies to a string field") as err:
        validate_document(doc)
    assert [p.path for p in err.value.problems] == ["fields.code.format"]


def test_a_bound_finer_than_the_scale_is_refused():
    from metamodel import MetadataError, validate_document
    doc = {"app": {"name": "ids", "title": "Ids"},
           "entities": {"part": {"title": "Part", "fields": {
               "qty": {"type": "decimal", "min": 0.001},
               "weight": {"type": "decimal", "scale": 3, "min": 0.001, "max": "10.50"}}}}}
    with pytest.raises(MetadataError, match="min 0.001 has 3 digits after the point and the field keeps 2") as err:
        validate_document(doc)
    assert [p.path for p in err.value.problems] == ["fields.qty.min"]
