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


def _page_plan(loom, et, view, value, extra=()):
    """The plans of the very statements a board's column (or, with ``extra`` filters, a cell)
    runs for its first page and its count."""
    from sqlalchemy import event

    from runtime.data.boards import view_filters
    from runtime.data.query import Filter, ListQuery
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    group_by = view["kanban"]["group_by"]
    with loom.reader.connect() as c:
        event.listen(c, "before_cursor_execute", remember)
        ListQuery(loom, et).run(c, [], [], limit=20, count="capped",
                                view_filters=view_filters(view) + [Filter(group_by, "eq", value), *extra],
                                view_sort=list(view.get("sort", [])))
        event.remove(c, "before_cursor_execute", remember)
        page = next(s for s in statements if "ORDER BY" in s[0])
        count = next(s for s in statements if "count(" in s[0])
        explain = "EXPLAIN QUERY PLAN " if c.dialect.name == "sqlite" else "EXPLAIN "
        return ["\n".join(" ".join(map(str, r)) for r in c.exec_driver_sql(explain + sql, params).all())
                for sql, params in (page, count)]


def test_a_column_page_is_read_off_an_index_in_its_order(loom):
    """Over 30,000 cards in three columns a column's first page is an index range read in the
    board's order, not a sort of the whole column, and its count reads the index alone: by status
    through the system index ``(status, id, deleted_at)``, by a choice field through the index its
    kanban view declares."""
    import datetime as dt

    from sqlalchemy import insert
    doc = app_doc()
    doc["entities"]["task"]["views"].append({"name": "costly", "kind": "kanban", "sort": ["-cost"],
                                             "kanban": {"group_by": "size", "card": ["title"]}})
    loom.store.publish(doc, author="tester")
    et = loom.entity_tables("desk", "task")
    ent = et.entity
    assert ("size", "id", "deleted_at") in ent.view_indexes() and ("size", "cost", "id", "deleted_at") in ent.view_indexes()
    now = dt.datetime.now(dt.UTC)
    rows = [{"number": f"T-{i:06d}", "status": ("todo", "doing", "done")[i % 3], "title": f"t{i}", "cost": i % 97,
             "size": "sml"[i % 3], "created_at": now, "updated_at": now, "row_version": 1, "meta_version": 1}
            for i in range(30_000)]
    with loom.engine.begin() as c:
        c.execute(insert(et.main), rows)
        c.exec_driver_sql(f"ANALYZE {et.main.name}")
    for view, value, index in [(ent.view("board"), "doing", "ix_desk__task__status_id_deleted_at"),
                               (ent.view("sizes"), "m", "ix_desk__task__size_id_deleted_at"),
                               (ent.view("costly"), "m", "ix_desk__task__size_cost_id_deleted_at")]:
        plan, count = _page_plan(loom, et, view, value)
        if loom.engine.dialect.name == "sqlite":
            assert index in plan and "TEMP B-TREE" not in plan, plan
            assert "COVERING INDEX" in count, count  # counted without reading the rows
        else:
            assert "Sort" not in plan, plan  # an index read in order (the planner picks which)


def test_adding_a_board_to_a_published_app_adds_its_index_and_removing_it_drops_it(loom):
    from sqlalchemy import inspect
    doc = app_doc()
    views = doc["entities"]["task"]["views"]
    doc["entities"]["task"]["views"] = [v for v in views if v["name"] != "sizes"]
    loom.store.publish(doc, author="tester")

    def names():
        with loom.engine.connect() as c:
            return {ix["name"] for ix in inspect(c).get_indexes("desk__task")}

    assert "ix_desk__task__size_id_deleted_at" not in names() and "ix_desk__task__status_id_deleted_at" in names()
    loom.store.publish(app_doc(), author="tester")
    assert "ix_desk__task__size_id_deleted_at" in names()
    loom.store.publish(doc, author="tester")
    assert "ix_desk__task__size_id_deleted_at" not in names()


def test_revision_0016_gives_tables_published_before_their_status_index(loom):
    from alembic import command
    from sqlalchemy import inspect

    from runtime.core.migrations import config
    loom.store.publish(app_doc(), author="tester")

    def names():
        with loom.engine.connect() as c:
            return {ix["name"] for ix in inspect(c).get_indexes("desk__task")}

    command.downgrade(config(loom.engine), "0015")
    assert "ix_desk__task__status_id_deleted_at" not in names()  # as a table published before 0016 stands
    loom.upgrade_db()
    assert "ix_desk__task__status_id_deleted_at" in names()
    assert loom.records.find("desk", "task", {}) == []  # the table is otherwise untouched


def lanes_doc():
    doc = app_doc()
    task = doc["entities"]["task"]
    task["fields"]["owner"] = {"type": "user"}
    task["views"] += [{"name": "by_size", "kind": "kanban", "page_size": 2,
                       "kanban": {"group_by": "status", "swimlanes": "size", "card": ["title"]}},
                      {"name": "by_owner", "kind": "kanban",
                       "kanban": {"group_by": "status", "swimlanes": "owner", "card": ["title"]}},
                      {"name": "by_cost", "kind": "kanban",
                       "kanban": {"group_by": "size", "swimlanes": "mine", "card": ["title"]}}]
    return doc


@pytest.fixture
def lanes(loom, tmp_path):
    loom.store.publish(lanes_doc(), author="tester")
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    http = app.test_client()
    ids = {}

    def client(name, roles):
        ids[name] = loom.accounts.create_user(name, f"pw-{name}-1234", roles=roles)
        return Client(http, loom.accounts.issue_token(ids[name]))

    boss, worker = client("boss", ["desk:boss"]), client("worker", ["desk:worker"])
    for i, (size, owner) in enumerate([("s", "boss"), ("s", "boss"), ("s", "worker"), ("m", None), ("l", "worker")]):
        made = boss.post("/api/v1/desk/task", {"title": f"t{i}", "cost": i, "mine": i % 2 == 0, "size": size,
                                               "owner": ids[owner] if owner else None})
        assert made.status_code == 201, made.data
    return boss, worker, ids


def test_swimlanes_split_every_column_into_cells(lanes):
    boss, _, ids = lanes
    body = boss.get("/api/v1/desk/task/boards/by_size").get_json()
    assert body["swimlanes"] == "size"
    assert [c["value"] for c in body["columns"]] == ["todo", "doing", "done"]
    assert body["columns"][0]["count"] == 5 and body["columns"][0]["cards"] == []  # totals only
    cells = {lane["value"]: {c["value"]: c for c in lane["cells"]} for lane in body["lanes"]}
    assert list(cells) == ["s", "m", "l", None]  # the choices in order, the lane without a value last
    assert (cells["s"]["todo"]["count"], cells["m"]["todo"]["count"], cells["l"]["todo"]["count"],
            cells[None]["todo"]["count"]) == (3, 1, 1, 0)
    assert {c["size"] for c in cells["s"]["todo"]["cards"]} == {"s"} and len(cells["s"]["todo"]["cards"]) == 2
    rest = boss.get(f"/api/v1/desk/task/boards/by_size?column=todo&lane=s&after={cells['s']['todo']['next']}").get_json()
    assert [len(c["cards"]) for lane in rest["lanes"] for c in lane["cells"]] == [1]
    assert boss.get("/api/v1/desk/task/boards/by_size?column=todo&lane=xl").status_code == 404


def test_lanes_by_a_user_field_are_the_values_on_the_board_and_follow_row_rules(lanes):
    boss, worker, ids = lanes
    body = boss.get("/api/v1/desk/task/boards/by_owner").get_json()
    counts = {lane["value"]: lane["cells"][0]["count"] for lane in body["lanes"]}
    assert counts == {ids["worker"]: 2, ids["boss"]: 2, None: 1}
    mine = worker.get("/api/v1/desk/task/boards/by_owner").get_json()  # the worker's row rule: mine == true
    seen = {lane["value"]: lane["cells"][0]["count"] for lane in mine["lanes"]}
    assert sum(seen.values()) == 3 and all("cost" not in card for lane in mine["lanes"]
                                           for cell in lane["cells"] for card in cell["cards"])
    by_flag = boss.get("/api/v1/desk/task/boards/by_cost").get_json()
    assert [lane["value"] for lane in by_flag["lanes"]] == [True, False, None]
    assert by_flag["lanes"][0]["title"] == {"ru": "Да", "en": "Yes"}


def test_lanes_declare_their_index(loom):
    loom.store.publish(lanes_doc(), author="tester")
    ent = loom.entity_tables("desk", "task").entity
    assert ("status", "size", "id", "deleted_at") in ent.view_indexes() and ("size", "mine", "id", "deleted_at") in ent.view_indexes()


def test_an_empty_cell_of_correlated_lanes_is_read_off_the_board_index(loom):
    """Status and size go together here (every "todo" task is small): a planner that took them
    for independent would expect large "todo" tasks and walk the table in id order to find
    none. PostgreSQL is told of the pair by extended statistics, created with the view and
    dropped with it; the empty cell is then an index read on both backends."""
    import datetime as dt

    from sqlalchemy import insert, text

    from runtime.data.query import Filter
    loom.store.publish(lanes_doc(), author="tester")
    et = loom.entity_tables("desk", "task")
    assert et.entity.correlated_columns() == [("status", "size"), ("status", "owner"), ("size", "mine")]
    now = dt.datetime.now(dt.UTC)
    rows = [{"number": f"T-{i:06d}", "status": ("todo", "doing", "done")[i % 3], "title": f"t{i}", "cost": i,
             "size": "sml"[i % 3], "created_at": now, "updated_at": now, "row_version": 1, "meta_version": 1}
            for i in range(30_000)]
    with loom.engine.begin() as c:
        c.execute(insert(et.main), rows)
        c.exec_driver_sql(f"ANALYZE {et.main.name}")
    plan, _ = _page_plan(loom, et, et.entity.view("by_size"), "todo", [Filter("size", "eq", "l")])
    assert "status_size_id_deleted_at" in plan, plan
    if loom.engine.dialect.name != "postgresql":
        return

    def statistics():
        with loom.engine.connect() as c:
            return set(c.execute(text("SELECT stxname FROM pg_statistic_ext WHERE stxname LIKE 'st_desk%'")).scalars())

    assert statistics() == {"st_desk__task__status_size", "st_desk__task__status_owner", "st_desk__task__size_mine"}
    doc = lanes_doc()
    doc["entities"]["task"]["views"] = [v for v in doc["entities"]["task"]["views"] if v["name"] != "by_owner"]
    loom.store.publish(doc, author="tester")
    assert statistics() == {"st_desk__task__status_size", "st_desk__task__size_mine"}


@pytest.mark.parametrize("lane, message", [
    ("title", "swimlanes split a board by a choice, boolean, user, group or link field"),
    ("colour", "unknown field"),
    ("size", "already makes the board's columns"),
])
def test_bad_swimlanes_are_refused_at_publish(loom, lane, message):
    with pytest.raises(MetadataError) as caught:
        loom.store.publish(app_doc({"name": "b", "kind": "kanban", "kanban": {"group_by": "size", "swimlanes": lane}}),
                           author="tester")
    assert message in str(caught.value)


def test_a_drag_fires_the_transition_the_person_may_fire(loom):
    """Two transitions lead from doing to done: the drag fires the one the person's role allows,
    and for a person allowed neither, the first (whose refusal then says why)."""
    from runtime.data import boards
    from runtime.data.records import Actor
    doc = app_doc()
    doc["entities"]["task"]["transitions"].append({"name": "hand_in", "from": "doing", "to": "done",
                                                   "roles": ["worker"]})
    loom.store.publish(doc, author="tester")
    ent = loom.entity_tables("desk", "task").entity

    def fired(*roles):
        who = Actor(1, "someone", roles)
        return boards.move_for(ent, "doing", "done", may=lambda tr: loom.workflow.may_fire(who, ent, tr))["name"]

    assert fired("desk:boss") == "finish"
    assert fired("desk:worker") == "hand_in"
    assert fired("desk:guest") == "finish"
    assert boards.move_for(ent, "todo", "done") is None
