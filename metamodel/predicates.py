"""Row conditions: the part of the expression language a database can evaluate.

A row-level permission rule's ``condition`` must narrow list queries inside
the database, so it is not evaluated per row in Python. This module turns
such an expression into a small neutral tree that the runtime translates to
SQL. What it accepts:

* ``field OP value`` with OP one of ``== != < <= > >=`` (either side may be
  the field), ``field in [v, ...]``, ``field not in [...]``; a field may be a
  path through links (``vacancy.department.head == $user``), which the caller
  checks against the entities and compiles to a subquery,
  ``field is None`` / ``field is not None`` (or ``== None``);
* a bare field name (true when the value is true), ``and``, ``or``, ``not``;
* as values: literals (text, numbers, ``True``/``False``/``None``), the
  current user's facts ``user_id`` (also written ``$user``, as in views and
  expressions), ``user_groups`` (a list, for ``in``) and
  ``user_organisation`` (the id of the user's organisation record), and
  relative times for date and datetime fields (``due < today``,
  ``created_at >= now - 7d``; see :mod:`metamodel.reltime`).

Anything else (arithmetic, function calls, field-to-field comparisons) is
refused with a message saying what is allowed.

Trees: ``("and", [..])``, ``("or", [..])``, ``("not", p)``,
``("cmp", op, field, value)`` with op in eq ne lt le gt ge in not_in,
``("true", field)``; a value is ``("lit", v)``, ``("list", [v, ...])``,
``("param", name)``, ``("rel", "now - 7d")`` (resolved when the query runs) or, in a link
field's ``filter``, ``("ref", name)``: ``$name``, the value of a field of the record being edited.
"""
from __future__ import annotations

import ast
import difflib
import re

from . import reltime
from .expressions import ExpressionError

PARAMS = ("user_id", "user_groups", "user_organisation")
_CMP = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge",
        ast.In: "in", ast.NotIn: "not_in", ast.Is: "eq", ast.IsNot: "ne"}
_FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}
_CONSTANTS = {"None": None, "null": None, "True": True, "true": True, "False": False, "false": False}
ALLOWED = ("comparisons of a field with a value (== != < <= > >= in, not in, is None), and/or/not, "
           f"literals, {', '.join(PARAMS)} and relative times (now, today - 1d, start_of_month, ...)")
# A quoted string (left alone) or a relative time (``now - 7d`` is not Python, so it is
# swapped for a placeholder name before parsing).
_TOKENS = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|""" + reltime.PATTERN)
_PLACEHOLDER = "_rel{}_"
# What looks like a relative time with an offset, right or wrong (for a helpful message).
_LOOSE = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\b[A-Za-z_]+\s*[+-]\s*\d+\s*[A-Za-z]+\b""")


_REF = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\$([A-Za-z_]\w*)""")
_REF_PLACEHOLDER = "_ref_{}_"


def parse_condition(source: str, names, refs=None, heads=()) -> tuple:
    """The tree of ``source``; ``names`` are the columns it may read. ``refs``: the fields of
    another record that ``$name`` may stand for (a link field's ``filter``; None: no ``$`` at all).
    ``heads``: fields that may only start a path (a table's rows, a multi-link's records:
    ``co_executors.executor == $user`` holds when any row's does). Raises :class:`ExpressionError`."""
    names = set(names)
    heads = set(heads)
    relatives: dict[str, str] = {}
    references: dict[str, str] = {}

    def swap_ref(match: re.Match) -> str:
        if match.group(1) is None:
            return match.group(0)
        name = match.group(1)
        if name == "user":  # the reader, as in views and expressions: the same fact as user_id
            return "user_id"
        if refs is None:
            raise ExpressionError(f"${name} in {source!r}: only a link field's filter may refer to "
                                  f"the record being edited")
        if name not in refs:
            raise ExpressionError(f"unknown field ${name} of the record in {source!r}{_hint(name, refs)}")
        key = _REF_PLACEHOLDER.format(name)
        references[key] = name
        return key

    source_refs = _REF.sub(swap_ref, source) if "$" in source else source

    def swap(match: re.Match) -> str:
        text = match.group(0)
        if text[0] in "'\"" or re.match(r"\w+", text).group(0) in names | heads | set(references):
            return text  # a string, or a field of that name
        key = _PLACEHOLDER.format(len(relatives))
        relatives[key] = str(reltime.parse(text))
        return key

    try:
        tree = ast.parse(_TOKENS.sub(swap, source_refs.strip()), mode="eval").body
    except SyntaxError as exc:
        for match in _LOOSE.finditer(source):  # "start_of_yaer - 1y", "now - 7days": say what is wrong there
            if match.group(0)[0] not in "'\"":
                try:
                    reltime.parse(match.group(0))
                except reltime.RelativeTimeError as wrong:
                    raise ExpressionError(f"cannot parse {source!r}: {wrong}") from None
        hint = f"; a relative time is written as {reltime.GRAMMAR}" if relatives else ""
        raise ExpressionError(f"cannot parse {source!r}: {exc.msg}{hint}") from None
    return _Reader(source, names, relatives, references, heads).node(tree)


def leaves(tree: tuple):
    """Every comparison (``cmp``) and truth test (``true``) of a condition tree, through and/or/not."""
    kind = tree[0]
    if kind in ("and", "or"):
        for node in tree[1]:
            yield from leaves(node)
    elif kind == "not":
        yield from leaves(tree[1])
    else:
        yield tree


def comparisons(tree: tuple):
    """``(field, (value kind, value))`` of every comparison in ``tree``."""
    return ((node[2], node[3]) for node in leaves(tree) if node[0] == "cmp")


def fields(tree: tuple):
    """Every field (or path through links) a condition tree reads."""
    return (node[1] if node[0] == "true" else node[2] for node in leaves(tree))


def relative_values(tree: tuple):
    """``(field, relative time text)`` of every comparison in ``tree`` with a relative time."""
    return [(name, value[1]) for name, value in comparisons(tree) if value[0] == "rel"]


class _Reader:
    def __init__(self, source: str, names: set, relatives: dict | None = None, references: dict | None = None,
                 heads: set = frozenset()):
        self.source, self.names, self.relatives = source, names, relatives or {}
        self.references, self.heads = references or {}, heads

    def text(self, n) -> str:
        """``n`` as the analyst wrote it (relative times in place of their placeholders)."""
        out = ast.unparse(n)
        for key, value in self.relatives.items():
            out = out.replace(key, value)
        for key, value in self.references.items():
            out = out.replace(key, "$" + value)
        return out

    def fail(self, what: str):
        raise ExpressionError(f"{what} in {self.source!r}; a row condition can use only {ALLOWED}")

    def node(self, n) -> tuple:
        if isinstance(n, ast.BoolOp):
            return ("and" if isinstance(n.op, ast.And) else "or", [self.node(v) for v in n.values])
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            return ("not", self.node(n.operand))
        if isinstance(n, ast.Compare):
            parts, left = [], n.left
            for op, right in zip(n.ops, n.comparators):  # a < b < c is (a < b) and (b < c)
                parts.append(self.compare(left, op, right))
                left = right
            return parts[0] if len(parts) == 1 else ("and", parts)
        if isinstance(n, ast.Name) and n.id in self.names:
            return ("true", n.id)
        if self.is_field(n) and isinstance(n, ast.Attribute):
            return ("true", self.field_name(n))
        return self.fail(f"{self.text(n)!r} is not a condition")

    def compare(self, left, op, right) -> tuple:
        name = _CMP.get(type(op))
        if name is None:
            self.fail(f"operator {type(op).__name__} is not supported")
        if self.is_field(left):
            field, value = self.field_name(left), self.value(right)
        elif self.is_field(right) and name in _FLIP:
            field, value, name = self.field_name(right), self.value(left), _FLIP[name]
        else:
            return self.fail(f"{self.text(left)!r} and {self.text(right)!r}: one side must be a field, "
                             f"the other a value")
        if name in ("in", "not_in") and value[0] == "lit":
            self.fail(f"'in' needs a list or user_groups, not {self.text(right)}")
        if name not in ("in", "not_in") and (value[0] == "list" or value == ("param", "user_groups")):
            self.fail("a list can only be used with 'in' / 'not in'")
        if name in ("lt", "le", "gt", "ge") and value == ("lit", None):
            self.fail("None cannot be ordered; use 'is None'")
        return ("cmp", name, field, value)

    @staticmethod
    def field_name(n) -> str:
        """``vacancy.department.head`` of an attribute chain, or the plain name."""
        parts = []
        while isinstance(n, ast.Attribute):
            parts.append(n.attr)
            n = n.value
        return ".".join([n.id, *reversed(parts)])

    def is_field(self, n) -> bool:
        if isinstance(n, ast.Attribute):  # a path through links: its head is a field here, the rest is checked later
            head = n
            while isinstance(head, ast.Attribute):
                head = head.value
            if not isinstance(head, ast.Name):
                return False
            if head.id not in self.names and head.id not in self.heads:
                raise ExpressionError(f"unknown field {head.id!r} in {self.source!r}{_hint(head.id, self.names | self.heads)}")
            return True
        if isinstance(n, ast.Name) and n.id not in _CONSTANTS and n.id not in PARAMS and n.id not in self.relatives \
                and n.id not in self.references:
            if n.id in self.heads:
                raise ExpressionError(f"{n.id!r} in {self.source!r} holds several rows or records; compare one of "
                                      f"their fields ({n.id}.<field>): the condition holds when any of them matches")
            if n.id not in self.names:
                raise ExpressionError(f"unknown field {n.id!r} in {self.source!r}{_hint(n.id, self.names)}")
            return True
        return False

    def value(self, n) -> tuple:
        if isinstance(n, ast.Constant) and isinstance(n.value, (str, int, float, bool, type(None))):
            return ("lit", n.value)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub) and isinstance(n.operand, ast.Constant) \
                and isinstance(n.operand.value, (int, float)):
            return ("lit", -n.operand.value)
        if isinstance(n, ast.Name) and n.id in _CONSTANTS:
            return ("lit", _CONSTANTS[n.id])
        if isinstance(n, ast.Name) and n.id in PARAMS:
            return ("param", n.id)
        if isinstance(n, ast.Name) and n.id in self.relatives:
            return ("rel", self.relatives[n.id])
        if isinstance(n, ast.Name) and n.id in self.references:
            return ("ref", self.references[n.id])
        if isinstance(n, ast.Name) and n.id not in self.names:
            raise ExpressionError(f"unknown field {n.id!r} in {self.source!r}{_hint(n.id, self.names)}")
        if isinstance(n, (ast.List, ast.Tuple)):
            items = [self.value(e) for e in n.elts]
            if any(kind != "lit" for kind, _ in items):
                self.fail("a list may hold only literals")
            return ("list", [v for _, v in items])
        return self.fail(f"{self.text(n)!r} is not a literal or a user fact")


def _hint(name: str, names) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
