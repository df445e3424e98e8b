"""``$user`` inside an expression is the id of the person acting: a transition only the task's
owner may fire says ``condition: "owner == $user"``. The system acts as nobody (``None``), and
publishing refuses ``$user`` where nobody acts, naming the path."""
from __future__ import annotations

import pytest

from metamodel import MetadataError
from metamodel.expressions import ExpressionError, parse
from runtime.errors import Conflict


def doc(**finish):
    return {
        "app": {"name": "desk", "title": "Desk", "roles": [{"name": "boss"}, {"name": "worker"}]},
        "entities": {"task": {
            "title": "Task",
            "title_field": "title",
            "fields": {"title": {"type": "string", "required": True}, "owner": {"type": "user"},
                       "note": {"type": "string"}},
            "statuses": [{"name": "todo", "initial": True}, {"name": "doing", "category": "in_work"},
                         {"name": "done", "category": "done"}],
            "transitions": [{"name": "take", "from": "todo", "to": "doing", "roles": ["boss", "worker"],
                             "set": {"owner": "$user"}},
                            {"name": "finish", "from": "doing", "to": "done", "roles": ["boss", "worker"],
                             "condition": "owner == $user", "set": {"note": "'done by the owner'"}, **finish}],
            "permissions": {"read": ["boss", "worker"], "create": ["boss"], "update": ["boss", "worker"]},
        }},
    }


def test_user_is_a_name_outside_quotes_only():
    expr = parse("owner == $user and note != '$user'")
    assert expr.reads_user and expr.names == {"owner", "note"}
    assert expr.evaluate({"owner": 7, "note": "x"}, {"_current_user": 7}) is True
    assert expr.evaluate({"owner": 7, "note": "x"}, {"_current_user": 8}) is False
    assert expr.evaluate({"owner": 7, "note": "x"}) is False  # nobody acts
    assert not parse("note == '$user'").reads_user
    with pytest.raises(ExpressionError, match="'_current_user' is not allowed"):
        parse("_current_user == 1")


def test_only_the_owner_finishes_the_task(loom):
    loom.store.publish(doc(), author="tester")
    ids = {name: loom.accounts.create_user(name, f"pw-{name}-1234", roles=["desk:boss", "desk:worker"])
           for name in ("anna", "boris")}
    anna, boris = loom.actor("anna"), loom.actor("boris")
    task = loom.records.create("desk", "task", {"title": "t"}, actor=anna)
    loom.workflow.transition("desk", "task", task["id"], "take", actor=anna)
    assert loom.records.get("desk", "task", task["id"])["owner"] == ids["anna"]

    with pytest.raises(Conflict) as refused:
        loom.workflow.transition("desk", "task", task["id"], "finish", actor=boris)
    assert "the condition 'owner == $user' is not met" in str(refused.value)
    assert loom.records.get("desk", "task", task["id"])["status"] == "doing"

    loom.workflow.transition("desk", "task", task["id"], "finish", actor=anna)
    assert loom.records.get("desk", "task", task["id"])["status"] == "done"


def test_user_where_nobody_acts_is_refused_naming_the_path(loom):
    with pytest.raises(MetadataError) as refused:
        loom.store.publish(doc(auto=True), author="tester")
    [problem] = [p for p in refused.value.problems if "$user" in p.message]
    assert problem.path == "transitions[1].condition"
    assert problem.message.startswith("$user is the person acting, and nobody acts here")

    computed = doc()
    computed["entities"]["task"]["fields"]["mine"] = {"type": "computed", "expression": "owner == $user"}
    with pytest.raises(MetadataError) as refused:
        loom.store.publish(computed, author="tester")
    assert any(p.path == "fields.mine.expression" and "nobody acts here" in p.message for p in refused.value.problems)
