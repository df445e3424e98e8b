"""Privileged hooks and aggregation rules (docs/scripts.md, "Privileged hooks"): system rights
where metadata declares them, the caller's rights everywhere else, and an audit log that names
the user and the hook. Through the REST API on SQLite and PostgreSQL.

Operators see only the records they created, so only a privileged script finds a duplicate
among their colleagues' records.
"""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from metamodel import App, MetadataError
from runtime import clock
from runtime.behaviour.hooks import runs_privileged, script_refs
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app
from tests.api.conftest import Client

SCRIPT = '''
def mark(record):
    """before_save, privileged: note the number of an earlier consumer with the same INN."""
    same = [c for c in find("consumer", where={"inn": record.inn}) if c["id"] != record.get("id")]
    record.duplicate = same[0]["number"] if same else None


def peek(record):
    return len(find("consumer", where={"inn": record.inn}))


def merge(record):
    """A button: tell the earlier consumers with this INN that a duplicate exists."""
    for other in find("consumer", where={"inn": record.inn}):
        if other["id"] != record.id:
            update("consumer", other["id"], {"note": "Дубль: " + record.number})
    return user["username"]
'''

ROWS = {"read": ["operator"], "create": ["operator"], "update": ["operator"],
        "rows": [{"roles": ["operator"], "own": True}]}

DOC = {
    "app": {"name": "crm", "title": "CRM", "roles": [{"name": "operator"}]},
    "entities": {
        "consumer": {
            "title": "Consumer", "number": "CON-{0000}",
            "fields": {"name": {"type": "string", "required": True}, "inn": {"type": "string"},
                       "duplicate": {"type": "string"}, "note": {"type": "string"}},
            "statuses": [{"name": "active", "initial": True}, {"name": "checked"}],
            "transitions": [{"name": "check", "from": "active", "to": "checked", "privileged": True,
                             "actions": [{"run": "dedupe.py:merge"}]}],
            "hooks": {"before_save": "dedupe.py:mark", "privileged": ["before_save"],
                      "actions": [{"name": "peek", "script": "dedupe.py:peek"},
                                  {"name": "peek_all", "script": "dedupe.py:peek", "privileged": True},
                                  {"name": "merge", "script": "dedupe.py:merge"}]},
            "permissions": ROWS,
        },
        "outage": {
            "title": "Outage report",
            "fields": {"street": {"type": "string", "required": True}, "is_cluster": {"type": "boolean"},
                       "cluster": {"type": "link", "entity": "outage"}},
            "aggregations": [{"name": "street", "window": "60 minutes", "match": ["street"], "distinct": "created_by",
                              "min_count": 2, "where": "not is_cluster", "link_field": "cluster",
                              "privileged": True, "parent": {"find": "is_cluster", "set": {"is_cluster": "True"}}}],
            "permissions": ROWS,
        },
    },
    "scripts": {"dedupe.py": SCRIPT},
}


@pytest.fixture
def crm(loom, tmp_path):
    loom.store.publish(copy.deepcopy(DOC), author="t")
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    loom.ids, loom.clients = {}, {}
    for name in ("op1", "op2", "op3"):
        loom.ids[name] = loom.accounts.create_user(name, None, roles=["crm:operator"])
        loom.clients[name] = Client(app.test_client(), loom.accounts.issue_token(loom.ids[name]))
    return loom


def create(crm, who: str, entity: str, **data) -> dict:
    response = crm.clients[who].post(f"/api/v1/crm/{entity}", data)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def audit(crm, *actions) -> list:
    a = platform.audit
    with crm.engine.connect() as c:
        return c.execute(select(a.c.action, a.c.username, a.c.entity, a.c.record_id, a.c.after)
                         .where(a.c.app == "crm", a.c.action.in_(actions)).order_by(a.c.seq)).all()


def test_a_privileged_hook_finds_what_the_user_cannot_see(crm):
    first = create(crm, "op1", "consumer", name="ООО Ромашка", inn="6658000001")
    assert crm.clients["op2"].get(f"/api/v1/crm/consumer/{first['id']}").status_code == 404  # not theirs
    second = create(crm, "op2", "consumer", name="Ромашка", inn="6658000001")
    assert second["duplicate"] == first["number"]  # before_save is privileged
    (read,) = audit(crm, "privileged_read")
    assert (read.username, read.entity, read.record_id) == ("op2", "consumer", None)  # a new record: no id yet
    assert read.after == {"hook": "before_save", "script": "dedupe.py:mark", "read": {"crm.consumer": 1}}


def test_hooks_keep_the_callers_rights_unless_declared(crm):
    create(crm, "op1", "consumer", name="ООО Ромашка", inn="6658000001")
    mine = create(crm, "op2", "consumer", name="Ромашка", inn="6658000001")
    url = f"/api/v1/crm/consumer/{mine['id']}/actions"
    assert crm.clients["op2"].post(f"{url}/peek", {}).get_json()["result"] == 1  # their own only
    assert crm.clients["op2"].post(f"{url}/peek_all", {}).get_json()["result"] == 2
    reads = [r.after for r in audit(crm, "privileged_read")]
    assert [(r["hook"], r["read"]) for r in reads][-1] == ("action:peek_all", {"crm.consumer": 2})
    refused = crm.clients["op2"].post(f"{url}/merge", {})  # not privileged: sees, and changes, only theirs
    assert refused.status_code == 200 and refused.get_json()["result"] == "op2"
    assert not [r for r in audit(crm, "update") if r.after.get("note")]


def test_a_privileged_change_is_the_users_and_names_the_hook(crm):
    first = create(crm, "op1", "consumer", name="ООО Ромашка", inn="6658000001")
    second = create(crm, "op2", "consumer", name="Ромашка", inn="6658000001")
    fired = crm.clients["op2"].post(f"/api/v1/crm/consumer/{second['id']}/transitions/check", {})
    assert fired.status_code == 200, fired.get_json()
    changes = [r for r in audit(crm, "update") if r.record_id == first["id"]]
    assert len(changes) == 1
    change = changes[0]
    assert change.username == "op2"  # on whose behalf
    assert change.after["note"] == f"Дубль: {second['number']}"
    assert change.after["_privileged"] == "transition:check.run (dedupe.py:merge)"
    stored = crm.records.get("crm", "consumer", first["id"])
    assert stored["note"] == f"Дубль: {second['number']}" and stored["updated_by"] == crm.ids["op2"]
    with crm.engine.begin() as c:  # the audit chain still verifies with the marks in it
        from runtime.security.audit import verify
        assert verify(c).ok


def test_a_privileged_aggregation_rule_counts_everyones_records(crm):
    with clock.frozen(clock.now()):
        a = create(crm, "op1", "outage", street="Ленина")
        b = create(crm, "op2", "outage", street="Ленина")
    assert b["cluster"] is not None and crm.records.get("crm", "outage", a["id"])["cluster"] == b["cluster"]
    parent = crm.records.get("crm", "outage", b["cluster"])
    assert parent["is_cluster"] is True and parent["created_by"] == crm.ids["op2"]
    reads = [(r.username, r.record_id, r.after) for r in audit(crm, "privileged_read")]
    assert reads == [("op1", a["id"], {"hook": "aggregation:street", "read": {"crm.outage": 1}}),
                     ("op2", b["id"], {"hook": "aggregation:street", "read": {"crm.outage": 2}})]
    marked = [r.after["_privileged"] for r in audit(crm, "create", "update") if "_privileged" in (r.after or {})]
    assert marked == ["aggregation:street"] * 3  # the parent, then both members linked to it


def test_without_privileged_an_aggregation_rule_sees_what_the_user_sees(crm):
    doc = copy.deepcopy(DOC)
    del doc["entities"]["outage"]["aggregations"][0]["privileged"]
    crm.store.publish(doc, author="t")
    create(crm, "op1", "outage", street="Мира")
    b = create(crm, "op2", "outage", street="Мира")
    assert b["cluster"] is None  # op2 sees one report on Мира: their own
    assert audit(crm, "privileged_read") == []


def test_the_designer_names_the_privileged_hooks_of_a_script(crm):
    app = crm.live["crm"].app
    flags = {path: runs_privileged(app, (file, path)) for (file, path), _ in script_refs(app)}
    assert flags == {"hooks.before_save": True, "hooks.actions[0].script": False,
                     "hooks.actions[1].script": True, "hooks.actions[2].script": False}
    assert App(DOC).entities["consumer"].privileged_hooks == {
        "before_save", "action:peek_all", "transition:check.before", "transition:check.after", "transition:check.run"}


def test_publish_refuses_a_privileged_flag_without_a_script(loom):
    doc = copy.deepcopy(DOC)
    consumer = doc["entities"]["consumer"]
    consumer["hooks"]["privileged"] = ["before_save", "after_save"]
    consumer["fields"]["inn"]["privileged"] = True
    consumer["transitions"].append({"name": "reopen", "from": "checked", "to": "active", "privileged": True})
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="t")
    problems = {p.path: p.message for p in err.value.problems}
    assert problems == {
        "hooks.privileged[1]": "'after_save' is privileged, but consumer has no after_save hook; "
                               "add hooks.after_save: file.py:function",
        "fields.inn.privileged": "privileged applies to a field's validator, script or filter_script, and this field has none of them",
        "transitions[1].privileged": "privileged applies to a transition's before, after and run scripts, "
                                     "and this transition has none"}
