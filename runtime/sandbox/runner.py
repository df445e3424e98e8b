"""Running compiled scripts within limits, and reporting every run."""

from __future__ import annotations

import dataclasses
import decimal
import time
import types

from runtime import metrics
from runtime.sandbox import scriptbuiltins

from .compiler import SNIPPET_FUNCTION
from .errors import Interrupt, ScriptLimitExceeded, ScriptPolicyError, ScriptRuntimeError
from .limits import DEFAULT_LIMITS, Meter
from .modules import DECIMAL_CONTEXT, Decimal, guarded_import
from .state import RunState, activate, deactivate, stop

#: Shared by every run; scripts cannot reach it (``__builtins__`` is not a
#: valid name in scripts) and nothing in it is mutable from a script.
BUILTINS = scriptbuiltins.make_builtins(guarded_import, {"Decimal": Decimal})
_BASE_GLOBALS = {"__builtins__": BUILTINS, "__name__": "script", **scriptbuiltins.guard_globals()}


@dataclasses.dataclass(slots=True)
class RunReport:
    """What happened in one run, for the runtime's log and audit.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``,
    which made the report a fifth of a trivial hook's cost. Nobody changes one.
    """

    script: str
    function: str | None
    digest: str
    outcome: str  # "ok" or "error"
    duration: float  # seconds
    steps: int
    error: str | None = None  # ScriptError subclass name
    guard: str | None = None
    line: int | None = None
    message: str | None = None
    logs: tuple = ()

    @property
    def ok(self):
        return self.outcome == "ok"

    def as_dict(self):
        return dataclasses.asdict(self)


def run(script, function=None, *, api=None, args=(), kwargs=None, limits=None, on_report=None):
    """Run ``script`` and return its result.

    For a module script, the module body runs and then ``function`` (if
    given) is called with ``args`` and ``kwargs``; a snippet returns what
    it ``return``\\ s; an expression returns its value. ``api`` maps names
    to the values the script sees as globals (see ``build_api``).

    Each run gets fresh globals and its own step, time and recursion
    budget, so runs in concurrent threads are independent. Failures raise
    a :class:`ScriptError` subclass carrying the script name, the line in
    the script and, for limits and policy violations, the ``guard``.

    ``on_report`` is called with the :class:`RunReport` of every run,
    successful or not; a failed run's report is also on ``error.report``.
    Nothing here commits anything, so a dry run is just a run whose
    effects (``record_changes``, calls to api callables) the caller does
    not apply.
    """
    if script.kind != "module" and function is not None:
        raise ValueError(f"a {script.kind} has no functions to call")
    limits = limits or DEFAULT_LIMITS
    meter = Meter(limits)
    state = RunState(script, limits, meter)
    namespace = _globals(state, api)
    value = error = cause = None
    started = time.perf_counter()
    token = activate(state)
    try:
        with decimal.localcontext(DECIMAL_CONTEXT):
            if script.kind == "expression":
                value = eval(script.code, namespace)
            else:
                exec(script.code, namespace)
                if script.kind == "snippet":
                    value = namespace[SNIPPET_FUNCTION]()
                elif function is not None:
                    value = _function(namespace, function, script)(*args, **(kwargs or {}))
            _check_result(value)
    except Interrupt:
        pass  # recorded on the state, handled below
    except RecursionError as exc:
        # Raised by C code (json, repr) before the script's own depth limit.
        error = ScriptLimitExceeded(
            "recursion limit exceeded", script=script.name, line=_line(exc, script), guard="recursion"
        )
        cause = exc
    except MemoryError as exc:
        error = ScriptLimitExceeded("out of memory", script=script.name, line=_line(exc, script), guard="memory")
        cause = exc
    except Exception as exc:
        error = ScriptRuntimeError(
            _describe(exc), script=script.name, line=_line(exc, script), error_type=type(exc).__name__
        )
        cause = exc
    finally:
        duration = time.perf_counter() - started
        steps = meter.close()
        deactivate(token)
        # The script's functions and its globals refer to each other; dropping the
        # script's names frees the run by reference counting instead of leaving a cycle
        # (and everything hanging off it) to the garbage collector, which cost a
        # trivial hook a tenth of its time. The meter's entry points stay, so a
        # function the script handed out meets the context guard, not a NameError.
        namespace.clear()
        namespace["_enter_"] = meter.enter
        namespace["_tick_"] = meter.tick
    interrupt = state.interrupt
    if interrupt is not None:
        # Even if the script caught a replacement exception and returned.
        error = interrupt.error_class(
            interrupt.message, script=script.name, line=_line(interrupt, script), guard=interrupt.guard
        )
        cause = None
    report = RunReport(
        script=script.name,
        function=function,
        digest=script.digest,
        outcome="ok" if error is None else "error",
        duration=duration,
        steps=steps,
        error=None if error is None else _error_name(error, cause),
        guard=None if error is None else error.guard,
        line=None if error is None else error.line,
        message=None if error is None else error.message,
        logs=tuple(state.logs),
    )
    metrics.script_run(report.outcome, report.guard)
    if on_report is not None:
        on_report(report)
    if error is not None:
        error.report = report
        raise error from cause
    return value


def _globals(state, api):
    meter = state.meter
    namespace = _BASE_GLOBALS.copy()
    namespace["_tick_"] = meter.tick
    namespace["_enter_"] = meter.enter
    namespace["_leave_"] = meter.leave
    namespace["_lambda_"] = meter.wrap_lambda
    namespace["_print_"] = scriptbuiltins.make_print(state)
    namespace["log"] = scriptbuiltins.make_log(state)
    if api:
        for name in api:
            if name not in _API_NAMES:
                _check_api_name(name)
        namespace.update(api)
    return namespace


#: Api names already checked; every run passes the same few, so the check runs once each.
_API_NAMES: set = set()


def _check_api_name(name):
    if type(name) is not str or not name.isidentifier() or name[:1] == "_":
        raise ValueError(f"invalid api name {name!r}: must be an identifier not starting with '_'")
    if len(_API_NAMES) < 10_000:
        _API_NAMES.add(name)


def _function(namespace, name, script):
    func = namespace.get(name)
    # Only functions the script defined: not api callables, not lambdas.
    if not isinstance(func, types.FunctionType) or func.__code__.co_filename != script.filename:
        stop(ScriptRuntimeError, None, f"the script defines no function '{name}'")
    return func


_CODE_CARRIERS = (types.FunctionType, types.MethodType, types.GeneratorType, types.BuiltinFunctionType)


def _check_result(value):
    # Script code handed to the host would run outside the sandbox's
    # accounting, when the host calls or iterates it.
    if isinstance(value, _CODE_CARRIERS):
        stop(ScriptPolicyError, "return", "scripts may not return functions or generators")


def _line(exc, script):
    """The line of the innermost frame of ``script`` in the traceback."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == script.filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc):
    try:
        text = str(exc)
    except Exception:
        text = ""
    name = type(exc).__name__
    described = f"{name}: {text[:500]}" if text else name
    host = getattr(exc, "_host_error_", None)  # a host function failed (see api.expose): say how
    return f"{described} ({host[0]}: {host[1][:500]})" if host else described


def _error_name(error, cause):
    """What the report names as the error: the ScriptError's class, or the class of the host
    function's exception that failed the run (``ConnectionError`` beats ``ScriptRuntimeError``)."""
    host = getattr(cause, "_host_error_", None)
    return (host[0] if host else type(error).__name__)[:40]
