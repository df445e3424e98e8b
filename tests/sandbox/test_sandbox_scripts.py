"""Legitimate scripts work, and failures say where and why."""

import datetime
import decimal

import pytest

from runtime import sandbox
from runtime.sandbox import ScriptCompileError, ScriptRuntimeError


def test_business_logic_with_loops_comprehensions_and_builtins(run_snippet):
    source = """
lines = [{'sku': 'A', 'qty': 2, 'price': 10}, {'sku': 'B', 'qty': 1, 'price': 5}, {'sku': 'C', 'qty': 0, 'price': 7}]
totals = {line['sku']: line['qty'] * line['price'] for line in lines if line['qty']}
by_value = sorted(totals.items(), key=lambda item: -item[1])
names = ', '.join(sku for sku, _ in by_value)
seen = set()
for i, line in enumerate(lines):
    if line['qty'] == 0:
        continue
    seen.add(line['sku'])
count = 0
while count < 3:
    count += 1
a, (b, c) = 1, [2, 3]
return totals, by_value, names, sorted(seen), count, a + b + c, max(totals.values()), list(zip('ab', [1, 2]))
"""
    assert run_snippet(source) == (
        {"A": 20, "B": 5},
        [("A", 20), ("B", 5)],
        "A, B",
        ["A", "B"],
        3,
        6,
        20,
        [("a", 1), ("b", 2)],
    )


def test_strings_and_formatting(run_snippet):
    source = """
name = 'request'
amount = 1234.5
return (
    f'{name.upper()}-{7:06d}',
    f'{amount:>10.2f}|{amount:,.1f}|{name!r}',
    '%s has %d items (%.1f%%)' % (name, 3, 42.0),
    'a-b-c'.split('-'),
    ' x '.strip().center(5, '*'),
    'ab' * 3 + 'c',
    str(12).zfill(4),
    'x'.join(['1', '2']),
)
"""
    assert run_snippet(source) == (
        "REQUEST-000007",
        "   1234.50|1,234.5|'request'",
        "request has 3 items (42.0%)",
        ["a", "b", "c"],
        "**x**",
        "abababc",
        "0012",
        "1x2",
    )


def test_decimal_money(run_snippet):
    source = """
from decimal import ROUND_HALF_UP
price = Decimal('19.99')
total = price * 3 + Decimal('0.005')
return total, total.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP), isinstance(total, Decimal), money(2.675)
"""
    api = sandbox.build_api()
    total, rounded, is_decimal, money = run_snippet(source, api=api)
    assert total == decimal.Decimal("59.975")
    assert rounded == decimal.Decimal("59.98")
    assert is_decimal is True
    assert money == decimal.Decimal("2.68") and type(money) is decimal.Decimal


def test_datetime_and_clock(run_snippet):
    source = """
from datetime import date, datetime, timedelta
import datetime as dt
due = date(2024, 12, 30) + timedelta(days=5)
moscow = now('Europe/Moscow')
return due, due.isoformat(), f'{due:%d.%m.%Y}', moscow.utcoffset(), today() == now().date(), dt.MAXYEAR
"""
    due, iso, formatted, offset, same_day, maxyear = run_snippet(source, api=sandbox.build_api(tz="UTC"))
    assert due == datetime.date(2025, 1, 4) and iso == "2025-01-04" and formatted == "04.01.2025"
    assert offset == datetime.timedelta(hours=3)
    assert same_day is True and maxyear == 9999


def test_re_and_json(run_snippet):
    source = """
import re, json
text = 'REQ-12, REQ-345 and INC-7'
numbers = re.findall(r'REQ-(\\d+)', text)
masked = re.sub(r'(\\w+)-(\\d+)', r'\\2/\\1', text)
upper = re.compile(r'[a-z]+').sub(lambda m: m.group(0).upper(), 'ab-cd')
parts = re.split(r',\\s*', 'a, b,c')
data = json.loads('{"amount": 1.10, "tags": ["x"]}', parse_float=Decimal)
dumped = json.dumps({'when': now().date(), 'amount': Decimal('1.10'), 'record': record, 'cfg': cfg}, sort_keys=True)
return numbers, masked, upper, parts, data, dumped
"""
    api = sandbox.build_api({"title": "t"}, tz="UTC", cfg={"a": [1]})
    numbers, masked, upper, parts, data, dumped = run_snippet(source, api=api)
    assert numbers == ["12", "345"]
    assert masked == "12/REQ, 345/REQ and 7/INC"
    assert upper == "AB-CD" and parts == ["a", "b", "c"]
    assert data == {"amount": decimal.Decimal("1.10"), "tags": ["x"]}
    assert '"amount": "1.10"' in dumped and '"record": {"title": "t"}' in dumped and '"cfg": {"a": [1]}' in dumped


def test_iteration_helpers(run_snippet):
    source = """
prices = {'b': 2, 'a': 1}
pairs = [(k, v) for k, v in prices.items()]
doubled = list(map(lambda x: x * 2, filter(None, [0, 1, 2])))
indexed = {i: name for i, name in enumerate(sorted(prices), start=1)}
summed = [a + b for a, b in zip([1, 2], (x for x in [10, 20]))]
squares = (n * n for n in range(4))
first = next(iter(squares))
return pairs, sorted(prices.items()), doubled, indexed, summed, first, list(squares), tuple(reversed([1, 2]))
"""
    assert run_snippet(source) == (
        [("b", 2), ("a", 1)],
        [("a", 1), ("b", 2)],
        [2, 4],
        {1: "a", 2: "b"},
        [11, 22],
        0,
        [1, 4, 9],
        (2, 1),
    )


def test_generators_and_exceptions_inside_scripts(run_snippet):
    source = """
def evens(limit):
    n = 0
    while n < limit:
        yield n
        n += 2

caught = []
try:
    1 / 0
except ZeroDivisionError as exc:
    caught.append(str(exc))
try:
    {}['missing']
except (KeyError, ValueError):
    caught.append('key')
return list(evens(7)), caught
"""
    assert run_snippet(source) == ([0, 2, 4, 6], ["division by zero", "key"])


def test_checked_builtins_still_behave_like_the_real_ones(run_snippet):
    source = """
return (
    int('42'), int('ff', 16), isinstance(5, int), isinstance(True, int), issubclass(bool, int),
    bytes(3), bytes('é', 'utf-8'), isinstance(b'x', bytes), bytearray(b'ab') + b'c',
    int.from_bytes(b'\\x01\\x00', 'big'), pow(2, 10), pow(2, 100, 7), round(1234, -2), list(range(3)),
    sum([1, 2, 3]), sum([[1], [2]], []), repr([1, 'a']), format(3.14159, '.2f'),
)
"""
    assert run_snippet(source) == (
        42, 255, True, True, True,
        b"\x00\x00\x00", "é".encode(), True, bytearray(b"abc"),
        256, 1024, pow(2, 100, 7), 1200, [0, 1, 2],
        6, [1, 2], "[1, 'a']", "3.14",
    )


def test_api_callables_and_writable_record():
    calls = []

    def notify(user, text):
        calls.append((user, text))
        return True

    def query(entity, **filters):
        if entity == "broken":
            raise RuntimeError("SELECT * FROM secret_table")
        return [{"id": 1, "entity": entity, **filters}]

    source = """
def before_save(event):
    if record.amount > 1000 and record.status == 'new':
        record.priority = 'high'
        record['approver'] = 'cfo'
    found = query('contract', customer=record.customer)
    try:
        query('broken')
    except ApiError as exc:
        log('query failed:', str(exc))
    notify('manager', f"{event}: {record.number} needs approval")
    return found[0]['customer']
"""
    api = sandbox.build_api(
        {"number": "REQ-1", "amount": 5000, "status": "new", "customer": "ACME"},
        writable=True,
        query=query,
        notify=notify,
    )
    reports = []
    script = sandbox.compile_script(source, "scripts/approval.py")
    assert sandbox.run(script, "before_save", api=api, args=("created",), on_report=reports.append) == "ACME"
    assert sandbox.record_changes(api["record"]) == {"priority": "high", "approver": "cfo"}
    assert calls == [("manager", "created: REQ-1 needs approval")]
    assert reports[0].logs == ("query failed: query() failed",)  # no SQL leaked to the script
    assert reports[0].ok and reports[0].function == "before_save"


def test_reject_carries_the_authors_message_to_end_users():
    script = sandbox.compile_script("def validate():\n    reject('End date must be after start date')\n", "s/v.py")
    with pytest.raises(sandbox.ScriptRejected) as info:
        sandbox.run(script, "validate")
    assert info.value.safe_message == "End date must be after start date"
    assert info.value.line == 2


def test_snippets_return_and_expressions_evaluate():
    snippet = sandbox.compile_snippet("if record.amount > 10:\n    return 'big'\nreturn 'small'", "hooks/inline")
    condition = sandbox.compile_expression("record.amount > 10 and record.status in ('new', 'open')", "cond")
    api = sandbox.build_api({"amount": 50, "status": "new"})
    assert sandbox.run(snippet, api=api) == "big"
    assert sandbox.run(condition, api=api) is True
    with pytest.raises(ValueError):
        sandbox.run(condition, "hook")


def test_compiled_once_and_cached_by_content_and_name():
    first = sandbox.compile_script("def f():\n    return 1\n", "scripts/c.py")
    assert sandbox.compile_script("def f():\n    return 1\n", "scripts/c.py") is first
    assert sandbox.compile_script("def f():\n    return 1\n", "scripts/other.py") is not first
    changed = sandbox.compile_script("def f():\n    return 2\n", "scripts/c.py")
    assert changed is not first and changed.digest != first.digest
    assert first.functions == ("f",) and len(first.digest) == 64


def test_runtime_error_reports_script_and_line():
    source = "def helper(values):\n    total = 0\n    for v in values:\n        total += 10 / v\n    return total\n\ndef hook():\n    return helper([1, 2, 0])\n"
    with pytest.raises(ScriptRuntimeError) as info:
        sandbox.run(sandbox.compile_script(source, "scripts/math.py"), "hook")
    error = info.value
    assert (error.script, error.line, error.error_type) == ("scripts/math.py", 4, "ZeroDivisionError")
    assert error.message == "ZeroDivisionError: division by zero"
    assert str(error) == "scripts/math.py:4: ZeroDivisionError: division by zero"
    assert "division" not in error.safe_message and "scripts/math.py" in error.safe_message
    assert error.report.outcome == "error" and error.report.line == 4


def test_error_in_an_api_callback_reports_the_script_line():
    def each(items, func):
        return [func(item) for item in items]

    source = "def hook():\n    return each([1, 0], lambda x: 1 / x)\n"
    with pytest.raises(ScriptRuntimeError) as info:
        sandbox.run(sandbox.compile_script(source, "scripts/cb.py"), "hook", api={"each": each})
    assert info.value.line == 2


def test_syntax_error_reports_line():
    with pytest.raises(ScriptCompileError) as info:
        sandbox.compile_script("def f():\n    x = 1\n    return x +\n", "scripts/bad.py")
    assert (info.value.script, info.value.line, info.value.guard) == ("scripts/bad.py", 3, "syntax")
    assert "error" in info.value.safe_message


def test_policy_errors_list_every_line():
    source = "x = 1\ny = x.__class__\n\ndef f(_p):\n    pass\n"
    with pytest.raises(ScriptCompileError) as info:
        sandbox.compile_script(source, "scripts/policy.py")
    assert info.value.guard == "restricted"
    assert [line for line, _ in info.value.errors] == [2, 4]
    assert info.value.line == 2 and "__class__" in info.value.message


def test_module_level_return_is_a_compile_error_outside_snippets():
    with pytest.raises(ScriptCompileError) as info:
        sandbox.compile_script("x = 1\nreturn x\n", "scripts/r.py")
    assert info.value.line == 2


def test_unknown_hook_function():
    script = sandbox.compile_script("def hook():\n    pass\nother = 1\n", "scripts/h.py")
    for name in ("missing", "other", "log"):
        with pytest.raises(ScriptRuntimeError, match="defines no function"):
            sandbox.run(script, name)


def test_every_run_is_reported():
    reports = []
    ok = sandbox.compile_script("def hook():\n    for i in range(3):\n        log('step', i)\n", "s/ok.py")
    bad = sandbox.compile_script("def hook():\n    while True:\n        pass\n", "s/bad.py")
    sandbox.run(ok, "hook", on_report=reports.append)
    with pytest.raises(sandbox.ScriptLimitExceeded):
        sandbox.run(bad, "hook", limits=sandbox.Limits(steps=50), on_report=reports.append)
    first, second = reports
    assert (first.outcome, first.script, first.steps, first.logs) == ("ok", "s/ok.py", 4, ("step 0", "step 1", "step 2"))
    assert first.duration >= 0 and first.digest == ok.digest
    assert (second.outcome, second.error, second.guard, second.line) == ("error", "ScriptLimitExceeded", "steps", 2)
    assert second.as_dict()["message"] == "step limit of 50 exceeded"


def test_log_is_capped():
    reports = []
    script = sandbox.compile_snippet("for i in range(50):\n    log(i)", "s/log.py")
    sandbox.run(script, limits=sandbox.Limits(max_log=10), on_report=reports.append)
    assert reports[0].logs == tuple(str(i) for i in range(10))


def test_invalid_api_names_are_refused():
    script = sandbox.compile_snippet("pass", "s/n.py")
    for name in ("_getattr_", "not valid", 3):
        with pytest.raises(ValueError):
            sandbox.run(script, api={name: 1})
