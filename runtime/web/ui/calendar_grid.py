"""The days a calendar shows, shared by the calendar views and the personal organiser: a month
as six Monday-first weeks, a week, or a day, and the step to the previous or next one."""
from __future__ import annotations

import datetime as dt

from .i18n import N_, fmt_date, t

MONTHS = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"), N_("July"),
          N_("August"), N_("September"), N_("October"), N_("November"), N_("December"))
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MODES = {"month": N_("Month"), "week": N_("Week"), "day": N_("Day")}


def window(mode: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day shown around ``day``."""
    if mode == "day":
        return day, day
    if mode == "week":
        first = day - dt.timedelta(days=day.weekday())
        return first, first + dt.timedelta(days=6)
    first = day.replace(day=1)
    first -= dt.timedelta(days=first.weekday())
    return first, first + dt.timedelta(days=41)


def step(mode: str, day: dt.date, sign: int) -> dt.date:
    """The day of the previous (``sign`` -1) or next (+1) month, week or day."""
    if mode == "day":
        return day + dt.timedelta(days=sign)
    if mode == "week":
        return day + dt.timedelta(days=7 * sign)
    month = day.month - 1 + sign
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def title(mode: str, day: dt.date) -> str:
    if mode == "month":
        return f"{t(MONTHS[day.month - 1])} {day.year}"
    if mode == "week":
        first, last = window("week", day)
        return f"{fmt_date(first)} – {fmt_date(last)}"
    return f"{t(WEEKDAYS[day.weekday()])} {fmt_date(day)}"
