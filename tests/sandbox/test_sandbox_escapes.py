"""The escape corpus: attempts to leave the sandbox or exhaust the host.

Each case names the error class and the guard expected to stop it, so a
case that starts passing for the wrong reason (say, a NameError instead of
the attribute guard) fails too.
"""

import json
import math

import pytest

from runtime import sandbox
from runtime.sandbox import ScriptCompileError as Compile
from runtime.sandbox import ScriptLimitExceeded as Limit
from runtime.sandbox import ScriptPolicyError as Policy

GEN = "g = (i for i in [1])\n"
INFINITE = "def g():\n    while True:\n        yield 1\n"
DAG = "x = [1]\nfor i in range(60):\n    x = [x, x]\n"

# (id, source, error class, guard, limits)
CASES = [
    # -- dunder walks and introspection (CVE-2023-37271 and friends)
    ("subclasses", "().__class__.__bases__[0].__subclasses__()", Compile, "restricted", {}),
    ("getattr-class", "getattr((), '__class__')", Policy, "attribute", {}),
    ("getattr-built-name", "getattr(getattr((), '__cla' + 'ss__'), '__bases__')", Policy, "attribute", {}),
    ("func-globals", "def f():\n    pass\nf.__globals__", Compile, "restricted", {}),
    ("func-globals-getattr", "def f():\n    pass\ngetattr(f, '__globals__')", Policy, "attribute", {}),
    ("host-func-globals", "getattr(log, '__globals__')", Policy, "attribute", {}),
    ("lambda-code", "(lambda: 0).__code__", Compile, "restricted", {}),
    ("gen-gi-frame", GEN + "g.gi_frame.f_globals", Compile, "restricted", {}),
    ("gen-gi-frame-getattr", GEN + "getattr(g, 'gi_frame')", Policy, "attribute", {}),
    ("gen-gi-code", "def g():\n    yield 1\ngetattr(g(), 'gi_code')", Policy, "attribute", {}),
    ("gen-gi-yieldfrom", GEN + "getattr(g, 'gi_yieldfrom')", Policy, "attribute", {}),
    ("frame-f-back", GEN + "x = getattr(g, 'gi_frame').f_back", Compile, "restricted", {}),
    ("async-def", "async def f():\n    pass", Compile, "restricted", {}),
    ("coroutine-cr-frame", "x = None\nx.cr_frame", Compile, "restricted", {}),
    ("coroutine-cr-frame-getattr", "getattr(None, 'cr_frame')", Policy, "attribute", {}),
    ("traceback", "try:\n    1 / 0\nexcept Exception as e:\n    tb = e.__traceback__", Compile, "restricted", {}),
    (
        "traceback-tb-frame",
        "try:\n    1 / 0\nexcept Exception as e:\n    getattr(getattr(e, '__traceback__'), 'tb_frame')",
        Policy,
        "attribute",
        {},
    ),
    ("exception-obj", "try:\n    (1).missing\nexcept AttributeError as e:\n    e.obj", Policy, "attribute", {}),
    ("method-self", "getattr('x'.upper, '__self__')", Policy, "attribute", {}),
    ("mro", "int.mro()", Policy, "attribute", {}),
    ("hasattr-dunder", "hasattr(1, '__class__')", Policy, "attribute", {}),
    # -- str.format and friends (CVE-2023-41039, CVE-2024-47532)
    ("str-format", "'{0.__class__}'.format(1)", Policy, "attribute", {}),
    ("str-format-map", "'{a.__class__.__mro__}'.format_map({'a': 1})", Policy, "attribute", {}),
    ("str-type-format", "str.format('{0.__class__}', 1)", Policy, "attribute", {}),
    ("getattr-format", "getattr('{0}', 'format')", Policy, "attribute", {}),
    ("string-formatter", "import string\nstring.Formatter().format('{0.__class__}', 1)", Policy, "import", {}),
    ("fstring-dunder", "x = 1\nf'{x.__class__}'", Compile, "restricted", {}),
    ("fstring-getattr", "f\"{getattr(1, '__class__')}\"", Policy, "attribute", {}),
    # -- try/except* (CVE-2025-22153) and shadowing the guards
    ("try-star", "try:\n    pass\nexcept* ValueError:\n    pass", Compile, "restricted", {}),
    ("exception-group", "ExceptionGroup('x', [ValueError()])", Policy, "builtins", {}),
    ("posonly-shadow", "def f(_getattr_=None, /):\n    pass", Compile, "restricted", {}),
    ("kwonly-shadow", "def f(*, _write_=None):\n    pass", Compile, "restricted", {}),
    ("vararg-shadow", "def f(*_getiter_):\n    pass", Compile, "restricted", {}),
    ("lambda-default-shadow", "f = lambda _getattr_=getattr: 1", Compile, "restricted", {}),
    ("assign-getattr", "_getattr_ = getattr", Compile, "restricted", {}),
    ("assign-write", "_write_ = lambda ob: ob", Compile, "restricted", {}),
    ("assign-builtins", "__builtins__ = {}", Compile, "restricted", {}),
    ("walrus-shadow", "(_tick_ := 1)", Compile, "restricted", {}),
    ("for-target-shadow", "for _tick_ in [1]:\n    pass", Compile, "restricted", {}),
    ("except-as-shadow", "try:\n    pass\nexcept Exception as _getiter_:\n    pass", Compile, "restricted", {}),
    ("import-as-shadow", "import math as _getattr_", Compile, "restricted", {}),
    ("global-shadow", "def f():\n    global _tick_\n    _tick_ = None", Compile, "restricted", {}),
    ("del-guard", "del _getattr_", Compile, "restricted", {}),
    ("bare-except", "try:\n    while True:\n        pass\nexcept:\n    pass", Compile, "restricted", {}),
    ("class-def", "class A:\n    pass", Compile, "restricted", {}),
    ("metaclass", "class A(metaclass=type):\n    pass", Compile, "restricted", {}),
    (
        "mask-limit-with-except-replacement",
        "try:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n"
        "except TypeError:\n    pass\nreturn 'escaped'",
        Limit,
        "steps",
        {"steps": 1000},
    ),
    (
        "mask-policy-with-except-replacement",
        "try:\n    try:\n        getattr(1, '__class__')\n    except undefined:\n        pass\n"
        "except NameError:\n    pass\nreturn 'escaped'",
        Policy,
        "attribute",
        {},
    ),
    # -- imports
    ("import-os", "import os", Policy, "import", {}),
    ("import-os-path", "import os.path", Policy, "import", {}),
    ("from-os", "from os import path", Policy, "import", {}),
    ("import-sys", "import sys", Policy, "import", {}),
    ("importlib", "import importlib\nimportlib.import_module('os')", Policy, "import", {}),
    ("dunder-import", "__import__('os')", Compile, "restricted", {}),
    ("star-import", "from math import *", Compile, "restricted", {}),
    ("relative-import", "from . import secrets", Policy, "import", {}),
    ("submodule", "import json.decoder", Policy, "import", {}),
    ("json-codecs", "import json\njson.codecs.open('/etc/passwd')", Policy, "import", {}),
    ("from-json-decoder", "from json import decoder", Policy, "import", {}),
    ("datetime-sys", "import datetime\ndatetime.sys.modules['os']", Policy, "import", {}),
    ("decimal-getcontext", "import decimal\ndecimal.getcontext().prec = 2", Policy, "import", {}),
    # -- builtins
    ("builtins-name", "__builtins__['open']", Compile, "restricted", {}),
    ("type-mro", "type(1).__mro__", Compile, "restricted", {}),
    ("type-call", "type(1)", Policy, "builtins", {}),
    ("type-new-class", "type('X', (), {})", Policy, "builtins", {}),
    ("vars", "vars()", Policy, "builtins", {}),
    ("globals", "globals()['_getattr_']", Policy, "builtins", {}),
    ("locals", "locals()", Policy, "builtins", {}),
    ("dir", "dir(1)", Policy, "builtins", {}),
    ("open", "open('/etc/passwd').read()", Policy, "builtins", {}),
    ("eval", "eval('1')", Compile, "restricted", {}),
    ("exec", "exec('x = 1')", Compile, "restricted", {}),
    ("eval-indirect", "[eval][0]('1')", Policy, "builtins", {}),
    ("compile", "compile('1', 'x', 'eval')", Policy, "builtins", {}),
    ("object", "object()", Policy, "builtins", {}),
    ("breakpoint", "breakpoint()", Compile, "restricted", {}),
    ("breakpoint-indirect", "[breakpoint][0]()", Compile, "restricted", {}),
    ("input", "input()", Policy, "builtins", {}),
    ("iter-sentinel", "list(iter(int, 1))", Policy, "builtins", {}),
    ("print-to-file", "print('x', file=log)", Policy, "builtins", {}),
    # -- writes: module poisoning, read-only objects
    ("math-pi", "import math\nmath.pi = 3", Policy, "write", {}),
    ("json-dumps-replace", "import json\njson.dumps = None", Policy, "write", {}),
    ("setattr-module", "import math\nsetattr(math, 'pi', 3)", Policy, "write", {}),
    ("delattr-module", "import re\ndelattr(re, 'compile')", Policy, "write", {}),
    ("decimal-class-attr", "Decimal.prec = 2", Policy, "write", {}),
    ("function-attr", "log.level = 1", Policy, "write", {}),
    ("str-attr", "'x'.y = 1", Policy, "write", {}),
    ("setattr-dunder", "setattr({}, '__class__', int)", Policy, "attribute", {}),
    ("record-read-only", "record.title = 'changed'", Policy, "write", {}),
    ("record-item-read-only", "record['title'] = 'changed'", Policy, "write", {}),
    ("record-private", "getattr(record, '_values')", Policy, "attribute", {}),
    ("record-private-compile", "record._values", Compile, "restricted", {}),
    ("frozen-config-item", "config['k'] = 2", Policy, "write", {}),
    ("frozen-config-attr", "setattr(config, 'k', 2)", Policy, "write", {}),
    ("return-function", "def f():\n    return 1\nreturn f", Policy, "return", {}),
    ("return-generator", "return (i for i in [1])", Policy, "return", {}),
    # -- memory
    ("str-bomb", "'a' * 10**10", Limit, "memory", {}),
    ("list-bomb", "[0] * 10**9", Limit, "memory", {}),
    ("bytes-bomb", "b'x' * 10**10", Limit, "memory", {}),
    ("bytes-alloc", "bytes(10**10)", Limit, "memory", {}),
    ("bytearray-alloc", "bytearray(10**10)", Limit, "memory", {}),
    ("pow-tower", "10**10**10", Limit, "memory", {}),
    ("pow-builtin", "pow(2, 10**9)", Limit, "memory", {}),
    ("pow-modular-huge", "pow(3, 2**10000, 2**10000 + 1)", Limit, "memory", {}),
    ("lshift", "1 << 10**10", Limit, "memory", {}),
    ("int-from-hex", "int('f' * 100000, 16)", Limit, "memory", {}),
    ("int-from-bytes", "int.from_bytes(b'\\xff' * 100000, 'big')", Limit, "memory", {}),
    ("int-to-bytes", "(1).to_bytes(10**10, 'big')", Limit, "memory", {}),
    ("factorial", "import math\nmath.factorial(10**7)", Limit, "memory", {}),
    ("comb", "import math\nmath.comb(10**6, 5 * 10**5)", Limit, "memory", {}),
    ("prod", "import math\nmath.prod([10**1000] * 1000)", Limit, "memory", {}),
    ("round-negative", "round(5, -10**7)", Limit, "memory", {}),
    ("range-huge", "range(10**12)", Limit, "memory", {}),
    ("for-range-huge", "for i in range(10**12):\n    pass", Limit, "memory", {}),
    ("list-range", "list(range(10**9))", Limit, "memory", {}),
    ("dict-comp-range", "{i: i for i in range(10**9)}", Limit, "memory", {}),
    ("join", "','.join(['x' * 10**6] * 1000)", Limit, "memory", {}),
    ("ljust", "'x'.ljust(10**9)", Limit, "memory", {}),
    ("type-level-ljust", "str.ljust('x', 10**9)", Limit, "memory", {}),
    ("zfill", "'1'.zfill(10**9)", Limit, "memory", {}),
    ("expandtabs", "('\\t' * 1000).expandtabs(10**6)", Limit, "memory", {}),
    ("replace", "('a' * 1000).replace('a', 'b' * 10**6)", Limit, "memory", {}),
    ("translate", "('a' * 1000).translate({97: 'b' * 10**6})", Limit, "memory", {}),
    ("fstring-width", "f'{1:1000000000}'", Limit, "memory", {}),
    ("fstring-precision", "f'{1.5:.1000000000f}'", Limit, "memory", {}),
    ("fstring-dynamic-width", "w = 10**9\nf'{1:{w}}'", Limit, "memory", {}),
    ("fstring-concat", "s = 'x' * 10**6\nf'{s}{s}'", Limit, "memory", {}),
    ("format-builtin", "format(1, '1000000000')", Limit, "memory", {}),
    ("percent-width", "'%1000000000d' % 1", Limit, "memory", {}),
    ("percent-star", "'%*d' % (10**9, 1)", Limit, "memory", {}),
    ("percent-many", "s = 'x' * 10**6\n('%s' * 100) % ((s,) * 100)", Limit, "memory", {}),
    ("concat-doubling", "s = 'x'\nwhile True:\n    s = s + s", Limit, "memory", {}),
    ("inplace-doubling", "s = 'x'\nwhile True:\n    s += s", Limit, "memory", {}),
    ("list-extend-self", "x = [1]\nwhile True:\n    x.extend(x)", Limit, "memory", {}),
    ("list-slice-grow", "x = [1]\nwhile True:\n    x[:0] = x", Limit, "memory", {}),
    ("list-imul", "x = [0]\nwhile True:\n    x *= 2", Limit, "memory", {}),
    ("starred-grow", "x = [1]\nwhile True:\n    x = [*x, *x]", Limit, "memory", {}),
    ("bytearray-extend", "x = bytearray(b'x')\nwhile True:\n    x.extend(x)", Limit, "memory", {}),
    ("sum-lists", "sum([[0] * 1000] * 2000, [])", Limit, "memory", {}),
    ("dag-fstring", DAG + "f'{x}'", Limit, "memory", {}),
    ("dag-repr", DAG + "repr(x)", Limit, "memory", {}),
    ("dag-json", DAG + "import json\njson.dumps(x)", Limit, "memory", {}),
    ("dag-log", DAG + "log(x)", Limit, "memory", {}),
    ("dag-print", DAG + "print(x)", Limit, "memory", {}),
    ("dag-percent", DAG + "'%s' % (x,)", Limit, "memory", {}),
    ("json-indent", "import json\njson.dumps([1], indent=10**9)", Limit, "memory", {}),
    ("re-sub-empty", "import re\nre.sub('', 'x' * 100000, 'y' * 100000)", Limit, "memory", {}),
    (
        "re-pattern-sub",
        "import re\nre.compile('y').sub('x' * 100000, 'y' * 100000)",
        Limit,
        "memory",
        {},
    ),
    ("re-expand", "import re\nm = re.match('(a*)', 'a' * 10**5)\nm.expand('\\\\1' * 1000)", Limit, "memory", {}),
    ("decimal-exponent", "int(Decimal('1e100000000'))", Limit, "memory", {}),
    ("decimal-digits", "Decimal('9' * 100000)", Limit, "memory", {}),
    (
        "memory-growth",
        "xs = []\nfor i in range(100000):\n    xs.append([i] * 100000)",
        Limit,
        "memory",
        {"max_memory": 64 * 2**20, "timeout": 30},
    ),
    # -- CPU and time
    ("while-true", "while True:\n    pass", Limit, "steps", {}),
    ("while-true-continue", "while True:\n    continue", Limit, "steps", {}),
    ("for-range-steps", "for i in range(10**6):\n    pass", Limit, "steps", {"steps": 10_000}),
    ("nested-loops", "for i in range(1000):\n    for j in range(1000):\n        pass", Limit, "steps", {"steps": 100_000}),
    ("genexp-infinite", INFINITE + "sum(x for x in g())", Limit, "steps", {}),
    ("list-infinite-generator", INFINITE + "list(g())", Limit, "steps", {}),
    ("dict-comp-infinite", INFINITE + "{i: i for i in g()}", Limit, "steps", {}),
    ("set-comp-steps", "{i for i in range(10**6)}", Limit, "steps", {"steps": 10_000}),
    ("map-lambda", INFINITE + "list(map(lambda x: x, g()))", Limit, "steps", {}),
    ("while-true-time", "while True:\n    pass", Limit, "time", {"steps": 10**12, "timeout": 0.2}),
    ("recursion", "def f(n):\n    return f(n + 1)\nf(0)", Limit, "recursion", {}),
    ("lambda-recursion", "f = lambda n: f(n + 1)\nf(0)", Limit, "recursion", {}),
    ("mutual-recursion", "def a(n):\n    return b(n)\ndef b(n):\n    return a(n)\na(0)", Limit, "recursion", {}),
    ("generator-recursion", "def g():\n    yield from g()\nlist(g())", Limit, "recursion", {}),
    ("json-deep-nesting", "import json\njson.loads('[' * 100000 + ']' * 100000)", Limit, "recursion", {}),
    ("nested-tuples", "t = ()\nfor i in range(5000):\n    t = (t,)\nhash(t)", Limit, "recursion", {}),
    ("nested-tuples-zip", "t = ()\nfor i in range(5000):\n    t = next(zip([t]))", Limit, "recursion", {}),
    ("nested-tuples-items", "t = ()\nfor i in range(5000):\n    t = {0: t}.popitem()", Limit, "recursion", {}),
    ("nested-lambda-args", "f = lambda *a: a\nt = ()\nfor i in range(5000):\n    t = f(t)", Limit, "recursion", {}),
    ("chained-maps", "m = iter([1])\nfor i in range(5000):\n    m = map(abs, m)\nnext(m)", Limit, "recursion", {}),
    # -- regular expressions run on RE2 (linear time); what it lacks is refused clearly
    ("re-debug", "import re\nre.compile('a', 128)", Policy, "regex", {}),
    ("re-backreference", "import re\nre.compile('(a)\\\\1')", Policy, "regex", {}),
    ("re-lookahead", "import re\nre.search('a(?=b)', 'ab')", Policy, "regex", {}),
    ("re-lookbehind", "import re\nre.search('(?<!a)b', 'ab')", Policy, "regex", {}),
    ("re-verbose", "import re\nre.compile('a # comment', 64)", Policy, "regex", {}),
    ("re-match-re", "import re\nm = re.match('a', 'a')\nm.re()", Policy, "attribute", {}),
    ("re-findall-empty-time", "import re\nfor i in range(100):\n    re.findall('', 'a' * 1000000)",
     Limit, "time", {"timeout": 0.3}),
    # -- C-level work from small input (issue 18)
    ("str-of-big-list", "str(['a' * 999999] * 300)", Limit, "memory", {}),
    ("str-of-dag", DAG + "str(x)", Limit, "memory", {}),
    ("translate-list-table", "('a' * 100000).translate(['x' * 1000] * 128)", Limit, "memory", {}),
    ("translate-odd-table", "('a' * 100000).translate(range(128))", None, None, {}),
    ("json-loads-size", "import json\njson.loads('[' + '1,' * 600000 + '1]')", Limit, "memory", {}),
    ("json-loads-time", "import json\ntext = json.dumps([{'a': 1, 'b': [1, 2]}] * 10000)\n"
     "for i in range(1000):\n    json.loads(text)", Limit, "time", {"timeout": 0.3}),
    ("json-dumps-time", "import json\nx = [{'a': 1, 'b': [1, 2]}] * 20000\n"
     "for i in range(1000):\n    json.dumps(x)", Limit, "time", {"timeout": 0.3}),
    ("join-time", "x = ['a' * 1000] * 900\nfor i in range(100000):\n    ''.join(x)", Limit, "time",
     {"timeout": 0.3, "steps": 10**9}),
    ("repr-time", "x = ['a' * 1000] * 900\nfor i in range(100000):\n    repr(x)", Limit, "time",
     {"timeout": 0.3, "steps": 10**9}),
]


def _api():
    return sandbox.build_api({"title": "Printer broken"}, config={"k": [1, 2]})


@pytest.mark.parametrize(
    "source, error, guard, limits", [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_escape_is_stopped(source, error, guard, limits):
    name = "tests/escape.py"
    if error is None:  # refused with an ordinary script error
        error, guard = sandbox.ScriptRuntimeError, None
    with pytest.raises(error) as info:
        script = sandbox.compile_snippet(source, name)
        sandbox.run(script, api=_api(), limits=sandbox.Limits(**limits))
    assert info.value.guard == guard, info.value.message
    assert info.value.script == name
    if error is not Compile and guard != "return":
        assert isinstance(info.value.line, int) and info.value.line >= 1


def test_corpus_is_large_and_unique():
    ids = [case[0] for case in CASES]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids)


def test_module_poisoning_does_not_reach_other_runs_or_the_real_module():
    attempts = [
        "import math\nmath.pi = 3",
        "import json\njson.dumps = lambda obj: 'pwned'",
        "import math\nsetattr(math, 'sqrt', abs)",
        "Decimal.quantize = None",
    ]
    for source in attempts:
        with pytest.raises(Policy):
            sandbox.run(sandbox.compile_snippet(source, "tests/poison.py"))

    check = sandbox.compile_snippet(
        "import math, json\nreturn math.pi, json.dumps([1]), math.sqrt(16), Decimal('1.25').quantize(Decimal('0.1'))",
        "tests/victim.py",
    )
    pi, dumped, root, rounded = sandbox.run(check)
    assert pi == math.pi == 3.141592653589793
    assert dumped == json.dumps([1]) == "[1]"
    assert root == 4.0
    assert str(rounded) == "1.2"


def test_script_globals_do_not_leak_between_runs():
    script = sandbox.compile_script("seen = []\ndef hook(x):\n    seen.append(x)\n    return list(seen)", "tests/g.py")
    assert sandbox.run(script, "hook", args=(1,)) == [1]
    assert sandbox.run(script, "hook", args=(2,)) == [2]


def test_shared_frozen_data_cannot_be_changed_by_one_run_for_the_next():
    config = sandbox.freeze({"rates": {"vat": 20}, "codes": ["a"]})
    writer = sandbox.compile_snippet("config['rates']['vat'] = 0", "tests/w.py")
    with pytest.raises(Policy) as info:
        sandbox.run(writer, api={"config": config})
    assert info.value.guard == "write"
    reader = sandbox.compile_snippet("return config['rates']['vat'], list(config['codes'])", "tests/r.py")
    assert sandbox.run(reader, api={"config": config}) == (20, ["a"])


def test_print_goes_to_the_run_log_not_stdout(capsys):
    reports = []
    script = sandbox.compile_snippet("print('hello', 42)\nprint('world')\nreturn printed", "tests/p.py")
    assert sandbox.run(script, on_report=reports.append) == "hello 42\nworld\n"
    assert capsys.readouterr().out == ""
    assert reports[0].logs == ("hello 42", "world")


def test_script_code_cannot_run_after_its_run_ended():
    kept = []
    script = sandbox.compile_snippet("def callback():\n    return 1\nkeep(callback)", "tests/k.py")
    sandbox.run(script, api={"keep": kept.append})
    with pytest.raises(sandbox.errors.Interrupt) as info:
        kept[0]()
    assert info.value.guard == "context"


@pytest.mark.parametrize(
    "source",
    [
        "re.match('(a|a)+$', 'a' * 26 + 'b')",
        "re.search('a*a*a*a*a*a*c', 'a' * 60)",
        "re.match('(a+)+$', 'a' * 30 + 'b')",
        "re.compile('(\\\\w+\\\\s?)*$').match('word ' * 20 + '!')",
        "re.search('(.*a){20}', 'a' * 50 + 'b')",
    ],
)
def test_catastrophic_patterns_run_in_linear_time(source):
    # Python's engine backtracks for minutes on these; RE2 answers at once.
    import time

    started = time.perf_counter()
    script = sandbox.compile_snippet(f"import re\nm = {source}\nreturn m is None", "tests/redos.py")
    sandbox.run(script)
    assert time.perf_counter() - started < 0.5


def test_host_objects_show_no_memory_address():
    source = (
        "def f():\n    pass\n"
        "return [repr(log), str(find), f'{find}', f'{find!r}', '%s' % (find,), str([f]), repr(f)]"
    )
    texts = sandbox.run(sandbox.compile_snippet(source, "tests/addr.py"), api=sandbox.build_api(find=lambda: []))
    assert len(texts) == 7
    for text in texts:
        assert "0x" not in text, text
    assert "find" in texts[1]
