"""The plugin host against plugins that misbehave: a third-party plugin offering a shipped
plugin's names, hooks answering with the wrong type, a misspelled hook, a command named like
one of ``loom``'s own. ``rogue_site/`` holds two installed third-party plugins: ``aardvark``
(registered before every shipped plugin) and ``zebra`` (after it)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.extension import PluginHost, hookimpl
from tests.conftest import ROOT

SITE = Path(__file__).resolve().parent / "rogue_site"


@pytest.fixture
def rogues(monkeypatch):
    monkeypatch.syspath_prepend(str(SITE))
    monkeypatch.delenv("LOOM_AARDVARK_MODE", raising=False)


def failures_of(host, name) -> list[str]:
    return [f.error for f in host.failures if f.name == name]


def state_of(host, name) -> str:
    return {i.name: i.state for i in host.infos}[name]


def test_a_third_party_plugin_never_takes_a_shipped_plugins_name(rogues, monkeypatch):
    monkeypatch.setenv("LOOM_AARDVARK_MODE", "takeover")
    host = PluginHost()
    assert host.owner("loom_notification_channels", "email") == "email"
    assert host.channels()["email"].deliver.__module__ == "plugins.email"
    assert host.owner("loom_metadata_kinds", "documents") == "documents"
    assert host.owner("loom_script_functions", "suggest") == "classifiers"
    errors = failures_of(host, "aardvark")
    assert any("loom_notification_channels: 'email' is already given by plugin 'email'" in e for e in errors)
    assert any("loom_metadata_kinds: 'documents'" in e for e in errors)
    assert any("loom_script_functions: 'suggest'" in e for e in errors)
    assert failures_of(host, "email") == failures_of(host, "documents") == failures_of(host, "classifiers") == []
    assert state_of(host, "aardvark") == "failed" and state_of(host, "email") == "enabled"
    assert host.owner("loom_notification_channels", "fax") == "aardvark"  # what does not clash stays


def test_between_two_third_party_plugins_the_one_registered_second_fails(rogues):
    host = PluginHost()
    assert host.owner("loom_notification_channels", "fax") == "aardvark"
    assert any("'fax' is already given by plugin 'aardvark'" in e for e in failures_of(host, "zebra"))
    assert failures_of(host, "aardvark") == []


@pytest.mark.parametrize(("mode", "answer"), [("single", "a Channel"), ("strings", "a list holding str")])
def test_a_hook_answering_the_wrong_type_fails_its_plugin_not_the_platform(rogues, monkeypatch, mode, answer):
    monkeypatch.setenv("LOOM_AARDVARK_MODE", mode)
    host = PluginHost()
    channels = host.channels()
    assert "email" in channels and host.capabilities().channels >= {"email", "inapp"}
    assert f"hook loom_notification_channels returned {answer}, expected a list of Channel" in \
        failures_of(host, "aardvark")
    assert str(next(f for f in host.failures if f.name == "aardvark")).startswith("plugin 'aardvark': hook ")
    assert host.owner("loom_notification_channels", "fax") == "zebra"


def test_a_misspelled_hook_fails_its_plugin_with_a_suggestion(rogues):
    host = PluginHost()
    assert "implements loom_record_events, which is no Loom hook (did you mean loom_record_event?)" in \
        failures_of(host, "zebra")
    assert state_of(host, "zebra") == "failed"


def test_a_plugin_whose_hook_raised_is_listed_failed():
    class Faulty:
        @staticmethod
        @hookimpl
        def loom_notification_channels():
            raise RuntimeError("boom")

    host = PluginHost(extra=[("faulty", Faulty)])
    assert state_of(host, "faulty") == "enabled"  # nothing asked yet
    host.check()
    assert state_of(host, "faulty") == "failed"
    assert "faulty" in host.enabled  # what else it offers still works


def test_a_command_named_like_loom_s_own_is_reported(rogues):
    host = PluginHost()
    names = [c.name for c in host.cli_commands(reserved={"apps", "run"})]
    assert "zebra" in names and "apps" not in names
    assert "loom_cli_commands: 'apps' is one of loom's own commands; this plugin's 'apps' is left out" in \
        failures_of(host, "zebra")


def test_plugins_list_shows_failed_plugins_and_why(rogues, tmp_path):
    env = {**os.environ, "LOOM_HOME": str(tmp_path / "home"), "LOOM_AARDVARK_MODE": "single",
           "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", "import sys; from runtime.cli import main; sys.exit(main())",
                           "plugins", "list"], check=False, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    states = {line.split()[0]: line.split()[3] for line in done.stdout.splitlines()[1:]}
    assert states["aardvark"] == states["zebra"] == "failed" and states["email"] == "enabled"
    assert "plugin 'aardvark': hook loom_notification_channels returned a Channel" in done.stderr
    assert "plugin 'zebra': loom_cli_commands: 'apps' is one of loom's own commands" in done.stderr
    assert "did you mean loom_record_event?" in done.stderr
