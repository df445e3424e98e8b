"""The working intervals of a calendar between two instants: clipped to them, in order, with the
country's holidays left out (what appointment slots are cut from)."""
from __future__ import annotations

import datetime as dt

from runtime.behaviour.calendars import BusinessCalendar

UTC = dt.UTC
EKB = BusinessCalendar("ekb", {"timezone": "Asia/Yekaterinburg", "country": "RU",
                               "hours": {d: ["08:30-12:30", "13:15-17:30"] for d in ("mon", "tue", "wed", "thu", "fri")}})


def local(intervals):
    return [(a.astimezone(EKB.tz).strftime("%d.%m %H:%M"), b.astimezone(EKB.tz).strftime("%H:%M")) for a, b in intervals]


def test_a_day_is_its_working_hours_clipped_to_the_window():
    monday = dt.datetime(2026, 12, 7, tzinfo=EKB.tz)
    assert local(EKB.intervals(monday, monday + dt.timedelta(days=1))) == [("07.12 08:30", "12:30"),
                                                                          ("07.12 13:15", "17:30")]
    inside = dt.datetime(2026, 12, 7, 10, 0, tzinfo=EKB.tz)
    assert local(EKB.intervals(inside, inside + dt.timedelta(hours=4))) == [("07.12 10:00", "12:30"),
                                                                           ("07.12 13:15", "14:00")]
    assert EKB.intervals(inside, inside) == [] and EKB.intervals(inside, monday) == []
    assert all(a.tzinfo == UTC for pair in EKB.intervals(monday, monday + dt.timedelta(days=1)) for a in pair)


def test_weekends_and_the_new_year_holidays_have_none():
    start = dt.datetime(2026, 12, 31, tzinfo=EKB.tz)
    days = {a.astimezone(EKB.tz).date() for a, _ in EKB.intervals(start, start + dt.timedelta(days=14))}
    assert min(days) == dt.date(2027, 1, 11)  # 31 December and 1-10 January are days off
    assert dt.date(2027, 1, 16) not in days  # a Saturday
