"""Rough figures for the script sandbox; not a test.

    .venv/bin/python bench/bench_sandbox.py

Prints the per-call overhead of a trivial hook after compilation, and
the cost of the step counter on a loop-heavy hook.
"""

import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from RestrictedPython import compile_restricted_exec  # noqa: E402

from runtime import sandbox  # noqa: E402
from runtime.sandbox import compiler  # noqa: E402

TRIVIAL = """
def hook(event):
    if record.amount > 100:
        record.priority = "high"
    return record.priority
"""

LOOPY = """
def hook(n):
    total = 0
    for i in range(n):
        if i % 3:
            total += i
    return total
"""


def per_call(script, function, make_api, args=(), rounds=20, calls=500):
    samples = []
    for _ in range(rounds):
        apis = [make_api() for _ in range(calls)]
        start = time.perf_counter()
        for api in apis:
            sandbox.run(script, function, api=api, args=args)
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def loop_times(n, rounds=7):
    """Time the loop hook with and without the step counter.

    "Without" compiles the same source through the same policy and
    instrumentation except the ``_tick_`` calls in loops and
    comprehensions, and runs it through the same ``run``, so the
    difference is the step counter alone.
    """
    counted = sandbox.compile_script(LOOPY, "bench/loop.py")
    uncounted = _compile_without_ticks(LOOPY, "bench/loop-no-ticks.py")
    limits = sandbox.Limits(steps=10**9, timeout=60)
    results = {sandbox.run(script, "hook", args=(n,), limits=limits) for script in (counted, uncounted)}
    assert len(results) == 1
    times = {counted: [], uncounted: []}
    for _ in range(rounds):  # interleaved, so background load hits both alike
        for script, samples in times.items():
            start = time.perf_counter()
            sandbox.run(script, "hook", args=(n,), limits=limits)
            samples.append(time.perf_counter() - start)
    return statistics.median(times[counted]), statistics.median(times[uncounted])


class _NoTicks(compiler.Instrumenter):
    def _tick_loop(self, node):
        self.generic_visit(node)
        return node

    visit_For = visit_While = _tick_loop

    def visit_comprehension(self, node):
        self.generic_visit(node)
        return node


class _NoTicksPolicy(compiler.SandboxPolicy):
    instrumenter = _NoTicks


def _compile_without_ticks(source, name):
    result = compile_restricted_exec(source, f"<script {name}>", policy=_NoTicksPolicy)
    return compiler.CompiledScript(name, "module", "-", result.code, f"<script {name}>", ("hook",))


def main():
    script = sandbox.compile_script(TRIVIAL, "bench/trivial.py")

    def make_api():
        return {"record": sandbox.RecordProxy({"amount": 150, "priority": "low"}, writable=True)}

    overhead = per_call(script, "hook", make_api, args=(None,))
    verdict = "ok" if overhead <= 10e-6 else "MISSED"
    print(f"trivial hook, per call (median): {overhead * 1e6:8.1f} us   target <= 10 us: {verdict}")

    def make_full_api():
        return sandbox.build_api({"amount": 150, "priority": "low"}, writable=True, tz="Europe/Moscow")

    overhead = per_call(script, "hook", make_full_api, args=(None,))
    print(f"  same, api from build_api():     {overhead * 1e6:8.1f} us")

    start = time.perf_counter()
    for i in range(200):
        sandbox.compile_script(TRIVIAL + f"\n# {i}\n", "bench/trivial.py")
    print(f"compile (cache miss):              {(time.perf_counter() - start) / 200 * 1e6:8.1f} us")
    start = time.perf_counter()
    for _ in range(10000):
        sandbox.compile_script(TRIVIAL, "bench/trivial.py")
    print(f"compile (cache hit):               {(time.perf_counter() - start) / 10000 * 1e6:8.1f} us")

    n = 1_000_000
    counted, uncounted = loop_times(n)
    print(f"loop hook, {n} iterations:")
    print(f"  with step counter:    {counted * 1e3:8.1f} ms")
    print(f"  without step counter: {uncounted * 1e3:8.1f} ms")
    print(f"  ratio:                {counted / uncounted:8.2f}x")


if __name__ == "__main__":
    main()
