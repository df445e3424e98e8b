"""Errors raised by the script sandbox.

The host only ever sees :class:`ScriptError` subclasses. Inside a running
script the guards raise :class:`Interrupt` instead (see
:func:`.state.stop`), which :func:`runtime.sandbox.run` turns into the
public error with the script line attached.
"""

from __future__ import annotations


class ScriptError(Exception):
    """Base class for everything a script run or compilation can raise.

    ``message`` is for the people who write scripts (the designer shows
    it next to ``script`` and ``line``); ``safe_message`` is for end users
    and never mentions internals.
    """

    def __init__(self, message, *, script=None, line=None, guard=None):
        super().__init__(message)
        self.message = message
        self.script = script
        self.line = line
        #: Which guard or policy stopped the script, e.g. ``"steps"``.
        self.guard = guard
        #: The :class:`~runtime.sandbox.runner.RunReport` of the failed run.
        self.report = None

    def __str__(self):
        where = self.script or "<script>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"

    @property
    def safe_message(self):
        return f"The script {self._label} failed."

    @property
    def _label(self):
        return f"'{self.script}'" if self.script else "hook"


class ScriptCompileError(ScriptError):
    """The source is not valid Python or uses syntax scripts may not use.

    ``guard`` is ``"syntax"`` for Python syntax errors and
    ``"restricted"`` when the sandbox policy rejects the code. ``errors``
    holds every ``(line, message)`` found, for the designer to list.
    """

    def __init__(self, message, *, script=None, line=None, guard="syntax", errors=()):
        super().__init__(message, script=script, line=line, guard=guard)
        self.errors = tuple(errors) or ((line, message),)

    @property
    def safe_message(self):
        return f"The script {self._label} contains an error and cannot run."


class ScriptRuntimeError(ScriptError):
    """The script raised an ordinary exception (``KeyError``, ...).

    ``error_type`` is the name of the original exception class.
    """

    def __init__(self, message, *, script=None, line=None, guard=None, error_type=None):
        super().__init__(message, script=script, line=line, guard=guard)
        self.error_type = error_type


class ScriptPolicyError(ScriptError):
    """The script tried something the sandbox forbids.

    ``guard`` names the policy: ``attribute``, ``write``, ``import``,
    ``builtins``, ``regex``, ``return`` or ``context``.
    """

    @property
    def safe_message(self):
        return f"The script {self._label} tried an operation that is not allowed."


class ScriptLimitExceeded(ScriptError):
    """The script ran into a resource limit.

    ``guard`` is one of ``steps``, ``time``, ``memory`` or ``recursion``.
    """

    _REASONS = {
        "steps": "it ran too long",
        "time": "it ran too long",
        "memory": "it used too much memory",
        "recursion": "its calls were nested too deeply",
    }

    @property
    def safe_message(self):
        reason = self._REASONS.get(self.guard, "it exceeded a limit")
        return f"The script {self._label} was stopped because {reason}."


class ScriptRejected(ScriptError):
    """The script called ``reject(message)`` to refuse the operation.

    The message was written by the script author for end users, so it is
    also the ``safe_message``.
    """

    @property
    def safe_message(self):
        return self.message


class ApiError(Exception):
    """Raised inside scripts when a host API call fails.

    Scripts may catch it. Its message is safe to show to script authors;
    the original host exception is kept as ``__cause__`` for host logs.
    """


class Interrupt(BaseException):
    """Internal: stops a script; ``run`` converts it to ``error_class``.

    A ``BaseException``, and ``BaseException`` is not a script builtin
    while a bare ``except:`` does not compile, so ``except`` clauses in
    scripts do not match it.
    """

    def __init__(self, error_class, guard, message):
        super().__init__(message)
        self.error_class = error_class
        self.guard = guard
        self.message = message
