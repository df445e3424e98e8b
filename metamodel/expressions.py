"""Loom expressions: the small language of computed fields and conditions.

An expression is a Python expression restricted to a whitelist of nodes:
field names, literals, arithmetic, comparisons, ``and``/``or``/``not``,
``x if c else y``, calls of a few named functions and *paths*: a link
followed to a field of the linked record (``consumer.district``, at most
two hops) or a column of a child table (``items.price``, a list, for
``sum``/``count``/``min``/``max``/``avg``). There is no other attribute
access, no subscript, lambda or comprehension, so an expression cannot
reach any object it was not given. The checked tree is compiled once by
CPython and evaluated with empty builtins.

What a path reads is the caller's business: :meth:`Expression.evaluate`
takes a ``resolve`` callable (the runtime follows links with the reader's
permissions); without one, a path reads nested values already in
``values``. Likewise ``now``/``today`` and the calendar functions can be
replaced by the caller (the runtime's come from the platform clock and the
app's time zone and calendar). ``$user`` is the id of the person acting
(``assignee == $user``), given by the caller; ``None`` when nobody acts.
"""
from __future__ import annotations

import ast
import datetime as _dt
import decimal
import re
from collections.abc import Mapping
from dataclasses import dataclass

_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.FloorDiv, ast.Mod, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Compare, ast.Eq, ast.NotEq,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.IfExp, ast.Call,
    ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.Attribute,
)
_MAX_SEQUENCE = 100_000
MAX_HOPS = 2  # consumer.district.name: two links followed at most
AGGREGATES = ("sum", "count", "min", "max", "avg", "len")
CLOCK_NAMES = ("now", "today")  # bare ``now`` means ``now()``
CURRENT_USER = "$user"  # the person acting: the value of ``set: {field: $user}``, a name in expressions
USER_NAME = "_current_user"  # what ``$user`` becomes in the compiled code: no field name starts with "_"
_USER_TOKEN = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|\$user\b""")


def _coalesce(*values):
    return next((v for v in values if v is not None), None)


def _mul(a, b):
    # The only operator that can allocate without bound ('x' * 10**9).
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > _MAX_SEQUENCE:
            raise ValueError("expression result too large")
    return a * b


def _mod(a, b):
    # '%' on text is printf formatting: "%200000000d" % 1 allocates 200 MB.
    if isinstance(a, (str, bytes)):
        raise ValueError("text formatting with % is not allowed; use concat()")
    return a % b


def _days(n):
    return _dt.timedelta(days=n)


def _hours(n):
    return _dt.timedelta(hours=n)


# ---------------------------------------------------------------- aggregates: None is skipped, as in SQL

def _items(args) -> list:
    """The values an aggregate works on: one list argument (a table column), or the arguments."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    return [v for v in args if v is not None]


def _sum(*args):
    items = _items(args)
    total = items[0] if items else 0
    for v in items[1:]:
        total = total + v
    return total


def _count(*args):
    return len(_items(args))


def _min(*args):
    items = _items(args)
    return min(items) if items else None


def _max(*args):
    items = _items(args)
    return max(items) if items else None


def _avg(*args):
    items = _items(args)
    if not items:
        return None
    return decimal.Decimal(str(_sum(items))) / len(items)


# ---------------------------------------------------------------- dates

def date_functions(tz=None) -> dict:
    """The date functions, reading a datetime's date in ``tz`` (a ``tzinfo``; ``None``: as it is).

    ``days_between(a, b)`` counts calendar days from ``a``'s date to ``b``'s;
    ``year``/``month``/``day`` take a date or datetime; ``add_days(d, n)``.
    Each gives ``None`` for a missing argument.
    """
    def as_date(value):
        if value is None:
            return None
        if isinstance(value, _dt.datetime):
            return (value.astimezone(tz) if tz is not None and value.tzinfo is not None else value).date()
        if isinstance(value, _dt.date):
            return value
        raise TypeError(f"expected a date, got {type(value).__name__}")

    def days_between(a, b):
        a, b = as_date(a), as_date(b)
        return None if a is None or b is None else (b - a).days

    def part(name):
        def get(value):
            d = as_date(value)
            return None if d is None else getattr(d, name)
        return get

    def add_days(value, n):
        if value is None or n is None:
            return None
        return value + _dt.timedelta(days=int(n))

    return {"days_between": days_between, "year": part("year"), "month": part("month"), "day": part("day"),
            "add_days": add_days}


def _no_calendar(a, b):
    raise ValueError("business_days_between and business_hours_between need the app's business calendar, "
                     "which only the runtime has")


FUNCTIONS = {
    "len": len, "abs": abs, "min": _min, "max": _max, "round": round, "str": str, "int": int,
    "decimal": lambda v: decimal.Decimal(str(v)), "lower": lambda s: s.lower() if s is not None else None,
    "upper": lambda s: s.upper() if s is not None else None, "coalesce": _coalesce,
    "today": lambda: _dt.date.today(), "now": lambda: _dt.datetime.now(_dt.timezone.utc),
    "days": _days, "hours": _hours, "concat": lambda *parts: "".join("" if p is None else str(p) for p in parts),
    "sum": _sum, "count": _count, "avg": _avg, "business_days_between": _no_calendar,
    "business_hours_between": _no_calendar, **date_functions(),
}
CONSTANTS = {"None", "True", "False", "null", "true", "false"}
_GLOBALS = {"__builtins__": {}, "_mul": _mul, "_mod": _mod, "null": None, "true": True, "false": False,
            **{f"_f_{name}": fn for name, fn in FUNCTIONS.items()}}


class ExpressionError(ValueError):
    """An expression that does not parse or uses something not allowed."""


@dataclass(frozen=True)
class Expression:
    source: str
    names: frozenset  # field names the expression reads (the first name of each path too)
    code: object
    paths: tuple = ()  # dotted paths it reads ("consumer.district", "items.price"), in order of appearance
    aggregated: frozenset = frozenset()  # (function, path) pairs: a path given straight to an aggregate
    reads_user: bool = False  # it reads ``$user``: the caller passes the acting person's id as USER_NAME

    def evaluate(self, values: Mapping, extra: dict | None = None, functions: dict | None = None, resolve=None,
                 strict: bool = False):
        """Evaluate against ``values``; a missing field reads as ``None``.

        ``extra`` adds names (``user``, ``status``); ``functions`` replaces functions by name
        (the runtime's ``now``, ``today``, ``business_days_between``, ``business_hours_between``); ``resolve(path)`` reads
        a dotted path (default: :func:`follow` over ``values``).

        Arithmetic or ordering on a missing value, and division by zero,
        yield ``None`` rather than an error, as in SQL, so a half-filled form
        never fails to compute. ``strict`` lets a ``TypeError`` through: given
        values of every field's type, one means the expression combines types
        that never go together (publishing asks, see ``metamodel.validate``).
        """
        scope = {name: values.get(name) for name in self.names}
        if self.reads_user:
            scope[USER_NAME] = None  # nobody acts unless the caller says who does
        if extra:
            scope.update(extra)
        for i, path in enumerate(self.paths):
            scope[f"_path{i}"] = resolve(path) if resolve is not None else follow(values, path)
        env = _GLOBALS if not functions else {**_GLOBALS, **{f"_f_{k}": v for k, v in functions.items()}}
        try:
            return eval(self.code, env, scope)
        except TypeError:
            if strict:
                raise
            return None
        except (ArithmeticError, decimal.InvalidOperation):
            return None
        except ValueError as exc:
            raise ExpressionError(str(exc)) from None


def follow(values: Mapping, path: str):
    """A path over nested values: a mapping's key, or each row's key for a list of rows."""
    head, *rest = path.split(".")
    value = values.get(head)
    for part in rest:
        if isinstance(value, (list, tuple)):
            value = [row.get(part) if isinstance(row, Mapping) else None for row in value]
        elif isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value


class _Check(ast.NodeTransformer):
    """Refuse what is not allowed; turn calls into ``_f_<name>``, paths into ``_path<i>`` names,
    bare ``now``/``today`` into calls, ``*`` and ``%`` into guarded helpers, floats into decimals."""

    def __init__(self, source: str):
        self.source = source
        self.names: set = set()
        self.paths: list = []
        self.aggregated: set = set()
        self.reads_user = False

    def generic_visit(self, node):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression ({self.source!r})")
        return super().generic_visit(node)

    def visit_Attribute(self, node):
        parts, base = [], node
        while isinstance(base, ast.Attribute):
            parts.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id in CONSTANTS:
            raise ExpressionError(f"Attribute access is allowed only on field names (link.field, table.column), "
                                  f"not on {ast.unparse(base)!r} ({self.source!r})")
        parts.append(base.id)
        parts.reverse()
        if any(p.startswith("_") for p in parts):
            raise ExpressionError(f"name {'.'.join(parts)!r} is not allowed")
        if len(parts) - 1 > MAX_HOPS:
            raise ExpressionError(f"{'.'.join(parts)!r} follows {len(parts) - 1} links; an expression follows "
                                  f"at most {MAX_HOPS} (link.link.field)")
        self.names.add(parts[0])
        path = ".".join(parts)
        if path not in self.paths:
            self.paths.append(path)
        return ast.copy_location(ast.Name(f"_path{self.paths.index(path)}", ast.Load()), node)

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise ExpressionError(f"only these functions may be called: {', '.join(sorted(FUNCTIONS))}")
        name = node.func.id
        if name in AGGREGATES:
            for arg in node.args:
                if isinstance(arg, ast.Attribute):
                    self.aggregated.add((name, ast.unparse(arg)))
        node.args = [self.visit(arg) for arg in node.args]
        node.func = ast.copy_location(ast.Name(f"_f_{name}", ast.Load()), node.func)
        return node

    def visit_Name(self, node):
        if node.id in CONSTANTS:
            return node
        if node.id == USER_NAME:
            self.reads_user = True
            return node
        if node.id.startswith("_"):
            raise ExpressionError(f"name {node.id!r} is not allowed")
        if node.id in CLOCK_NAMES:
            return ast.copy_location(ast.Call(ast.Name(f"_f_{node.id}", ast.Load()), [], []), node)
        self.names.add(node.id)
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        helper = {ast.Mult: "_mul", ast.Mod: "_mod"}.get(type(node.op))
        if helper:
            return ast.copy_location(ast.Call(ast.Name(helper, ast.Load()), [node.left, node.right], []), node)
        return node

    def visit_Constant(self, node):
        # Decimal arithmetic throughout: money must not pass through float.
        if isinstance(node.value, float):
            call = ast.Call(ast.Name("_f_decimal", ast.Load()), [ast.Constant(repr(node.value))], [])
            return ast.copy_location(call, node)
        return node


def parse(source: str) -> Expression:
    """Check and compile ``source``; raise :class:`ExpressionError` saying what is wrong."""
    if USER_NAME in source:
        raise ExpressionError(f"name {USER_NAME!r} is not allowed")
    code = _USER_TOKEN.sub(lambda m: m.group(1) or USER_NAME, source.strip())
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {source!r}: {exc.msg} at column {exc.offset}") from None
    check = _Check(source)
    tree = ast.fix_missing_locations(check.visit(tree))
    aggregated = frozenset((fn, path) for fn, path in check.aggregated if path in check.paths)
    return Expression(source, frozenset(check.names), compile(tree, "<expression>", "eval"), tuple(check.paths),
                      aggregated, check.reads_user)

