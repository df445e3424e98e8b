"""The modules scripts may import, as frozen, allow-listed views.

``import math`` in a script returns a :class:`ScriptModule`, built once
and shared: it exposes the listed members only (``json.codecs`` or
``datetime.sys`` would lead straight to the file system) and refuses
writes, so one script setting ``math.pi = 3`` cannot affect another
script or the real module.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import re
import types

from . import regex
from .api import FrozenMap, RecordProxy, record_values
from .guards import GuardedType, guard_methods
from .operators import guarded_mul
from .sizes import SMALL, check_bits, check_text_size, size_hint
from .state import checkpoint, current, deny, exceed


class ScriptModule:
    """A read-only module with an explicit list of members."""

    __slots__ = ("_name", "_members", "_origin")

    def __init__(self, name, members, origin):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_members", types.MappingProxyType(dict(members)))
        object.__setattr__(self, "_origin", origin)

    def __getattr__(self, attr):
        # Dunder lookups must fail: ``from m import x`` retries a failed
        # lookup as ``sys.modules[m.__name__ + ".x"]``, the real module.
        if attr[:1] == "_":
            raise AttributeError(attr)
        try:
            return self._members[attr]
        except KeyError:
            pass
        if hasattr(self._origin, attr):
            deny("import", f"'{self._name}.{attr}' is not available in scripts")
        raise AttributeError(f"module '{self._name}' has no attribute '{attr}'")

    def __setattr__(self, attr, value):
        deny("write", f"module '{self._name}' is read-only")

    def __delattr__(self, attr):
        deny("write", f"module '{self._name}' is read-only")

    def __repr__(self):
        return f"<module '{self._name}'>"

    def _sandbox_describe_(self):
        return f"module '{self._name}'"


def _public(module, *names):
    return {name: getattr(module, name) for name in names}


# -- decimal -----------------------------------------------------------------------

#: Scripts compute in this context (see ``run``): 28 digits, and exponents
#: small enough that ``int(Decimal(...))`` stays cheap.
DECIMAL_MAX_EXPONENT = 9_999
DECIMAL_MAX_DIGITS = 10_000
DECIMAL_CONTEXT = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=DECIMAL_MAX_EXPONENT,
    Emin=-DECIMAL_MAX_EXPONENT,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


def _decimal_new(cls, value="0", context=None):
    # The constructor is exact and ignores the context, so it is the one
    # way to make a Decimal whose int() or "f" formatting never ends.
    result = decimal.Decimal(value, context)
    if result.is_finite() and result:
        if not -DECIMAL_MAX_EXPONENT <= result.adjusted() <= DECIMAL_MAX_EXPONENT:
            exceed("memory", f"Decimal exponent is limited to ±{DECIMAL_MAX_EXPONENT}")
        if _may_be_long(value) and len(result.as_tuple().digits) > DECIMAL_MAX_DIGITS:
            exceed("memory", f"Decimal values are limited to {DECIMAL_MAX_DIGITS} digits")
    return result


def _may_be_long(value):
    kind = type(value)
    if kind is str:
        return len(value) > 64
    if kind is int:
        return value.bit_length() > 200
    return kind is tuple or kind is list


#: The ``Decimal`` scripts see: calling it checks the value and returns a
#: real ``decimal.Decimal``; ``isinstance(x, Decimal)`` works as usual.
Decimal = GuardedType("Decimal", (decimal.Decimal,), {"__slots__": (), "__new__": _decimal_new})


# -- math ------------------------------------------------------------------------


def _factorial(n):
    if isinstance(n, int) and n > 1:
        check_bits(n * (n.bit_length() - 1))
    return math.factorial(n)


def _comb(n, k):
    if isinstance(n, int) and isinstance(k, int) and 0 < k < n:
        check_bits(min(k, n - k) * n.bit_length())
    return math.comb(n, k)


def _perm(n, k=None):
    if isinstance(n, int) and n > 1:
        count = n if k is None else k
        if isinstance(count, int) and count > 0:
            check_bits(min(count, n) * n.bit_length())
    return math.perm(n, k)


def _lcm(*numbers):
    check_bits(sum(abs(n).bit_length() for n in numbers if isinstance(n, int)))
    return math.lcm(*numbers)


def _prod(iterable, *, start=1):
    result = start
    for item in iterable:
        result = guarded_mul(result, item)
    return result


_math = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}
_math.update(factorial=_factorial, comb=_comb, perm=_perm, lcm=_lcm, prod=_prod)


# -- json --------------------------------------------------------------------------

_MAX_INDENT = 16


def _json_default(user_default):
    def default(obj):
        if isinstance(obj, FrozenMap):
            return obj.copy()
        if isinstance(obj, RecordProxy):
            return record_values(obj)
        if isinstance(obj, decimal.Decimal):
            return str(obj)
        if isinstance(obj, (datetime.date, datetime.time)):
            return obj.isoformat()
        if isinstance(obj, (set, frozenset)):
            return list(obj)
        if user_default is not None:
            return user_default(obj)
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    return default


def _json_dumps(obj, *, indent=None, separators=None, sort_keys=False, ensure_ascii=True, default=None):
    limits = current().limits
    if isinstance(indent, int) and indent > _MAX_INDENT or isinstance(indent, str) and len(indent) > _MAX_INDENT:
        exceed("memory", f"json indent is limited to {_MAX_INDENT}")
    if separators is not None and any(len(s) > _MAX_INDENT for s in separators):
        exceed("memory", f"json separators are limited to {_MAX_INDENT} characters")
    size_hint(obj, limits)
    text = json.dumps(
        obj,
        indent=indent,
        separators=separators,
        sort_keys=sort_keys,
        ensure_ascii=ensure_ascii,
        default=_json_default(default),
    )
    if len(text) > SMALL:
        check_text_size(len(text), "json text")
        checkpoint(len(text) >> 8)
    return text


def _json_loads(text, *, parse_float=None, parse_int=None, parse_constant=None, object_hook=None, object_pairs_hook=None):
    # Parsing runs in C and holds the interpreter: one call is kept short, and
    # the limits are checked right after it rather than some steps later.
    if hasattr(text, "__len__") and len(text) > SMALL:
        limit = current().limits.max_json
        if len(text) > limit:
            exceed("memory", f"json.loads() text of {len(text)} characters exceeds the limit of {limit}")
        checkpoint(len(text) >> 8)
    return json.loads(
        text,
        parse_float=parse_float,
        parse_int=parse_int,
        parse_constant=parse_constant,
        object_hook=object_hook,
        object_pairs_hook=object_pairs_hook,
    )


# -- the allow-list ----------------------------------------------------------------

MODULES = {
    "math": ScriptModule("math", _math, math),
    "decimal": ScriptModule(
        "decimal",
        {
            "Decimal": Decimal,
            **_public(decimal, "DecimalException", "InvalidOperation", "DivisionByZero", "Overflow"),
            **{name: getattr(decimal, name) for name in dir(decimal) if name.startswith("ROUND_")},
        },
        decimal,
    ),
    "datetime": ScriptModule(
        "datetime",
        _public(datetime, "date", "datetime", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR")
        | {"UTC": datetime.timezone.utc},
        datetime,
    ),
    "re": ScriptModule("re", regex.MEMBERS, re),
    "json": ScriptModule(
        "json", {"dumps": _json_dumps, "loads": _json_loads, "JSONDecodeError": json.JSONDecodeError}, json
    ),
}


def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    """The ``__import__`` of scripts: allow-listed modules only."""
    if level:
        deny("import", "relative imports are not allowed in scripts")
    module = MODULES.get(name)
    if module is None:
        allowed = ", ".join(sorted(MODULES))
        deny("import", f"import of '{name}' is not allowed; scripts may import {allowed}")
    return module


def _strftime(value, fmt):
    """``strftime`` imports ``time`` from C through the calling frame's ``__import__``;
    called from this host frame that is the real import, not the script's guard."""
    check_text_size(len(fmt))
    return type(value).strftime(value, fmt)


for _cls in (datetime.date, datetime.datetime, datetime.time):
    guard_methods(_cls, strftime=_strftime)
