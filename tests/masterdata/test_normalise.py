"""Normalisers of the master data plugin: each variant of a value compares equal."""
from __future__ import annotations

import pytest

from plugins.masterdata import normalise as n


@pytest.mark.parametrize("a, b", [
    ("г. Москва, ул. Ленина, д. 5, кв. 12", "город Москва улица Ленина дом 5 квартира 12"),
    ("г.Москва,ул.Ленина,д.5,кв.12", "Г МОСКВА УЛ ЛЕНИНА Д 5 КВ 12"),
    ("пр-т Мира, д. 3", "проспект Мира дом 3"),
    ("ул. Королёва 7", "улица Королева 7"),
])
def test_address_variants_are_equal(a, b):
    assert n.address(a) == n.address(b)


def test_addresses_of_different_flats_differ():
    assert n.address("ул. Ленина, д. 5, кв. 12") != n.address("ул. Ленина, д. 5, кв. 13")


@pytest.mark.parametrize("raw", ["+7 (912) 345-67-89", "89123456789", "912 345 67 89", "7-912-345-6789"])
def test_phone_keeps_the_last_ten_digits(raw):
    assert n.phone(raw) == "9123456789"


def test_a_short_phone_is_none():
    assert n.phone("345-67-89") is None and n.phone(None) is None


@pytest.mark.parametrize("raw, ok", [
    ("7707083893", True), ("7707083894", False),       # company: one check digit
    ("500100732259", True), ("500100732258", False),   # person: two check digits
    ("123", False), ("77070838931", False),
])
def test_inn_checksum(raw, ok):
    assert n.inn_valid(raw) is ok
    assert (n.inn(raw) == raw) is ok


@pytest.mark.parametrize("raw, form, name", [
    ('ООО "Ромашка"', "ооо", "ромашка"),
    ("Общество с ограниченной ответственностью «Ромашка»", "ооо", "ромашка"),
    ("ромашка, ооо", "ооо", "ромашка"),
    ("Публичное акционерное общество «Энергосбыт»", "пао", "энергосбыт"),
    ("ПАО Энергосбыт", "пао", "энергосбыт"),
    ("Закрытое акционерное общество Вектор", "зао", "вектор"),
    ("АО «Вектор»", "ао", "вектор"),
    ("Индивидуальный предприниматель Иванов Иван Иванович", "ип", "иванов иван иванович"),
    ("ИП Иванов Иван Иванович", "ип", "иванов иван иванович"),
    ("Иванов Иван", None, "иванов иван"),
])
def test_legal_forms_written_several_ways(raw, form, name):
    assert n.split_legal_name(raw) == (form, name)


def test_text_folds_case_yo_and_punctuation():
    assert n.text("  Пётр-Ёлкин,  ПЁТР!! ") == "петр елкин петр"
    assert n.text("...") is None


def test_dates_in_both_notations():
    assert n.date("01.02.1980") == n.date("1980-02-01") == "1980-02-01"
    assert n.date("вчера") is None


def test_the_sql_normalisers_agree_with_the_python_ones():
    from plugins.masterdata.match import normalised_columns
    from plugins.masterdata.normalise import NORMALISERS, SQL_NORMALISERS
    from tests.masterdata.synth import generate
    records, _ = generate(3000, seed=9)
    tricky = {
        "text": ["  Ёлкин-Палкин!! ", "ПЁТР", "a__b", "\t\n", "!!!", "O'Brien\u00a0Jr.", "", "№5 «Ромашка»",
                 "a\u2003 b\u3000c", "e\u0301", "x\u200by", "٣½ - ,"],
        "address": ["ул. Ленина, д.5, кв.12", "Улица Ленина дом 5", "пр-т Мира 7а", "б-р Победы, к2",
                    "г Пермь, пос. Лесной", "Посёлок Ёлки", "", "---", "12-я Линия"],
        "phone": ["+7 (912) 345-67-89", "8 912 345 67 89", "12345", "", "tel: 9123456789 ext 12"],
        "email": ["  Ivan@Mail.RU ", "no-at-sign", "", " \u00a0a@b.c"],
        "organisation": ['ООО "Ромашка"', "Общество с ограниченной ответственностью «Вектор»", "ао",
                         "Публичное акционерное общество Гранит ПАО", "ИП Иванов И.И.", "", "Мир ооо",
                         "непубличное акционерное общество Альфа", "оооо Квант"],
        "inn": ["500100732259", "5001 0073 2259", "500100732258", "7707083893", "7707083890", "12345", "",
                 "ИНН 7707083893", "77070838931", "x"],
        "date": ["5.3.1980", "05/03/1980", "1980-03-05", "1980-03-05T10:00:00", " 01.12.2001 ", "31.13", "",
                 "1980-3-5", "x1980-03-05"],
    }
    checked = 0
    for kind in SQL_NORMALISERS:
        field = {"text": "first_name", "address": "address", "phone": "phone", "email": "email",
                 "date": "birth_date", "organisation": "name", "legal_form": "name", "inn": "inn"}[kind]
        values = [r.get(field) for r in records] + tricky["organisation" if kind == "legal_form" else kind] + [None]
        got = normalised_columns(list(range(len(values))), {"v": values}, {"v": kind}).column("v").to_pylist()
        assert got == [NORMALISERS[kind](v) for v in values], kind
        checked += len(values)
    assert checked > 15000
