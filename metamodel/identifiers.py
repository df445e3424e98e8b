"""Russian registration numbers whose last digits check the rest: a field's ``format``.

``inn`` (taxpayer number: 10 digits for an organisation, 12 for a person), ``snils`` (personal
insurance account: 11 digits, often written ``112-233-445 95``) and ``ogrn`` (state registration
number: 13 digits, 15 for an individual entrepreneur). Each function takes the text as typed and
answers whether it is one; spaces and dashes are allowed in a SNILS only.
"""
from __future__ import annotations

import re

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _digit(digits: str, weights: tuple) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights)) % 11 % 10


def inn(text: str) -> bool:
    if not re.fullmatch(r"\d{10}|\d{12}", text):
        return False
    if len(text) == 10:
        return _digit(text, _INN10) == int(text[9])
    return _digit(text, _INN11) == int(text[10]) and _digit(text, _INN12) == int(text[11])


def snils(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    if not re.fullmatch(r"\d{11}", digits):
        return False
    if int(digits[:9]) <= 1001998:  # numbers up to 001-001-998 were issued without a check
        return True
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:9]))
    check = total if total < 100 else 0 if total in (100, 101) else total % 101 % 100
    return check == int(digits[9:])


def ogrn(text: str) -> bool:
    if re.fullmatch(r"\d{13}", text):
        return int(text[:12]) % 11 % 10 == int(text[12])
    if re.fullmatch(r"\d{15}", text):
        return int(text[:14]) % 13 % 10 == int(text[14])
    return False


FORMATS = {"inn": ("INN", inn), "snils": ("SNILS", snils), "ogrn": ("OGRN", ogrn)}
