"""What a plugin's script function's failures become: a ``LoomError`` of its own status
fails the operation with that status and message; any other exception is logged with the
plugin's name, the function and the traceback, and the run log keeps its class and message
with credentials masked. On SQLite (the host's rules do not depend on the database)."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from runtime.data import tables as platform
from runtime.errors import LoomError
from runtime.extension import PluginHost, ScriptFunction, hookimpl
from tests.conftest import make_loom


class GatewayDown(LoomError):
    status, title = 503, "Service unavailable"


def lookup(call, how):
    if how == "down":
        raise GatewayDown("the address service is down, try again in a minute")
    if how == "bug":
        raise RuntimeError("cannot reach https://svc:pa55@addr.example/v1?api_key=K3Y")
    return how.upper()


class Addresses:
    @staticmethod
    @hookimpl
    def loom_script_functions():
        return [ScriptFunction("normalize", lookup)]


SCRIPT = '''
def fill(record):
    record.address = normalize(record.title)
'''

DOC = {
    "app": {"name": "addr", "title": "Addresses"},
    "entities": {"place": {"title": "Place", "fields": {"title": {"type": "string", "required": True},
                                                        "address": {"type": "string"}},
                           "hooks": {"before_save": "fill.py:fill"}}},
    "scripts": {"fill.py": SCRIPT},
}


@pytest.fixture
def addr(tmp_path):
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.plugins = PluginHost(extra=[("addresses", Addresses)])
    loom.store.publish(DOC, author="t")
    yield loom
    loom.engine.dispose()


def test_a_loom_error_of_the_function_keeps_its_status_and_message(addr):
    assert addr.records.create("addr", "place", {"title": "ok"})["address"] == "OK"
    with pytest.raises(GatewayDown) as info:
        addr.records.create("addr", "place", {"title": "down"})
    assert info.value.status == 503 and info.value.detail == "the address service is down, try again in a minute"


def test_any_other_failure_is_logged_and_kept_masked_in_the_run_log(addr, caplog):
    with caplog.at_level(logging.ERROR, "loom.plugins"), pytest.raises(LoomError) as info:
        addr.records.create("addr", "place", {"title": "bug"})
    assert info.value.status == 500 and "pa55" not in str(info.value.problem())  # the user's safe message
    [record] = [r for r in caplog.records if "normalize() failed" in r.getMessage()]
    assert "plugin 'addresses'" in record.getMessage() and record.exc_info[0] is RuntimeError
    r = platform.script_run
    with addr.engine.connect() as c:
        run = c.execute(select(r.c.error, r.c.message).order_by(r.c.id.desc()).limit(1)).one()
    assert run.error == "RuntimeError"
    assert "normalize() failed (RuntimeError: cannot reach https://***@addr.example/v1?api_key=***)" in run.message
    assert "pa55" not in run.message and "K3Y" not in run.message
