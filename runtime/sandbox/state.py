"""The state of the run in progress, reachable from shared guards.

Module proxies and most guards are built once and shared by every run;
they find the limits of the run that called them through a context
variable, which is per thread (and per asyncio task), so concurrent runs
never see each other's state.
"""

from __future__ import annotations

import contextvars

from .errors import Interrupt, ScriptLimitExceeded, ScriptPolicyError

_CURRENT = contextvars.ContextVar("loom_sandbox_run", default=None)


class RunState:
    """What one run needs beyond its globals: limits, meter and logs."""

    __slots__ = ("script", "limits", "meter", "logs", "dropped_logs", "log_size", "interrupt", "calls")

    def __init__(self, script, limits, meter):
        self.script = script
        self.limits = limits
        self.meter = meter
        self.logs = []
        self.dropped_logs = 0
        self.log_size = 0
        #: Calls of metered api functions (``notify``, ``send``) by quota name.
        self.calls = {}
        #: The first interrupt raised in the run, see :func:`stop`.
        self.interrupt = None

    def add_log(self, text):
        # Count and total size are both capped: the logs are kept with the run report.
        if len(self.logs) < self.limits.max_log and self.log_size + len(text) <= self.limits.max_log_size:
            self.logs.append(text)
            self.log_size += len(text)
        else:
            self.dropped_logs += 1


def stop(error_class, guard, message):
    """Stop the running script; ``run`` raises ``error_class``.

    The interrupt is also recorded on the run. A script cannot catch it,
    but it can replace it: an ``except`` clause whose expression fails
    while the interrupt passes (``except undefined_name:``) raises a new
    exception, which an outer ``except Exception`` could swallow. ``run``
    therefore fails with the first interrupt even if the script returned.
    """
    interrupt = Interrupt(error_class, guard, message)
    state = _CURRENT.get()
    if state is not None and state.interrupt is None:
        state.interrupt = interrupt
    raise interrupt


def deny(guard, message):
    """Stop the script for a policy violation."""
    stop(ScriptPolicyError, guard, message)


def exceed(guard, message):
    """Stop the script because a limit was exceeded."""
    stop(ScriptLimitExceeded, guard, message)


def current():
    """Return the state of the run in progress in this thread."""
    state = _CURRENT.get()
    if state is None:
        deny("context", "script code can only run inside sandbox.run()")
    return state


def checkpoint(cost=1):
    """Check the time, memory and step limits now, counting ``cost`` steps.

    Guards call it after work done in C (parsing JSON, matching a regular
    expression, formatting a large value): the meter's regular checks come
    every few dozen steps, and a few dozen such calls could otherwise run far
    past the deadline.
    """
    state = _CURRENT.get()
    if state is not None:
        state.meter.check(cost)


def peek():
    """The state of the run in progress in this thread, or ``None``."""
    return _CURRENT.get()


def activate(state):
    """Make ``state`` current; returns a token for :func:`deactivate`."""
    return _CURRENT.set(state)


def deactivate(token):
    _CURRENT.reset(token)
