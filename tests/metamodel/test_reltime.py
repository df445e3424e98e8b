"""Relative times (``now - 7d``, ``start_of_month``): the grammar, its errors and what each resolves to."""
from __future__ import annotations

import datetime as dt

import pytest

from metamodel import reltime
from metamodel.expressions import ExpressionError
from metamodel.predicates import parse_condition, relative_values
from metamodel.reltime import RelativeTime, RelativeTimeError, parse, resolve

UTC = dt.timezone.utc
# Wednesday 2026-03-18, 21:30 UTC: already Thursday 02:30 in Yekaterinburg (UTC+5).
NOW = dt.datetime(2026, 3, 18, 21, 30, tzinfo=UTC)
EKB = "Asia/Yekaterinburg"


@pytest.mark.parametrize("text, expected", [
    ("now", RelativeTime("now")),
    ("today", RelativeTime("today")),
    ("now - 7d", RelativeTime("now", -7, "d")),
    ("now-7d", RelativeTime("now", -7, "d")),
    ("  today + 1 d ", RelativeTime("today", 1, "d")),
    ("start_of_month - 1mo", RelativeTime("start_of_month", -1, "mo")),
    ("end_of_year + 2y", RelativeTime("end_of_year", 2, "y")),
    ("now + 90m", RelativeTime("now", 90, "m")),
    ("today 1d", RelativeTime("today", 1, "d")),  # ?x=today+1d in a URL
])
def test_grammar(text, expected):
    assert parse(text) == expected
    assert parse(str(expected)) == expected  # the canonical text reads back the same


@pytest.mark.parametrize("text, message", [
    ("yesterday", "'yesterday' is not an anchor"),
    ("start_of_mnth", "did you mean 'start_of_month'?"),
    ("now - 7x", "unknown unit 'x'"),
    ("now - 7days", "did you mean 'd'?"),
    ("now - 7", "is not a relative time"),
    ("now7d", "is not a relative time"),
])
def test_bad_text_says_what_would_be_right(text, message):
    with pytest.raises(RelativeTimeError) as info:
        parse(text)
    assert message in str(info.value)


@pytest.mark.parametrize("text, date_value", [
    ("today", dt.date(2026, 3, 19)),             # the app's day, not UTC's
    ("now", dt.date(2026, 3, 19)),
    ("today - 1d", dt.date(2026, 3, 18)),
    ("today + 2w", dt.date(2026, 4, 2)),
    ("start_of_week", dt.date(2026, 3, 16)),     # Monday
    ("end_of_week", dt.date(2026, 3, 22)),       # Sunday
    ("start_of_month", dt.date(2026, 3, 1)),
    ("end_of_month", dt.date(2026, 3, 31)),
    ("end_of_month - 1mo", dt.date(2026, 2, 28)),
    ("end_of_month - 2mo", dt.date(2026, 1, 31)),  # a month's end stays its end
    ("start_of_quarter", dt.date(2026, 1, 1)),
    ("end_of_quarter", dt.date(2026, 3, 31)),
    ("end_of_quarter + 1mo", dt.date(2026, 4, 30)),
    ("start_of_year", dt.date(2026, 1, 1)),
    ("end_of_year", dt.date(2026, 12, 31)),
    ("start_of_month - 1y", dt.date(2025, 3, 1)),
])
def test_date_values_are_days_of_the_app_time_zone(text, date_value):
    assert resolve(text, NOW, EKB, "date") == date_value


def test_a_day_past_the_month_end_becomes_its_last_day():
    jan31 = dt.datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert resolve("today + 1mo", jan31, "UTC", "date") == dt.date(2026, 2, 28)
    assert resolve("today - 1y", dt.datetime(2028, 2, 29, 12, tzinfo=UTC), "UTC", "date") == dt.date(2027, 2, 28)


@pytest.mark.parametrize("text, instant", [
    ("now", NOW),
    ("now - 2h", NOW - dt.timedelta(hours=2)),
    ("now + 30m", NOW + dt.timedelta(minutes=30)),
    ("now - 7d", NOW - dt.timedelta(days=7)),
    ("today", dt.datetime(2026, 3, 18, 19, tzinfo=UTC)),               # 00:00 in Yekaterinburg
    ("today + 1d", dt.datetime(2026, 3, 19, 19, tzinfo=UTC)),
    ("today + 9h", dt.datetime(2026, 3, 19, 4, tzinfo=UTC)),           # 09:00 there
    ("start_of_month", dt.datetime(2026, 2, 28, 19, tzinfo=UTC)),
    ("end_of_month", dt.datetime(2026, 3, 31, 18, 59, 59, 999999, tzinfo=UTC)),  # 23:59:59.999999 there
])
def test_datetime_values_are_instants(text, instant):
    value = resolve(text, NOW, EKB, "datetime")
    assert value == instant
    assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0)


def test_calendar_units_keep_the_wall_clock_across_a_daylight_saving_change():
    before = dt.datetime(2026, 3, 28, 11, tzinfo=UTC)  # 12:00 in Berlin, the day before summer time
    assert resolve("now + 1d", before, "Europe/Berlin").astimezone(dt.timezone(dt.timedelta(hours=2))).hour == 12
    assert resolve("now + 24h", before, "Europe/Berlin") == before + dt.timedelta(hours=24)


@pytest.mark.parametrize("text, value_type, message", [
    ("now", "integer", "only date and datetime fields take one"),
    ("today - 3h", "date", "a date has no time of day"),
    ("now + 5m", "date", "a date has no time of day"),
])
def test_what_a_field_type_cannot_take(text, value_type, message):
    assert message in reltime.check(text, value_type)
    with pytest.raises(RelativeTimeError):
        resolve(text, NOW, EKB, value_type)


def test_a_relative_time_is_text_that_starts_with_a_letter():
    assert reltime.is_relative("now") and reltime.is_relative(" start_of_week")
    assert not reltime.is_relative("2026-03-01") and not reltime.is_relative(5) and not reltime.is_relative(None)


# ---------------------------------------------------------------- row conditions

NAMES = {"due", "created_at", "status", "title"}


@pytest.mark.parametrize("source, tree", [
    ("due < today", ("cmp", "lt", "due", ("rel", "today"))),
    ("created_at >= now-7d", ("cmp", "ge", "created_at", ("rel", "now - 7d"))),
    ("start_of_month <= created_at", ("cmp", "ge", "created_at", ("rel", "start_of_month"))),
    ("status == 'today' and due >= end_of_month + 1mo",
     ("and", [("cmp", "eq", "status", ("lit", "today")), ("cmp", "ge", "due", ("rel", "end_of_month + 1mo"))])),
])
def test_row_conditions_take_relative_times(source, tree):
    parsed = parse_condition(source, NAMES)
    assert parsed == tree
    assert [text for _, text in relative_values(parsed)] == [v[1] for _, v in _comparisons(tree) if v[0] == "rel"]


def _comparisons(tree):
    if tree[0] == "and":
        return [c for node in tree[1] for c in _comparisons(node)]
    return [(tree[2], tree[3])]


@pytest.mark.parametrize("source, message", [
    ("created_at > now - 7days", "unknown unit 'days' in 'now - 7days'; did you mean 'd'?"),
    ("created_at >= start_of_yaer - 1y", "did you mean 'start_of_year'?"),
    ("created_at > now -", "a relative time is written as an anchor"),
    ("created_at > now - 7 and status == 'x'", "'now - 7' is not a literal"),
    ("created_at > now + today", "'now + today' is not a literal"),
    ("today", "'today' is not a condition"),
])
def test_row_condition_errors_quote_what_was_written(source, message):
    with pytest.raises(ExpressionError) as info:
        parse_condition(source, NAMES)
    assert message in str(info.value)
    assert "_rel" not in str(info.value)
