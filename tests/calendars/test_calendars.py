"""Business calendars: concrete dates, parse_duration, and properties against a slow reference."""
import concurrent.futures
import datetime as dt
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from runtime.behaviour.calendars import (
    DEFAULT_SPEC,
    BusinessCalendar,
    Duration,
    calendar_from_app_section,
    parse_duration,
)

UTC = dt.UTC
EKB = ZoneInfo("Asia/Yekaterinburg")
MINSK = ZoneInfo("Europe/Minsk")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR, MINUTE, SECOND = 3600, 60, dt.timedelta(seconds=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekdays(*intervals):
    return {d: list(intervals) for d in WEEKDAYS[:5]}


def local(tz, *args):
    return dt.datetime(*args, tzinfo=tz)


def in_tz(t, tz):
    return t.astimezone(tz).replace(tzinfo=None)


@pytest.fixture(scope="module")
def ru():
    return BusinessCalendar("ru", {"timezone": "Asia/Yekaterinburg", "country": "RU"})


@pytest.fixture(scope="module")
def by():
    return BusinessCalendar("by", {"timezone": "Europe/Minsk", "country": "BY"})


@pytest.fixture(scope="module")
def lunch():
    spec = {"timezone": "Asia/Yekaterinburg", "hours": weekdays("09:00-13:00", "14:00-18:00")}
    return BusinessCalendar("lunch", spec)


# ---------------------------------------------------------------- RU / BY, concrete dates

def test_friday_evening_plus_two_hours_is_monday(ru):
    end = ru.add(local(EKB, 2026, 2, 13, 17), "2 business hours")
    assert end.tzinfo is UTC
    assert in_tz(end, EKB) == dt.datetime(2026, 2, 16, 10)
    assert ru.between(local(EKB, 2026, 2, 13, 17), end) == 2 * HOUR
    assert ru.between(end, local(EKB, 2026, 2, 13, 17)) == -2 * HOUR


def test_new_year_holidays(ru):
    found = holidays.country_holidays("RU", years=[2025, 2026])
    assert dt.date(2025, 12, 31) in found  # a transferred day off in 2025
    first = dt.date(2026, 1, 12)
    assert all(dt.date(2026, 1, d) in found or dt.date(2026, 1, d).weekday() >= 5 for d in range(1, 12))
    assert ru.working_days(dt.date(2026, 1, 1), first) == 0
    assert ru.working_days(dt.date(2026, 1, 1), first + dt.timedelta(days=1)) == 1
    end = ru.add(local(EKB, 2025, 12, 31, 19, 30), "1 business hour")
    assert in_tz(end, EKB) == dt.datetime(2026, 1, 12, 10)
    assert in_tz(ru.next_working(local(EKB, 2025, 12, 30, 18)), EKB) == dt.datetime(2026, 1, 12, 9)


def test_transferred_working_saturday_counts(ru):
    assert dt.date(2025, 11, 1) in holidays.country_holidays("RU", years=2025).weekend_workdays
    assert ru.is_working(local(EKB, 2025, 11, 1, 10))
    assert in_tz(ru.add(local(EKB, 2025, 10, 31, 17, 30), "1 business hour"), EKB) == dt.datetime(2025, 11, 1, 9, 30)
    # Monday 3 November is the day off it was swapped with; 4 November is Unity Day. So the Saturday
    # stands in for the holiday's eve and is an hour short: 16:30 + 1 hour runs into Wednesday.
    assert in_tz(ru.add(local(EKB, 2025, 11, 1, 16, 30), "1 business hour"), EKB) == dt.datetime(2025, 11, 5, 9, 30)
    assert not ru.is_working(local(EKB, 2025, 11, 1, 17, 30))


def test_transferred_working_day_uses_mondays_hours():
    cal = BusinessCalendar("short_mondays", {
        "timezone": "Asia/Yekaterinburg", "country": "RU",
        "hours": {"mon": ["10:00-12:00"], **{d: ["09:00-18:00"] for d in WEEKDAYS[1:5]}},
    })
    # Saturday 27 April 2024 was worked for Monday 29 April (not a holiday's eve: a full day)
    assert cal.between(local(EKB, 2024, 4, 27, 0), local(EKB, 2024, 4, 28, 0)) == 2 * HOUR
    assert not cal.is_working(local(EKB, 2024, 4, 27, 9, 30))
    # Saturday 1 November 2025 stands in for the eve of Unity Day: Monday's hours, one hour short
    assert cal.between(local(EKB, 2025, 11, 1, 0), local(EKB, 2025, 11, 2, 0)) == 1 * HOUR


def test_belarus_has_its_own_transferred_days(by, ru):
    # 2026: Saturday 25 April is worked for Monday 20 April; Tuesday 21 April is Radunitsa
    assert dt.date(2026, 4, 25) in holidays.country_holidays("BY", years=2026).weekend_workdays
    assert by.working_days(dt.date(2026, 4, 20), dt.date(2026, 4, 27)) == 4
    assert ru.working_days(dt.date(2026, 4, 20), dt.date(2026, 4, 27)) == 5
    assert in_tz(by.add(local(MINSK, 2026, 4, 24, 17), "2 business hours"), MINSK) == dt.datetime(2026, 4, 25, 10)
    assert in_tz(by.add(local(MINSK, 2026, 4, 17, 17), "2 business hours"), MINSK) == dt.datetime(2026, 4, 22, 10)
    assert not ru.is_working(local(EKB, 2026, 4, 25, 10))


def test_local_exceptions_override_everything():
    cal = BusinessCalendar("exc", {
        "timezone": "Asia/Yekaterinburg", "country": "RU",
        "exceptions": [
            {"date": "2026-12-28", "hours": []},                      # a day off
            {"date": dt.date(2026, 12, 30), "hours": ["09:00-17:00"]},  # a shortened day
            {"date": "2026-01-05", "hours": ["10:00-12:00"]},          # worked during the New Year holidays
            {"date": "2026-02-15", "hours": ["10:00-14:00"]},          # a working Sunday
        ],
    })
    assert in_tz(cal.add(local(EKB, 2026, 12, 25, 17), "2 business hours"), EKB) == dt.datetime(2026, 12, 29, 10)
    assert cal.between(local(EKB, 2026, 12, 30), local(EKB, 2026, 12, 31)) == 8 * HOUR
    assert not cal.is_working(local(EKB, 2026, 12, 30, 17, 30))
    assert cal.between(local(EKB, 2026, 1, 5), local(EKB, 2026, 1, 6)) == 2 * HOUR
    assert cal.is_working(local(EKB, 2026, 2, 15, 13, 59))
    assert cal.working_days(dt.date(2026, 2, 14), dt.date(2026, 2, 16)) == 1
    # 5 working days on from Tuesday 17:30 is the shortened Wednesday 30th: clamped to its end
    assert in_tz(cal.add_days(local(EKB, 2026, 12, 22, 17, 30), 5), EKB) == dt.datetime(2026, 12, 30, 17)


def test_breaks(lunch):
    def at(*hm):
        return local(EKB, 2026, 2, 9, *hm)  # a Monday

    assert lunch.add(at(12, 30), "1 business hour") == at(14, 30)
    assert lunch.add(at(12, 30), "30 business minutes") == at(13)  # used up at the interval's end
    assert lunch.add_seconds(at(13, 15), 0) == at(14)
    assert lunch.add_seconds(at(14, 30), -HOUR) == at(12, 30)
    assert lunch.add_seconds(at(14), -MINUTE) == at(12, 59)
    assert lunch.between(at(12), at(15)) == 2 * HOUR
    assert not lunch.is_working(at(13)) and lunch.is_working(at(14)) and not lunch.is_working(at(18))


def test_add_days(ru, lunch):
    tue = local(EKB, 2026, 2, 3, 11)
    assert in_tz(ru.add(tue, "5 business days"), EKB) == dt.datetime(2026, 2, 10, 11)
    assert ru.add(tue, "1 business week") == ru.add_days(tue, 5)
    # Monday 23 February is Defender of the Fatherland Day
    assert in_tz(ru.add_days(local(EKB, 2026, 2, 17, 11), 5), EKB) == dt.datetime(2026, 2, 25, 11)
    assert in_tz(ru.add_days(local(EKB, 2026, 2, 25, 11), -5), EKB) == dt.datetime(2026, 2, 17, 11)
    # outside working hours the moment is "all of the day's work done so far"
    assert in_tz(ru.add_days(local(EKB, 2026, 2, 13, 19), 1), EKB) == dt.datetime(2026, 2, 16, 18)
    assert in_tz(ru.add_days(local(EKB, 2026, 2, 16, 8), 1), EKB) == dt.datetime(2026, 2, 16, 18)
    assert in_tz(ru.add_days(local(EKB, 2026, 2, 14, 12), -1), EKB) == dt.datetime(2026, 2, 12, 18)
    assert ru.add_days(local(EKB, 2026, 2, 14, 12), 0) == ru.next_working(local(EKB, 2026, 2, 14, 12))
    # working time stays working time; a lunch break stays "after the morning"
    assert in_tz(lunch.add_days(local(EKB, 2026, 2, 9, 14), 1), EKB) == dt.datetime(2026, 2, 10, 14)
    assert in_tz(lunch.add_days(local(EKB, 2026, 2, 9, 13, 30), 1), EKB) == dt.datetime(2026, 2, 10, 13)
    assert in_tz(lunch.add_days(local(EKB, 2026, 2, 9, 9), 1), EKB) == dt.datetime(2026, 2, 10, 9)


def test_wall_clock_durations_ignore_the_calendar(ru):
    start = local(EKB, 2026, 2, 14, 23)  # a Saturday night
    assert ru.add(start, "90 minutes") == start + dt.timedelta(minutes=90)
    assert ru.add(start, "2 days") == start + dt.timedelta(days=2)
    assert ru.add(start, "1 week") == start + dt.timedelta(days=7)
    assert ru.add(start, Duration(seconds=5400, days=0, business=False)).tzinfo is UTC


def test_zero_business_time(lunch):
    working, lunchtime = local(EKB, 2026, 2, 9, 10, 15, 7), local(EKB, 2026, 2, 9, 13, 20)
    assert lunch.add(working, "0 business hours") == working
    assert lunch.add(lunchtime, "0 business hours") == local(EKB, 2026, 2, 9, 14)
    assert lunch.next_working(working) == working


# ---------------------------------------------------------------- DST zones

def test_dst_berlin():
    cal = BusinessCalendar("berlin", {
        "timezone": "Europe/Berlin", "hours": {**weekdays("09:00-18:00"), "sun": ["00:00-24:00"]}})
    # the clocks go forward on Sunday 29 March 2026 and back on Sunday 25 October
    end = cal.add(local(BERLIN, 2026, 3, 27, 17), "25 business hours")  # 1 on Friday, 23 on Sunday, 1 on Monday
    assert in_tz(end, BERLIN) == dt.datetime(2026, 3, 30, 10)
    assert cal.between(local(BERLIN, 2026, 3, 29), local(BERLIN, 2026, 3, 30)) == 23 * HOUR
    assert cal.between(local(BERLIN, 2026, 10, 25), local(BERLIN, 2026, 10, 26)) == 25 * HOUR
    assert in_tz(cal.add_days(local(BERLIN, 2026, 3, 24, 11), 6), BERLIN) == dt.datetime(2026, 3, 31, 11)


def test_dst_new_york():
    ny = ZoneInfo("America/New_York")
    cal = BusinessCalendar("ny", {"timezone": "America/New_York", "hours": {"sun": ["01:00-04:00"]}})
    # 8 March 2026: 02:00-03:00 does not exist; 1 November: 01:00-02:00 happens twice
    assert cal.between(local(ny, 2026, 3, 8), local(ny, 2026, 3, 9)) == 2 * HOUR
    assert cal.between(local(ny, 2026, 11, 1), local(ny, 2026, 11, 2)) == 4 * HOUR
    assert cal.between(local(ny, 2026, 11, 8), local(ny, 2026, 11, 9)) == 3 * HOUR


def test_an_interval_inside_a_dst_gap_is_consistent():
    cal = BusinessCalendar("gap", {"timezone": "Europe/Berlin", "hours": {"sun": ["02:15-02:45", "03:00-03:30"]}})
    day0, day1 = local(BERLIN, 2026, 3, 29), local(BERLIN, 2026, 3, 30)
    worked = cal.between(day0, day1)
    assert 0 < worked <= HOUR
    assert cal.between(day0, cal.add_seconds(day0, worked)) == worked


# ---------------------------------------------------------------- API edges

def test_default_hours_and_default_spec():
    cal = BusinessCalendar("x", {"timezone": "UTC"})
    assert cal.between(dt.datetime(2026, 2, 9, tzinfo=UTC), dt.datetime(2026, 2, 16, tzinfo=UTC)) == 5 * 9 * HOUR
    default = calendar_from_app_section(None)
    assert default.spec == DEFAULT_SPEC and default.tz == ZoneInfo("UTC")
    assert calendar_from_app_section({"calendars": {}}) is default


def test_calendar_from_app_section_picks_and_caches():
    section = {"calendars": {
        "a": {"timezone": "UTC"},
        "b": {"timezone": "Asia/Yekaterinburg", "country": "RU", "default": True},
    }}
    assert calendar_from_app_section(section).name == "b"
    assert calendar_from_app_section(section, "a").name == "a"
    assert calendar_from_app_section(section) is calendar_from_app_section(section)
    only = calendar_from_app_section({"calendars": {"solo": {"timezone": "Europe/Minsk"}}})
    assert only.name == "solo" and only.tz == MINSK
    edited = {"calendars": {"b": {"timezone": "Europe/Minsk", "default": True}}}
    assert calendar_from_app_section(edited).tz == MINSK
    with pytest.raises(ValueError, match="unknown calendar 'c'"):
        calendar_from_app_section(section, "c")
    with pytest.raises(ValueError, match="default: true"):
        calendar_from_app_section({"calendars": {"a": {"timezone": "UTC"}, "b": {"timezone": "UTC"}}})


@pytest.mark.parametrize("spec, message", [
    ({"timezone": "UTC", "country": "DE"}, "'DE'"),
    ({"timezone": "Mars/Olympus"}, "Mars/Olympus"),
    ({"timezone": "UTC", "hours": {"mon": ["9-18"]}}, "9-18"),
    ({"timezone": "UTC", "hours": {"mon": ["18:00-09:00"]}}, "ends before it starts"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-13:00", "12:00-18:00"]}}, "overlap"),
    ({"timezone": "UTC", "hours": {"monday": ["09:00-18:00"]}}, "monday"),
    ({"timezone": "UTC", "exceptions": [{"date": "2026-02-30", "hours": []}]}, "2026-02-30"),
    ({"timezone": "UTC", "hours": {}}, "no working hours"),
])
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar("bad", spec)


def test_instants(lunch):
    with pytest.raises(ValueError, match="aware"):
        lunch.add(dt.datetime(2026, 2, 9, 10), "1 business hour")
    with pytest.raises(ValueError, match="aware"):
        lunch.add(dt.datetime(2026, 2, 9, 10), "1 hour")
    start = local(EKB, 2026, 2, 9, 10, 0, 0, 999_999)
    assert lunch.add(start, "1 business hour") == local(EKB, 2026, 2, 9, 11)
    with pytest.raises(ValueError, match="years"):
        lunch.add_seconds(start, 10**12)


def test_span_grows_both_ways_with_the_same_answers(ru):
    fresh = BusinessCalendar("ru", {"timezone": "Asia/Yekaterinburg", "country": "RU"})
    starts = [local(EKB, y, 3, 6, 17) for y in (2026, 2040, 2001, 2026, 1990, 2090)]
    for t in starts:
        assert fresh.add(t, "24 business hours") == ru.add(t, "24 business hours")
        assert fresh.add(t, "5 business days") == ru.add(t, "5 business days")
    assert fresh.between(starts[-1], starts[-2]) == ru.between(starts[-1], starts[-2])
    assert fresh.between(starts[-2], starts[-1]) == -ru.between(starts[-1], starts[-2])


def test_threads_growing_one_calendar():
    cal = BusinessCalendar("t", {"timezone": "Europe/Minsk", "country": "BY"})
    starts = [local(MINSK, 2000 + i % 60, 1 + i % 12, 1 + i % 28, i % 24) for i in range(600)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda t: cal.add(t, "24 business hours"), starts))
    serial = BusinessCalendar("t", {"timezone": "Europe/Minsk", "country": "BY"})
    assert got == [serial.add(t, "24 business hours") for t in starts]


# ---------------------------------------------------------------- parse_duration

@pytest.mark.parametrize("text, seconds, days, business", [
    ("90 minutes", 5400, 0, False),
    ("1 minute", 60, 0, False),
    ("30m", 1800, 0, False),
    ("4h", 4 * HOUR, 0, False),
    ("1.5 hours", 5400, 0, False),
    ("2 days", 0, 2, False),
    ("3d", 0, 3, False),
    ("1.5 days", 36 * HOUR, 0, False),
    ("2 weeks", 0, 14, False),
    ("1w", 0, 7, False),
    ("24 business hours", 24 * HOUR, 0, True),
    ("1 business hour", HOUR, 0, True),
    ("1.5 business hours", 5400, 0, True),
    ("45 business minutes", 2700, 0, True),
    ("5 business days", 0, 5, True),
    ("1 business day", 0, 1, True),
    ("2 business weeks", 0, 10, True),
    ("8 business h", 8 * HOUR, 0, True),
    ("0 hours", 0, 0, False),
])
def test_parse_duration(text, seconds, days, business):
    assert parse_duration(text) == Duration(seconds=seconds, days=days, business=business)


@pytest.mark.parametrize("text", [
    "", "hours", "4", "4 hrs", "-1 hours", "4 Hours", "4  hours", "business 4 hours", "4 hours ago",
    "1.5 business days", "0.5 business weeks", "0.0001 hours", "1e3 hours", ".5 hours", 4, None,
])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


# ---------------------------------------------------------------- properties

SPECS = {
    # DST-free, public holidays and transferred days, a lunch break
    "ekb": {"timezone": "Asia/Yekaterinburg", "country": "RU", "hours": weekdays("09:00-13:00", "14:00-18:00")},
    "minsk": {"timezone": "Europe/Minsk", "country": "BY"},
    # DST zones, with Sunday hours right across the clock changes
    "berlin": {
        "timezone": "Europe/Berlin",
        "hours": {**weekdays("08:00-12:00", "13:00-17:30"), "sat": ["00:00-24:00"],
                  "sun": ["01:30-02:30", "02:45-03:30", "22:00-24:00"]},
        "exceptions": [{"date": "2026-03-29", "hours": ["00:00-24:00"]},  # the clocks go forward
                       {"date": "2027-10-31", "hours": ["00:00-24:00"]},  # the clocks go back
                       {"date": "2026-12-24", "hours": []}],
    },
    "new_york": {
        "timezone": "America/New_York",
        "hours": {**weekdays("09:00-17:00"), "sun": ["00:30-02:30", "03:00-24:00"]},
        "exceptions": [{"date": "2026-12-25", "hours": []}],
    },
}
CALENDARS = {name: BusinessCalendar(name, spec) for name, spec in SPECS.items()}
UNIFORM = ("ekb", "minsk")  # working days of one length but the pre-holiday ones: add_days inverts within 7 hours

# random instants, and instants within days of DST changes and New Year
ANCHORS = [dt.datetime(y, m, d, h, tzinfo=UTC) for y in (2021, 2026, 2029)
           for m, d, h in ((3, 8, 7), (3, 29, 1), (10, 25, 1), (11, 1, 6), (12, 31, 20))]
random_instants = st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2030, 12, 31), timezones=st.just(UTC))
near_anchors = st.builds(lambda a, s: a + dt.timedelta(seconds=s), st.sampled_from(ANCHORS),
                         st.integers(-3 * 86400, 3 * 86400))
instants = st.one_of(random_instants, near_anchors).map(lambda t: t.replace(microsecond=0))
business_seconds = st.one_of(st.integers(0, 10 * HOUR), st.integers(0, 60 * 86400))
calendars = st.sampled_from(sorted(CALENDARS))
props = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def used_up_in_working_time(cal, t):
    """Working time, or the exact end of an interval (the second before it was working)."""
    return cal.is_working(t) or cal.is_working(t - SECOND)


@props
@given(calendars, instants, business_seconds)
def test_between_measures_what_add_added(name, t, d):
    cal = CALENDARS[name]
    assert cal.between(t, cal.add_seconds(t, d)) == d
    assert cal.between(t, cal.add_seconds(t, -d)) == -d


@props
@given(calendars, instants, business_seconds)
def test_results_are_in_working_time(name, t, d):
    cal = CALENDARS[name]
    later, earlier = cal.add_seconds(t, d), cal.add_seconds(t, -d)
    if d == 0:
        assert later == earlier == cal.next_working(t)
    else:
        assert used_up_in_working_time(cal, later) and later > t
        assert cal.is_working(earlier) and earlier < t
    assert cal.is_working(cal.next_working(t))


@props
@given(calendars, instants, business_seconds)
def test_subtracting_undoes_adding_from_working_time(name, t, d):
    cal = CALENDARS[name]
    t = cal.next_working(t)
    assert cal.add_seconds(cal.add_seconds(t, d), -d) == t


@props
@given(calendars, instants, business_seconds, business_seconds)
def test_add_is_monotonic(name, t, d1, d2):
    cal = CALENDARS[name]
    d1, d2 = sorted((d1, d2))
    assert cal.add_seconds(t, d1) <= cal.add_seconds(t, d2)
    assert cal.add_seconds(t, -d2) <= cal.add_seconds(t, -d1)


@props
@given(calendars, instants, st.integers(-20 * 86400, 20 * 86400))
def test_between_matches_a_day_by_day_reference(name, a, length):
    b = a + dt.timedelta(seconds=length)
    assert CALENDARS[name].between(a, b) == reference_between(SPECS[name], a, b)


@props
@given(calendars, instants)
def test_is_working_matches_the_wall_clock(name, t):
    spec, cal = SPECS[name], CALENDARS[name]
    tz = ZoneInfo(spec["timezone"])
    wall = t.astimezone(tz)
    day = wall.date()
    midnights = [dt.datetime.combine(day + dt.timedelta(days=k), dt.time(), tz) for k in (0, 1)]
    if midnights[0].utcoffset() == midnights[1].utcoffset():  # not a day the clocks change
        seconds = wall.hour * 3600 + wall.minute * 60 + wall.second
        assert cal.is_working(t) == any(a <= seconds < b for a, b in reference_hours(spec, day))


@props
@given(calendars, instants, st.integers(-30, 30))
def test_add_days_lands_in_working_time_and_keeps_order(name, t, n):
    cal = CALENDARS[name]
    moved = cal.add_days(t, n)
    assert used_up_in_working_time(cal, moved)
    if n > 0:
        assert moved > t and cal.add_days(t, n + 1) > moved
    elif n < 0:
        assert moved < t


@props
@given(st.sampled_from(UNIFORM), instants, st.integers(-30, 30))
def test_add_days_back_and_forth_on_uniform_days(name, t, n):
    cal = CALENDARS[name]
    t = cal.next_working(t)
    midnight = dt.datetime.combine(t.astimezone(cal.tz).date(), dt.time(), cal.tz)
    assume(cal.between(midnight, t) < 7 * HOUR)  # a shortened day has 7 hours: later moments are clamped
    assert cal.add_days(cal.add_days(t, n), -n) == t
    assert cal.add_days(t, n).astimezone(cal.tz).time() == t.astimezone(cal.tz).time()


# ---------------------------------------------------------------- the slow reference

def reference_hours(spec, day):
    """(start, end) seconds of the day worked on ``day``, straight from the spec rules."""
    for item in spec.get("exceptions", ()):
        if str(item["date"]) == day.isoformat():
            return [_seconds(i) for i in item["hours"]]
    hours = spec.get("hours", DEFAULT_SPEC["hours"])
    if "country" in spec:
        found = holidays.country_holidays(spec["country"], years=day.year)
        if day in found:
            return []
        if day in found.weekend_workdays:
            return _cut_hour([_seconds(i) for i in hours.get("mon", [])], reference_short(spec["country"], day))
        return _cut_hour([_seconds(i) for i in hours.get(WEEKDAYS[day.weekday()], [])],
                         reference_short(spec["country"], day))
    return [_seconds(i) for i in hours.get(WEEKDAYS[day.weekday()], [])]


def reference_short(country, day):
    """Whether working ``day`` is shortened, read from the holiday names: it is the eve of a public
    holiday, or a working Saturday that took the place of such an eve ("substituted from <day>")."""
    years = range(day.year - 1, day.year + 2)
    named = holidays.country_holidays(country, years=years, language="en_US")
    real = {d for d, name in holidays.country_holidays(country, years=years, observed=False,
                                                       language="en_US").items() if "substituted" not in name}
    if day + dt.timedelta(days=1) in real:
        return True
    stamp = f"substituted from {day:%m/%d/%Y}"
    return any(stamp in name and d + dt.timedelta(days=1) in real for d, name in named.items())


def _cut_hour(intervals, short):
    if not short or not intervals:
        return intervals
    *rest, (start, end) = intervals
    return [*rest, (start, end - 3600)] if end - start > 3600 else rest


def _seconds(interval):
    a, b = interval.split("-")
    return tuple(int(x[:2]) * 3600 + int(x[3:]) * 60 for x in (a, b))


def reference_between(spec, a, b):
    """Business seconds between a and b, one day at a time: the union of every
    working wall-clock interval mapped to UTC (fold=0), measured inside [a, b]."""
    if b < a:
        return -reference_between(spec, b, a)
    tz = ZoneInfo(spec["timezone"])
    day, last = a.astimezone(tz).date() - dt.timedelta(days=1), b.astimezone(tz).date() + dt.timedelta(days=1)
    pieces = []
    while day <= last:
        midnight = dt.datetime.combine(day, dt.time(), tz)
        for s, e in reference_hours(spec, day):
            start, end = ((midnight + dt.timedelta(seconds=x)).timestamp() for x in (s, e))
            pieces.append((start, end))
        day += dt.timedelta(days=1)
    lo, hi, total, reach = int(a.timestamp()), int(b.timestamp()), 0, float("-inf")
    for start, end in sorted(pieces):
        start = max(start, reach, lo)
        end = min(end, hi)
        if end > start:
            total += end - start
        reach = max(reach, end)
    return int(total)
