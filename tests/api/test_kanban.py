"""Kanban views (``views[].kind: kanban``): the board's data endpoint applies the same row rules
and hidden fields as a list, counts each column, pages a column on, and a card is moved by the
entity's own transitions, which may refuse with their reason."""
import pytest

from metamodel.errors import MetadataError
from runtime.core.config import Settings
from runtime.web import create_app
from tests.api.conftest import Client


def app_doc(board=None):
    return {
        "app": {"name": "desk", "title": "Desk", "roles": [{"name": "boss"}, {"name": "worker"}]},
        "entities": {"task": {
            "title": "Task",
            "title_field": "title",
            "fields": {"title": {"type": "string", "required": True}, "cost": {"type": "integer"},
                       "mine": {"type": "boolean"},
                       "size": {"type": "choice", "choices": ["s", "m", "l"]}},
            "statuses": [{"name": "todo", "title": {"ru": "К работе", "en": "To do"}, "initial": True},
                         {"name": "doing", "category": "in_work"}, {"name": "done", "category": "done"}],
            "transitions": [{"name": "start", "from": "todo", "to": "doing", "roles": ["boss", "worker"]},
                            {"name": "finish", "from": "doing", "to": "done", "roles": ["boss"]}],
            "views": [{"name": "all", "columns": ["title"]},
                      board or {"name": "board", "kind": "kanban", "page_size": 2,
                                "kanban": {"group_by": "status", "card": ["title", "cost", "size"]}},
                      {"name": "sizes", "kind": "kanban", "kanban": {"group_by": "size", "card": ["title"]}}],
            "permissions": {"read": ["boss", "worker"], "create": ["boss"], "update": ["boss", "worker"],
                            "fields": {"cost": {"hidden": ["worker"]}},
                            "rows": [{"roles": ["worker"], "condition": "mine == true"}]},
        }},
    }


@pytest.fixture
def desk(loom, tmp_path):
    loom.store.publish(app_doc(), author="tester")
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    http = app.test_client()

    def client(name, roles):
        uid = loom.accounts.create_user(name, f"pw-{name}-1234", roles=roles)
        return Client(http, loom.accounts.issue_token(uid))

    boss, worker = client("boss", ["desk:boss"]), client("worker", ["desk:worker"])
    for i in range(5):
        made = boss.post("/api/v1/desk/task", {"title": f"t{i}", "cost": i, "mine": i % 2 == 0, "size": "s"})
        assert made.status_code == 201, made.data
    return boss, worker


def _columns(body):
    return {c["value"]: c for c in body["columns"]}


def test_columns_counts_and_paging(desk):
    boss, _ = desk
    first = boss.get("/api/v1/desk/task").get_json()["items"][-1]
    moved = boss.post(f"/api/v1/desk/task/{first['id']}/transitions/start", {"row_version": first["row_version"]})
    assert moved.status_code == 200, moved.data
    body = boss.get("/api/v1/desk/task/boards/board").get_json()
    cols = _columns(body)
    assert list(cols) == ["todo", "doing", "done"]
    assert cols["todo"]["title"] == {"ru": "К работе", "en": "To do"}
    assert (cols["todo"]["count"], cols["doing"]["count"], cols["done"]["count"]) == (4, 1, 0)
    assert len(cols["todo"]["cards"]) == 2 and cols["todo"]["next"]
    assert set(cols["doing"]["cards"][0]) == {"id", "number", "status", "row_version", "title", "cost", "size"}
    rest = boss.get(f"/api/v1/desk/task/boards/board?column=todo&after={cols['todo']['next']}").get_json()
    assert [c["value"] for c in rest["columns"]] == ["todo"]
    seen = {c["id"] for c in cols["todo"]["cards"]} | {c["id"] for c in rest["columns"][0]["cards"]}
    assert len(seen) == 4
    assert {m["name"]: m["to"] for m in body["transitions"]} == {"start": "doing", "finish": "done"}


def test_a_board_by_a_choice_field(desk):
    boss, _ = desk
    cols = _columns(boss.get("/api/v1/desk/task/boards/sizes").get_json())
    assert list(cols) == ["s", "m", "l"] and cols["s"]["count"] == 5 and cols["m"]["count"] == 0


def test_row_rules_and_hidden_fields_apply_as_in_lists(desk):
    _, worker = desk
    cols = _columns(worker.get("/api/v1/desk/task/boards/board?limit=50").get_json())
    listed = worker.get("/api/v1/desk/task?count=exact").get_json()
    assert cols["todo"]["count"] == listed["count"] == 3
    assert {c["title"] for c in cols["todo"]["cards"]} == {"t0", "t2", "t4"}
    assert all("cost" not in c for c in cols["todo"]["cards"])


def test_a_refused_move_answers_with_the_reason(desk):
    boss, worker = desk
    task = worker.get("/api/v1/desk/task").get_json()["items"][0]
    started = worker.post(f"/api/v1/desk/task/{task['id']}/transitions/start", {"row_version": task["row_version"]})
    assert started.status_code == 200, started.data
    refused = worker.post(f"/api/v1/desk/task/{task['id']}/transitions/finish",
                          {"row_version": started.get_json()["row_version"]})
    assert refused.status_code == 403
    assert refused.get_json()["detail"]
    cols = _columns(boss.get("/api/v1/desk/task/boards/board").get_json())
    assert cols["doing"]["count"] == 1 and cols["done"]["count"] == 0  # the card stays where it was


def test_not_a_board_is_404(desk):
    boss, _ = desk
    assert boss.get("/api/v1/desk/task/boards/all").status_code == 404
    assert boss.get("/api/v1/desk/task/boards/nope").status_code == 404


@pytest.mark.parametrize("board, message", [
    ({"name": "b", "kind": "kanban", "kanban": {"group_by": "title"}}, "a board groups by the status or a choice field"),
    ({"name": "b", "kind": "kanban", "kanban": {"group_by": "colour"}}, "unknown field"),
    ({"name": "b", "kind": "kanban", "kanban": {"group_by": "status", "card": ["nope"]}}, "unknown field"),
    ({"name": "b", "kind": "kanban"}, "kanban"),
    ({"name": "b", "kanban": {"group_by": "status"}}, "kanban"),
])
def test_bad_boards_are_refused_at_publish(loom, board, message):
    with pytest.raises(MetadataError) as caught:
        loom.store.publish(app_doc(board), author="tester")
    assert message in str(caught.value)
