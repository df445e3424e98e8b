"""Jinja templates rendered under the limits of scripts.

Jinja's sandbox stops attribute walks, not work: ``{{ 9 ** 9999999 }}``,
``{{ 'a' * 200000000 }}`` or ``{{ 'a'|center(300000000) }}`` run in C for
seconds or allocate hundreds of MB. :class:`LimitedEnvironment` routes the
operators, method calls, filters that allocate and ``range`` through the
same guards as scripts, and :func:`render` runs a template with a
:class:`~runtime.sandbox.limits.Meter` of its own: steps (calls, attribute
reads, loop items over ``range``, output pieces), time and output size.
"""

from __future__ import annotations

import functools
import types

from jinja2 import pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg

from . import operators as ops
from .errors import Interrupt
from .guards import METHOD_GUARDS
from .limits import Limits, Meter
from .sizes import SEQUENCES, check_items, check_text_size, size_hint
from .state import RunState, activate, current, deactivate, exceed, peek

#: Templates are short texts: smaller budgets than a hook's.
TEMPLATE_LIMITS = Limits(steps=100_000, timeout=1.0, max_string=1_000_000, max_items=100_000)

_BINOPS = {"*": ops.guarded_mul, "**": ops.guarded_pow, "+": ops.guarded_add, "%": ops.guarded_mod}


class TemplateLimitExceeded(Exception):
    """A template ran past a limit; ``guard`` names it as for scripts."""

    def __init__(self, message, guard):
        super().__init__(message)
        self.message = message
        self.guard = guard


class _NotRendering(Exception):
    """Jinja folds constant expressions when it compiles; the guards only run in
    :func:`render`, so folding is refused (jinja then leaves it to render time)."""


def _tick():
    state = peek()
    if state is None:
        raise _NotRendering()
    state.meter.tick()


def _checked(value):
    # A value read back (``ns.text``) is measured, so doubling a string
    # through a namespace stops at the limit rather than at 2**60.
    kind = type(value)
    if kind is str or kind is bytes:
        check_text_size(len(value))
    elif kind in SEQUENCES:
        check_items(len(value), kind.__name__)
    return value


#: Types whose allocating methods (``ljust``, ``replace``, ``join``...) get the scripts' guards.
_GUARDED_METHODS = frozenset({str, bytes, bytearray, list, int})


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """An immutable jinja sandbox whose templates run under :func:`render`'s limits."""

    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.globals["range"] = _range
        for name, guard in _FILTERS.items():
            if name in self.filters:
                # pass_context after update_wrapper, which would copy the original's own
                # pass_* mark; it also keeps jinja from running the guard when it compiles.
                self.filters[name] = pass_context(functools.update_wrapper(guard(self.filters[name]),
                                                                           self.filters[name]))

    def call_binop(self, context, operator, left, right):
        _tick()
        return _BINOPS[operator](left, right)

    def _method(self, obj, attribute):
        if isinstance(obj, str) and attribute in ("format", "format_map"):
            raise SecurityError("str.format is unsafe in templates; use the format filter")
        methods = METHOD_GUARDS.get(type(obj)) if type(obj) in _GUARDED_METHODS else None
        if methods is not None and attribute in methods:
            return types.MethodType(methods[attribute], obj)
        return None

    def getattr(self, obj, attribute):
        _tick()
        method = self._method(obj, attribute)
        return method if method is not None else _checked(super().getattr(obj, attribute))

    def getitem(self, obj, argument):
        _tick()
        if type(argument) is str:
            method = self._method(obj, argument)
            if method is not None:
                return method
        return _checked(super().getitem(obj, argument))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - jinja's signature
        _tick()
        return _checked(super().call(__context, __obj, *args, **kwargs))


def _range(*args):
    """``range`` counting each item as a step, so nested loops meet the step limit."""
    items = range(*args)
    check_items(len(items), "range")
    tick = current().meter.tick
    for item in items:
        tick()
        yield item


# -- filters that allocate from small input ------------------------------------------


def _width_filter(measure):
    """A filter checked by ``measure(value, *args, **kwargs) -> result size`` first."""

    def guard(original):
        def call(context, value, *args, **kwargs):
            check_text_size(measure(value, *args, **kwargs), "filter result")
            return _call(original, context, value, *args, **kwargs)

        return call

    return guard


def _call(original, context, *args, **kwargs):
    """Call a jinja filter as jinja would, with the context argument it asks for."""
    kind = _PassArg.from_obj(original)
    if kind is None:
        return original(*args, **kwargs)
    first = {_PassArg.context: context, _PassArg.eval_context: context.eval_ctx,
             _PassArg.environment: context.environment}[kind]
    return original(first, *args, **kwargs)


def _text_len(value):
    return len(value) if isinstance(value, str) else size_hint(value)


def _int(value, default=0):
    return value if isinstance(value, int) else default


def _center(value, width=80):
    return max(_text_len(value), _int(width))


def _indent(value, width=4, first=False, blank=False):
    text = value if isinstance(value, str) else ""
    pad = len(width) if isinstance(width, str) else _int(width)
    return _text_len(value) + (text.count("\n") + 1) * pad


def _wordwrap(value, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
    text_len = _text_len(value)
    return text_len * (1 + (len(wrapstring) if isinstance(wrapstring, str) else 1))


def _replace(value, old, new, count=None):
    text = value if isinstance(value, str) else ""
    if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        hits = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        return len(text) + hits * (len(new) - len(old))
    return len(text)


def _join(original):
    def call(context, value, d="", attribute=None):
        items = value if type(value) in SEQUENCES else list(value)  # a generator is read once
        check_text_size(size_hint(items) + len(d if isinstance(d, str) else "") * len(items), "joined string")
        return _call(original, context, items, d, attribute)

    return call


def _format(original):
    def call(context, value, *args, **kwargs):
        if args and kwargs:
            raise TypeError("can't handle positional and keyword arguments at the same time")
        return ops.guarded_mod(value if isinstance(value, str) else str(value), kwargs or args)

    return call


def _string(original):
    def call(context, value):
        size_hint(value)
        return original(value)

    return call


def _items_filter(position, name):
    """A filter whose argument at ``position`` is a count of items it builds."""

    def guard(original):
        def call(context, value, *args, **kwargs):
            count = args[position] if len(args) > position else kwargs.get(name)
            if isinstance(count, int):
                check_items(count, "filter result")
            return _call(original, context, value, *args, **kwargs)

        return call

    return guard


def _sum(original):
    def call(context, iterable, attribute=None, start=0):
        if type(start) in SEQUENCES or isinstance(start, str):
            total = start
            for item in iterable:
                total = ops.guarded_add(total, item)
            return total
        return _call(original, context, iterable, attribute, start)

    return call


def _tojson(original):
    def call(context, value, indent=None):
        if isinstance(indent, int) and indent > 16 or isinstance(indent, str) and len(indent) > 16:
            exceed("memory", "tojson indent is limited to 16")
        size_hint(value)
        return _call(original, context, value, indent)

    return call


_FILTERS = {
    "center": _width_filter(_center),
    "indent": _width_filter(_indent),
    "wordwrap": _width_filter(_wordwrap),
    "replace": _width_filter(_replace),
    "join": _join,
    "format": _format,
    "string": _string,
    "pprint": _string,
    "batch": _items_filter(0, "linecount"),
    "slice": _items_filter(0, "slices"),
    "sum": _sum,
    "tojson": _tojson,
}


# -- rendering ---------------------------------------------------------------------


def render(template, context, limits=None):
    """Render ``template`` (a compiled jinja template of a :class:`LimitedEnvironment`)
    with ``context``; raise :class:`TemplateLimitExceeded` past a limit."""
    limits = limits or TEMPLATE_LIMITS
    meter = Meter(limits)
    state = RunState(None, limits, meter)
    token = activate(state)
    parts, size = [], 0
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > limits.max_string:
                exceed("memory", f"the rendered text exceeds the limit of {limits.max_string} characters")
            meter.tick()
            parts.append(chunk)
    except Interrupt as interrupt:
        raise TemplateLimitExceeded(interrupt.message, interrupt.guard) from None
    except RecursionError:
        raise TemplateLimitExceeded("recursion limit exceeded", "recursion") from None
    except MemoryError:
        raise TemplateLimitExceeded("out of memory", "memory") from None
    finally:
        meter.close()
        deactivate(token)
    if state.interrupt is not None:  # replaced by an exception the template swallowed
        raise TemplateLimitExceeded(state.interrupt.message, state.interrupt.guard)
    return "".join(parts)
