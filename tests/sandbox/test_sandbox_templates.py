"""Notification templates run under the scripts' limits (runtime.sandbox.templates)."""

import time

import pytest

from runtime.sandbox.templates import LimitedEnvironment, TemplateLimitExceeded, render

ENV = LimitedEnvironment(autoescape=False)

CASES = [
    ("big-pow", "{{ (9 ** 9999999)|string|length }}", "memory"),
    ("string-times", "{{ 'a' * 200000000 }}", "memory"),
    ("center", "{{ 'a'|center(300000000) }}", "memory"),
    ("ljust-method", "{{ 'a'.ljust(300000000) }}", "memory"),
    ("format-width", "{{ '%300000000s'|format(1) }}", "memory"),
    ("indent", "{{ ('a\n' * 1000)|indent(1000000) }}", "memory"),
    ("replace-empty", "{{ ('a' * 100)|replace('', 'x' * 100000) }}", "memory"),
    ("join-separator", "{{ range(100)|join('-' * 1000000) }}", "memory"),
    ("batch-fill", "{{ [1]|batch(1000000000, 0)|list|length }}", "memory"),
    ("sum-lists", "{{ ([[1] * 50000] * 50000)|sum(start=[]) }}", "memory"),
    ("namespace-doubling",
     "{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "memory"),
    ("output-size", "{% for i in range(100) %}{{ 'x' * 100000 }}{% endfor %}", "memory"),
    ("nested-loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "steps"),
]


@pytest.mark.parametrize("source, guard", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_template_bypasses_are_stopped_quickly(source, guard):
    started = time.perf_counter()
    with pytest.raises(TemplateLimitExceeded) as info:
        render(ENV.from_string(source), {})
    assert info.value.guard == guard, info.value.message
    assert time.perf_counter() - started < 0.5


def test_template_time_limit():
    from runtime.sandbox import Limits

    with pytest.raises(TemplateLimitExceeded) as info:
        render(ENV.from_string("{% for i in range(100000) %}{{ (7 ** 4000) % 13 }}{% endfor %}"), {},
               Limits(timeout=0.05, steps=10**9))
    assert info.value.guard == "time"


def test_ordinary_templates_render_as_before():
    source = ("{{ name|upper }} {{ items|join(', ') }} {{ '%05d'|format(7) }} {{ 'x'|center(5) }} {{ 2 ** 10 }} "
              "{{ items|map('string')|join('+') }} {{ 'a b'|wordwrap(1) }} {{ items|sum }} {{ rec|tojson }}")
    out = render(ENV.from_string(source), {"name": "Анна", "items": [1, 2], "rec": {"a": 1}})
    assert out == 'АННА 1, 2 00007   x   1024 1+2 a\nb 3 {"a": 1}'
