"""Business calendars: working hours, time zones, public holidays and exceptions."""
from __future__ import annotations
