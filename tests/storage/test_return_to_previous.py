"""A transition to ``$previous`` (docs/metadata.md, "Statuses and transitions"): the record goes
back to the status it came from, read from its status history, on SQLite and PostgreSQL."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from metamodel import MetadataError
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app
from tests.api.conftest import Client

URL = "/api/v1/flow/task"

DOC = {
    "app": {"name": "flow", "title": "Flow", "roles": [{"name": "worker"}]},
    "entities": {"task": {
        "title": "Task",
        "fields": {"title": {"type": "string", "required": True}},
        "statuses": [
            {"name": "registered", "category": "open", "initial": True},
            {"name": "in_work", "category": "in_work"},
            {"name": "on_hold", "category": "waiting"},
            {"name": "waiting", "category": "waiting"},
            {"name": "done", "category": "done"},
        ],
        "transitions": [
            {"name": "take", "from": "registered", "to": "in_work"},
            {"name": "hold", "from": ["registered", "in_work"], "to": "on_hold"},
            {"name": "ask", "from": ["registered", "in_work", "on_hold"], "to": "waiting"},
            {"name": "back", "title": {"ru": "Вернуть", "en": "Back"}, "from": ["on_hold", "waiting"],
             "to": "$previous"},
            {"name": "finish", "from": "in_work", "to": "done"},
        ],
    }},
}


@pytest.fixture
def api(loom, tmp_path):
    loom.store.publish(copy.deepcopy(DOC), author="t")
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    uid = loom.accounts.create_user("boss", "pw-pw-pw-pw", is_admin=True)
    return Client(app.test_client(), loom.accounts.issue_token(uid))


def fire(api, record_id: int, name: str):
    return api.post(f"{URL}/{record_id}/transitions/{name}", {})


def test_back_goes_to_the_status_the_record_came_from(api):
    task = api.post(URL, {"title": "Починить принтер"}).get_json()
    for name in ("take", "hold", "ask"):
        assert fire(api, task["id"], name).status_code == 200
    back = fire(api, task["id"], "back")
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["status"] == "on_hold"  # waiting was entered from on_hold
    again = fire(api, task["id"], "back")  # a second return unwinds once more: on_hold came from in_work
    assert again.get_json()["status"] == "in_work"
    history = api.get(f"{URL}/{task['id']}/history").get_json()
    assert [(h["from"], h["to"], h["transition"]) for h in history] == [
        ("registered", "in_work", "take"), ("in_work", "on_hold", "hold"), ("on_hold", "waiting", "ask"),
        ("waiting", "on_hold", "return:back"), ("on_hold", "in_work", "return:back")]


def test_a_plain_transition_back_and_forth_is_not_a_return(api):
    """A record sent to on_hold from registered returns there, even after earlier moves elsewhere."""
    task = api.post(URL, {"title": "Заявка"}).get_json()
    fire(api, task["id"], "hold")
    assert fire(api, task["id"], "back").get_json()["status"] == "registered"
    fire(api, task["id"], "ask")
    assert fire(api, task["id"], "back").get_json()["status"] == "registered"


def test_the_audit_log_records_the_status_returned_to(api, loom):
    task = api.post(URL, {"title": "Заявка"}).get_json()
    fire(api, task["id"], "take")
    fire(api, task["id"], "ask")
    fire(api, task["id"], "back")
    a = platform.audit
    with loom.engine.connect() as c:
        last = c.execute(select(a.c.before, a.c.after).where(a.c.action == "transition", a.c.app == "flow",
                                                             a.c.record_id == task["id"])
                         .order_by(a.c.seq.desc())).first()
    assert last.before["status"] == "waiting"
    assert last.after["status"] == "in_work" and last.after["transition"] == "back"


def test_a_record_with_no_previous_status_cannot_return(api, loom):
    """``back`` is allowed from on_hold; a record put there directly by the system has no history."""
    created = loom.records.create("flow", "task", {"title": "Импорт", "status": "on_hold"})
    refused = fire(api, created["id"], "back")
    assert refused.status_code == 409
    assert "has not been in another status yet" in refused.get_json()["detail"]
    assert api.get(f"{URL}/{created['id']}").get_json()["status"] == "on_hold"


def test_publish_checks_that_the_sources_can_be_returned_from(loom):
    doc = copy.deepcopy(DOC)
    transitions = doc["entities"]["task"]["transitions"]
    transitions.append({"name": "undo", "from": "*", "to": "$previous"})
    transitions.append({"name": "undo_done", "from": ["done", "registered"], "to": "$previous"})
    transitions.append({"name": "typo", "from": "in_work", "to": "prevous"})
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="t")
    text = str(err.value)
    assert "transitions[5].from: a transition to $previous needs named source statuses, not '*'" in text
    # done is entered from in_work; nothing leads into registered, the initial status
    assert "transitions[6].from: no transition leads into 'registered' from another status" in text
    assert "'done'" not in text.split("transitions[6].from:")[1].split("\n")[0]
    assert "transitions[7].to: unknown status 'prevous'" in text and "$previous" in text
