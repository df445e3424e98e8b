"""Revision 0010 on SQLite and PostgreSQL, and comments that are internal or public: staff
decide in the internal UI and the comments API; the portal shows the public ones."""
from __future__ import annotations

from alembic import command
from sqlalchemy import insert, inspect, select

from runtime.core.migrations import config
from runtime.data import tables as platform
from runtime.data.storage import utcnow
from tests.api.conftest import Client as ApiClient
from tests.ui.conftest import Browser

from .conftest import APP, PASSWORD, Client


def test_revision_0010_adds_external_users_and_public_comments_and_goes_back(loom):
    command.downgrade(config(loom.engine), "0009")
    columns = {c["name"] for c in inspect(loom.engine).get_columns("loom_user")}
    assert "external" not in columns
    assert "public" not in {c["name"] for c in inspect(loom.engine).get_columns("loom_comment")}
    with loom.engine.begin() as c:  # rows from before: a user and a comment
        c.exec_driver_sql("INSERT INTO loom_user (username, is_active, is_admin, roles, lang, created_at) "
                          "VALUES ('old', true, false, '[]', 'ru', CURRENT_TIMESTAMP)")
        uid = c.exec_driver_sql("SELECT id FROM loom_user WHERE username = 'old'").scalar()
        c.exec_driver_sql(f"INSERT INTO loom_comment (app, entity, record_id, user_id, body, mentions, created_at) "
                          f"VALUES ('a', 'b', 1, {uid}, 'old comment', '[]', CURRENT_TIMESTAMP)")
    loom.upgrade_db()
    with loom.engine.connect() as c:
        assert c.execute(select(platform.user.c.external).where(platform.user.c.username == "old")).scalar() is False
        assert c.execute(select(platform.comment.c.public)).scalar() is False  # what was written stays internal
    with loom.engine.begin() as c:
        c.execute(insert(platform.user).values(username="new", is_active=True, is_admin=False, roles=[], lang="ru",
                                               external=True, created_at=utcnow()))
    command.downgrade(config(loom.engine), "0009")
    assert "external" not in {c["name"] for c in inspect(loom.engine).get_columns("loom_user")}
    loom.upgrade_db()


def test_staff_make_a_comment_public_through_the_api_and_the_portal_shows_it(web, world, desk):
    api = ApiClient(web.test_client(), desk.accounts.issue_token(desk.actor("agent").id))
    rid = world["requests"][0]["id"]
    url = f"/api/v1/{APP}/request/{rid}/comments"
    made = api.post(url, json={"body": "Решение готовится"})
    assert made.status_code == 201 and made.get_json()["public"] is False
    portal = Client(web.test_client())
    portal.login(world["users"][0])
    seen = lambda: [c["body"] for c in portal.get(f"/portal/{APP}/p/request/{rid}?format=json").get_json()["comments"]]  # noqa: E731
    assert "Решение готовится" not in seen()
    assert api.patch(f"{url}/{made.get_json()['id']}", json={"public": True}).get_json() == {
        "id": made.get_json()["id"], "public": True}
    assert "Решение готовится" in seen()
    assert api.patch(f"{url}/{made.get_json()['id']}", json={"public": "yes"}).status_code == 400
    listed = {c["body"]: c["public"] for c in api.get(url).get_json()}
    assert listed[world["secrets"][0]] is False and listed["Решение готовится"] is True
    # a contact's own comment is public; they cannot turn another one
    portal.post(f"/portal/{APP}/p/request/{rid}/comment", {"body": "Спасибо, ждём"},
                token_from=f"/portal/{APP}/p/request/{rid}")
    assert "Спасибо, ждём" in seen()


def test_staff_toggle_a_comment_in_the_internal_ui(web, world, desk):
    rid = world["requests"][1]["id"]
    ui = Browser(web.test_client())
    ui.login("agent", PASSWORD)
    page = ui.get(f"/ui/{APP}/request/{rid}").get_data(as_text=True)
    assert "Сделать публичным" in page and "внутренний" in page
    secret = [c for c in desk.records.comments(APP, "request", rid) if c["body"] == world["secrets"][1]][0]
    r = ui.post(f"/ui/{APP}/request/{rid}/comments/{secret['id']}/public", {"public": "1"},
                token_from=f"/ui/{APP}/request/{rid}")
    assert r.status_code == 302
    assert [c["public"] for c in desk.records.comments(APP, "request", rid) if c["id"] == secret["id"]] == [True]
    ui.post(f"/ui/{APP}/request/{rid}/comments", {"body": "Новый публичный", "public": "1"},
            token_from=f"/ui/{APP}/request/{rid}")
    assert {c["body"]: c["public"] for c in desk.records.comments(APP, "request", rid)}["Новый публичный"] is True


def test_the_admin_picks_a_users_organisation_from_the_apps_records(web, world, desk):
    admin_id = desk.accounts.create_user("root", PASSWORD, is_admin=True)
    ui = Browser(web.test_client())
    ui.login("root", PASSWORD)
    page = ui.get("/ui/admin/users/new").get_data(as_text=True)
    org = world["orgs"][1]
    value = f"{APP}.organization:{org['id']}"
    assert f'value="{value}"' in page and "Минфин" in page
    r = ui.post("/ui/admin/users/new", {"username": "typed", "organization": f"{APP}.organization:999",
                                     "external": "on"}, token_from="/ui/admin/users/new")
    assert r.status_code == 422 and not desk.accounts.exists("typed")
    r = ui.post("/ui/admin/users/new", {"username": "picked", "organization": value, "external": "on",
                                     "roles": f"{APP}:client"}, token_from="/ui/admin/users/new")
    assert r.status_code == 200
    assert admin_id
    picked = [u for u in (desk.accounts.user(user_id=i) for i in range(1, 20)) if u and u["username"] == "picked"][0]
    assert picked["organization"] == value and picked["external"] is True
