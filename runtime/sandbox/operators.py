"""Guards for operators and methods that allocate.

The compiler rewrites ``+ * ** << %``, f-strings and ``*unpacking`` into
calls of the ``guarded_*`` functions here; the methods registered at the
bottom replace ``str.join``, ``str.ljust``, ``list.extend`` and the like
when a script reads them. Each checks the size of the result before
Python builds it.
"""

from __future__ import annotations

import decimal
import operator
import re
from collections.abc import Mapping

from .guards import guard_methods
from .sizes import (
    FLAT,
    SEQUENCES,
    SMALL,
    SMALL_INT,
    check_bits,
    check_items,
    check_sequence,
    check_text_size,
    scrub,
    size_hint,
    to_text,
)
from .state import checkpoint, current, exceed

_TEXT = (str, bytes, bytearray)
_REPEATABLE = frozenset(_TEXT + SEQUENCES)
_NUMBERS = frozenset({int, float, bool, complex, decimal.Decimal})


def guarded_add(a, b):
    kind = type(a)
    if kind is int or kind is float:
        return a + b
    if kind in _REPEATABLE and hasattr(b, "__len__"):
        size = len(a) + len(b)
        if size > SMALL:
            check_sequence(a, size)
    return a + b


def _check_repeat(seq, times):
    if times > 0:
        size = len(seq) * times
        if size > SMALL:
            check_sequence(seq, size)


def guarded_mul(a, b):
    ka = type(a)
    kb = type(b)
    if ka is int and kb is int:
        if not (-SMALL_INT < a < SMALL_INT and -SMALL_INT < b < SMALL_INT):
            check_bits(a.bit_length() + b.bit_length())
        return a * b
    if ka in _NUMBERS and kb in _NUMBERS:
        return a * b
    if ka in _REPEATABLE and isinstance(b, int):
        _check_repeat(a, b)
    elif kb in _REPEATABLE and isinstance(a, int):
        _check_repeat(b, a)
    return a * b


def guarded_pow(a, b, mod=None):
    """``**`` and the ``pow`` builtin."""
    if mod is not None:
        if isinstance(b, int) and isinstance(mod, int):
            if b.bit_length() > 4096 or mod.bit_length() > 4096:
                exceed("memory", "pow() with a modulus is limited to 4096-bit numbers")
        return pow(a, b, mod)
    if isinstance(a, int) and isinstance(b, int) and b > 1 and (a > 1 or a < -1):
        if not (b < 64 and -SMALL_INT < a < SMALL_INT):
            check_bits((abs(a).bit_length() - 1) * b)
    return a**b


def guarded_lshift(a, b):
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        if not (b < 64 and -SMALL_INT < a < SMALL_INT):
            check_bits(a.bit_length() + b)
    return a << b


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def guarded_mod(a, b):
    """``%``, which for strings is formatting with widths and precisions."""
    kind = type(a)
    if kind is str or kind is bytes or kind is bytearray:
        limits = current().limits
        template = a if kind is str else a.decode("latin-1")
        extra = 0
        for match in _PERCENT.finditer(template):
            for number in match.group(1, 2):
                if number == "*":
                    exceed("memory", "'*' widths are not supported in % formatting")
                if number:
                    extra += _format_number(number, limits)
        size = len(a) + extra + size_hint(b, limits)
        if size > limits.max_string:
            exceed("memory", f"formatted string of about {size} characters exceeds the limit")
        result = a % b
        return scrub(result) if kind is str and type(b) not in FLAT else result
    return a % b


_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def guarded_inplacevar(op, x, y):
    """``_inplacevar_``: ``x op= y`` for a plain name ``x``.

    Lists and bytearrays are changed in place, as in Python, after the
    same size checks as the binary operators.
    """
    kind = type(x)
    if op == "+=":
        if kind is list or kind is bytearray:
            if not hasattr(y, "__len__"):
                y = list(y)
            check_sequence(x, len(x) + len(y))
            x += y
            return x
        return guarded_add(x, y)
    if op == "*=":
        if (kind is list or kind is bytearray) and isinstance(y, int):
            _check_repeat(x, y)
            x *= y
            return x
        return guarded_mul(x, y)
    if op == "**=":
        return guarded_pow(x, y)
    if op == "<<=":
        return guarded_lshift(x, y)
    if op == "%=":
        return guarded_mod(x, y)
    return _INPLACE[op](x, y)


def guarded_starred(value):
    """``*value`` in a list, tuple, set or call: C copies it in one go."""
    if hasattr(value, "__len__"):
        size = len(value)
        if size > SMALL:
            check_items(size, "unpacked sequence")
    return value


# -- formatting ------------------------------------------------------------------

_SPEC_NUMBER = re.compile(r"\d+")
_MAX_SPEC = 256
_FLAT = frozenset({str, int, float, bool, type(None), decimal.Decimal})


def _format_number(text, limits):
    value = int(text) if len(text) < 12 else limits.max_string + 1
    if value > limits.max_string:
        exceed("memory", f"format width or precision {text} exceeds the limit of {limits.max_string}")
    return value


def guarded_format(value, spec="", conversion=-1):
    """One ``{value!conversion:spec}`` of an f-string; also ``format()``."""
    if spec or conversion != -1 or type(value) not in _FLAT:
        limits = current().limits
        if spec:
            if type(spec) is not str:
                raise TypeError("format spec must be a string")
            if len(spec) > _MAX_SPEC:
                exceed("memory", f"format spec longer than {_MAX_SPEC} characters")
            for number in _SPEC_NUMBER.findall(spec):
                _format_number(number, limits)
        if type(value) not in _FLAT:
            size_hint(value, limits)
        if conversion == 114:
            value = to_text(value, limits, repr)
        elif conversion == 115:
            value = to_text(value, limits)
        elif conversion == 97:
            value = to_text(value, limits, ascii)
        elif type(value) not in _FLAT:
            return scrub(format(value, spec))
    return format(value, spec)


def guarded_fstring(parts):
    """Join the pieces of an f-string, refusing an oversized result."""
    size = sum(map(len, parts))
    if size > SMALL:
        check_text_size(size, "f-string")
    return "".join(parts)


def _fstring_part(value, conversion, spec):
    return guarded_format(value, spec, conversion)


def guarded_repr(obj):
    return to_text(obj, None, repr)


def guarded_ascii(obj):
    return to_text(obj, None, ascii)


def guarded_str(*args, **kwargs):
    """The ``str`` builtin: ``str(obj)`` of a container is formatted in C at once."""
    if len(args) == 1 and not kwargs:
        return to_text(args[0])
    return str(*args, **kwargs)  # decoding bytes: linear in the input


# -- methods that allocate -------------------------------------------------------


def _join(sep, iterable):
    parts = iterable if type(iterable) in SEQUENCES else list(iterable)
    try:
        size = sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0)
    except TypeError:
        return sep.join(parts)  # raises the usual TypeError
    check_text_size(size, "joined string")
    if size > SMALL:
        checkpoint(size // SMALL)
    return sep.join(parts)


def _pad(name):
    def pad(text, width, *args):
        if isinstance(width, int):
            check_text_size(width, "padded string")
        return getattr(text, name)(width, *args)

    pad.__name__ = name
    return pad


def _expandtabs(text, tabsize=8):
    tab = "\t" if type(text) is str else b"\t"
    if isinstance(tabsize, int):
        check_text_size(len(text) + text.count(tab) * max(tabsize, 0), "expanded string")
    return text.expandtabs(tabsize)


def _replace(text, old, new, count=-1):
    if hasattr(old, "__len__") and hasattr(new, "__len__") and len(new) > len(old):
        hits = text.count(old) if len(old) else len(text) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        check_text_size(len(text) + hits * (len(new) - len(old)), "replaced string")
    return text.replace(old, new, count)


def _translate(text, table):
    # Any table other than a mapping or a sequence could answer each lookup with
    # a new, longer string; those two are measured before C builds the result.
    if isinstance(table, Mapping) or type(table) is dict:
        values = table.values()
    elif type(table) in SEQUENCES:
        values = table
    else:
        raise TypeError("translate() takes a dict (see str.maketrans) or a list as its table")
    longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    check_text_size(len(text) * max(longest, 1), "translated string")
    return text.translate(table)


def _extend(seq, iterable):
    if not hasattr(iterable, "__len__"):
        iterable = list(iterable)
    check_sequence(seq, len(seq) + len(iterable))
    seq.extend(iterable)


def _to_bytes(number, length=1, *args, **kwargs):
    if isinstance(length, int):
        check_text_size(length, "bytes")
    return number.to_bytes(length, *args, **kwargs)


_TEXT_METHODS = {
    "join": _join,
    "ljust": _pad("ljust"),
    "rjust": _pad("rjust"),
    "center": _pad("center"),
    "zfill": _pad("zfill"),
    "expandtabs": _expandtabs,
    "replace": _replace,
}
guard_methods(str, translate=_translate, **_TEXT_METHODS)
guard_methods(bytes, **_TEXT_METHODS)
guard_methods(bytearray, extend=_extend, **_TEXT_METHODS)
guard_methods(list, extend=_extend)
guard_methods(int, to_bytes=_to_bytes)
guard_methods(bool, to_bytes=_to_bytes)
