"""Relative times: ``now``, ``today``, ``now - 7d``, ``start_of_month + 1mo``.

A relative time is an *anchor* and at most one *offset* ``+ N unit`` or
``- N unit``::

    anchor:  now  today
             start_of_week  start_of_month  start_of_quarter  start_of_year
             end_of_week    end_of_month    end_of_quarter    end_of_year
    unit:    m (minutes)  h (hours)  d (days)  w (weeks)  mo (months)  y (years)

It stands wherever a date or datetime field is compared with a value: list
view and report filters, ``field__op=value`` query arguments and row
conditions. It is resolved each time a query runs, against the platform clock;
the anchors other than ``now`` are days in the app's time zone (weeks start on
Monday). For a ``date`` field an anchor is that day; for a ``datetime`` field a
``start_of_``/``today`` anchor is the first instant of the day and an ``end_of_``
anchor the last one (``23:59:59.999999``). Days, weeks, months and years move
the calendar date (Jan 31 + 1mo is Feb 28, and the end of a month stays the end
of a month); minutes and hours move the instant, and a date field takes none.

Text that starts with a letter is read as a relative time; anything else (an
ISO date ``2026-01-31``) is a literal. In a URL a ``+`` reads as a space, so
``?due__lt=today+1d`` means ``today + 1d``.
"""
from __future__ import annotations

import calendar
import datetime as dt
import difflib
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

ANCHORS = ("now", "today", "start_of_week", "start_of_month", "start_of_quarter", "start_of_year",
           "end_of_week", "end_of_month", "end_of_quarter", "end_of_year")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks", "mo": "months", "y": "years"}
TIME_TYPES = ("date", "datetime")
GRAMMAR = (f"an anchor ({', '.join(ANCHORS)}) and at most one offset '+ N unit' or '- N unit' with the units "
           + ", ".join(f"{k} ({v})" for k, v in UNITS.items()) + ", e.g. 'now - 7d' or 'start_of_month + 1mo'")

# A space instead of the sign is a plus: in a URL ``today+1d`` arrives as ``today 1d``.
_TEXT = re.compile(r"\s*(?P<anchor>[A-Za-z_]+)\s*(?:(?:(?P<sign>[+-])|(?<=\s))\s*(?P<amount>\d+)\s*(?P<unit>[A-Za-z]+))?\s*")
# The same, inside a longer condition: the anchor as a whole word, the unit glued to a word end.
PATTERN = (r"\b(?:" + "|".join(ANCHORS) + r")\b(?:\s*[+-]\s*\d+\s*(?:mo|m|h|d|w|y)\b)?")


class RelativeTimeError(ValueError):
    """Text that looks like a relative time but is not one; the message says what would be."""


@dataclass(frozen=True)
class RelativeTime:
    anchor: str
    amount: int = 0  # signed
    unit: str | None = None

    def __str__(self) -> str:
        if not self.unit:
            return self.anchor
        return f"{self.anchor} {'-' if self.amount < 0 else '+'} {abs(self.amount)}{self.unit}"

    def resolve(self, now: dt.datetime, tz, value_type: str = "datetime"):
        """The value for a ``date`` (a :class:`datetime.date`) or ``datetime`` field (an aware UTC
        datetime) at the instant ``now``, with the days of the time zone ``tz`` (a name or tzinfo)."""
        problem = self.problem(value_type)
        if problem:
            raise RelativeTimeError(problem)
        zone = _zone(tz) if isinstance(tz, str) else tz
        local = now.astimezone(zone)
        calendar_units = self.unit in ("d", "w", "mo", "y")
        if self.anchor == "now":
            wall = local.replace(tzinfo=None)
            if calendar_units:
                wall = _shift(wall, self.amount, self.unit, keep_month_end=False)
            if value_type == "date":
                return wall.date()
            instant = _instant(wall, zone)
        else:
            day = _anchor_day(self.anchor, local.date())
            if calendar_units:
                day = _shift(day, self.amount, self.unit, keep_month_end=self.anchor in _MONTH_ENDS)
            if value_type == "date":
                return day
            if self.anchor.startswith("end_of_"):
                instant = _instant(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()), zone) \
                    - dt.timedelta(microseconds=1)
            else:
                instant = _instant(dt.datetime.combine(day, dt.time()), zone)
        if self.unit in ("m", "h"):
            instant += dt.timedelta(**{UNITS[self.unit]: self.amount})
        return instant

    def problem(self, value_type: str) -> str | None:
        """Why this relative time cannot be compared with a ``value_type`` field, or None."""
        if value_type not in TIME_TYPES:
            return f"{str(self)!r} is a relative time; only date and datetime fields take one, not a {value_type} field"
        if value_type == "date" and self.unit in ("m", "h"):
            return (f"{str(self)!r}: a date has no time of day, so it moves by d, w, mo or y, "
                    f"not by {UNITS[self.unit]}")
        return None


_MONTH_ENDS = ("end_of_month", "end_of_quarter", "end_of_year")


def is_relative(value) -> bool:
    """True for text that is meant as a relative time (it starts with a letter)."""
    return isinstance(value, str) and value.strip()[:1].isalpha()


def parse(text: str) -> RelativeTime:
    """The :class:`RelativeTime` written as ``text``; :class:`RelativeTimeError` saying what is wrong."""
    match = _TEXT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise RelativeTimeError(f"{text!r} is not a relative time: write {GRAMMAR}")
    anchor, unit = match["anchor"], match["unit"]
    if anchor not in ANCHORS:
        close = difflib.get_close_matches(anchor, ANCHORS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise RelativeTimeError(f"{anchor!r} is not an anchor of a relative time; {hint}"
                                f"anchors: {', '.join(ANCHORS)}")
    if unit is None:
        return RelativeTime(anchor)
    if unit not in UNITS:
        spelled = {word.rstrip("s"): key for key, word in UNITS.items()}  # "days" -> "d"
        close = [spelled[unit.lower().rstrip("s")]] if unit.lower().rstrip("s") in spelled else \
            difflib.get_close_matches(unit, UNITS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise RelativeTimeError(f"unknown unit {unit!r} in {text.strip()!r}; {hint}units: "
                                + ", ".join(f"{k} ({v})" for k, v in UNITS.items()))
    amount = int(match["amount"])
    return RelativeTime(anchor, -amount if match["sign"] == "-" else amount, unit)


def check(value, value_type: str) -> str | None:
    """Why ``value`` (relative text) cannot stand for a ``value_type`` field, or None when it can."""
    try:
        return parse(value).problem(value_type)
    except RelativeTimeError as exc:
        return str(exc)


def resolve(text: str, now: dt.datetime, tz, value_type: str = "datetime"):
    """Shorthand: ``parse(text).resolve(now, tz, value_type)``."""
    return parse(text).resolve(now, tz, value_type)


# ---------------------------------------------------------------------- calendar arithmetic

@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RelativeTimeError(f"unknown time zone {name!r}") from None


def _anchor_day(anchor: str, today: dt.date) -> dt.date:
    if anchor == "today":
        return today
    period = anchor.split("_of_")[1]
    if period == "week":
        start = today - dt.timedelta(days=today.weekday())
        return start if anchor.startswith("start") else start + dt.timedelta(days=6)
    if period == "month":
        first, months = today.replace(day=1), 1
    elif period == "quarter":
        first, months = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1), 3
    else:
        first, months = today.replace(month=1, day=1), 12
    if anchor.startswith("start"):
        return first
    return _add_months(first, months) - dt.timedelta(days=1)


def _shift(value, amount: int, unit: str, keep_month_end: bool):
    if unit in ("d", "w"):
        return value + dt.timedelta(days=amount * (7 if unit == "w" else 1))
    return _add_months(value, amount * (12 if unit == "y" else 1), keep_month_end)


def _add_months(value, months: int, keep_month_end: bool = False):
    """``value`` moved by calendar months; a day past the new month's end becomes its last day,
    and with ``keep_month_end`` the last day of a month stays the last day."""
    index = value.year * 12 + value.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    at_end = value.day == calendar.monthrange(value.year, value.month)[1]
    day = last if keep_month_end and at_end else min(value.day, last)
    return value.replace(year=year, month=month + 1, day=day)


def _instant(wall: dt.datetime, zone) -> dt.datetime:
    """The UTC instant of the wall-clock time ``wall`` in ``zone``."""
    return wall.replace(tzinfo=zone).astimezone(dt.timezone.utc)
