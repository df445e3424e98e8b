"""The builtins scripts see, and the per-run ``log`` and ``print``.

Python builtins that are harmless are passed through; the rest are
replaced by checked versions or by stubs that stop the script with a
clear message (``'open' is not available in scripts``) rather than a
``NameError``.
"""

from __future__ import annotations

import builtins
import operator

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from runtime.sandbox import nesting
from runtime.sandbox import operators as ops

from .errors import ApiError, ScriptRejected
from .guards import (
    METHOD_GUARDS,
    GuardedType,
    guarded_delattr,
    guarded_getattr,
    guarded_hasattr,
    guarded_setattr,
    guarded_write,
)
from .sizes import SEQUENCES, SMALL, SMALL_INT, check_bits, check_text_size, to_text
from .state import current, deny, exceed, stop


def checked_type(base, new):
    """A stand-in for ``base`` whose constructor is ``new(cls, *args)``.

    ``new`` must return an instance of ``base`` itself.
    """
    checked = GuardedType(base.__name__, (base,), {"__slots__": (), "__new__": new})
    METHOD_GUARDS[checked] = METHOD_GUARDS.get(base, {})
    return checked


def _bytes_new(base):
    # Checked before the call: bytes(10**10) allocates at once.
    def __new__(cls, *args, **kwargs):
        if args and isinstance(args[0], int):
            check_text_size(args[0], base.__name__)
        return base(*args, **kwargs)

    return __new__


def _int_new(cls, *args, **kwargs):
    # Checked after the call: int("f" * 10**6, 16) and int.from_bytes()
    # are linear, but the huge result would make later arithmetic slow.
    result = int(*args, **kwargs)
    if not -SMALL_INT < result < SMALL_INT:
        check_bits(result.bit_length())
    return result


checked_bytes = checked_type(bytes, _bytes_new(bytes))
checked_bytearray = checked_type(bytearray, _bytes_new(bytearray))
checked_int = checked_type(int, _int_new)
checked_tuple = checked_type(tuple, lambda cls, iterable=(): nesting.check_nesting(tuple(iterable)))
checked_str = checked_type(str, lambda cls, *args, **kwargs: ops.guarded_str(*args, **kwargs))


def guarded_apply(func, *args, **kwargs):
    """``_apply_``: calls with ``*args``/``**kwargs``."""
    return func(*args, **kwargs)


def guarded_range(*args):
    result = range(*args)
    try:
        size = len(result)
    except OverflowError:
        size = None
    if size is None or size > SMALL:
        limit = current().limits.max_items
        if size is None or size > limit:
            exceed("memory", f"range() longer than {limit} items")
    return result


def guarded_sum(iterable, /, start=0):
    if type(start) in SEQUENCES:
        total = start
        for item in iterable:
            total = ops.guarded_add(total, item)
        return total
    return sum(iterable, start)


def guarded_round(number, ndigits=None):
    # round(5, -10**7) computes 10**(10**7) first.
    if isinstance(ndigits, int) and ndigits < -20:
        check_bits(-ndigits * 10 // 3)
    return round(number, ndigits)


def guarded_iter(obj, *sentinel):
    if sentinel:
        deny("builtins", "iter(callable, sentinel) is not available in scripts")
    return nesting.guarded_getiter(obj)


def reject(message):
    """Refuse the operation; ``message`` is shown to the end user."""
    stop(ScriptRejected, "reject", str(message)[:1000])


def _unavailable(name):
    def unavailable(*args, **kwargs):
        deny("builtins", f"'{name}' is not available in scripts")

    unavailable.__name__ = name
    return unavailable


_PLAIN_BUILTINS = (
    "None False True abs all any bin bool callable chr complex dict divmod "
    "float frozenset hex isinstance issubclass len "
    "list max min next oct ord reversed set slice sorted "
    # Exceptions scripts may raise and catch. BaseException and the
    # non-Exception signals are left out, so ``except`` clauses can only
    # name Exception subclasses.
    "Exception ArithmeticError AssertionError AttributeError IndexError KeyError "
    "LookupError NameError NotImplementedError OverflowError RuntimeError "
    "StopIteration TypeError UnicodeError ValueError ZeroDivisionError"
).split()

#: Names that exist in Python but not in scripts; calling one stops the
#: script with a clear message rather than a NameError.
UNAVAILABLE_BUILTINS = (
    "type object vars dir globals locals open input breakpoint help exit quit "
    "copyright credits license compile eval exec memoryview super classmethod "
    "staticmethod property id aiter anext BaseException BaseExceptionGroup "
    "ExceptionGroup KeyboardInterrupt SystemExit GeneratorExit"
).split()


def make_builtins(importer, extra):
    """The ``__builtins__`` mapping shared by all runs."""
    table = {name: getattr(builtins, name) for name in _PLAIN_BUILTINS}
    table.update({name: _unavailable(name) for name in UNAVAILABLE_BUILTINS})
    table.update(
        __import__=importer,
        getattr=guarded_getattr,
        hasattr=guarded_hasattr,
        setattr=guarded_setattr,
        delattr=guarded_delattr,
        iter=guarded_iter,
        map=nesting.guarded_map,
        filter=nesting.guarded_filter,
        zip=nesting.guarded_zip,
        enumerate=nesting.guarded_enumerate,
        hash=nesting.guarded_hash,
        tuple=checked_tuple,
        str=checked_str,
        pow=ops.guarded_pow,
        range=guarded_range,
        sum=guarded_sum,
        round=guarded_round,
        int=checked_int,
        repr=ops.guarded_repr,
        ascii=ops.guarded_ascii,
        format=ops.guarded_format,
        bytes=checked_bytes,
        bytearray=checked_bytearray,
        reject=reject,
        ApiError=ApiError,
    )
    table.update(extra)
    # A real dict: CPython's fast global lookups and ``import`` need one.
    # Scripts cannot reach it (``__builtins__`` is not a valid name).
    return table


def guard_globals():
    """Guard names the compiled code refers to, shared by all runs."""
    return {
        "_getattr_": guarded_getattr,
        "_getitem_": operator.getitem,
        "_getiter_": nesting.guarded_getiter,
        "_tuple_": nesting.guarded_tuple,
        "_write_": guarded_write,
        "_apply_": guarded_apply,
        "_inplacevar_": ops.guarded_inplacevar,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_add_": ops.guarded_add,
        "_mul_": ops.guarded_mul,
        "_pow_": ops.guarded_pow,
        "_lshift_": ops.guarded_lshift,
        "_mod_": ops.guarded_mod,
        "_fmt_": ops._fstring_part,
        "_fstr_": ops.guarded_fstring,
        "_starred_": ops.guarded_starred,
    }


# -- log and print -----------------------------------------------------------------

MAX_LOG_LINE = 2000


def _line(objects, sep, limits):
    # Builds at most MAX_LOG_LINE characters: joining first and cutting
    # afterwards would let log(*[big] * 100) allocate a hundred times more.
    pieces = []
    room = MAX_LOG_LINE
    for index, obj in enumerate(objects):
        if index:
            pieces.append(sep[:room])
            room -= len(pieces[-1])
        if room <= 0:
            break
        pieces.append(to_text(obj, limits)[:room])
        room -= len(pieces[-1])
    return "".join(pieces)


def make_log(state):
    """The ``log(*parts)`` function of one run."""

    def log(*parts):
        state.add_log(_line(parts, " ", state.limits))

    return log


class _Printer:
    """Receives ``print()`` calls; RestrictedPython routes them here."""

    __slots__ = ("_state", "_parts", "_size")

    def __init__(self, state):
        self._state = state
        self._parts = []
        self._size = 0

    def _call_print(self, *objects, sep=" ", end="\n", file=None, flush=False):
        if file is not None:
            deny("builtins", "print(file=...) is not available in scripts")
        if sep is None:
            sep = " "
        if end is None:
            end = "\n"
        if type(sep) is not str or type(end) is not str:
            raise TypeError("sep and end must be strings")
        limits = self._state.limits
        text = _line(objects, sep, limits)
        self._state.add_log(text)
        if self._size < limits.max_string:
            self._parts.append(text + end)
            self._size += len(text) + len(end)

    def __call__(self):
        # The value of ``printed``.
        return "".join(self._parts)


def make_print(state):
    """The ``_print_`` factory of one run: print goes to the run's log."""

    def print_factory(_getattr_=None):
        return _Printer(state)

    return print_factory
