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
