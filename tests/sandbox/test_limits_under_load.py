"""Issue 18's bypasses, run as dry runs on a real threaded HTTP server: each is stopped
within its limit while a plain request to the same server keeps answering in under 100 ms."""
import json
import threading
import time
import urllib.request

import pytest
from werkzeug.serving import make_server

from runtime.core.config import Settings
from runtime.web import create_app

PORT = 58651

SCRIPT = '''
import re
import json


def regex_alternation(record):
    return re.match("(a|a)+$", "a" * 26 + "b") is None


def regex_stars(record):
    return re.search("a*a*a*a*a*a*c", "a" * 60) is None


def str_of_list(record):
    return len(str(["a" * 999999] * 300))


def translate_list(record):
    return len(("a" * 100000).translate(["x" * 1000] * 128))


def json_loads_big(record):
    text = json.dumps(["abcdefgh"] * 90000)
    for i in range(30):
        json.loads(text)


def json_loads_many(record):
    text = json.dumps([{"a": 1, "b": [1, 2]}] * 5000)
    for i in range(100000):
        json.loads(text)


def notify_big(record):
    for i in range(1000):
        notify("admin", "hello", "x" * 1000000)


def notify_many(record):
    for i in range(100000):
        notify("admin", "hello")
'''

# function -> (guard that stops it or None when it now just works, seconds it may take)
CASES = {
    "regex_alternation": (None, 1.0),
    "regex_stars": (None, 1.0),
    "str_of_list": ("memory", 1.0),
    "translate_list": ("memory", 1.0),
    "json_loads_big": ("memory", 1.0),
    "json_loads_many": ("time", 3.0),
    "notify_big": ("memory", 1.0),
    "notify_many": ("messages", 1.0),
}


def app_doc():
    return {
        "app": {"name": "probe", "title": "Probe", "roles": [{"name": "member"}]},
        "entities": {"item": {"title": "Item", "fields": {"title": {"type": "string"}},
                              "permissions": {"read": ["member"], "create": ["member"], "update": ["member"]}}},
        "scripts": {"s.py": SCRIPT},
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import make_loom

    home = tmp_path_factory.mktemp("load")
    loom = make_loom(f"sqlite:///{home / 'loom.db'}", home / "files")
    loom.store.publish(app_doc(), author="tester")
    uid = loom.accounts.create_user("admin", "s3cret-pass", is_admin=True)
    token = loom.accounts.issue_token(uid)
    app = create_app(Settings(home, loom.database_url), loom)
    import gc

    # As a production server does after start-up (docs/decisions/0018): the objects of the app
    # leave the collector's generations, so a script making many objects does not trigger
    # full collections that walk the whole heap while holding the interpreter.
    gc.freeze()
    httpd = make_server("127.0.0.1", PORT, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{PORT}", token
    httpd.shutdown()
    loom.engine.dispose()


def call(base, token, path, body=None):
    request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("function", list(CASES))
def test_a_bypass_is_stopped_while_the_server_keeps_serving(server, function):
    base, token = server
    guard, allowed = CASES[function]
    out, elapsed, latencies = _while_probing(base, token, lambda: call(
        base, token, "/api/v1/probe/item/dry-run", {"script": f"s.py:{function}", "data": {"title": "x"}}))
    if guard is None:
        assert out["ok"] is True and out["result"] is True, out
    else:
        assert out["ok"] is False, out
        assert out["error"]["script"]["guard"] == guard, out["error"]
    assert elapsed < allowed, elapsed
    _assert_answered_quickly(latencies)


TEMPLATES = {
    "big-pow": "{{ (9 ** 9999999)|string|length }}",
    "string-times": "{{ 'a' * 200000000 }}",
    "center": "{{ 'a'|center(300000000) }}",
}


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_a_template_bypass_is_stopped_while_the_server_keeps_serving(server, name):
    """The server runs in this process: a notification template rendered here holds the same
    interpreter its requests need."""
    from runtime.behaviour.notifications import TemplateFailed, render

    base, token = server

    def render_evil():
        try:
            render(name, "body", TEMPLATES[name], "ru", {})
        except TemplateFailed as exc:
            return exc
        return None

    failed, elapsed, latencies = _while_probing(base, token, render_evil)
    assert isinstance(failed, TemplateFailed) and failed.extra["guard"] == "memory", failed
    assert elapsed < 1.0, elapsed
    _assert_answered_quickly(latencies)


def _while_probing(base, token, work):
    """Run ``work()`` while a thread GETs a plain page every 20 ms; its result, seconds and the
    probes' latencies."""
    call(base, token, "/api/v1/apps")  # warm
    latencies, done = [], threading.Event()

    def probe():
        while not done.is_set():
            started = time.perf_counter()
            call(base, token, "/api/v1/apps")
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    started = time.perf_counter()
    try:
        out = work()
    finally:
        elapsed = time.perf_counter() - started
        time.sleep(0.05)
        done.set()
        prober.join()
    return out, elapsed, latencies


def _assert_answered_quickly(latencies):
    # Run alone, every probe answers in under 100 ms (the worst seen: ~40 ms). Under
    # ``pytest -n`` on a two-core machine the other workers and the script itself take the
    # CPU too (nine in ten under 130 ms, the worst 215 ms, seen). A server the script
    # stopped would keep a probe waiting for the script's whole run (1-3 s), so the worst
    # probe is allowed 1 s and nine in ten must be under 250 ms.
    ranked = sorted(latencies)
    assert ranked and ranked[int(len(ranked) * 0.9) - 1] < 0.25 and ranked[-1] < 1.0, ranked[-3:]
