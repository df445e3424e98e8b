"""Periods of a record generator: calendar days, weeks, months, quarters, half-years, years.

A period is named by its first day; the day after its last is the next period's
first. Weeks start on Monday (ISO), quarters in January, April, July and October.
"""
from __future__ import annotations

import datetime as dt

PERIODICITIES = ("daily", "weekly", "monthly", "quarterly", "half_yearly", "yearly")
_MONTHS = {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12}


def period_of(day: dt.date, every: str) -> tuple[dt.date, dt.date]:
    """The first and last day of the ``every`` period that holds ``day``."""
    if every == "daily":
        return day, day
    if every == "weekly":
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    months = _MONTHS.get(every)
    if months is None:
        raise ValueError(f"unknown periodicity {every!r}; one of {', '.join(PERIODICITIES)}")
    first_month = (day.month - 1) // months * months + 1
    start = dt.date(day.year, first_month, 1)
    return start, _add_months(start, months) - dt.timedelta(days=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return dt.date(day.year + index // 12, index % 12 + 1, 1)
