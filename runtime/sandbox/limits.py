"""Resource limits and the per-run meter that enforces them.

The compiler injects ``_tick_()`` at the top of every loop body and
comprehension, and ``_enter_()``/``_leave_()`` around every function
body. Those calls are the only clock a script has: there is no
``sys.settrace`` (slow, and process-global) and no signal (main thread
only). The hot path is a closure decrementing a counter; every
``CHUNK`` ticks a slower check looks at the step budget, the deadline
and, at most every ``RSS_INTERVAL`` seconds, the process memory.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import sys
import time

from .nesting import check_nesting
from .state import deny, exceed

#: Ticks between two slow checks. Small enough that a loop doing a few
#: milliseconds of C work per iteration still notices its deadline soon.
CHUNK = 64
#: The first slow check comes sooner, to take the memory baseline early.
FIRST_CHUNK = 8
#: Seconds between two reads of the process RSS.
RSS_INTERVAL = 0.01


@dataclasses.dataclass(frozen=True)
class Limits:
    """Limits for one script run. The defaults suit record hooks.

    Hook metadata can override any field, see :meth:`from_config`.
    """

    #: Loop iterations, function calls and comprehension items.
    steps: int = 1_000_000
    #: Wall-clock seconds for the whole run.
    timeout: float = 2.0
    #: Nested script function calls.
    recursion: int = 100
    #: Characters (or bytes) in one string built by the script.
    max_string: int = 1_000_000
    #: Elements in one list, tuple or range built by the script.
    max_items: int = 1_000_000
    #: Bits in one integer computed by the script.
    max_int_bits: int = 100_000
    #: Growth of the process RSS observed during the run, in bytes, or
    #: ``None`` to disable. A coarse, process-wide safety net against
    #: memory accumulated across many small steps.
    max_memory: int | None = 256 * 2**20
    #: ``log()``/``print()`` entries kept for the run report.
    max_log: int = 200
    #: Characters of all ``log()``/``print()`` entries kept for the run report.
    max_log_size: int = 100_000
    #: Characters of JSON text one ``json.loads()`` parses: parsing runs in C,
    #: holding the interpreter, so one call must stay short.
    max_json: int = 256 * 1024
    #: Calls of message-sending api functions (``notify()``, ``send()``) in one run.
    max_messages: int = 50
    #: Characters of one message's arguments (title, body, context).
    max_message_size: int = 100_000

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "max_memory" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Limits.{field.name} must be a number, not {value!r}")
            if value <= 0:
                raise ValueError(f"Limits.{field.name} must be positive, not {value!r}")
        # The guards skip the limits for small operands (below 64 bits, or
        # 1024 items); that is only sound if no limit is smaller.
        if self.max_int_bits < 4096:
            raise ValueError("Limits.max_int_bits must be at least 4096")
        if self.max_string < 1024 or self.max_items < 1024 or self.max_json < 1024:
            raise ValueError("Limits.max_string, max_items and max_json must be at least 1024")

    @classmethod
    def from_config(cls, config, base=None):
        """Build limits from a mapping such as a hook's ``limits:`` block.

        Unknown keys raise ``ValueError`` so a typo in metadata is not
        silently ignored.
        """
        base = base or cls()
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ValueError(
                f"unknown limit(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        return dataclasses.replace(base, **config)


DEFAULT_LIMITS = Limits()


class Meter:
    """Step, time, recursion and memory accounting for one run.

    ``tick``, ``enter`` and ``leave`` are closures, not methods: they run
    on every iteration and call, and a closure over ``nonlocal`` ints is
    the cheapest call Python has. Each run owns its meter, so concurrent
    runs in different threads never share a budget.
    """

    def __init__(self, limits, clock=time.monotonic, rss=None):
        rss = rss or _rss_bytes
        budget = limits.steps
        max_depth = limits.recursion
        max_memory = limits.max_memory
        deadline = clock() + limits.timeout
        granted = left = min(FIRST_CHUNK, budget)
        spent = 0
        depth = 0
        rss_base = None
        rss_next = 0.0
        closed = False

        def refill():
            # Called when the current chunk is used up; the calling tick is
            # the first one of the next chunk.
            nonlocal granted, left, spent, rss_base, rss_next
            spent += granted
            if closed:
                left = 0
                deny("context", "script code can only run inside sandbox.run()")
            if spent >= budget:
                granted = left = 0
                exceed("steps", f"step limit of {budget} exceeded")
            now = clock()
            if now > deadline:
                granted = left = 0
                exceed("time", f"time limit of {limits.timeout:g} s exceeded")
            if max_memory is not None and now >= rss_next:
                rss_next = now + RSS_INTERVAL
                current = rss()
                if current is not None:
                    if rss_base is None:
                        rss_base = current
                    elif current - rss_base > max_memory:
                        granted = left = 0
                        exceed(
                            "memory",
                            f"memory limit exceeded: the process grew by "
                            f"{(current - rss_base) // 2**20} MiB during the run",
                        )
            granted = min(CHUNK, budget - spent)
            left = granted - 1

        def tick():
            nonlocal left
            left -= 1
            if left < 0:
                refill()
            return True

        def enter():
            nonlocal depth, left
            if depth >= max_depth:
                exceed("recursion", f"recursion limit of {max_depth} nested calls exceeded")
            depth += 1
            left -= 1
            if left < 0:
                refill()

        def leave():
            nonlocal depth
            depth -= 1

        def wrap_lambda(fn):
            # A lambda has no statement to put enter/leave in, so it is
            # wrapped instead: depth and steps count the same as for def.
            varargs = fn.__code__.co_flags & inspect.CO_VARARGS

            def call(*args, **kwargs):
                if varargs:
                    check_nesting(args)  # ``lambda *a: a`` nests a tuple
                enter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    leave()

            return call

        def check(cost=1):
            # The slow check now, after ``cost`` steps of work done in C.
            nonlocal spent, granted, left, rss_next
            spent += granted - left + max(int(cost), 0) - 1
            granted = left = 0
            rss_next = 0.0
            refill()

        def used():
            return min(spent + granted - left, budget)

        def close():
            # Script code that outlives the run (a generator finalised
            # later, say) stops at its first tick.
            nonlocal closed, spent, granted, left
            spent = used()
            granted = left = 0
            closed = True
            return spent

        self.tick = tick
        self.enter = enter
        self.leave = leave
        self.wrap_lambda = wrap_lambda
        self.check = check
        self.used = used
        self.close = close


def _statm_rss():
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:
        return None
    try:
        return int(os.read(fd, 64).split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None
    finally:
        os.close(fd)


def _peak_rss():
    # Without /proc only the peak is available; growth of the peak still
    # catches a run that pushes the process to a new high.
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):
    _PAGE = 4096

if os.path.exists("/proc/self/statm"):
    _rss_bytes = _statm_rss
else:
    try:
        import resource  # noqa: F401

        _rss_bytes = _peak_rss
    except ImportError:

        def _rss_bytes():
            return None
