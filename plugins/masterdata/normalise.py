"""Normalisation of consumer fields before matching: pure functions, no I/O.

Each function takes a raw value (``None`` allowed) and returns a comparable
string or ``None``. ``NORMALISERS`` names them for ``extensions/masterdata.yaml``.
"""
from __future__ import annotations

import re

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)

# Russian address abbreviations and their full forms, all mapped to one short form
# so "ул. Ленина, д. 5" and "улица Ленина дом 5" compare equal.
_ADDRESS_WORDS = {
    "улица": "ул", "ул": "ул",
    "дом": "д", "д": "д",
    "квартира": "кв", "кв": "кв",
    "город": "г", "г": "г", "гор": "г",
    "проспект": "пр", "пр-т": "пр", "пр": "пр", "просп": "пр", "пркт": "пр",
    "переулок": "пер", "пер": "пер",
    "корпус": "к", "корп": "к", "к": "к",
    "строение": "стр", "стр": "стр",
    "шоссе": "ш", "ш": "ш",
    "бульвар": "б-р", "б-р": "б-р", "бул": "б-р",
    "площадь": "пл", "пл": "пл",
    "набережная": "наб", "наб": "наб",
    "область": "обл", "обл": "обл",
    "район": "р-н", "р-н": "р-н",
    "поселок": "п", "посёлок": "п", "пос": "п", "п": "п",
    "село": "с", "с": "с",
    "деревня": "дер", "дер": "дер",
}

# Legal forms written several ways, each to its abbreviation. Longest first.
_LEGAL_FORMS = [
    ("публичное акционерное общество", "пао"),
    ("закрытое акционерное общество", "зао"),
    ("открытое акционерное общество", "оао"),
    ("непубличное акционерное общество", "ао"),
    ("акционерное общество", "ао"),
    ("общество с ограниченной ответственностью", "ооо"),
    ("индивидуальный предприниматель", "ип"),
    ("муниципальное унитарное предприятие", "муп"),
    ("государственное унитарное предприятие", "гуп"),
]
_FORM_ABBREVIATIONS = {"ооо", "ао", "зао", "пао", "оао", "ип", "муп", "гуп"}


def text(value) -> str | None:
    """Lower case, ё as е, punctuation and repeated spaces removed."""
    if value is None:
        return None
    out = str(value).lower().replace("ё", "е")
    out = _SPACES.sub(" ", _PUNCT.sub(" ", out)).strip()
    return out or None


def address(value) -> str | None:
    """``text`` with address words reduced to one abbreviation each.

    Hyphenated abbreviations (``пр-т``, ``б-р``, ``р-н``) are read before the
    punctuation goes, a number glued to its word (``д.5``) is split off.
    """
    if value is None:
        return None
    raw = str(value).lower().replace("ё", "е")
    tokens = re.findall(r"[a-zа-я]+-[a-zа-я]+|[a-zа-я]+|\d+[a-zа-я]?", raw)
    out = [_ADDRESS_WORDS.get(token, token) for token in tokens]
    return " ".join(out) or None


def phone(value) -> str | None:
    """The last ten digits: +7, 8 and formatting make no difference."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", str(value))
    return digits[-10:] if len(digits) >= 10 else None


def email(value) -> str | None:
    if value is None:
        return None
    out = str(value).strip().lower()
    return out if "@" in out else None


def inn(value) -> str | None:
    """The INN when its checksum holds (10 digits for companies, 12 for persons), else ``None``."""
    if value is None:
        return None
    digits = re.sub(r"[^0-9]", "", str(value))
    return digits if inn_valid(digits) else None


def _inn_digit(digits: str, weights: tuple) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights)) % 11 % 10


def inn_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    if len(digits) == 10:
        return _inn_digit(digits, (2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(digits[9])
    if len(digits) == 12:
        return (_inn_digit(digits, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(digits[10])
                and _inn_digit(digits, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(digits[11]))
    return False


def legal_form(value) -> str | None:
    """The legal form of an organisation name (``ооо``, ``ао``...), ``None`` when it has none."""
    return split_legal_name(value)[0]


def organisation(value) -> str | None:
    """An organisation's name without quotes and legal form: ``ООО "Ромашка"`` → ``ромашка``."""
    return split_legal_name(value)[1]


def split_legal_name(value) -> tuple[str | None, str | None]:
    cleaned = text(value)
    if cleaned is None:
        return None, None
    form = None
    for long, short in _LEGAL_FORMS:
        if long in cleaned:
            cleaned, form = cleaned.replace(long, " "), short
            break
    words = cleaned.split()
    rest = [w for w in words if w not in _FORM_ABBREVIATIONS]
    if form is None and len(rest) < len(words):
        form = next(w for w in words if w in _FORM_ABBREVIATIONS)
    return form, " ".join(rest) or None


def date(value) -> str | None:
    """An ISO date string (``YYYY-MM-DD``) from ISO or ``DD.MM.YYYY``."""
    if value is None:
        return None
    raw = str(value).strip()
    m = re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", raw)
    if m:
        return f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", raw)
    return m[0] if m else None


# The same normalisers as DuckDB SQL expressions over a text column, for millions of
# records at once (a Python call per value was most of a run's reading time). RE2 knows
# ASCII classes only, so Python's Unicode ``\s``, ``\w`` and ``\d`` are spelled out.
_WS = r"\t\n\v\f\r\x{1c}-\x{1f}\x{85}\p{Z}"


def _sql_text(col: str) -> str:
    # punctuation and spaces in one pass: each run of them is one space, as ``text`` leaves it
    lowered = f"replace(lower({col}), 'ё', 'е')"
    return f"nullif(trim(regexp_replace({lowered}, '[^\\p{{L}}\\p{{N}}_]+', ' ', 'g')), '')"


def _sql_address(col: str) -> str:
    tokens = f"regexp_extract_all(replace(lower({col}), 'ё', 'е'), '[a-zа-я]+-[a-zа-я]+|[a-zа-я]+|[0-9]+[a-zа-я]?')"
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in _ADDRESS_WORDS.items() if k != v)
    return f"nullif(array_to_string(list_transform({tokens}, lambda t: CASE t {cases} ELSE t END), ' '), '')"


def _sql_phone(col: str) -> str:
    digits = f"regexp_replace({col}, '[^\\p{{Nd}}]', '', 'g')"
    return f"CASE WHEN length({digits}) >= 10 THEN right({digits}, 10) END"


def _sql_email(col: str) -> str:
    out = f"lower(regexp_replace({col}, '^[{_WS}]+|[{_WS}]+$', '', 'g'))"
    return f"CASE WHEN contains({out}, '@') THEN {out} END"


def _sql_date(col: str) -> str:
    raw = f"regexp_replace({col}, '^[{_WS}]+|[{_WS}]+$', '', 'g')"
    dotted = "^([0-9]{1,2})[./]([0-9]{1,2})[./]([0-9]{4})$"
    part = lambda i: f"regexp_extract({raw}, '{dotted}', {i})"
    return (f"CASE WHEN regexp_matches({raw}, '{dotted}') THEN {part(3)} || '-' || lpad({part(2)}, 2, '0') || '-' "
            f"|| lpad({part(1)}, 2, '0') ELSE nullif(regexp_extract({raw}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}'), '') END")


def _sql_words(col: str) -> tuple[str, str]:
    """The SQL of ``split_legal_name``'s two steps: (the long form found, as its abbreviation
    or NULL; the words left once it is removed)."""
    cleaned = _sql_text(col)
    found = " ".join(f"WHEN contains({cleaned}, '{long}') THEN '{short}'" for long, short in _LEGAL_FORMS)
    removed = " ".join(f"WHEN contains({cleaned}, '{long}') THEN replace({cleaned}, '{long}', ' ')"
                       for long, _ in _LEGAL_FORMS)
    return f"CASE {found} END", f"string_split(CASE {removed} ELSE {cleaned} END, ' ')"


_ABBREVIATIONS_SQL = ", ".join(f"'{a}'" for a in sorted(_FORM_ABBREVIATIONS))


def _sql_organisation(col: str) -> str:
    _, words = _sql_words(col)
    kept = f"list_filter({words}, lambda w: w <> '' AND w NOT IN ({_ABBREVIATIONS_SQL}))"
    return f"nullif(array_to_string({kept}, ' '), '')"


def _sql_legal_form(col: str) -> str:
    found, words = _sql_words(col)
    return f"coalesce({found}, list_filter({words}, lambda w: w IN ({_ABBREVIATIONS_SQL}))[1])"


def _sql_checksum(weights: tuple, check_at: int) -> str:
    total = " + ".join(f"{w} * try_cast(substr(d, {i + 1}, 1) AS INTEGER)" for i, w in enumerate(weights))
    return f"({total}) % 11 % 10 = try_cast(substr(d, {check_at}, 1) AS INTEGER)"


def _sql_inn(col: str) -> str:
    ten = _sql_checksum((2, 4, 10, 3, 5, 9, 4, 6, 8), 10)
    twelve = (f"{_sql_checksum((7, 2, 4, 10, 3, 5, 9, 4, 6, 8), 11)} AND "
              f"{_sql_checksum((3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8), 12)}")
    # the lambda names the digits once (``d``) instead of repeating the regexp per digit
    return (f"list_transform([regexp_replace({col}, '[^0-9]', '', 'g')], lambda d: CASE length(d) "
            f"WHEN 10 THEN CASE WHEN {ten} THEN d END WHEN 12 THEN CASE WHEN {twelve} THEN d END END)[1]")


SQL_NORMALISERS = {"inn": _sql_inn, "text": _sql_text, "organisation": _sql_organisation, "legal_form": _sql_legal_form, "address": _sql_address, "phone": _sql_phone, "email": _sql_email,
                   "date": _sql_date}

NORMALISERS = {
    "text": text, "address": address, "phone": phone, "email": email, "inn": inn,
    "legal_form": legal_form, "organisation": organisation, "date": date,
}
