"""The plugin API, exercised by a throwaway plugin installed from a test folder.

``stamps_site/`` is what ``pip install`` leaves in site-packages: the package
``loom_stamps`` and its ``.dist-info`` with an entry point in ``loom.plugins``
(plus ``loom-broken``, whose entry point names a module that does not exist).
Putting the folder on the path installs both, as far as Python's entry points
can tell. The plugin adds a page (real HTTP through a served app, with the
shared layout, sign-in and CSRF), a CLI command (a real ``loom`` process), two
script functions (called by a published app's hook), a record-event subscriber,
a job, a metadata kind and an inbound channel.
"""
from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from metamodel import MetadataError, read_folder
from runtime.core.config import Settings
from runtime.data.records import Actor
from runtime.errors import LoomError, ValidationFailed
from runtime.extension import PluginHost, hookimpl
from runtime.web import create_app
from tests.conftest import ROOT, make_loom

HERE = Path(__file__).resolve().parent
SITE = HERE / "stamps_site"
APP = HERE / "stamps_app"
PASSWORD = "stamps-pass-1"


@pytest.fixture
def installed(monkeypatch):
    """The stamps plugin (and the broken one) installed for this test."""
    monkeypatch.syspath_prepend(str(SITE))
    import loom_stamps
    loom_stamps.HEARD.clear()
    return loom_stamps


@pytest.fixture
def stamps(installed, db_url, tmp_path):
    """A Loom with the plugin, the stamps app published, an agent (ann) and a guest (gus)."""
    loom = make_loom(db_url, tmp_path / "files")
    loom.store.install(APP, author="tester")
    loom.accounts.create_user("ann", PASSWORD, roles=["stamps:agent"], email="ann@example.com")
    loom.accounts.create_user("gus", PASSWORD, roles=["stamps:guest"])
    yield loom
    loom.engine.dispose()


def as_user(loom, username: str) -> Actor:
    return loom.actor(username)


# ---------------------------------------------------------------------- discovery
def test_an_installed_plugin_is_found_and_a_broken_one_reported(installed):
    host = PluginHost()
    states = {i.name: (i.state, i.dist, i.version) for i in host.infos}
    assert states["stamps"] == ("enabled", "loom-stamps", "0.1")
    assert states["broken"][0] == "failed"
    assert states["designer"][0] == states["email"][0] == "enabled"  # the platform's own parts are plugins too
    [failure] = host.failures
    assert failure.name == "broken" and "No module named 'loom_broken_missing_module'" in failure.error


def test_a_disabled_plugin_stays_out(installed):
    host = PluginHost(disabled={"stamps"})
    assert "stamps" not in host.enabled
    assert {i.name: i.state for i in host.infos}["stamps"] == "disabled"
    assert "stamp" not in host.script_functions()


def test_a_plugin_failing_inside_a_hook_is_reported_and_the_others_still_answer(installed):
    class Faulty:
        @staticmethod
        def loom_cli_commands():
            raise RuntimeError("boom")

    Faulty.loom_cli_commands = hookimpl(Faulty.loom_cli_commands)
    host = PluginHost(extra=[("faulty", Faulty)])
    assert "stamp" in [c.name for c in host.cli_commands()]  # the faulty plugin's commands are left out
    assert any(f.name == "faulty" and "boom" in f.error for f in host.failures)


# ---------------------------------------------------------------------- a page over real HTTP
class Client:
    """A cookie-keeping HTTP client for a served app: what a browser does, minus the rendering."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, form: dict) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        return self._open(urllib.request.Request(self.base + path, data=data, method="POST"))

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def token(self, html: str) -> str:
        return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

    def sign_in(self, username: str) -> None:
        _, page = self.get("/login")
        status, _ = self.post("/login", {"username": username, "password": PASSWORD, "csrf_token": self.token(page)})
        assert status == 200  # followed the redirect to the home page


@pytest.fixture
def served(stamps, tmp_path):
    from werkzeug.serving import make_server
    app = create_app(Settings(tmp_path, stamps.database_url, secret="plugin-tests"), stamps)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_the_plugin_page_has_the_layout_sign_in_and_csrf(served, stamps):
    browser = Client(served)
    status, page = browser.get("/stamps/")
    assert status == 200 and 'name="username"' in page  # not signed in: the sign-in page
    browser.sign_in("ann")
    status, page = browser.get("/stamps/")
    assert status == 200 and 'id="stamps-title"' in page
    assert 'class="topbar"' in page and ">Штампы<" in page  # the shared layout: top bar, the apps in the sidebar
    status, _ = browser.post("/stamps/notes", {"text": "без токена"})
    assert status == 400  # the platform's CSRF protection covers the plugin's forms
    status, page = browser.post("/stamps/notes", {"text": "с токеном", "csrf_token": browser.token(page)})
    assert status == 200 and "<li>с токеном</li>" in page
    [note] = stamps.records.find("stamps", "note")
    assert note["created_by"] == stamps.actor("ann").id  # made through the record service, as ann
    assert note["stamped"] == "[stamps:ann] с токеном"  # and the app's hook ran on it


# ---------------------------------------------------------------------- CLI
def loom_cli(*args, tmp_path, site=True):
    env = {**os.environ, "LOOM_HOME": str(tmp_path / "cli-home")}
    if site:
        env["PYTHONPATH"] = os.pathsep.join([str(SITE), str(ROOT)])
    return subprocess.run([sys.executable, "-c", "import sys; from runtime.cli import main; sys.exit(main())",
                           *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_the_plugin_command_runs_in_a_real_loom_process(tmp_path):
    done = loom_cli("stamp", "hello", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stamped: HELLO"
    assert "stamp " in loom_cli("--help", tmp_path=tmp_path).stdout
    without = loom_cli("stamp", "hello", tmp_path=tmp_path, site=False)
    assert without.returncode != 0 and "No such command 'stamp'" in without.stderr


def test_plugins_list_shows_versions_states_and_failures(tmp_path):
    done = loom_cli("plugins", "list", tmp_path=tmp_path)
    assert done.returncode == 0
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert lines["stamps"][1:4] == ["loom-stamps", "0.1", "enabled"]
    assert lines["broken"][3] == "failed" and lines["designer"][3] == "enabled"
    assert "error: plugin 'broken': cannot be loaded" in done.stderr
    disabled = subprocess.run(
        [sys.executable, "-c", "import sys; from runtime.cli import main; sys.exit(main())", "plugins", "list"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT)]), "LOOM_DISABLED_PLUGINS": "stamps"})
    assert "disabled" in next(line for line in disabled.stdout.splitlines() if line.startswith("stamps"))


# ---------------------------------------------------------------------- script functions
def test_a_published_apps_hook_calls_the_plugin_script_functions(stamps):
    ann = as_user(stamps, "ann")
    first = stamps.records.create("stamps", "note", {"title": "первая"}, ann)
    assert first["stamped"] == "[stamps:ann] первая" and first["counted"] is None
    counted = stamps.records.create("stamps", "note", {"title": "#сколько"}, ann)
    assert counted["counted"] == 1  # the hook runs before the note is written: only the first is visible


def test_a_script_function_with_roles_refuses_others_with_a_reason(stamps):
    with pytest.raises(LoomError) as info:
        stamps.records.create("stamps", "note", {"title": "#сколько"}, as_user(stamps, "gus"))
    script = info.value.extra["script"]  # what the analyst sees: the script, the line and why
    assert script["name"] == "stamps/scripts/notes.py" and script["line"] == 7
    assert "count_notes() may be called by agent only; gus holds none of these roles" in script["message"]
    assert stamps.records.find("stamps", "note") == []  # nothing was written


# ---------------------------------------------------------------------- record events
def test_subscribers_hear_each_kind_of_change_after_it_commits(stamps, installed):
    ann = as_user(stamps, "ann")
    note = stamps.records.create("stamps", "note", {"title": "a"}, ann)
    # the subscriber's job (in-process here) has marked the new note seen, through the record service
    note = stamps.records.get("stamps", "note", note["id"])
    assert note["seen"] is True and note["row_version"] == 2
    note = stamps.records.update("stamps", "note", note["id"], {"title": "b"}, note["row_version"], ann)
    stamps.workflow.transition("stamps", "note", note["id"], "finish", actor=ann)
    stamps.records.delete("stamps", "note", note["id"], ann)
    stamps.records.restore("stamps", "note", note["id"], ann)
    heard = [e for e in installed.HEARD if e.actor == "ann"]
    assert [e.kind for e in heard] == ["created", "updated", "transition", "deleted", "restored"]
    created, updated, fired = heard[:3]
    assert created.record_id == note["id"] and created.changes["title"] == (None, "a")
    assert updated.changes["title"] == ("a", "b") and "stamped" in updated.changed
    assert (fired.transition, fired.from_status, fired.to_status) == ("finish", "open", "done")
    assert [e.changed for e in installed.HEARD if e.actor == "system"] == [{"seen"}]


def test_a_change_that_rolls_back_is_never_heard_of(stamps, installed):
    ann = as_user(stamps, "ann")
    with pytest.raises(RuntimeError):
        with stamps.engine.begin() as conn:
            stamps.records.create("stamps", "note", {"title": "ghost"}, ann, conn=conn)
            raise RuntimeError("the caller gives up")
    assert installed.HEARD == []
    with stamps.engine.begin() as conn:  # a savepoint rolled back inside a committed transaction
        with conn.begin_nested() as nested:
            stamps.records.create("stamps", "note", {"title": "inner"}, ann, conn=conn)
            nested.rollback()
        stamps.records.create("stamps", "note", {"title": "outer"}, ann, conn=conn)
    assert [e.changes["title"][1] for e in installed.HEARD if e.kind == "created"] == ["outer"]


def test_a_failing_subscriber_does_not_undo_the_change(stamps, installed, monkeypatch):
    @hookimpl
    def explode(event, platform):
        raise RuntimeError("subscriber down")
    monkeypatch.setattr(installed, "loom_record_event", explode)
    fresh = make_loom(stamps.database_url, None)  # registers the patched hook
    note = fresh.records.create("stamps", "note", {"title": "kept"}, as_user(fresh, "ann"))
    assert fresh.records.get("stamps", "note", note["id"])["title"] == "kept"
    assert any(f.name == "stamps" and "subscriber down" in f.error for f in fresh.plugins.failures)
    fresh.engine.dispose()


# ---------------------------------------------------------------------- app declarations and kinds
def test_publishing_refuses_an_app_whose_plugin_is_missing(db_url, tmp_path):
    loom = make_loom(db_url, tmp_path / "files")  # the stamps plugin is not installed here
    with pytest.raises(MetadataError) as info:
        loom.store.install(APP, author="tester")
    text = "\n".join(map(str, info.value.problems))
    assert "app.yaml:4 plugins[0]: the app needs plugin 'stamps', which is not installed" in text
    assert "extensions/stamp_rules.yaml" in text and "'stamp_rules'" in text
    assert "stamps" not in loom.live
    loom.engine.dispose()


def test_a_plugin_metadata_kind_is_validated_with_file_and_line(installed, sqlite_loom):
    doc, source = read_folder(APP)
    doc["extensions"]["stamp_rules"] = {"prefix": "far too long a prefix", "colour": "red"}
    with pytest.raises(MetadataError) as info:
        sqlite_loom.store.validate(doc, source)
    messages = [(p.file, p.path, p.message) for p in info.value.problems]
    assert ("extensions/stamp_rules.yaml", "", "unknown key 'colour'; allowed: prefix, upper") in messages
    assert any(p == "prefix" and "too long" in m for f, p, m in messages)
    published = sqlite_loom.store.install(APP, author="tester")
    assert published.app == "stamps"
    assert sqlite_loom.live["stamps"].app.document["extensions"]["stamp_rules"] == {"prefix": "N", "upper": True}


def test_a_template_naming_an_unknown_channel_is_refused(installed, sqlite_loom):
    doc, source = read_folder(APP)
    doc["notifications"] = {"templates": {"hello": {"subject": "hi", "channels": ["inapp", "emial"]}}}
    with pytest.raises(MetadataError) as info:
        sqlite_loom.store.validate(doc, source)
    [problem] = info.value.problems
    assert problem.file == "notifications.yaml" and problem.path == "templates.hello.channels[1]"
    assert "no notification channel 'emial' (did you mean 'email'?)" in problem.message


# ---------------------------------------------------------------------- inbound channels
def test_an_inbound_message_becomes_a_record_once_and_a_reply_a_comment(stamps, installed):
    platform = stamps_platform(stamps)
    first = installed.receive_mail(platform, "<m1@example.com>", "ann@example.com", "Сломался принтер")
    again = installed.receive_mail(platform, "<m1@example.com>", "ann@example.com", "Сломался принтер")
    assert first["duplicate"] is False and again == {**first, "duplicate": True}
    note = stamps.records.get("stamps", "note", first["record_id"])
    assert note["title"] == "Сломался принтер" and note["created_by"] == stamps.actor("ann").id
    reply = installed.receive_mail(platform, "<m2@example.com>", "outsider@example.org", "Спасибо",
                                   reply_to=first["record_id"])
    assert reply["record_id"] == first["record_id"] and reply["comment_id"] is not None
    with pytest.raises(LoomError, match="no inbound channel 'fax'"):
        from runtime.extension import InboundEvent
        platform.receive(InboundEvent("fax", "stamps", "note", "1", "x"))


def stamps_platform(loom):
    from runtime.extension.platform import Platform
    return Platform(loom)
