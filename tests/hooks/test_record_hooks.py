"""Script hooks named in metadata, run by the record service on both backends."""
import threading
import time

import pytest
from sqlalchemy import select

from metamodel import MetadataError
from runtime.behaviour.hooks import ScriptFailed
from runtime.data import tables as platform
from runtime.data.records import Actor
from runtime.errors import Conflict, Forbidden, ValidationFailed

SCRIPT = '''
def defaults(record):
    if not record.code:
        record.code = "T-" + str(len(record.title or ""))

def title_not_shouting(value, record):
    if value.isupper():
        return "не пишите заглавными"
    return None

def check(record):
    if record.amount is not None and record.amount > 1000 and not record.approved_by:
        return {"approved_by": "сумма больше 1000 требует согласующего"}

def before_save(record):
    record.title = record.title.strip()
    if record.title == "invalid":
        record.amount = "not a number"

def after_save(record):
    if record.title == "noted":
        create("note", {"ticket": record.id, "text": "создано скриптом"})
    if record.title == "boom":
        reject("после сохранения отказ")

def guard_delete(record):
    if record.locked:
        reject("заблокированную заявку нельзя удалить")

def before_close(record):
    if not record.resolution:
        record.resolution = "Закрыто без комментария"
    if record.amount == 13:
        reject("несчастливая сумма")

def after_close(record):
    notify("boss", "Закрыта " + record.number, record.title)

def bump(record):
    record.amount = (record.amount or 0) + 1
    log("bumped to", record.amount)
    return record.amount

def runaway(record):
    while True:
        pass

def crash(record):
    x = {}
    return x["missing"]

def tax(record):
    return money((record.amount or 0) * Decimal("0.2"))
'''


EVERY_ROLE = {op: ["user"] for op in ("read", "create", "update", "delete")}  # anyone with a role of hk


def app_doc(script=SCRIPT, **ticket_hooks):
    hooks = {"default": "t.py:defaults", "validate": "t.py:check", "before_save": "t.py:before_save",
             "after_save": "t.py:after_save", "before_delete": "t.py:guard_delete",
             "actions": [{"name": "bump", "script": "t.py:bump"},
                         {"name": "runaway", "script": "t.py:runaway"},
                         {"name": "crash", "script": "t.py:crash"},
                         {"name": "restricted", "script": "t.py:bump", "roles": ["boss"]}],
             "limits": {"timeout": 0.5}}
    hooks.update(ticket_hooks)
    return {
        "app": {"name": "hk", "title": "Hooks", "roles": [{"name": "boss"}, {"name": "agent"}, {"name": "client"}]},
        "entities": {
            "ticket": {
                "title": "Ticket", "number": "T-{0000}",
                "fields": {
                    "title": {"type": "string", "required": True, "validator": "t.py:title_not_shouting"},
                    "code": {"type": "string"},
                    "amount": {"type": "decimal"},
                    "approved_by": {"type": "string"},
                    "locked": {"type": "boolean", "default": False},
                    "resolution": {"type": "text"},
                    "tax": {"type": "computed", "result": "money", "script": "t.py:tax"},
                },
                "statuses": [{"name": "open", "initial": True}, {"name": "closed", "category": "done"}],
                "transitions": [{"name": "close", "from": "open", "to": "closed", "roles": ["boss", "agent"],
                                 "condition": "amount != 99", "required": ["resolution"],
                                 "set": {"approved_by": "user"},
                                 "before": "t.py:before_close", "after": "t.py:after_close"}],
                "hooks": hooks,
                "permissions": EVERY_ROLE,
            },
            "note": {"title": "Note", "fields": {"ticket": {"type": "link", "entity": "ticket"},
                                                   "text": {"type": "text"}},
                     "permissions": EVERY_ROLE},
        },
        "scripts": {"t.py": script},
    }


@pytest.fixture
def hk(loom):
    loom.store.publish(app_doc(), author="tester")
    loom.accounts.create_user("boss", "pw-boss-1234", roles=["hk:boss"])
    return loom


def count(loom, entity):
    from sqlalchemy import func
    t = loom.entity_tables("hk", entity).main
    with loom.engine.connect() as c:
        return c.execute(select(func.count()).select_from(t)).scalar_one()


def test_default_validator_computed_and_before_save(hk):
    rec = hk.records.create("hk", "ticket", {"title": "  Принтер  ", "amount": "10"})
    assert rec["code"] == "T-11"  # default hook saw the untrimmed title (11 characters)
    assert rec["title"] == "Принтер"  # before_save trimmed it
    assert rec["tax"] == "2.00"  # computed by script
    with pytest.raises(ValidationFailed) as err:
        hk.records.create("hk", "ticket", {"title": "ПРИНТЕР"})
    assert err.value.errors[0].field == "title" and "заглавными" in err.value.errors[0].message
    with pytest.raises(ValidationFailed) as err:
        hk.records.create("hk", "ticket", {"title": "дорого", "amount": "5000"})
    assert err.value.errors[0].field == "approved_by"


def test_values_a_script_sets_are_validated_too(hk):
    with pytest.raises(ValidationFailed) as err:
        hk.records.create("hk", "ticket", {"title": "invalid"})
    assert err.value.errors[0].field == "amount"
    assert count(hk, "ticket") == 0


def test_after_save_acts_in_the_same_transaction(hk):
    rec = hk.records.create("hk", "ticket", {"title": "noted"})
    notes = hk.entity_tables("hk", "note").main
    with hk.engine.connect() as c:
        assert c.execute(select(notes.c.ticket, notes.c.text)).all() == [(rec["id"], "создано скриптом")]
    with pytest.raises(ValidationFailed) as err:
        hk.records.create("hk", "ticket", {"title": "boom"})
    assert "после сохранения отказ" in err.value.detail
    assert count(hk, "ticket") == 1  # the rejected one rolled back whole


def test_before_delete_may_refuse(hk):
    rec = hk.records.create("hk", "ticket", {"title": "важная", "locked": True})
    with pytest.raises(ValidationFailed, match="нельзя удалить"):
        hk.records.delete("hk", "ticket", rec["id"])
    assert hk.records.get("hk", "ticket", rec["id"])["deleted_at"] is None


def test_transition_rules_and_hooks(hk):
    boss = Actor(hk.accounts.authenticate("boss", "pw-boss-1234").id, "boss", ("hk:boss",))
    stranger = Actor(None, "stranger", ("hk:client",))
    rec = hk.records.create("hk", "ticket", {"title": "закрыть"})
    with pytest.raises(Forbidden, match="boss, agent"):
        hk.workflow.transition("hk", "ticket", rec["id"], "close", {}, None, stranger)
    unlucky = hk.records.create("hk", "ticket", {"title": "тринадцать", "amount": "13"})
    with pytest.raises(ValidationFailed, match="несчастливая"):
        hk.workflow.transition("hk", "ticket", unlucky["id"], "close", {}, None, boss)
    blocked = hk.records.create("hk", "ticket", {"title": "условие", "amount": "99"})
    with pytest.raises(Conflict, match="condition"):
        hk.workflow.transition("hk", "ticket", blocked["id"], "close", {}, None, boss)

    closed = hk.workflow.transition("hk", "ticket", rec["id"], "close", {}, None, boss)
    assert closed["status"] == "closed"
    assert closed["resolution"] == "Закрыто без комментария"  # before hook filled the required field
    assert closed["approved_by"] == "boss"  # set: expression
    n = platform.notification
    with hk.engine.connect() as c:
        assert c.execute(select(n.c.title)).scalars().all() == [f"Закрыта {rec['number']}"]
    with pytest.raises(Conflict, match="cannot be fired from status 'closed'"):
        hk.workflow.transition("hk", "ticket", rec["id"], "close", {}, None, boss)
    a = platform.audit
    with hk.engine.connect() as c:
        row = c.execute(select(a.c.before, a.c.after).where(a.c.action == "transition")).one()
    assert row.before == {"status": "open"} and row.after["status"] == "closed"


def test_action_saves_changes_and_logs(hk):
    rec = hk.records.create("hk", "ticket", {"title": "кнопка", "amount": "1"})
    out = hk.workflow.action("hk", "ticket", rec["id"], "bump")
    assert out["result"] == "2.00" and out["record"]["amount"] == "2.00"
    assert out["record"]["row_version"] == rec["row_version"] + 1
    with pytest.raises(Forbidden):
        hk.workflow.action("hk", "ticket", rec["id"], "restricted", Actor(None, "x", ("hk:agent",)))
    r = platform.script_run
    with hk.engine.connect() as c:
        runs = c.execute(select(r.c.hook, r.c.outcome, r.c.duration_ms, r.c.steps)
                         .where(r.c.hook == "action:bump")).all()
    assert len(runs) == 1 and runs[0].outcome == "ok" and runs[0].steps > 0 and runs[0].duration_ms >= 0


def test_broken_and_runaway_scripts_fail_alone_and_are_logged(hk):
    rec = hk.records.create("hk", "ticket", {"title": "сбой"})
    with pytest.raises(ScriptFailed) as err:
        hk.workflow.action("hk", "ticket", rec["id"], "crash")
    problem = err.value.problem()
    assert problem["script"]["name"] == "hk/scripts/t.py"
    assert problem["script"]["line"] == SCRIPT.split("\n").index('    return x["missing"]') + 1
    assert "KeyError" in problem["script"]["message"]
    assert "script" not in problem["detail"].lower() or "KeyError" not in problem["detail"]  # safe text
    started = time.monotonic()
    with pytest.raises(ScriptFailed) as err:
        hk.workflow.action("hk", "ticket", rec["id"], "runaway")
    assert time.monotonic() - started < 5
    assert err.value.error.guard in ("time", "steps")
    assert hk.records.get("hk", "ticket", rec["id"])["row_version"] == rec["row_version"]
    r = platform.script_run
    with hk.engine.connect() as c:
        logged = c.execute(select(r.c.hook, r.c.outcome, r.c.guard).where(r.c.outcome == "error")).all()
    assert {(h, g) for h, _, g in logged} >= {("action:crash", None), ("action:runaway", err.value.error.guard)}


def test_dry_run_commits_nothing(hk):
    rec = hk.records.create("hk", "ticket", {"title": "noted"})  # after_save made one note
    admin = Actor(None, "analyst", ("analyst",), is_admin=True)
    out = hk.workflow.dry_run("hk", "ticket", "t.py:bump", admin, record_id=rec["id"])
    assert out["ok"] and out["changes"] == {"amount": 1} and out["result"] == 1
    assert out["logs"] and "bumped to" in out["logs"][0]
    assert hk.records.get("hk", "ticket", rec["id"])["amount"] is None
    out = hk.workflow.dry_run("hk", "ticket", "t.py:after_save", admin, data={"id": rec["id"], "title": "noted"})
    assert out["ok"]
    assert count(hk, "note") == 1  # the note the dry run created was rolled back
    failed = hk.workflow.dry_run("hk", "ticket", "t.py:crash", admin, record_id=rec["id"])
    assert not failed["ok"] and failed["error"]["script"]["line"] > 0


def test_publish_refuses_scripts_that_do_not_compile_or_lack_functions(loom):
    broken = app_doc(script=SCRIPT + "\ndef oops(:\n    pass\n")
    with pytest.raises(MetadataError) as err:
        loom.store.publish(broken, author="t")
    problem = err.value.problems[0]
    assert problem.file == "scripts/t.py" and problem.line == SCRIPT.count("\n") + 2
    missing = app_doc(validate="t.py:no_such_function")
    with pytest.raises(MetadataError, match="defines no function 'no_such_function'"):
        loom.store.publish(missing, author="t")
    importing = app_doc(script=SCRIPT + "\nimport os\n")
    with pytest.raises(MetadataError) as err:
        loom.store.publish(importing, author="t")
    assert "import of 'os' is not allowed" in str(err.value) and err.value.problems[0].line == SCRIPT.count("\n") + 2
    assert "hk" not in loom.live


def test_twenty_concurrent_requests_two_runaway(hk, tmp_path):
    from runtime.core.config import Settings
    from runtime.web import create_app
    app = create_app(Settings(tmp_path, hk.database_url), hk)
    token = hk.accounts.issue_token(hk.accounts.authenticate("boss", "pw-boss-1234").id)
    headers = {"Authorization": f"Bearer {token}"}
    target = hk.records.create("hk", "ticket", {"title": "мишень"})
    results = {}

    def call(i):
        client = app.test_client()
        started = time.monotonic()
        if i in (3, 11):
            response = client.post(f"/api/v1/hk/ticket/{target['id']}/actions/runaway", headers=headers)
        else:
            response = client.post("/api/v1/hk/ticket", json={"title": f"параллельно {i}"}, headers=headers)
        results[i] = (response.status_code, time.monotonic() - started, response.get_json())

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 20
    for i, (status, elapsed, body) in results.items():
        if i in (3, 11):
            assert status == 500 and elapsed < 10
            assert "script" not in body  # boss is no analyst: the safe message only
            assert body["detail"]
        else:
            assert status == 201, body
    assert count(hk, "ticket") == 19
