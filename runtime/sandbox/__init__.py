"""The script sandbox: compile, guard and run hook scripts.

Typical use by the runtime::

    from runtime import sandbox

    script = sandbox.compile_script(source, "scripts/billing.py")
    api = sandbox.build_api(values, writable=True, tz="Europe/Moscow",
                            query=records.query, notify=notifications.send)
    try:
        sandbox.run(script, "before_save", api=api, args=(event,),
                    limits=sandbox.Limits.from_config(hook.limits),
                    on_report=audit.script_run)
    except sandbox.ScriptError as error:
        ...  # error.script, error.line, error.guard, error.safe_message
    changes = sandbox.record_changes(api["record"])

See ``docs/decisions/0004-script-sandbox.md`` for what is guarded and why.
"""

from .api import (
    FrozenMap,
    RecordProxy,
    Row,
    build_api,
    expose,
    freeze,
    make_clock,
    money,
    record_changes,
    record_values,
    rows,
)
from .compiler import CompiledScript, clear_cache, compile_expression, compile_script, compile_snippet
from .errors import (
    ApiError,
    ScriptCompileError,
    ScriptError,
    ScriptLimitExceeded,
    ScriptPolicyError,
    ScriptRejected,
    ScriptRuntimeError,
)
from .guards import mark_writable
from .limits import DEFAULT_LIMITS, Limits
from .modules import MODULES
from .runner import RunReport, run
from .scriptbuiltins import reject

__all__ = [
    "reject",
    "ApiError",
    "CompiledScript",
    "DEFAULT_LIMITS",
    "FrozenMap",
    "Limits",
    "MODULES",
    "RecordProxy",
    "Row",
    "RunReport",
    "ScriptCompileError",
    "ScriptError",
    "ScriptLimitExceeded",
    "ScriptPolicyError",
    "ScriptRejected",
    "ScriptRuntimeError",
    "build_api",
    "clear_cache",
    "compile_expression",
    "compile_script",
    "compile_snippet",
    "expose",
    "freeze",
    "make_clock",
    "mark_writable",
    "money",
    "record_changes",
    "record_values",
    "rows",
    "run",
]
