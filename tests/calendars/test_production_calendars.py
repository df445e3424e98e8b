"""Production calendars of Russia and Belarus, month by month, against the official figures.

A 40-hour week (five 8-hour days, here 09:00-13:00 and 14:00-18:00): working days and
working hours per month. The hours are where Loom used to be wrong: the working day
immediately before a non-working public holiday is one hour shorter (Russia: Labour
Code art. 95; Belarus: Labour Code art. 116), and when a transfer makes that eve a day
off, the working Saturday it was swapped with is the short day (Russia 2024: April 30
went to Saturday November 2, which is 7 hours).

Figures (days / hours):

* Russia 2024 - 248 days, 1979 hours. Transfers: Government Decree of 10.08.2023
  No. 1306 "О переносе выходных дней в 2024 году"; calendar: consultant.ru,
  https://www.consultant.ru/law/ref/calendar/proizvodstvennye/2024/ (decree text:
  https://www.consultant.ru/document/cons_doc_LAW_455140/). Short days: 22.02, 07.03,
  08.05, 11.06, 02.11.
* Russia 2025 - 247 days, 1972 hours. Transfers: Government Decree of 04.10.2024
  No. 1335 "О переносе выходных дней в 2025 году"
  (https://www.consultant.ru/document/cons_doc_LAW_481586/); calendar:
  https://www.consultant.ru/law/ref/calendar/proizvodstvennye/2025/. Short days: 07.03,
  30.04, 11.06, 01.11.
* Russia 2026 - 247 days, 1972 hours. Transfers: the Government Decree "О переносе
  выходных дней в 2026 году" (https://www.consultant.ru/document/cons_doc_LAW_515170/);
  calendar: https://www.consultant.ru/law/ref/calendar/proizvodstvennye/2026/ (garant.ru
  publishes the same at https://www.garant.ru/calendar/buhpravo/). Short days: 30.04,
  08.05, 11.06, 03.11.
* Belarus 2025 - 252 days, 2007 hours. Transfers: Resolution of the Council of Ministers
  on moving working days in 2025 (06.01 -> Sat 11.01, 28.04 -> Sat 26.04, 04.07 -> Sat
  12.07, 26.12 -> Sat 20.12); norm: the Ministry of Labour and Social Protection's
  "Расчетная норма рабочего времени на 2025 год" (mintrud.gov.by). Short days: 11.01,
  07.03, 26.04, 30.04, 08.05, 02.07, 06.11, 24.12, 31.12.
* Belarus 2026 - 254 days, 2024 hours. Transfers: Resolution of the Council of
  Ministers on moving working days in 2026 (20.04 -> Sat 25.04); norm: the Ministry of
  Labour's "Расчетная норма рабочего времени на 2026 год". Short days: 06.01, 25.04,
  30.04, 08.05, 02.07, 06.11, 24.12, 31.12.

Before the shortened days were derived, hours differed from these in 26 of the 60
months; working days matched in all of them (the holidays package carries the decrees'
transfers, version pinned in constraints.txt).
"""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from runtime.behaviour.calendars import BusinessCalendar, country_days

HOURS_40 = {day: ["09:00-13:00", "14:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
ZONES = {"RU": "Europe/Moscow", "BY": "Europe/Minsk"}

OFFICIAL = {  # (country, year): twelve (working days, hours) and the year's total
    ("RU", 2024): ([(17, 136), (20, 159), (20, 159), (21, 168), (20, 159), (19, 151),
                    (23, 184), (22, 176), (21, 168), (23, 184), (21, 167), (21, 168)], (248, 1979)),
    ("RU", 2025): ([(17, 136), (20, 160), (21, 167), (22, 175), (18, 144), (19, 151),
                    (23, 184), (21, 168), (22, 176), (23, 184), (19, 151), (22, 176)], (247, 1972)),
    ("RU", 2026): ([(15, 120), (19, 152), (21, 168), (22, 175), (19, 151), (21, 167),
                    (23, 184), (21, 168), (22, 176), (22, 176), (20, 159), (22, 176)], (247, 1972)),
    ("BY", 2025): ([(20, 159), (20, 160), (21, 167), (21, 166), (20, 159), (21, 168),
                    (22, 175), (21, 168), (22, 176), (23, 184), (19, 151), (22, 174)], (252, 2007)),
    ("BY", 2026): ([(19, 151), (20, 160), (22, 176), (21, 166), (20, 159), (22, 176),
                    (22, 175), (21, 168), (22, 176), (22, 176), (21, 167), (22, 174)], (254, 2024)),
}
SHORT_DAYS = {
    ("RU", 2024): ["2024-02-22", "2024-03-07", "2024-05-08", "2024-06-11", "2024-11-02"],
    ("RU", 2025): ["2025-03-07", "2025-04-30", "2025-06-11", "2025-11-01"],
    ("RU", 2026): ["2026-04-30", "2026-05-08", "2026-06-11", "2026-11-03"],
    ("BY", 2025): ["2025-01-11", "2025-03-07", "2025-04-26", "2025-04-30", "2025-05-08", "2025-07-02",
                   "2025-11-06", "2025-12-24", "2025-12-31"],
    ("BY", 2026): ["2026-01-06", "2026-04-25", "2026-04-30", "2026-05-08", "2026-07-02", "2026-11-06",
                   "2026-12-24", "2026-12-31"],
}


def calendar(country, **extra):
    return BusinessCalendar(f"{country}-40h", {"timezone": ZONES[country], "country": country, "hours": HOURS_40,
                                               **extra})


def month_figures(cal, year, month):
    first = dt.date(year, month, 1)
    after = dt.date(year + month // 12, month % 12 + 1, 1)
    midnight = [dt.datetime.combine(d, dt.time(), cal.tz) for d in (first, after)]
    return cal.working_days(first, after), cal.between(*midnight) / 3600


@pytest.mark.parametrize("country, year", sorted(OFFICIAL))
def test_monthly_days_and_hours_match_the_official_calendar(country, year):
    cal = calendar(country)
    months, (days, hours) = OFFICIAL[(country, year)]
    got = [month_figures(cal, year, m) for m in range(1, 13)]
    assert got == months
    assert (sum(d for d, _ in got), sum(h for _, h in got)) == (days, hours)


@pytest.mark.parametrize("country, year", sorted(SHORT_DAYS))
def test_the_short_days_are_the_eves_of_holidays(country, year):
    assert sorted(map(str, country_days(country, year)[2])) == SHORT_DAYS[(country, year)]


def test_a_short_day_ends_an_hour_early_after_the_break():
    cal = calendar("RU")
    msk = ZoneInfo("Europe/Moscow")
    eve = dt.datetime(2025, 4, 30, 16, 59, tzinfo=msk)  # before May 1
    assert cal.is_working(eve) and not cal.is_working(eve + dt.timedelta(minutes=1))
    assert cal.add(dt.datetime(2025, 4, 30, 16, tzinfo=msk), "2 business hours").astimezone(msk) == \
        dt.datetime(2025, 5, 5, 10, tzinfo=msk)  # May 1-4 are days off
    saturday = dt.datetime(2024, 11, 2, 9, tzinfo=msk)  # took the place of April 30's eve
    assert cal.between(saturday, saturday + dt.timedelta(hours=12)) == 7 * 3600


def test_local_exceptions_stay_stronger_than_the_country_rule():
    full = calendar("RU", exceptions=[{"date": "2025-04-30", "hours": ["09:00-13:00", "14:00-18:00"]},
                                      {"date": "2025-04-29", "hours": ["09:00-12:00"]}])
    assert month_figures(full, 2025, 4) == (22, 175 + 1 - 5)


def test_without_a_country_no_day_is_short():
    cal = BusinessCalendar("plain", {"timezone": "Europe/Moscow", "hours": HOURS_40})
    assert month_figures(cal, 2025, 4) == (22, 176)
