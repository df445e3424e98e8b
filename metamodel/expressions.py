"""Loom expressions: the small language of computed fields and conditions.

An expression is a Python expression restricted to a whitelist of nodes:
field names, literals, arithmetic, comparisons, ``and``/``or``/``not``,
``x if c else y`` and calls of a few named functions. There is no attribute
access, subscript, lambda or comprehension, so an expression cannot reach
any object it was not given. The checked tree is compiled once by CPython
and evaluated with empty builtins.
"""
from __future__ import annotations

import ast
import datetime as _dt
import decimal
from dataclasses import dataclass

_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.FloorDiv, ast.Mod, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Compare, ast.Eq, ast.NotEq,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.IfExp, ast.Call,
    ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
)
_MAX_SEQUENCE = 100_000


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


FUNCTIONS = {
    "len": len, "abs": abs, "min": min, "max": max, "round": round, "str": str, "int": int,
    "decimal": lambda v: decimal.Decimal(str(v)), "lower": lambda s: s.lower() if s is not None else None,
    "upper": lambda s: s.upper() if s is not None else None, "coalesce": _coalesce,
    "today": lambda: _dt.date.today(), "now": lambda: _dt.datetime.now(_dt.timezone.utc),
    "days": _days, "hours": _hours, "concat": lambda *parts: "".join("" if p is None else str(p) for p in parts),
}
CONSTANTS = {"None", "True", "False", "null", "true", "false"}


class ExpressionError(ValueError):
    """An expression that does not parse or uses something not allowed."""


@dataclass(frozen=True)
class Expression:
    source: str
    names: frozenset  # field names the expression reads
    code: object

    def evaluate(self, values: dict, extra: dict | None = None):
        """Evaluate against ``values``; a missing field reads as ``None``.

        Arithmetic or ordering on a missing value, and division by zero,
        yield ``None`` rather than an error, as in SQL, so a half-filled form
        never fails to compute.
        """
        scope = {name: values.get(name) for name in self.names}
        if extra:
            scope.update(extra)
        try:
            return eval(self.code, {"__builtins__": {}, "_mul": _mul, "_mod": _mod, **FUNCTIONS,
                                     "null": None, "true": True, "false": False}, scope)
        except (TypeError, ArithmeticError, decimal.InvalidOperation):
            return None
        except ValueError as exc:
            raise ExpressionError(str(exc)) from None


class _Rewrite(ast.NodeTransformer):
    def visit_BinOp(self, node):
        self.generic_visit(node)
        helper = {ast.Mult: "_mul", ast.Mod: "_mod"}.get(type(node.op))
        if helper:
            return ast.copy_location(ast.Call(ast.Name(helper, ast.Load()), [node.left, node.right], []), node)
        return node

    def visit_Constant(self, node):
        # Decimal arithmetic throughout: money must not pass through float.
        if isinstance(node.value, float):
            call = ast.Call(ast.Name("decimal", ast.Load()), [ast.Constant(repr(node.value))], [])
            return ast.copy_location(call, node)
        return node


def parse(source: str) -> Expression:
    """Check and compile ``source``; raise :class:`ExpressionError` saying what is wrong."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {source!r}: {exc.msg} at column {exc.offset}") from None
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression ({source!r})")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise ExpressionError(f"only these functions may be called: {', '.join(sorted(FUNCTIONS))}")
        elif isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in CONSTANTS:
            if node.id.startswith("_"):
                raise ExpressionError(f"name {node.id!r} is not allowed")
            names.add(node.id)
    tree = ast.fix_missing_locations(_Rewrite().visit(tree))
    return Expression(source, frozenset(names), compile(tree, "<expression>", "eval"))
