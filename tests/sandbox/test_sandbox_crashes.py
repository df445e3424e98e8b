"""Structures deep enough to overflow the C stack must fail, not crash.

CPython hashes nested tuples and pulls values through chained iterators
recursively in C, without a recursion check; a few hundred thousand
levels kill the process. Each case runs in a child process so that a
regression shows up as a failed test instead of a dead test run.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPTH = 200_000

CHILD = """
import sys
sys.path.insert(0, {root!r})
from runtime import sandbox
source = sys.stdin.read()
try:
    sandbox.run(
        sandbox.compile_snippet(source, "tests/deep.py"),
        limits=sandbox.Limits(steps=10**7, timeout=60, max_memory=None),
    )
except sandbox.ScriptError as error:
    print(type(error).__name__, error.guard)
else:
    print("finished")
"""

CASES = {
    "tuple-display": ("t = ()", "t = (t,)", "hash(t)"),
    "tuple-builtin": ("t = ()", "t = tuple([t])", "{t}"),
    "zip-items": ("t = ()", "t = next(zip([t]))", "hash(t)"),
    "dict-items": ("t = ()", "t = list({0: t}.items())[0]", "hash(t)"),
    "exception-args": ("t = ()", "t = ValueError(t).args", "hash(t)"),
    "varargs": ("def f(*a):\n    return a\nt = ()", "t = f(t)", "hash(t)"),
    "map-chain": ("m = iter([1])", "m = map(abs, m)", "next(m)"),
    "enumerate-chain": ("m = iter([1])", "m = enumerate(m)", "next(m)"),
    "genexp-chain": ("m = iter([1])", "m = (i for i in m)", "next(m)"),
    "yield-from-chain": ("def g(it):\n    yield from it\nm = iter([1])", "m = g(m)", "next(m)"),
}


@pytest.mark.parametrize("setup, step, use", CASES.values(), ids=CASES.keys())
def test_deep_structures_fail_with_a_recursion_error(setup, step, use):
    source = f"{setup}\nfor i in range({DEPTH}):\n    {step}\n{use}\n"
    child = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT))],
        input=source,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, textwrap.shorten(child.stderr, 500)
    assert child.stdout.split() == ["ScriptLimitExceeded", "recursion"]
