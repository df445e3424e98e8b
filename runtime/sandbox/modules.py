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
import functools
import json
import math
import re
import types

from .api import FrozenMap, RecordProxy, record_values
from .guards import GuardedType, guard_methods
from .operators import guarded_mul
from .sizes import SMALL, check_bits, check_text_size, size_hint
from .state import current, deny, exceed


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


# -- re ----------------------------------------------------------------------------

try:  # Python 3.11+
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre
    import sre_parse as _sre_parse

_REPEATS = {
    getattr(_sre, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(_sre, name)
}
MAX_PATTERN = 1000


def _nested_repeat(items, inside):
    """Is there an unbounded repeat inside another repeat, as in ``(a+)+``?

    Python's backtracking engine runs in C and cannot be interrupted;
    such patterns take exponential time on a near-miss. Alternations
    like ``(a|a)+`` have the same problem and are not detected.
    """
    for op, av in items:
        if op in _REPEATS:
            low, high, sub = av
            if inside and high == _sre.MAXREPEAT:
                return True
            if _nested_repeat(sub, inside or high > 1):
                return True
        elif op is _sre.SUBPATTERN:
            if _nested_repeat(av[-1], inside):
                return True
        elif op is _sre.BRANCH:
            if any(_nested_repeat(alt, inside) for alt in av[1]):
                return True
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            if _nested_repeat(av[1], inside):
                return True
        elif op is _sre.GROUPREF_EXISTS:
            if any(_nested_repeat(alt, inside) for alt in av[1:] if alt):
                return True
        elif op is getattr(_sre, "ATOMIC_GROUP", None):
            if _nested_repeat(av, inside):
                return True
    return False


@functools.lru_cache(maxsize=512)
def _pattern_problem(pattern, flags):
    if len(pattern) > MAX_PATTERN:
        return f"regular expressions are limited to {MAX_PATTERN} characters"
    if flags & re.DEBUG:
        return "re.DEBUG is not available in scripts"
    try:
        parsed = _sre_parse.parse(pattern, flags)
    except re.error:
        return None  # re.compile raises the proper error
    if _nested_repeat(parsed, False):
        return "nested repetition such as (a+)+ can take exponential time; simplify the pattern"
    return None


def _compiled(pattern, flags=0):
    if isinstance(pattern, re.Pattern):
        if flags:
            raise ValueError("cannot process flags argument with a compiled pattern")
        return pattern
    if not isinstance(pattern, (str, bytes)) or not isinstance(flags, int):
        raise TypeError("first argument must be string or compiled pattern")
    problem = _pattern_problem(pattern, flags)
    if problem:
        deny("regex", problem)
    return re.compile(pattern, flags)


def _expand(match, template):
    if isinstance(template, (str, bytes)):
        refs = template.count("\\" if isinstance(template, str) else b"\\")
        if refs:
            longest = max(len(group) for group in (match.group(0),) + match.groups() if group)
            check_text_size(len(template) + refs * longest, "expanded template")
    return match.expand(template)


def _substitute(pattern, repl, string, count, with_count):
    # Each replacement is built by a Python callable, so the growing
    # result can be checked before ``re`` joins it in C.
    limit = current().limits.max_string
    total = len(string)
    if callable(repl):
        produce = repl
    elif isinstance(repl, (str, bytes)) and ("\\" if isinstance(repl, str) else b"\\") not in repl:

        def produce(match):
            return repl

    else:

        def produce(match):
            return _expand(match, repl)

    def counted(match):
        nonlocal total
        piece = produce(match)
        if hasattr(piece, "__len__"):
            total += len(piece) - (match.end() - match.start())
            if total > limit:
                exceed("memory", f"substitution result exceeds the limit of {limit} characters")
        return piece

    method = pattern.subn if with_count else pattern.sub
    return method(counted, string, count)


def _pattern_sub(pattern, repl, string, count=0):
    return _substitute(pattern, repl, string, count, False)


def _pattern_subn(pattern, repl, string, count=0):
    return _substitute(pattern, repl, string, count, True)


guard_methods(re.Pattern, sub=_pattern_sub, subn=_pattern_subn)
guard_methods(re.Match, expand=_expand)


def _re_function(name):
    def call(pattern, string, flags=0):
        return getattr(_compiled(pattern, flags), name)(string)

    call.__name__ = name
    return call


def _re_split(pattern, string, maxsplit=0, flags=0):
    return _compiled(pattern, flags).split(string, maxsplit)


def _re_sub(pattern, repl, string, count=0, flags=0):
    return _substitute(_compiled(pattern, flags), repl, string, count, False)


def _re_subn(pattern, repl, string, count=0, flags=0):
    return _substitute(_compiled(pattern, flags), repl, string, count, True)


_re = {name: _re_function(name) for name in ("search", "match", "fullmatch", "findall", "finditer")}
_re.update(
    compile=_compiled,
    split=_re_split,
    sub=_re_sub,
    subn=_re_subn,
    escape=re.escape,
    error=re.error,
    Pattern=re.Pattern,
    Match=re.Match,
    **_public(re, "A", "ASCII", "I", "IGNORECASE", "M", "MULTILINE", "S", "DOTALL"),
    **_public(re, "X", "VERBOSE", "U", "UNICODE", "NOFLAG"),
)


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
    return text


def _json_loads(text, *, parse_float=None, parse_int=None, parse_constant=None, object_hook=None, object_pairs_hook=None):
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
    "re": ScriptModule("re", _re, re),
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
