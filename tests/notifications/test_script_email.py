"""E-mail from scripts and schedules (docs/scripts.md, "What a script can use"; docs/behaviour.md,
"Recipients"): ``send()`` through the templates and the outbox, recipients from e-mail fields of
the record or a linked record, ``group:<name>.lead``, and ``users_of_role``/``users_of_group``.

On SQLite and PostgreSQL; mail goes to a real SMTP server (aiosmtpd) on a free local port.
"""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from metamodel import MetadataError
from runtime.behaviour.hooks import ScriptFailed
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app
from tests.api.conftest import Client

from .test_notifications import smtp  # noqa: F401 - the SMTP server fixture

SCRIPT = '''
def answered(record):
    return send("answer", to=["correspondent.email", "reply_to"], cc=["group:office.lead"], record=record)


def forward(record):
    return send("answer", to=["user:head1"], record=record.ref_id, entity="appeal")


def digest():
    waiting = find("appeal", where={"status": "new"}, limit=200)
    sent = send("digest", to=["role:head"], context={"count": len(waiting)})
    return {"sent": sent,
            "heads": [u["username"] for u in users_of_role("head")],
            "office": [u["username"] for u in users_of_group("office")],
            "lead": [u["email"] for u in users_of_group("office.lead")]}


def bad_spec():
    return send("digest", to=["subject"])


def refuse(record):
    reject("the registry is closed today")
'''

DOC = {
    "app": {"name": "office", "title": "Office", "roles": [{"name": "clerk"}, {"name": "head"}]},
    "entities": {
        "correspondent": {"title": "Correspondent", "title_field": "name", "fields": {
            "name": {"type": "string", "required": True}, "email": {"type": "email"}}},
        "appeal": {
            "title": "Appeal", "number": "A-{0000}",
            "fields": {
                "subject": {"type": "string", "required": True},
                "correspondent": {"type": "link", "entity": "correspondent"},
                "reply_to": {"type": "email"},
                "ref_id": {"type": "integer"},
            },
            "statuses": [{"name": "new", "initial": True}, {"name": "answered", "category": "done"}],
            "transitions": [{"name": "answer", "from": "new", "to": "answered", "after": "mail.py:answered",
                             "actions": [{"notify": {"template": "answer", "to": ["correspondent.email"],
                                                     "cc": ["group:office.lead"]}}]},
                            {"name": "answer_late", "from": "new", "to": "answered", "after": "mail.py:answered",
                             "actions": [{"run": "mail.py:refuse"}]}],
            "hooks": {"actions": [{"name": "forward", "script": "mail.py:forward"}]},
            "permissions": {"read": ["clerk", "head"], "create": ["clerk", "head"], "update": ["clerk", "head"],
                            "rows": [{"roles": ["clerk"], "own": True}, {"roles": ["head"]}]},
        },
    },
    "notifications": {"templates": {
        "answer": {"channels": ["email"], "subject": "Ответ по обращению {{ record.number }}",
                   "body": "{{ record.subject }}: ответ готов.\n{{ url }}\n"},
        "digest": {"channels": ["email", "inapp"], "subject": {"ru": "Сводка: {{ count }}", "en": "Digest: {{ count }}"},
                   "body": "Новых обращений: {{ count }}\n"},
    }},
    "schedules": {"schedules": [{"name": "digest", "cron": "0 9 * * 1-5", "script": "mail.py:digest"}]},
    "scripts": {"mail.py": SCRIPT},
}


@pytest.fixture
def office(loom, tmp_path):
    """The office app, its users and group (``office.ids``), and an API client per user."""
    loom.store.publish(copy.deepcopy(DOC), author="t")
    acc = loom.accounts
    ids = {name: acc.create_user(name, "pw-pw-pw-pw", email=f"{name}@city.example", roles=[f"office:{role}"])
           for name, role in (("clerk1", "clerk"), ("clerk2", "clerk"), ("head1", "head"), ("head2", "head"))}
    acc.update_user(ids["head2"], is_active=False)
    ids["office"] = acc.create_group("office", email="office@city.example")
    acc.update_group(ids["office"], lead_id=ids["head1"])
    for name in ("clerk1", "clerk2"):
        acc.add_to_group(ids[name], ids["office"])
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    loom.clients = {name: Client(app.test_client(), acc.issue_token(ids[name])) for name in ("clerk1", "clerk2")}
    loom.ids = ids
    return loom


def outbox(loom, template=None) -> list:
    o = platform.outbox
    query = select(o).order_by(o.c.id)
    with loom.engine.connect() as c:
        return [r for r in c.execute(query).all() if template in (None, r.template)]


def appeal(loom, who="clerk1", **data) -> dict:
    person = loom.records.create("office", "correspondent", {"name": "Иванова Н. П.", "email": "ivanova@mail.example"})
    body = {"subject": "Яма во дворе", "correspondent": person["id"], **data}
    response = loom.clients[who].post("/api/v1/office/appeal", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_transition_script_mails_the_correspondent_and_the_group_lead(office, smtp):
    office.smtp_url = smtp.url
    record = appeal(office, reply_to="ivanova.work@mail.example")
    fired = office.clients["clerk1"].post(f"/api/v1/office/appeal/{record['id']}/transitions/answer", {})
    assert fired.status_code == 200, fired.get_json()
    rows = outbox(office, "answer")
    # the script's message (to the correspondent's and the record's address, lead in copy), then the
    # metadata action's (the same spec syntax: a linked record's e-mail field, group:<name>.lead)
    assert [(r.recipient, list(r.cc)) for r in rows] == [
        ("ivanova@mail.example", ["head1@city.example"]), ("ivanova.work@mail.example", []),
        ("ivanova@mail.example", ["head1@city.example"])]
    assert rows[0].subject == f"Ответ по обращению {record['number']}" and rows[0].record_id == record["id"]
    assert rows[0].body.startswith("Яма во дворе: ответ готов.")
    assert office.notifier.deliver_pending() == 3
    (rcpt, msg), *_ = smtp.messages
    assert rcpt == ["head1@city.example", "ivanova@mail.example"]
    assert (msg["To"], msg["Cc"]) == ("ivanova@mail.example", "head1@city.example")


def test_a_failed_change_sends_nothing(office):
    """The messages are rows of the change's own transaction: the script sent, a later step of the
    same transition refused it, and nothing is left to deliver."""
    record = appeal(office, reply_to="ivanova.work@mail.example")
    refused = office.clients["clerk1"].post(f"/api/v1/office/appeal/{record['id']}/transitions/answer_late", {})
    assert refused.status_code == 422 and "the registry is closed today" in str(refused.get_json())
    assert outbox(office) == []
    assert office.records.get("office", "appeal", record["id"])["status"] == "new"


def test_a_script_may_only_send_about_records_its_user_may_read(office):
    mine = appeal(office, "clerk1")
    theirs = appeal(office, "clerk2")
    office.records.update("office", "appeal", mine["id"], {"ref_id": theirs["id"]}, 1)
    refused = office.clients["clerk1"].post(f"/api/v1/office/appeal/{mine['id']}/actions/forward", {})
    assert refused.status_code == 500
    assert outbox(office) == []
    with pytest.raises(ScriptFailed) as err:  # what the analyst sees: the record is not theirs to read
        office.workflow.action("office", "appeal", mine["id"], "forward", actor=office.accounts.actor_for_id(office.ids["clerk1"]))
    assert f"appeal {theirs['id']} does not exist" in err.value.error.message
    office.records.update("office", "appeal", mine["id"], {"ref_id": mine["id"]}, 2)
    allowed = office.clients["clerk1"].post(f"/api/v1/office/appeal/{mine['id']}/actions/forward", {})
    assert allowed.status_code == 200, allowed.get_json()
    assert allowed.get_json()["result"] == {"email": 1, "inapp": 0}
    assert [r.recipient for r in outbox(office)] == ["head1@city.example"]


def test_a_scheduled_script_mails_a_role_and_looks_up_roles_and_groups(office):
    appeal(office)
    appeal(office, "clerk2")
    out = office.hooks.run_scheduled("office", "mail.py:digest")["result"]
    assert out == {"sent": {"inapp": 1, "email": 1}, "heads": ["head1"],  # head2 is deactivated
                   "office": ["clerk1", "clerk2"], "lead": ["head1@city.example"]}
    (row,) = outbox(office, "digest")
    assert (row.recipient, row.subject, row.record_id) == ("head1@city.example", "Сводка: 2", None)


def test_a_bad_recipient_in_a_script_is_named(office):
    with pytest.raises(ScriptFailed) as err:
        office.hooks.run_scheduled("office", "mail.py:bad_spec")
    assert "recipient 'subject' is a field of a record, and there is no record here" in err.value.error.message


def test_publish_checks_e_mail_recipients(loom):
    doc = copy.deepcopy(DOC)
    actions = doc["entities"]["appeal"]["transitions"][0]["actions"]
    actions[0]["notify"]["to"] = ["correspondent.name", "field:reply_to", "reply_to", "subjct", "group:office.lead"]
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="t")
    problems = [str(p) for p in err.value.problems]
    assert len(problems) == 2, problems
    assert "notify.to[0]: unknown recipient 'correspondent.name': 'name' is not a user, group, e-mail or " \
           "link field of 'correspondent'" in problems[0]
    assert "notify.to[3]: unknown recipient 'subjct'" in problems[1] and "did you mean 'subject'?" in problems[1]
