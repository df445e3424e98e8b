"""Field values: from JSON to Python, checks from metadata, and back to JSON.

Coercion is strict: a value that would change on the way in (``1.234`` into
a field with scale 2, ``"12abc"`` into an integer) is refused rather than
rounded or cut. Storage migrations rely on that to prove a conversion
loses nothing.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from functools import lru_cache

from metamodel import Field, title_text
from metamodel.geo import Point, parse_point
from metamodel.identifiers import FORMATS

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ()\-]{5,25}$")
TRUE, FALSE = {"true", "1", "yes", "да", "t", "y"}, {"false", "0", "no", "нет", "f", "n", ""}


class FieldError(ValueError):
    """A value a field cannot take; ``field`` names it, ``message`` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@lru_cache(maxsize=256)
def _pattern(source: str):
    return re.compile(source)


def coerce(f: Field, value):
    """Turn a JSON (or CSV text) value into the Python value the column stores."""
    if value is None or (isinstance(value, str) and value == "" and f.value_type not in ("string", "text")):
        return None
    kind = f.value_type
    try:
        if kind in ("string", "text", "email", "phone", "choice"):
            if isinstance(value, bool) or not isinstance(value, (str, int, decimal.Decimal, float, dt.date)):
                raise FieldError(f.name, f"expected text, got {type(value).__name__}")
            text = value if isinstance(value, str) else _text(value)
            return text.strip() if kind in ("email", "phone") else text  # pasted addresses bring spaces
        if kind == "integer":
            if isinstance(value, bool):
                raise FieldError(f.name, "expected a whole number, got true/false")
            if not isinstance(value, int):
                d = decimal.Decimal(str(value).strip())
                if d != d.to_integral_value():
                    raise FieldError(f.name, f"{value!r} is not a whole number")
                value = int(d)
            return _in_64_bits(f, value)
        if kind in ("decimal", "money"):
            if isinstance(value, bool):
                raise FieldError(f.name, "expected a number, got true/false")
            d = decimal.Decimal(str(value).strip().replace(",", ".")) if not isinstance(value, decimal.Decimal) else value
            if not d.is_finite():
                raise FieldError(f.name, f"{value!r} is not a finite number")
            if d != d.quantize(decimal.Decimal(1).scaleb(-f.scale), rounding=decimal.ROUND_DOWN):
                raise FieldError(f.name, f"{value} has more than {f.scale} digits after the point")
            if d.adjusted() >= f.precision - f.scale:
                raise FieldError(f.name, f"{value} has more than {f.precision - f.scale} digits before the point")
            return d
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            lowered = str(value).strip().lower()
            if lowered in TRUE:
                return True
            if lowered in FALSE:
                return False
            raise FieldError(f.name, f"{value!r} is not true or false")
        if kind == "date":
            if isinstance(value, dt.datetime):
                if value.timetz().replace(tzinfo=None) != dt.time(0):
                    raise FieldError(f.name, f"{value.isoformat()} has a time of day; a date has none")
                return value.date()
            if isinstance(value, dt.date):
                return value
            return dt.date.fromisoformat(str(value).strip())
        if kind == "datetime":
            if isinstance(value, dt.datetime):
                parsed = value
            elif isinstance(value, dt.date):
                parsed = dt.datetime.combine(value, dt.time(0))
            else:
                parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.timezone.utc)
            return parsed.astimezone(dt.timezone.utc)
        if kind == "geo":
            try:
                return parse_point(value)
            except ValueError as exc:
                raise FieldError(f.name, str(exc)) from None
        if kind in ("link", "user", "group"):
            if isinstance(value, dict) and "id" in value:
                value = value["id"]
            if isinstance(value, bool):
                raise FieldError(f.name, "expected a record id")
            number = int(str(value).strip()) if not isinstance(value, int) else value
            if number <= 0:
                raise FieldError(f.name, f"{value!r} is not a record id")
            return _in_64_bits(f, number)
    except FieldError:
        raise
    except (ValueError, TypeError, decimal.InvalidOperation, ArithmeticError):
        raise FieldError(f.name, f"{value!r} is not a valid {_kind_name(kind)}") from None
    raise FieldError(f.name, f"{f.type} fields take no single value")


#: Whole numbers and ids are stored as signed 64-bit integers on both databases.
INT64 = 2**63


def _in_64_bits(f: Field, number: int) -> int:
    if not -INT64 <= number < INT64:
        raise FieldError(f.name, f"{number} is out of range (a whole number of at most 64 bits)")
    return number


def _text(value) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


def _kind_name(kind: str) -> str:
    return {"integer": "whole number", "decimal": "number", "money": "amount", "date": "date (YYYY-MM-DD)",
            "datetime": "date and time (ISO 8601)", "link": "record id", "user": "user id",
            "group": "group id"}.get(kind, kind)


def check(f: Field, value) -> None:
    """Apply the field's declared constraints to a coerced, non-empty value."""
    spec, kind = f.spec, f.value_type
    if isinstance(value, str):
        if f.max_length is not None and len(value) > f.max_length:
            raise FieldError(f.name, f"at most {f.max_length} characters allowed, got {len(value)}")
        if len(value) < spec.get("min_length", 0):
            raise FieldError(f.name, f"at least {spec['min_length']} characters required, got {len(value)}")
        if "pattern" in spec and not _pattern(spec["pattern"]).search(value):
            if spec.get("pattern_message"):  # the analyst's words; the forms show them in the reader's language
                raise FieldError(f.name, title_text(spec["pattern_message"], "en"))
            raise FieldError(f.name, f"{value!r} does not match the pattern {spec['pattern']}")
        if spec.get("format") in FORMATS and not FORMATS[spec["format"]][1](value):
            raise FieldError(f.name, f"{value} is not a valid {FORMATS[spec['format']][0]}")
        if kind == "email" and not EMAIL.match(value):
            raise FieldError(f.name, f"{value!r} is not an e-mail address")
        if kind == "phone" and not PHONE.match(value):
            raise FieldError(f.name, f"{value!r} is not a phone number")
        if kind == "choice" and f.choices and value not in f.choice_values:
            raise FieldError(f.name, f"{value!r} is not one of {', '.join(c.value for c in f.choices)}")
    elif kind in ("integer", "decimal", "money") and value is not None:
        if "min" in spec and value < decimal.Decimal(str(spec["min"])):
            raise FieldError(f.name, f"must be at least {spec['min']}, got {value}")
        if "max" in spec and value > decimal.Decimal(str(spec["max"])):
            raise FieldError(f.name, f"must be at most {spec['max']}, got {value}")
    elif kind in ("date", "datetime") and value is not None:
        for bound, cmp, word in (("min", lambda a, b: a < b, "on or after"), ("max", lambda a, b: a > b, "on or before")):
            if bound in spec:
                limit = coerce(f, spec[bound])
                if cmp(value, limit):
                    raise FieldError(f.name, f"must be {word} {spec[bound]}")


def _datetime_json(value: dt.datetime) -> str:
    if value.tzinfo is None:  # SQLite: stored in UTC without a zone
        return value.isoformat() + "Z"
    if value.tzinfo is dt.timezone.utc:  # as the database hands them back: "+00:00" becomes "Z"
        return value.isoformat()[:-6] + "Z"
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


_JSON = {decimal.Decimal: lambda v: format(v, "f"), dt.datetime: _datetime_json, dt.date: dt.date.isoformat,
         Point: Point.json}


def to_json(value):
    """The JSON form of a stored value (decimals as strings keep their precision)."""
    convert = _JSON.get(type(value))
    return convert(value) if convert is not None else value


def rows_json(rows, keys: list[str]) -> list[dict]:
    """``keys`` of each of ``rows`` in their JSON form, as :func:`to_json` gives them.

    A column holds one Python type, so the conversion is chosen once per column (from its
    first non-empty value) instead of being looked up for every value: a page of 50 rows of
    20 columns is a thousand values, and this loop is the list endpoint's hottest."""
    plan = []
    for key in keys:
        sample = next((r[key] for r in rows if r[key] is not None), None)
        convert = _JSON.get(type(sample))
        if convert is not None:
            plan.append((key, convert))
    out = []
    for row in rows:
        item = {key: row[key] for key in keys}
        for key, convert in plan:
            value = item[key]
            if value is not None:
                item[key] = convert(value)
        out.append(item)
    return out


_PLAIN_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)([.,][0-9]+)?")


def _same_number(text: str, number) -> bool:
    """True when ``text`` is just ``number`` written out: no leading zeros (an INN keeps
    its), no exponent; a decimal comma counts as the point it means in Russian."""
    text = text.strip()
    return bool(_PLAIN_NUMBER.fullmatch(text)) and decimal.Decimal(text.replace(",", ".")) == number


def convert(old: Field, new: Field, value):
    """Convert a stored value for a type change; raise ``FieldError`` if anything would be lost."""
    if value is None:
        return None
    if new.value_type in ("string", "text", "email", "phone", "choice") and not isinstance(value, str):
        value = _text(value)
    if new.value_type == "date" and isinstance(value, dt.datetime):
        value = value.astimezone(dt.timezone.utc)
    result = coerce(new, value)
    check(new, result)
    if old.value_type in ("string", "text", "email", "phone", "choice") and isinstance(result, (int, decimal.Decimal)) \
            and not isinstance(result, bool) and not _same_number(value, result):
        raise FieldError(new.name, f"{value!r} would change to {result}")
    if old.value_type in ("string", "text") and new.value_type == "boolean" and value.strip().lower() not in ("true", "false"):
        raise FieldError(new.name, f"{value!r} would become {result}")
    if old.value_type == "integer" and new.value_type == "boolean" and value not in (0, 1):
        raise FieldError(new.name, f"{value} would become {result}")
    return result
