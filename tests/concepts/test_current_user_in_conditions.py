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


def test_a_view_of_my_tasks_filters_by_the_reader(loom, tmp_path):
    """``filters: [{field: owner, value: $user}]``: each reader sees the tasks they own, through the
    view's API and as ``?owner=$user`` on any list; the system, reading as nobody, sees none."""
    from runtime.core.config import Settings
    from runtime.web import create_app
    mine = doc()
    mine["entities"]["task"]["views"] = [
        {"name": "all", "columns": ["title", "owner"]},
        {"name": "mine", "columns": ["title"], "filters": [{"field": "owner", "value": "$user"}]},
        {"name": "others", "columns": ["title"], "filters": [{"field": "owner", "op": "ne", "value": "$user"}]}]
    loom.store.publish(mine, author="tester")
    http = create_app(Settings(tmp_path, loom.database_url), loom).test_client()
    tokens = {}
    for name in ("anna", "boris"):
        uid = loom.accounts.create_user(name, f"pw-{name}-1234", roles=["desk:boss"])
        tokens[name] = {"Authorization": f"Bearer {loom.accounts.issue_token(uid)}"}
        for i in range(2):
            task = loom.records.create("desk", "task", {"title": f"{name} {i}"}, actor=loom.actor(name))
            loom.workflow.transition("desk", "task", task["id"], "take", actor=loom.actor(name))
    loom.records.create("desk", "task", {"title": "nobody's"}, actor=loom.actor("anna"))

    def titles(who, query):
        r = http.get(f"/api/v1/desk/task?{query}", headers=tokens[who])
        assert r.status_code == 200, r.get_json()
        return sorted(item["title"] for item in r.get_json()["items"])

    assert titles("anna", "view=mine") == ["anna 0", "anna 1"]
    assert titles("boris", "view=mine") == ["boris 0", "boris 1"]
    assert titles("boris", "view=others") == ["anna 0", "anna 1", "nobody's"]
    assert titles("anna", "owner=%24user") == ["anna 0", "anna 1"]
    assert loom.records.page("desk", "task", loom.actor(None), where={"owner": "$user"})["items"] == []


def test_user_in_a_filter_of_a_field_that_holds_no_user_is_refused(loom):
    bad = doc()
    bad["entities"]["task"]["views"] = [{"name": "mine", "columns": ["title"],
                                         "filters": [{"field": "title", "value": "$user"}]}]
    with pytest.raises(MetadataError) as refused:
        loom.store.publish(bad, author="tester")
    [problem] = refused.value.problems
    assert problem.path == "views[0].filters[0].value"
    assert problem.message.startswith("$user is the person reading, and 'title' is a string field")
