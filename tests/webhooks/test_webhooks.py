"""Webhooks (plugins/webhooks): inbound endpoints and outbound webhooks, over real HTTP.

The grid app (``grid_app/``) takes outages from a dispatch system at
``POST /hooks/grid/outage`` (HMAC-signed) and notes from a bot at ``/hooks/grid/note``
(bearer token), and sends its outages to a CRM. The web app is served by werkzeug on
loopback; the CRM is a threaded ``http.server`` that can be told to fail.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import http.server
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from metamodel import MetadataError, read_folder
from runtime import clock
from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import make_loom

APP = Path(__file__).resolve().parent / "grid_app"
SECRET, TOKEN, CRM_SECRET = "dispatch-secret", "bot-token", "crm-secret"


def free_server(factory):
    """A server on the first free port of 58900-58998 (the ports this suite may use)."""
    for port in range(58900, 58999):
        try:
            return factory(port)
        except (OSError, SystemExit):  # werkzeug exits when the port is taken
            continue
    raise RuntimeError("no free port in 58900-58998")


class Receiver:
    """A CRM on loopback: records every call, answers 500 to the first ``fail`` of them."""

    def __init__(self):
        self.calls, self.fail = [], 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                failing = len(receiver.calls) <= receiver.fail
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = free_server(lambda p: http.server.ThreadingHTTPServer(("127.0.0.1", p), Handler))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def grid(db_url, tmp_path, monkeypatch, receiver):
    monkeypatch.setenv("GRID_DISPATCH_SECRET", SECRET)
    monkeypatch.setenv("GRID_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("GRID_CRM_SECRET", CRM_SECRET)
    loom = make_loom(db_url, tmp_path / "files")
    doc, _ = read_folder(APP)
    doc = copy.deepcopy(doc)
    doc["extensions"]["webhooks"]["webhooks"]["crm"]["url"] = receiver.url
    loom.store.publish(doc, author="tester")
    loom.accounts.create_user("root", "root-pass-1", is_admin=True)
    loom.accounts.create_user("dina", "dina-pass-1", roles=["grid:dispatcher"])
    yield loom
    loom.engine.dispose()


@pytest.fixture
def served(grid, tmp_path):
    from werkzeug.serving import make_server
    app = create_app(Settings(tmp_path, grid.database_url, secret="webhook-tests"), grid)
    server = free_server(lambda p: make_server("127.0.0.1", p, app, threaded=True))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def post(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json",
                                                                           **headers})
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, json.loads(body) if exc.headers.get_content_type() == "application/json" else {}


def signed(payload: dict, secret: str = SECRET) -> tuple[bytes, dict]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return body, {"X-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


OUTAGE = {"event_id": "evt-1", "outage": {"id": "D-77", "address": "ул. Ленина, 5", "text": "Нет света",
                                          "households": 120}}


def outages(loom):
    return loom.records.find("grid", "outage", None, ["id"], 100, loom.actor("root"))


def test_a_signed_event_makes_one_record_with_the_mapping_applied(served, grid):
    status, answer = post(f"{served}/hooks/grid/outage", *signed(OUTAGE))
    assert status == 201 and answer["outcome"] == "created"
    [record] = outages(grid)
    assert record["id"] == answer["record_id"]
    assert record["address"] == "г. Энск, ул. Ленина, 5"  # the transform ran on the path's value
    assert record["description"] == "Нет света" and record["households"] == 120 and record["source_id"] == "D-77"
    assert record["status"] == "new"  # made by the record service: the initial status, a number
    assert record["number"].startswith("OUT-")

    status, again = post(f"{served}/hooks/grid/outage", *signed(OUTAGE))  # the sender retries
    assert status == 200 and again == {"outcome": "duplicate", "record_id": record["id"], "comment_id": None}
    assert len(outages(grid)) == 1

    log = grid.inbound.log_lines("webhooks")
    assert [line["outcome"] for line in log] == ["duplicate", "created"]
    assert log[1]["external_id"] == "grid/outage/evt-1" and log[1]["record_id"] == record["id"]


def test_a_bad_signature_is_refused_and_logged(served, grid):
    body, _ = signed(OUTAGE)
    _, forged = signed(OUTAGE, secret="guess")
    assert post(f"{served}/hooks/grid/outage", body, forged)[0] == 401
    assert post(f"{served}/hooks/grid/outage", body, {})[0] == 401
    tampered = json.dumps({**OUTAGE, "event_id": "evt-2"}).encode()
    assert post(f"{served}/hooks/grid/outage", tampered, signed(OUTAGE)[1])[0] == 401  # body changed after signing
    assert outages(grid) == []
    log = grid.inbound.log_lines("webhooks")
    assert [(line["outcome"], line["status"]) for line in log] == [("refused", 401)] * 3
    assert "HMAC-SHA256" in log[0]["detail"]
    assert post(f"{served}/hooks/grid/nowhere", *signed(OUTAGE))[0] == 404


def test_a_bearer_endpoint_comments_on_the_record_found_by_key(served, grid):
    post(f"{served}/hooks/grid/outage", *signed(OUTAGE))
    note = {"message_id": "m-1", "outage_id": "D-77", "text": "Бригада выехала"}
    body = json.dumps(note).encode()
    assert post(f"{served}/hooks/grid/note", body, {"Authorization": "Bearer wrong"})[0] == 401
    status, answer = post(f"{served}/hooks/grid/note", body, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 201 and answer["outcome"] == "commented"
    [record] = outages(grid)
    comments = grid.records.comments("grid", "outage", record["id"], grid.actor("root"))
    assert [c["body"] for c in comments] == ["Бригада выехала"]
    assert post(f"{served}/hooks/grid/note", body, {"Authorization": f"Bearer {TOKEN}"})[1]["outcome"] == "duplicate"
    missing = json.dumps({**note, "message_id": "m-2", "outage_id": "D-0"}).encode()
    assert post(f"{served}/hooks/grid/note", missing, {"Authorization": f"Bearer {TOKEN}"})[0] == 404


def test_an_update_endpoint_changes_the_record_found_by_key_once(served, grid):
    post(f"{served}/hooks/grid/outage", *signed(OUTAGE))
    event = json.dumps({"event_id": "r-1", "outage_id": "D-77", "note": "линия включена"}).encode()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, answer = post(f"{served}/hooks/grid/restored", event, bearer)
    assert status == 201 and answer["outcome"] == "updated"
    [record] = outages(grid)
    assert record["households"] == 0 and record["row_version"] == 2
    comments = grid.records.comments("grid", "outage", record["id"], grid.actor("root"))
    assert [c["body"] for c in comments] == ["Восстановлено: линия включена"]
    assert post(f"{served}/hooks/grid/restored", event, bearer)[1]["outcome"] == "duplicate"
    assert outages(grid)[0]["row_version"] == 2  # the replay changed nothing


def test_a_record_failing_validation_is_refused_with_the_reason(served, grid):
    payload = {"event_id": "evt-9", "outage": {"id": "D-9", "text": "без адреса", "households": "много"}}
    status, answer = post(f"{served}/hooks/grid/outage", *signed(payload))
    assert status == 422 and "households" in answer["error"]
    assert outages(grid) == []
    assert grid.inbound.log_lines("webhooks")[0]["outcome"] == "failed"


def test_outbound_delivery_is_signed_and_retried_until_the_receiver_answers(grid, receiver):
    clock.freeze(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))
    try:
        receiver.fail = 2
        record = grid.records.create("grid", "outage", {"address": "ул. Мира, 1", "households": 3},
                                     grid.actor("dina"))
        assert len(receiver.calls) == 1  # tried at once (no Redis: in-process), refused
        grid.notifier.deliver_pending()
        assert len(receiver.calls) == 1  # not due before the back-off
        clock.advance(dt.timedelta(minutes=1))
        grid.notifier.deliver_pending()
        assert len(receiver.calls) == 2  # second attempt refused too
        clock.advance(dt.timedelta(minutes=4))
        grid.notifier.deliver_pending()
        assert len(receiver.calls) == 2  # the back-off grew to five minutes
        clock.advance(dt.timedelta(minutes=1))
        grid.notifier.deliver_pending()
        assert len(receiver.calls) == 3
        clock.advance(dt.timedelta(hours=2))
        grid.notifier.deliver_pending()
        assert len(receiver.calls) == 3  # delivered once: nothing more goes out
    finally:
        clock.thaw()
    keys = {headers["Idempotency-Key"] for headers, _ in receiver.calls}
    assert len(keys) == 1  # the same delivery id on every attempt
    for headers, body in receiver.calls:
        expected = "sha256=" + hmac.new(CRM_SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Loom-Signature-256"] == expected
    sent = json.loads(receiver.calls[-1][1])
    assert sent["event"] == "created" and sent["record_id"] == record["id"]
    assert sent["record"]["address"] == "ул. Мира, 1"
    [row] = grid.notifier.outbox_rows("webhook")
    assert row["state"] == "sent" and row["attempts"] == 3 and row["record_id"] == record["id"]


def test_outbound_on_listed_fields_and_transitions_only(grid, receiver):
    dina = grid.actor("dina")
    record = grid.records.create("grid", "outage", {"address": "ул. Мира, 1"}, dina)
    grid.records.update("grid", "outage", record["id"], {"description": "не в списке"}, record["row_version"], dina)
    assert len(receiver.calls) == 1  # a field not listed changed: nothing sent
    record = grid.records.get("grid", "outage", record["id"], dina)
    grid.records.update("grid", "outage", record["id"], {"households": 40}, record["row_version"], dina)
    grid.workflow.transition("grid", "outage", record["id"], "take", {}, actor=dina)
    events = [json.loads(body) for _, body in receiver.calls]
    assert [e["event"] for e in events] == ["created", "changed", "transition"]
    assert events[1]["changes"] == {"households": {"old": None, "new": 40}}
    assert events[2]["transition"] == "take" and events[2]["to_status"] == "in_work"


def test_the_delivery_log_is_for_administrators(served, grid):
    post(f"{served}/hooks/grid/outage", *signed(OUTAGE, secret="guess"))
    from tests.plugins.test_plugin_api import Client
    for user, password, allowed in (("dina", "dina-pass-1", False), ("root", "root-pass-1", True)):
        browser = Client(served)
        _, page = browser.get("/login")
        browser.post("/login", {"username": user, "password": password, "csrf_token": browser.token(page)})
        _, home = browser.get("/")
        assert ('id="nav-webhooks"' in home) is allowed  # the top-bar link only for administrators
        status, page = browser.get("/hooks/log")
        assert (status == 200) is allowed, (user, status)
        if allowed:
            assert 'id="received"' in page and "refused" in page and "Журнал вебхуков" in page


def test_publishing_names_the_file_line_and_path_of_a_bad_section(grid):
    doc, _ = read_folder(APP)
    doc = copy.deepcopy(doc)
    doc["extensions"]["webhooks"]["endpoints"]["outage"]["auth"] = {"hmac": "in yaml"}  # a secret in YAML
    with pytest.raises(MetadataError) as err:
        grid.store.publish(doc, author="tester")
    assert "extensions/webhooks.yaml" in str(err.value) and "endpoints.outage.auth" in str(err.value)

    doc, _ = read_folder(APP)
    doc = copy.deepcopy(doc)
    doc["extensions"]["webhooks"]["endpoints"]["outage"]["fields"]["nope"] = "$.x"
    doc["extensions"]["webhooks"]["endpoints"]["outage"]["fields"]["address"]["transform"] = "value +"
    with pytest.raises(MetadataError) as err:
        grid.store.publish(doc, author="tester")
    message = str(err.value)
    assert "endpoints.outage.fields.nope: entity 'outage' has no field 'nope'" in message
    assert "endpoints.outage.fields.address.transform: not an expression" in message


def test_validate_names_the_file_and_line_in_the_app_folder(sqlite_loom, tmp_path):
    import shutil
    folder = tmp_path / "grid"
    shutil.copytree(APP, folder)
    path = folder / "extensions" / "webhooks.yaml"
    path.write_text(path.read_text().replace("events: [created, changed, transition]", "events: [created, deleted]"))
    doc, source = read_folder(folder)
    with pytest.raises(MetadataError) as err:
        sqlite_loom.store.validate(doc, source)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "deleted" in text)
    assert f"extensions/webhooks.yaml:{line}" in str(err.value) and "webhooks.crm.events" in str(err.value)
