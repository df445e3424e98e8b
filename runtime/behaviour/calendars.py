"""Business calendars: working hours, time zones, public holidays and exceptions.

A calendar is the spec of one ``sla.yaml: calendars`` entry (see
``docs/behaviour.md``). Pure Python: ``zoneinfo`` for time zones and the
``holidays`` package for public holidays and transferred days.

Working time is materialised for a span of whole local years as sorted UTC
epoch-second intervals ``[starts[i], ends[i])`` and a prefix sum ``cum``
(``cum[i]`` = working seconds before interval ``i``). ``W(x)``, the working
seconds up to instant ``x``, is one ``bisect``; ``between`` is a difference of
two ``W`` and adding is the inverse of ``W``, another ``bisect``. The span grows
(both ways) when a query falls outside it. See
``docs/decisions/0006-business-calendars.md``.

Instants are handled to the whole second: aware datetimes in (any zone),
microseconds dropped, aware UTC out.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import math
import re
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_SPEC", "BusinessCalendar", "Duration", "calendar_from_app_section", "parse_duration"]

UTC = dt.UTC
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
COUNTRIES = ("RU", "BY")

DEFAULT_SPEC = {
    "timezone": "UTC",
    "hours": {day: ["09:00-18:00"] for day in WEEKDAYS[:5]},
}
"""The calendar of an app that declares none: mon-fri 09:00-18:00 UTC, no holidays."""

#: Years the materialised span may cover; a query needing more is an error.
MIN_YEAR, MAX_YEAR = 1900, 2300

_fromtimestamp = dt.datetime.fromtimestamp
_floor = math.floor


# ---------------------------------------------------------------- durations

@dataclass(frozen=True)
class Duration:
    """A parsed duration string.

    Exactly one of ``seconds`` and ``days`` is used: ``days`` for the units
    days and weeks (a week is 5 business days, or 7 wall-clock days),
    ``seconds`` for minutes and hours (and fractional wall-clock days/weeks).
    ``business`` durations are measured in a calendar, others are plain
    wall-clock time.
    """

    seconds: int
    days: int
    business: bool


_DURATION = re.compile(r"^(\d+(?:\.\d+)?) ?(business )?(minutes?|hours?|days?|weeks?|m|h|d|w)$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> Duration:
    """Parse ``"90 minutes"``, ``"4h"``, ``"2 days"``, ``"24 business hours"``, ``"1.5 hours"``...

    Raises :class:`ValueError` for anything else, including business days
    or weeks that are not whole and amounts that are not whole seconds.
    """
    if not isinstance(text, str):
        raise ValueError(f"a duration must be a string like '4 hours', not {text!r}")
    return _parse_duration(text)


@functools.lru_cache(maxsize=1024)  # deadlines are computed from a handful of strings, over and over
def _parse_duration(text: str) -> Duration:
    m = _DURATION.match(text.strip())
    if m is None:
        raise ValueError(
            f"invalid duration {text!r}: expected a number, optionally 'business', and a unit "
            "(minutes, hours, days, weeks or m, h, d, w), e.g. '90 minutes', '4h', '5 business days'"
        )
    amount, business, unit = Fraction(m.group(1)), bool(m.group(2)), m.group(3)[0]
    if business and unit in "dw":
        days = amount * (5 if unit == "w" else 1)
        if days.denominator != 1:
            raise ValueError(f"invalid duration {text!r}: business days must be whole; use business hours")
        return Duration(seconds=0, days=int(days), business=True)
    if not business and unit in "dw" and amount.denominator == 1:
        return Duration(seconds=0, days=int(amount) * (7 if unit == "w" else 1), business=False)
    seconds = amount * _UNIT_SECONDS[unit]
    if seconds.denominator != 1:
        raise ValueError(f"invalid duration {text!r}: it is not a whole number of seconds")
    return Duration(seconds=int(seconds), days=0, business=business)


# ---------------------------------------------------------------- spec parsing

_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_intervals(value, where: str) -> tuple[tuple[int, int], ...]:
    """``["09:00-13:00", "14:00-18:00"]`` as sorted (start, end) seconds of the day."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: expected a list of 'HH:MM-HH:MM' intervals, got {value!r}")
    out = []
    for item in value:
        m = _INTERVAL.match(item) if isinstance(item, str) else None
        if m is None:
            raise ValueError(f"{where}: invalid interval {item!r}, expected 'HH:MM-HH:MM'")
        h1, m1, h2, m2 = map(int, m.groups())
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 86400:
            raise ValueError(f"{where}: invalid time in {item!r}")
        if end <= start:
            raise ValueError(f"{where}: {item!r} ends before it starts; split a night shift over two days")
        out.append((start, end))
    out.sort()
    for (_, end), (start, _) in itertools.pairwise(out):
        if start < end:
            raise ValueError(f"{where}: intervals {value!r} overlap")
    return tuple(out)


def _parse_date(value, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError(f"{where}: expected a date, got a datetime {value!r}")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: invalid date {value!r}, expected YYYY-MM-DD") from None


def _parse_timezone(value, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}: unknown time zone {value!r}") from None


class _Rules:
    """What a local date's working hours are: weekly hours, country, exceptions."""

    def __init__(self, name: str, spec: dict):
        where = f"calendar {name!r}"
        self.tz = _parse_timezone(spec.get("timezone", "UTC"), where)
        country = spec.get("country")
        if country is not None and country not in COUNTRIES:
            raise ValueError(f"{where}: unsupported country {country!r}; supported: {', '.join(COUNTRIES)}")
        self.country = country
        hours = spec.get("hours")
        if hours is None:
            hours = DEFAULT_SPEC["hours"]
        if not isinstance(hours, dict):
            raise ValueError(f"{where}: 'hours' must map mon..sun to intervals")
        unknown = set(hours) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"{where}: unknown weekday(s) {sorted(unknown)} in 'hours'; use mon..sun")
        self.weekly = tuple(_parse_intervals(hours.get(d) or [], f"{where}, hours.{d}") for d in WEEKDAYS)
        self.exceptions = {}
        for i, item in enumerate(spec.get("exceptions") or ()):
            here = f"{where}, exceptions[{i}]"
            if not isinstance(item, dict) or "date" not in item:
                raise ValueError(f"{here}: expected {{date: YYYY-MM-DD, hours: [...]}}")
            self.exceptions[_parse_date(item["date"], here)] = _parse_intervals(item.get("hours") or [], here)
        if not any(self.weekly) and not any(self.exceptions.values()):
            raise ValueError(f"{where}: no working hours at all")
        self._years: dict[int, tuple] = {}

    def year(self, year: int) -> tuple[tuple[int, list[tuple[int, int]]], ...]:
        """The working local dates of ``year`` (ordinals) with their UTC epoch intervals.

        Cached: a growing span is rebuilt from these, and zone conversions
        are the expensive part.
        """
        cached = self._years.get(year)
        if cached is None:
            tz = self.tz
            cached = tuple((day.toordinal(), _day_intervals(day, hours, tz)) for day, hours in self._build_year(year))
            self._years[year] = cached
        return cached

    def _build_year(self, year: int):
        days_off, workdays, shortened = country_days(self.country, year) if self.country else ((), (), ())
        weekly, exceptions, monday = self.weekly, self.exceptions, self.weekly[0]
        day, one = dt.date(year, 1, 1), dt.timedelta(days=1)
        while day.year == year:
            if day in exceptions:
                hours = exceptions[day]
            elif day in days_off:
                hours = ()
            else:
                hours = monday if day in workdays else weekly[day.weekday()]  # a working Saturday works Monday's hours
                if day in shortened:
                    hours = _shortened(hours, SHORTENED_BY)
            if hours:
                yield day, hours
            day += one


# ---------------------------------------------------------------- country calendars

SHORTENED_BY = 3600
"""How much shorter the working day before a public holiday is (RU Labour Code art. 95, BY art. 116)."""


@functools.lru_cache(maxsize=512)
def country_days(country: str, year: int) -> tuple[frozenset, frozenset, frozenset]:
    """``(days_off, working_weekend_days, shortened_days)`` of ``year`` in ``country``.

    Days off and the working Saturdays they were swapped with come from the
    ``holidays`` package, which follows the yearly decrees. Shortened days
    follow the rule both countries share: the working day immediately before
    a non-working public holiday is one hour shorter. When that day was made a
    day off by a transfer, its working time moved to the weekend day it was
    swapped with, and the shortening moves with it (RU 2024: April 30 before
    May 1 was swapped with Saturday November 2, so November 2 is the short
    day). A holiday preceded by a weekend or by another holiday shortens
    nothing.
    """
    import holidays  # imported here: it is slow to import and most calendars never need it

    around = (year - 1, year, year + 1)  # a transfer or a holiday's eve may cross the new year
    found = holidays.country_holidays(country, years=around, expand=False)
    swapped = _substitutions(found)  # day off -> the weekend day that works instead
    real = {d for d in holidays.country_holidays(country, years=around, observed=False, expand=False)
            if d not in swapped}
    shortened = set()
    for holiday in real:
        eve = holiday - dt.timedelta(days=1)
        if eve in real:
            continue
        if eve in swapped:
            if swapped[eve] in found.weekend_workdays:
                shortened.add(swapped[eve])
        elif eve not in found and (eve.weekday() < 5 or eve in found.weekend_workdays):
            shortened.add(eve)
    days_off = frozenset(d for d in found if d.year == year)
    # weekend_workdays is not limited to the years asked for (BY lists 2006 in every year)
    workdays = frozenset(d for d in found.weekend_workdays if d.year == year)
    return days_off, workdays, frozenset(d for d in shortened if d.year == year)


def _substitutions(found) -> dict[dt.date, dt.date]:
    """The transferred days off of a ``holidays`` year: day off -> the day whose rest it took."""
    out = {}
    for year in found.years:
        for item in _as_tuples(getattr(found, "special_public_holidays", {}).get(year, ())):
            if len(item) >= 4:  # (to_month, to_day, from_month, from_day[, from_year]); 3 items: a one-off holiday
                to_month, to_day, from_month, from_day, *from_year = item
                out[dt.date(year, to_month, to_day)] = dt.date(from_year[0] if from_year else year, from_month, from_day)
    return out


def _as_tuples(data) -> tuple:
    """The package stores one substitution as a flat tuple and several as a tuple of tuples."""
    return (data,) if data and not isinstance(data[0], tuple) else tuple(data)


def _shortened(hours: tuple[tuple[int, int], ...], by: int) -> tuple[tuple[int, int], ...]:
    """``hours`` with their last ``by`` seconds cut off (from the end of the day, across breaks)."""
    out, left = list(hours), by
    while out and left > 0:
        start, end = out.pop()
        if end - start > left:
            out.append((start, end - left))
        left -= end - start
    return tuple(out)


# ---------------------------------------------------------------- materialised span

class _Span:
    """Working time of local years ``[lo_year, hi_year)`` as UTC epoch seconds.

    ``starts``/``ends`` are the intervals, ``cum[i]`` the working seconds
    before interval ``i`` (``cum[-1]`` is the total). Per working date:
    ``day_ord`` (ordinal), ``day_start`` (epoch of its first interval) and
    ``day_first``/``day_stop`` (its interval index range). Immutable once
    built, so readers need no lock.
    """

    __slots__ = ("cum", "day_first", "day_ord", "day_start", "day_stop", "ends", "hi", "hi_year", "lo", "lo_year",
                 "starts")

    def __init__(self, rules: _Rules, lo_year: int, hi_year: int):
        tz = rules.tz
        self.lo_year, self.hi_year = lo_year, hi_year
        self.lo = _local_epoch(dt.date(lo_year, 1, 1), 0, tz)
        self.hi = _local_epoch(dt.date(hi_year, 1, 1), 0, tz)
        starts, ends, cum = [], [], [0]
        day_ord, day_start, day_first, day_stop = [], [], [], []
        last_end, total = self.lo, 0
        for year in range(lo_year, hi_year):
            for day, intervals in rules.year(year):
                first = len(starts)
                for a, b in intervals:
                    # Intervals come sorted by start; clipping each to the
                    # furthest end so far keeps exactly their union. It only
                    # matters when a DST gap maps a later wall time to an
                    # earlier instant, but then the arrays stay sorted and
                    # disjoint, which bisect needs.
                    a = max(a, last_end)
                    if b <= a:
                        continue
                    starts.append(a)
                    ends.append(b)
                    total += b - a
                    cum.append(total)
                    last_end = b  # b > a >= last_end
                if len(starts) > first:
                    day_ord.append(day)
                    day_start.append(starts[first])
                    day_first.append(first)
                    day_stop.append(len(starts))
        self.starts, self.ends, self.cum = starts, ends, cum
        self.day_ord, self.day_start, self.day_first, self.day_stop = day_ord, day_start, day_first, day_stop

    def worked(self, x: int) -> int:
        """W(x): working seconds from the span's start up to ``x``."""
        i = bisect_right(self.starts, x) - 1
        if i < 0:
            return 0
        end = self.ends[i]
        return self.cum[i] + min(x, end) - self.starts[i]

    def earliest(self, target: int, lo: int = 1, hi: int | None = None) -> int:
        """The first instant where W reaches ``target`` (> 0): maybe an interval end."""
        cum = self.cum
        j = bisect_left(cum, target, lo, len(cum) if hi is None else hi) - 1
        return self.starts[j] + target - cum[j]

    def latest(self, target: int, lo: int = 0, hi: int | None = None) -> int:
        """The last instant where W is still ``target`` (< total): always working time."""
        cum = self.cum
        hi = len(self.starts) if hi is None else hi
        j = bisect_left(cum, target, lo, hi)
        if j < hi and cum[j] == target:
            return self.starts[j]
        return self.starts[j - 1] + target - cum[j - 1]


def _local_epoch(day: dt.date, seconds: int, tz: ZoneInfo) -> int:
    """The instant of wall time ``day`` + ``seconds`` in ``tz``.

    Wall-clock arithmetic yields fold=0: a time in a DST overlap is its first
    occurrence, a time in a gap is read with the offset before the gap. Any
    fixed rule keeps add/between consistent; this is zoneinfo's default.
    """
    return _floor((dt.datetime(day.year, day.month, day.day, tzinfo=tz) + dt.timedelta(seconds=seconds)).timestamp())


def _day_intervals(day: dt.date, hours, tz: ZoneInfo) -> list[tuple[int, int]]:
    """The UTC epoch intervals of ``day``'s ``hours``, sorted by start (a DST gap can reorder them)."""
    return sorted((_local_epoch(day, a, tz), _local_epoch(day, b, tz)) for a, b in hours)


# ---------------------------------------------------------------- the calendar

def _epoch(t: dt.datetime) -> int:
    if t.tzinfo is None:
        raise ValueError(f"business calendars need aware datetimes, got naive {t!r}")
    return _floor(t.timestamp())


def _instant(x: int) -> dt.datetime:
    return _fromtimestamp(x, UTC)


class BusinessCalendar:
    """Working time of one calendar spec: add, subtract and measure it.

    Every method takes aware datetimes in any zone and returns aware UTC
    datetimes, to the whole second. Thread-safe: the materialised span is
    replaced, never changed, when it grows.
    """

    def __init__(self, name: str, spec: dict):
        self.name = name
        self.spec = spec
        self._rules = _Rules(name, spec)
        self.tz: ZoneInfo = self._rules.tz
        self._lock = threading.Lock()
        self._span: _Span | None = None

    def __repr__(self) -> str:
        return f"<BusinessCalendar {self.name!r} {self.tz.key}>"

    # -- public API

    def add(self, start: dt.datetime, duration: Duration | str) -> dt.datetime:
        """``start`` plus ``duration``: working time if it is business, else wall-clock time."""
        if isinstance(duration, str):
            duration = parse_duration(duration)
        if not duration.business:
            if start.tzinfo is None:
                raise ValueError(f"business calendars need aware datetimes, got naive {start!r}")
            return (start + dt.timedelta(days=duration.days, seconds=duration.seconds)).astimezone(UTC)
        if duration.days:
            return self.add_days(start, duration.days)
        return self.add_seconds(start, duration.seconds)

    def add_seconds(self, start: dt.datetime, seconds: int) -> dt.datetime:
        """``start`` plus ``seconds`` of working time; negative goes back.

        Time outside working hours counts zero: from a non-working ``start``
        the clock starts at the next working moment (or, going back, at the
        end of the last one). A positive result is the instant the working
        time is used up, so it may be an interval's end (Friday 18:00, not
        Monday 09:00); a negative result is always working time. Adding 0
        returns ``start`` if it is working time, else :meth:`next_working`.
        """
        x = _epoch(start)
        if seconds == 0:
            return self._next_working(x)
        while True:
            span = self._covering(x)
            target = span.worked(x) + seconds
            if seconds > 0:
                if target <= span.cum[-1]:
                    return _instant(span.earliest(target))
                self._grow(span.lo_year, span.hi_year + 1)
            else:
                if target >= 0:
                    return _instant(span.latest(target))
                self._grow(span.lo_year - 1, span.hi_year)

    def add_days(self, start: dt.datetime, n: int) -> dt.datetime:
        """The same business moment ``n`` working days later (earlier if negative).

        The moment is the working time done so far on the working date of
        ``start`` (the last working date that began at or before it); the
        result is at the same offset into the working date ``n`` away,
        clamped to that day's length. Tuesday 11:00 + 5 is next Tuesday
        11:00; Friday 19:00 (after hours) + 1 is Monday 18:00; Monday 08:00
        (before hours) + 1 is Monday 18:00. ``n == 0`` is ``add_seconds(start, 0)``.
        """
        x = _epoch(start)
        if n == 0:
            return self._next_working(x)
        while True:
            span = self._covering(x)
            k = bisect_right(span.day_start, x) - 1
            m = k + n
            if k < 0 or m < 0:  # about 250 working days a year: grow by roughly what is missing
                self._grow(span.lo_year - 1 + min(k, m) // 250, span.hi_year)
            elif m >= len(span.day_ord):
                self._grow(span.lo_year, span.hi_year + 1 + (m - len(span.day_ord)) // 250)
            else:
                return _instant(self._day_moment(span, x, k, m))

    def between(self, a: dt.datetime, b: dt.datetime) -> int:
        """Working seconds from ``a`` to ``b``; negative if ``b`` is before ``a``."""
        xa, xb = _epoch(a), _epoch(b)
        span = self._covering(xa)
        if not span.lo <= xb < span.hi:
            span = self._covering(xb)  # the span only grows: it still covers xa
        return span.worked(xb) - span.worked(xa)

    def is_working(self, t: dt.datetime) -> bool:
        """Whether ``t`` is working time (intervals are half-open: 18:00 is not)."""
        x = _epoch(t)
        span = self._covering(x)
        i = bisect_right(span.starts, x) - 1
        return i >= 0 and x < span.ends[i]

    def next_working(self, t: dt.datetime) -> dt.datetime:
        """``t`` if it is working time, else the start of the next working interval."""
        return self._next_working(_epoch(t))

    def intervals(self, a: dt.datetime, b: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working intervals between ``a`` and ``b`` (clipped to them), in order, as UTC
        ``(start, end)`` pairs: the hours an office receives visitors, to cut into slots."""
        xa, xb = _epoch(a), _epoch(b)
        if xb <= xa:
            return []
        span = self._covering(xa)
        if not span.lo <= xb < span.hi:
            span = self._covering(xb)  # the span only grows: it still covers xa
        out = []
        for i in range(max(bisect_right(span.starts, xa) - 1, 0), bisect_left(span.starts, xb)):
            start, end = max(span.starts[i], xa), min(span.ends[i], xb)
            if start < end:
                out.append((_instant(start), _instant(end)))
        return out

    def working_days(self, start: dt.date, end: dt.date) -> int:
        """How many local dates in ``[start, end)`` have working time (0 if ``end <= start``)."""
        if end <= start:
            return 0
        span = self._span
        if span is None or start.year < span.lo_year or end.year >= span.hi_year:
            span = self._grow(start.year, end.year + 1)
        return bisect_left(span.day_ord, end.toordinal()) - bisect_left(span.day_ord, start.toordinal())

    # -- internals

    def _next_working(self, x: int) -> dt.datetime:
        while True:
            span = self._covering(x)
            i = bisect_right(span.starts, x)
            if i > 0 and x < span.ends[i - 1]:
                return _instant(x)
            if i < len(span.starts):
                return _instant(span.starts[i])
            self._grow(span.lo_year, span.hi_year + 1)

    @staticmethod
    def _day_moment(span: _Span, x: int, k: int, m: int) -> int:
        """The instant at working date ``m`` as far into it as ``x`` is into date ``k``."""
        first, stop = span.day_first[k], span.day_stop[k]
        cum = span.cum
        offset = min(span.worked(x) - cum[first], cum[stop] - cum[first])
        first, stop = span.day_first[m], span.day_stop[m]
        if offset >= cum[stop] - cum[first]:
            return span.ends[stop - 1]
        target = cum[first] + offset
        i = bisect_right(span.starts, x) - 1
        if i >= 0 and x < span.ends[i]:  # working: stay working (14:00 after lunch, not 13:00)
            return span.latest(target, first, stop)
        return span.earliest(target, first + 1, stop + 1)

    def _covering(self, x: int) -> _Span:
        """The span, grown if needed to cover instant ``x``."""
        span = self._span
        if span is not None and span.lo <= x < span.hi:
            return span
        year = _fromtimestamp(x, UTC).year  # local years may differ by one: the margin covers it
        return self._grow(year - 1, year + 2)

    def _grow(self, lo_year: int, hi_year: int) -> _Span:
        """Make the span cover local years ``[lo_year, hi_year)``.

        A growing span at least doubles, so a long series of queries that
        drift outside it rebuilds it a logarithmic number of times.
        """
        if lo_year < MIN_YEAR or hi_year > MAX_YEAR + 1:
            raise ValueError(f"calendar {self.name!r}: business time is computed for years {MIN_YEAR}..{MAX_YEAR} only")
        with self._lock:
            span = self._span
            if span is not None:
                if lo_year >= span.lo_year and hi_year <= span.hi_year:
                    return span  # another thread grew it meanwhile
                lo_year, hi_year = _doubled(span.lo_year, span.hi_year, lo_year, hi_year)
            span = self._span = _Span(self._rules, lo_year, hi_year)
            return span


def _doubled(have_lo: int, have_hi: int, lo: int, hi: int) -> tuple[int, int]:
    """Years ``[have_lo, have_hi)`` grown to cover ``[lo, hi)``, each growing side by at least the width."""
    width = have_hi - have_lo
    lo = max(MIN_YEAR, min(lo, have_lo - width)) if lo < have_lo else have_lo
    hi = min(MAX_YEAR + 1, max(hi, have_hi + width)) if hi > have_hi else have_hi
    return lo, hi


# ---------------------------------------------------------------- apps

_cache: dict[tuple[str, str], BusinessCalendar] = {}
_cache_lock = threading.Lock()


def calendar_from_app_section(sla_section: dict | None, name: str | None = None) -> BusinessCalendar:
    """The calendar ``name`` of an app's ``sla.yaml`` section, or its default one.

    Without a name: the calendar marked ``default: true``, else the only
    one, else (no calendars at all) :data:`DEFAULT_SPEC`. Calendars are
    cached by name and spec content, so their materialised spans are shared.
    """
    calendars = (sla_section or {}).get("calendars") or {}
    if name is not None:
        if name not in calendars:
            known = ", ".join(sorted(calendars)) or "none"
            raise ValueError(f"unknown calendar {name!r} (declared: {known})")
        spec = calendars[name]
    elif not calendars:
        name, spec = "default", DEFAULT_SPEC
    else:
        defaults = [n for n, s in calendars.items() if s.get("default")]
        if len(defaults) == 1:
            name = defaults[0]
        elif len(calendars) == 1 and not defaults:
            (name,) = calendars
        else:
            raise ValueError(f"several calendars ({', '.join(sorted(calendars))}) and not one with default: true")
        spec = calendars[name]
    key = (name, hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest())
    calendar = _cache.get(key)
    if calendar is None:
        calendar = BusinessCalendar(name, spec)
        with _cache_lock:
            if len(_cache) >= 256:  # apps are few; this only stops unbounded growth from edited specs
                _cache.clear()
            calendar = _cache.setdefault(key, calendar)
    return calendar
