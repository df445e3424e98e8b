"""Compiling scripts: RestrictedPython's policy, then instrumentation.

RestrictedPython checks the user's code and rewrites attribute, item and
iteration access into guard calls. Only then, on the checked tree, the
:class:`Instrumenter` adds what RestrictedPython does not do: step and
recursion accounting, and guard calls for the operators and f-strings
that can allocate without bound. Running it afterwards matters: the
names it injects start with ``_``, which the policy forbids in scripts,
so scripts can neither call nor shadow them.
"""

from __future__ import annotations

import ast
import collections
import dataclasses
import hashlib
import re
import threading
import types

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer

from .errors import ScriptCompileError

#: Longest script source accepted, in characters.
MAX_SOURCE = 200_000
#: Name of the function a snippet is compiled into.
SNIPPET_FUNCTION = "_snippet_"


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledScript:
    """A script ready to :func:`~runtime.sandbox.run`, any number of times.

    ``kind`` is ``"module"`` (a file defining functions), ``"snippet"``
    (statements, may ``return`` a value) or ``"expression"``.
    ``functions`` lists the top-level ``def`` names of a module, so
    metadata referring to a hook function can be checked at publish time.
    """

    name: str
    kind: str
    digest: str
    code: types.CodeType = dataclasses.field(repr=False)
    filename: str = dataclasses.field(repr=False)
    functions: tuple = ()
    warnings: tuple = dataclasses.field(default=(), repr=False)


_OPERATORS = {
    ast.Add: "_add_",
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
}


def _call(name, args, anchor):
    return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), args, []), anchor)


def _statement(name, anchor):
    return ast.copy_location(ast.Expr(_call(name, [], anchor)), anchor)


class Instrumenter(ast.NodeTransformer):
    """Inject meter calls and allocation guards into a checked tree.

    * ``_tick_()`` first in every loop body and as the first condition of
      every comprehension clause;
    * ``_enter_()`` and ``try: ... finally: _leave_()`` around every
      function body (generators only tick: a suspended generator is not
      on the stack), and ``_lambda_(...)`` around lambdas;
    * ``a + b`` to ``_add_(a, b)``, likewise ``* ** << %``;
    * f-strings to ``_fstr_((..., _fmt_(value, conversion, spec), ...))``;
    * ``*value`` in displays and calls to ``*_starred_(value)``;
    * tuple displays and ``*args`` through ``_tuple_``, and the operand of
      ``yield from`` through ``_getiter_`` (see :mod:`.nesting`).

    New nodes take the location of the statement they instrument, so a
    limit hit in a loop reports the line of the loop.
    """

    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        body = node.body
        if node.args.vararg is not None:
            args = ast.Name(node.args.vararg.arg, ast.Load())
            body.insert(0, ast.copy_location(ast.Expr(_call("_tuple_", [args], node)), node))
        if _is_generator(node):
            body.insert(0, _statement("_tick_", node))
        else:
            guarded = ast.Try(body=body, handlers=[], orelse=[], finalbody=[_statement("_leave_", node)])
            node.body = [_statement("_enter_", node), ast.copy_location(guarded, node)]
        return node

    def visit_Lambda(self, node):
        self.generic_visit(node)
        return _call("_lambda_", [node], node)

    def _tick_loop(self, node):
        self.generic_visit(node)
        node.body.insert(0, _statement("_tick_", node))
        return node

    visit_For = visit_While = _tick_loop

    def visit_comprehension(self, node):
        self.generic_visit(node)
        node.ifs.insert(0, _call("_tick_", [], node.target))
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        name = _OPERATORS.get(type(node.op))
        return _call(name, [node.left, node.right], node) if name else node

    def visit_JoinedStr(self, node):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                spec = ast.Constant("") if value.format_spec is None else self.visit(value.format_spec)
                args = [self.visit(value.value), ast.Constant(value.conversion), spec]
                parts.append(_call("_fmt_", args, value))
            else:
                parts.append(value)
        return _call("_fstr_", [ast.Tuple(parts, ast.Load())], node)

    def visit_Tuple(self, node):
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load) and not all(isinstance(elt, ast.Constant) for elt in node.elts):
            return _call("_tuple_", [node], node)
        return node

    def visit_YieldFrom(self, node):
        self.generic_visit(node)
        node.value = _call("_getiter_", [node.value], node)
        return node

    def visit_Starred(self, node):
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _call("_starred_", [node.value], node)
        return node


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, slightly stricter.

    * no classes: they bring metaclasses, ``__init__`` and friends, and
      hooks do not need them;
    * no bare ``except:``: together with ``BaseException`` not being a
      builtin, this keeps guard interrupts uncatchable.
    """

    snippet = False
    instrumenter = Instrumenter

    def visit_ClassDef(self, node):
        self.error(node, "Class definitions are not allowed in scripts.")
        return node

    def visit_ExceptHandler(self, node):
        if node.type is None:
            self.error(node, "A bare 'except:' is not allowed in scripts; use 'except Exception:'.")
        return super().visit_ExceptHandler(node)

    def visit_Module(self, node):
        node = super().visit_Module(node)
        if not self.errors:
            if self.snippet:
                node.body = [_snippet_function(node.body)]
            self._instrument(node)
        return node

    def visit_Expression(self, node):
        node = super().visit_Expression(node)
        if not self.errors:
            self._instrument(node)
        return node

    def _instrument(self, tree):
        self.instrumenter().visit(tree)
        ast.fix_missing_locations(tree)


class SnippetPolicy(SandboxPolicy):
    snippet = True


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _is_generator(func):
    stack = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _snippet_function(body):
    arguments = ast.arguments(
        posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
    )
    func = ast.FunctionDef(
        name=SNIPPET_FUNCTION,
        args=arguments,
        body=body or [ast.Pass()],
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    if "type_params" in ast.FunctionDef._fields:  # Python 3.12+
        func.type_params = []
    func.lineno = func.end_lineno = 1
    func.col_offset = func.end_col_offset = 0
    return func


_ERROR_LINE = re.compile(r"Line (\d+|None): (.*)", re.S)


def _split_error(text):
    match = _ERROR_LINE.match(text)
    if not match:
        return None, text
    line, message = match.groups()
    return (int(line) if line != "None" else None), message


def _compile(source, name, kind, digest):
    if len(source) > MAX_SOURCE:
        raise ScriptCompileError(
            f"scripts are limited to {MAX_SOURCE} characters", script=name, line=1, guard="restricted"
        )
    filename = f"<script {name}>"
    try:
        if kind == "expression":
            tree = ast.parse(source, filename, "eval")
            result = compile_restricted_eval(tree, filename, policy=SandboxPolicy)
        else:
            tree = ast.parse(source, filename, "exec")
            policy = SnippetPolicy if kind == "snippet" else SandboxPolicy
            result = compile_restricted_exec(tree, filename, policy=policy)
    except SyntaxError as exc:
        raise ScriptCompileError(exc.msg, script=name, line=exc.lineno, guard="syntax") from None
    except (RecursionError, MemoryError):
        raise ScriptCompileError(
            "the script is nested too deeply", script=name, line=None, guard="restricted"
        ) from None
    if result.errors:
        errors = tuple(_split_error(text) for text in result.errors)
        line, message = errors[0]
        raise ScriptCompileError(message, script=name, line=line, guard="restricted", errors=errors)
    functions = ()
    if kind == "module":
        functions = tuple(node.name for node in tree.body if isinstance(node, ast.FunctionDef))
    return CompiledScript(
        name=name,
        kind=kind,
        digest=digest,
        code=result.code,
        filename=filename,
        functions=functions,
        warnings=tuple(result.warnings),
    )


CACHE_SIZE = 1024
_cache = collections.OrderedDict()
_cache_lock = threading.Lock()


def _cached(source, name, kind):
    if not isinstance(source, str) or not isinstance(name, str):
        raise TypeError("source and name must be strings")
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    key = (kind, name, digest)
    with _cache_lock:
        script = _cache.get(key)
        if script is not None:
            _cache.move_to_end(key)
            return script
    # Compile outside the lock; two threads racing on the same new script
    # both compile it, which is harmless.
    script = _compile(source, name, kind, digest)
    with _cache_lock:
        _cache[key] = script
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return script


def compile_script(source, name):
    """Compile a script file that defines hook functions.

    ``name`` (e.g. ``"scripts/billing.py"``) appears in errors and run
    reports. The result is cached by name and content hash, so calling
    this for every hook invocation is cheap.
    """
    return _cached(source, name, "module")


def compile_snippet(source, name):
    """Compile inline statements; they may ``return`` a value."""
    return _cached(source, name, "snippet")


def compile_expression(source, name):
    """Compile a single expression, e.g. a transition condition."""
    return _cached(source, name, "expression")


def clear_cache():
    with _cache_lock:
        _cache.clear()
