"""The platform's clock: every "now" in runtime code comes from here.

Tests (and a demo that replays a day) freeze it; a frozen clock is process-wide,
which is what an in-process test of deadlines, timers and escalations needs.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import threading

from metamodel import reltime

_lock = threading.Lock()
_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """The current instant, timezone-aware UTC."""
    frozen = _frozen
    return frozen if frozen is not None else dt.datetime.now(dt.timezone.utc)


def relative(text: str, value_type: str, tz: str):
    """The value a relative time (``now - 7d``, ``start_of_month``; :mod:`metamodel.reltime`) has
    now for a ``date`` or ``datetime`` field, in the time zone ``tz`` (the app's). Raises
    :class:`metamodel.reltime.RelativeTimeError` saying what is wrong with ``text``."""
    return reltime.resolve(text, now(), tz, value_type)


def freeze(at: dt.datetime) -> None:
    """Stop the clock at ``at`` (an aware datetime) until :func:`thaw`."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    with _lock:
        _frozen = at.astimezone(dt.timezone.utc)


def advance(delta: dt.timedelta) -> dt.datetime:
    """Move a frozen clock forward by ``delta``; return the new now."""
    global _frozen
    with _lock:
        if _frozen is None:
            raise RuntimeError("advance() needs a frozen clock")
        _frozen = _frozen + delta
        return _frozen


def thaw() -> None:
    global _frozen
    with _lock:
        _frozen = None


@contextlib.contextmanager
def frozen(at: dt.datetime):
    freeze(at)
    try:
        yield
    finally:
        thaw()
