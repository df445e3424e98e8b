"""Building blocks for the ``api`` mapping a script sees as globals.

The runtime decides what a hook may do; this module gives it the pieces:
a record proxy (read-only or writable, with the changes collected),
read-only copies of static data, wrappers that keep host exceptions
from leaking into scripts, and clock and money helpers. Everything is
dict-backed and knows nothing about storage: the record service passes
its own callables (query, create, notify, ...) through :func:`build_api`.

Whatever the api holds is reachable by scripts. Pass plain data,
proxies and functions; never ORM objects, sessions or services.
"""

from __future__ import annotations

import datetime
import decimal
import zoneinfo
from collections.abc import Mapping

from runtime.errors import redact

from .errors import ApiError
from .guards import mark_writable, read_fields_as_attributes
from .sizes import register_container, size_hint
from .state import current, deny, exceed


class FrozenMap(Mapping):
    """A read-only mapping. ``copy()`` returns a plain, writable dict.

    Keys read as attributes too (``row.price`` as ``row["price"]``), so a table row or a
    record from ``get()`` reads like ``record``; a key named like a method (``items``) is
    read with ``[...]``.
    """

    __slots__ = ("_data",)

    def __init__(self, data=()):
        self._data = dict(data)

    def __getitem__(self, key):
        return self._data[key]

    def __getattr__(self, name):
        # Only called for names that are not slots or methods; private names never reach data.
        if name[:1] == "_":
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"no field '{name}'") from None

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return repr(self._data)

    def copy(self):
        return dict(self._data)


_IMMUTABLE = frozenset(
    {
        str,
        int,
        float,
        bool,
        complex,
        type(None),
        bytes,
        decimal.Decimal,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        frozenset,
        FrozenMap,
    }
)


class Row(FrozenMap):
    """A read-only record or table row: ``row.price`` and ``row["price"]``.

    A field wins over a method of the same name, so an order's table ``items``
    reads as ``order.items``; ``copy()`` (unless a field is so named) or
    ``dict(row)`` gives a plain, writable dict.
    """

    __slots__ = ()

    def __getattribute__(self, name):
        if name[:1] != "_":
            data = object.__getattribute__(self, "_data")
            if name in data:
                return data[name]
        return object.__getattribute__(self, name)


_IMMUTABLE = _IMMUTABLE | {Row}


def freeze(value, mapping=FrozenMap):
    """Return ``value`` with dicts, lists and sets made read-only, deeply.

    Use it for anything shared between runs (configuration, fixtures): a
    plain dict in the api could be changed by one script and seen by the
    next. Objects of other types are returned as they are. ``mapping`` is
    the read-only type dicts become (:class:`Row` for records and rows).
    """
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return mapping({key: freeze(item, mapping) for key, item in value.items()})
    if kind is list or kind is tuple:
        return tuple(freeze(item, mapping) for item in value)
    if kind is set:
        return frozenset(value)
    return value


def rows(value):
    """Records and table rows (dicts, lists of dicts) as read-only :class:`Row` objects."""
    return freeze(value, Row)


@mark_writable
class RecordProxy:
    """Attribute and item access to a record's field values.

    Scripts read ``record.priority`` or ``record["priority"]``; nested
    values (table rows, multi-links) come back read-only. When the proxy
    is writable, ``record.priority = "high"`` is accepted and collected:
    :func:`record_changes` returns what the script changed, for the
    caller to validate and save, or to show in a dry run.

    ``fields`` restricts reads and writes to known field names; unset
    known fields read as ``None``.
    """

    __slots__ = ("_values", "_changes", "_writable", "_fields", "_label")

    def __init__(self, values, *, writable=False, fields=None, label="record"):
        set_ = object.__setattr__
        set_(self, "_values", dict(values))
        set_(self, "_changes", {})
        set_(self, "_writable", writable)
        set_(self, "_fields", frozenset(fields) if fields is not None else None)
        set_(self, "_label", label)

    def _read(self, name, error):
        if type(name) is not str or name[:1] == "_":
            raise error(name)
        try:
            return freeze(self._values[name], Row)
        except KeyError:
            if self._fields is not None and name in self._fields:
                return None
            raise error(f"{self._label} has no field '{name}'") from None

    def __getattr__(self, name):
        # Only called for names that are not slots or methods.
        return self._read(name, AttributeError)

    def __getitem__(self, name):
        return self._read(name, KeyError)

    def get(self, name, default=None):
        try:
            return self._read(name, KeyError)
        except KeyError:
            return default

    def __contains__(self, name):
        return name in self._values or (self._fields is not None and name in self._fields)

    def __iter__(self):
        return iter(self._fields if self._fields is not None else tuple(self._values))

    def __len__(self):
        return len(self._fields if self._fields is not None else self._values)

    def _write(self, name, value, error):
        if not self._writable:
            deny("write", f"{self._label} is read-only in this hook")
        if type(name) is not str or name[:1] == "_":
            deny("attribute", f"cannot set field '{name}'")
        if self._fields is not None and name not in self._fields:
            raise error(f"{self._label} has no field '{name}'")
        self._values[name] = value
        self._changes[name] = value

    def __setattr__(self, name, value):
        self._write(name, value, AttributeError)

    def __setitem__(self, name, value):
        self._write(name, value, KeyError)

    def __delattr__(self, name):
        deny("write", f"fields of {self._label} cannot be deleted")

    __delitem__ = __delattr__

    def __repr__(self):
        return f"<{self._label}>"


register_container(RecordProxy, lambda proxy: proxy._values)
read_fields_as_attributes(RecordProxy, RecordProxy.__getattr__)
read_fields_as_attributes(Row, Row.__getattr__)
read_fields_as_attributes(FrozenMap, FrozenMap.__getattr__)


def record_changes(proxy):
    """The fields a script assigned, as a new dict."""
    return dict(proxy._changes)


def record_values(proxy):
    """All field values as the script left them, as a new dict."""
    return dict(proxy._values)


def expose(func, name=None, *, errors=(), messages=False):
    """Wrap a host callable so its failures reach scripts as ``ApiError``.

    A host exception can carry internals (SQL, paths, objects); scripts
    get ``ApiError("query() failed")`` instead and the original stays as
    ``__cause__`` for the host's logs; its class and message (credentials
    masked) go to the run's report. Exceptions of the types in ``errors``
    are considered safe: their message is passed on, credentials masked.

    ``messages=True`` marks a function that stores or sends a message
    (``notify``, ``send``): one run may call such functions
    ``Limits.max_messages`` times in all, each with arguments of at most
    ``Limits.max_message_size`` characters, so a loop cannot fill the
    database with notices.
    """
    label = name or getattr(func, "__name__", "api")
    safe = tuple(errors)

    def call(*args, **kwargs):
        if messages:
            _count_message(label, args, kwargs)
        try:
            return func(*args, **kwargs)
        except ApiError:
            raise
        except safe as exc:
            raise ApiError(redact(str(exc))) from exc
        except Exception as exc:
            failed = ApiError(f"{label}() failed")
            # What failed, credentials masked, for the run log the analyst reads; the script sees
            # only the line above (a private name: scripts cannot read it).
            failed._host_error_ = (type(exc).__name__, redact(str(exc)))
            raise failed from exc

    call.__name__ = call.__qualname__ = label
    call._sandbox_exposed_ = True
    return call


def _count_message(label, args, kwargs):
    state = current()
    limits = state.limits
    sent = state.calls.get("messages", 0)
    if sent >= limits.max_messages:
        exceed("messages", f"{label}(): a run may send at most {limits.max_messages} messages")
    size = sum(size_hint(value, limits) for value in args) + sum(size_hint(value, limits) for value in kwargs.values())
    if size > limits.max_message_size:
        exceed("memory", f"{label}(): a message of about {size} characters exceeds the limit of "
               f"{limits.max_message_size}")
    state.calls["messages"] = sent + 1


def zone(name):
    """The time zone ``name``; ``ValueError`` if it does not exist."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


def make_clock(tz="UTC"):
    """``now(tz=None)`` and ``today(tz=None)`` with a default time zone."""
    default = zone(tz)

    def now(tz=None):
        """The current time, aware, in ``tz`` or the app's time zone."""
        from runtime.clock import now as clock_now
        return clock_now().astimezone(default if tz is None else zone(tz))

    def today(tz=None):
        """Today's date in ``tz`` or the app's time zone."""
        return now(tz).date()

    return now, today


_CENT = decimal.Decimal("0.01")


def money(value, places=2):
    """``value`` as a Decimal rounded half up to ``places`` decimals."""
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(places, int) or not 0 <= places <= 12:
        raise ValueError("places must be an integer from 0 to 12")
    exponent = _CENT if places == 2 else decimal.Decimal(1).scaleb(-places)
    return decimal.Decimal(value).quantize(exponent, rounding=decimal.ROUND_HALF_UP)


def build_api(record=None, *, writable=False, fields=None, tz="UTC", **extra):
    """The usual ``api`` mapping for :func:`~runtime.sandbox.run`.

    ``record`` (a dict or a :class:`RecordProxy`) becomes ``record``;
    ``now``, ``today`` and ``money`` are always there. Every other
    keyword becomes a global: callables are wrapped with :func:`expose`,
    data is passed through :func:`freeze`.
    """
    now, today = make_clock(tz)
    api = {"now": now, "today": today, "money": money}
    if record is not None:
        if not isinstance(record, RecordProxy):
            record = RecordProxy(record, writable=writable, fields=fields)
        api["record"] = record
    for name, value in extra.items():
        if isinstance(value, (RecordProxy, FrozenMap)):
            api[name] = value
        elif callable(value) and not isinstance(value, type):
            exposed = getattr(value, "_sandbox_exposed_", False)
            api[name] = value if exposed else expose(value, name)
        else:
            api[name] = freeze(value)
    return api

