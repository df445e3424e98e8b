import concurrent.futures
import time

import pytest

from runtime import sandbox
from runtime.sandbox import Limits, ScriptLimitExceeded

COUNT = """
def hook(n):
    total = 0
    for i in range(n):
        total += i
    return total
"""

SPIN = """
def hook(n):
    while True:
        n += 1
"""


def test_step_budget_is_exact_for_a_simple_loop():
    script = sandbox.compile_snippet("for i in range(100):\n    pass", "tests/steps.py")
    reports = []
    sandbox.run(script, limits=Limits(steps=101), on_report=reports.append)  # 100 iterations + 1 call
    assert reports[0].steps == 101
    with pytest.raises(ScriptLimitExceeded) as info:
        sandbox.run(script, limits=Limits(steps=100))
    assert info.value.guard == "steps"
    assert info.value.report.steps == 100


def test_runaway_loop_reports_the_loop_line():
    script = sandbox.compile_script("x = 1\n\ndef hook():\n    y = 2\n    while y:\n        y += 1\n", "tests/l.py")
    with pytest.raises(ScriptLimitExceeded) as info:
        sandbox.run(script, "hook", limits=Limits(steps=1000))
    assert (info.value.guard, info.value.line) == ("steps", 5)


def test_time_limit_stops_a_loop_of_slow_iterations():
    # Each iteration is one step but milliseconds of C work: the deadline,
    # not the step budget, must stop it, and soon after it passes.
    script = sandbox.compile_snippet("x = list(range(100000))\nwhile True:\n    sorted(x, reverse=True)", "tests/t.py")
    started = time.monotonic()
    with pytest.raises(ScriptLimitExceeded) as info:
        sandbox.run(script, limits=Limits(steps=10**12, timeout=0.3))
    elapsed = time.monotonic() - started
    assert info.value.guard == "time"
    assert 0.3 <= elapsed < 3.0


def test_recursion_limit_is_configurable():
    script = sandbox.compile_script("def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n", "tests/r.py")
    assert sandbox.run(script, "depth", args=(49,), limits=Limits(recursion=50)) == 49
    with pytest.raises(ScriptLimitExceeded) as info:
        sandbox.run(script, "depth", args=(50,), limits=Limits(recursion=50))
    assert (info.value.guard, info.value.line) == ("recursion", 1)


def test_depth_is_released_when_calls_return_or_raise():
    source = """
def fails():
    raise ValueError('x')

def hook():
    for i in range(500):
        try:
            fails()
        except ValueError:
            pass
    return (lambda: 1)() + sum(map(lambda x: x, range(300)))
"""
    assert sandbox.run(sandbox.compile_script(source, "tests/d.py"), "hook", limits=Limits(recursion=5)) == 44851


def test_concurrent_runs_are_isolated_and_runaways_fail_alone():
    good = sandbox.compile_script(COUNT, "tests/good.py")
    bad = sandbox.compile_script(SPIN, "tests/bad.py")
    runaway = {3, 11}
    limits = Limits(steps=10**9, timeout=0.5)
    # A good run's own limit is wide: on a loaded 2-core machine 18 threads share one GIL, and the
    # point is that the runaways' limits stop only them.
    roomy = Limits(steps=10**9, timeout=5)

    def job(i):
        started = time.monotonic()
        try:
            value = sandbox.run(bad if i in runaway else good, "hook", args=(100_000,),
                                limits=limits if i in runaway else roomy)
        except ScriptLimitExceeded as exc:
            return i, exc, time.monotonic() - started
        return i, value, time.monotonic() - started

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(job, range(20)))
    total = time.monotonic() - started

    for i, outcome, elapsed in results:
        if i in runaway:
            assert isinstance(outcome, ScriptLimitExceeded)
            assert outcome.guard == "time"
            assert outcome.script == "tests/bad.py" and outcome.line == 3
            assert 0.5 <= elapsed < 0.5 + 3.0
        else:
            assert outcome == sum(range(100_000))
    assert total < 10


def test_each_thread_has_its_own_step_budget():
    script = sandbox.compile_script(COUNT, "tests/budget.py")
    limits = Limits(steps=20_001)  # one run's worth; a shared budget would run out

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: sandbox.run(script, "hook", args=(20_000,), limits=limits), range(20)))
    assert results == [sum(range(20_000))] * 20


def test_memory_growth_across_many_steps_is_stopped():
    script = sandbox.compile_snippet("xs = []\nfor i in range(100000):\n    xs.append([i] * 100000)", "tests/m.py")
    started = time.monotonic()
    with pytest.raises(ScriptLimitExceeded) as info:
        sandbox.run(script, limits=Limits(max_memory=64 * 2**20, timeout=30))
    assert info.value.guard == "memory"
    assert info.value.line == 2  # checked at the top of the loop
    assert time.monotonic() - started < 10


def test_size_limits_are_configurable():
    script = sandbox.compile_snippet("return len('x' * 5000)", "tests/s.py")
    assert sandbox.run(script) == 5000
    with pytest.raises(ScriptLimitExceeded):
        sandbox.run(script, limits=Limits(max_string=4096))


@pytest.mark.parametrize(
    "kwargs",
    [{"steps": 0}, {"timeout": -1}, {"recursion": "10"}, {"max_int_bits": 100}, {"max_string": 10}, {"steps": True}],
)
def test_invalid_limits_are_rejected(kwargs):
    with pytest.raises((TypeError, ValueError)):
        Limits(**kwargs)


def test_limits_from_config():
    limits = Limits.from_config({"steps": 5000, "timeout": 0.5})
    assert (limits.steps, limits.timeout, limits.recursion) == (5000, 0.5, Limits().recursion)
    with pytest.raises(ValueError, match="unknown limit"):
        Limits.from_config({"stepz": 1})


def test_message_functions_are_capped_per_run_in_count_and_size():
    sent = []
    api = sandbox.build_api(notify=sandbox.expose(lambda user, title, body=None: sent.append(title),
                                                  "notify", messages=True))
    loop = sandbox.compile_snippet("for i in range(1000):\n    notify('u', 'hi', 'x' * 1000000)", "tests/n.py")
    with pytest.raises(ScriptLimitExceeded) as info:
        sandbox.run(loop, api=api)
    assert info.value.guard == "memory" and not sent  # a 1 MB body is refused before it is stored

    many = sandbox.compile_snippet("for i in range(1000):\n    notify('u', 'hi')", "tests/n.py")
    with pytest.raises(ScriptLimitExceeded) as info:
        sandbox.run(many, api=api, limits=Limits(max_messages=20))
    assert info.value.guard == "messages" and "at most 20" in info.value.message
    assert len(sent) == 20
    sent.clear()
    sandbox.run(sandbox.compile_snippet("notify('u', 'a')\nnotify('u', 'b')", "tests/n.py"), api=api,
                limits=Limits(max_messages=2))  # the budget is per run, not per process
    assert sent == ["a", "b"]


def test_log_is_capped_in_count_and_total_size():
    script = sandbox.compile_snippet("for i in range(5000):\n    log('x' * 100000)", "tests/log.py")
    reports = []
    sandbox.run(script, on_report=reports.append)
    logs = reports[0].logs
    assert len(logs) <= Limits().max_log
    assert sum(map(len, logs)) <= Limits().max_log_size
