"""Small leaks closed: files of records a caller may not read look like no file at all, and
record history names only the fields the reader may see."""
import pytest

from runtime.core.config import Settings
from runtime.web import create_app
from tests.api.conftest import Client
from tests.api.test_record_files import PNG, multipart


def app_doc():
    return {
        "app": {"name": "vault", "title": "Vault", "roles": [{"name": "keeper"}, {"name": "viewer"}]},
        "entities": {"box": {
            "title": "Box",
            "fields": {"title": {"type": "string", "required": True}, "secret": {"type": "string"},
                       "doc": {"type": "file"}},
            "permissions": {"read": ["keeper", "viewer"], "create": ["keeper"], "update": ["keeper"],
                            "fields": {"secret": {"hidden": ["viewer"]}}},
        }},
    }


@pytest.fixture
def vault(loom, tmp_path):
    loom.store.publish(app_doc(), author="tester")
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    app.config["TESTING"] = True
    http = app.test_client()

    def client(name, roles):
        uid = loom.accounts.create_user(name, f"pw-{name}-1234", roles=roles)
        return Client(http, loom.accounts.issue_token(uid))

    return loom, app, client("keeper", ["vault:keeper"]), client("viewer", ["vault:viewer"]), client("outsider", [])


def test_an_outsider_gets_the_same_404_as_for_a_file_that_does_not_exist(vault):
    loom, _, keeper, _, outsider = vault
    made = multipart(keeper, "/api/v1/vault/box", {"title": "a"}, doc=("a.png", PNG))
    assert made.status_code == 201, made.data[:300]
    box = made.get_json()
    file_id = box["doc"]["id"] if isinstance(box["doc"], dict) else box["doc"][0]["id"]
    assert keeper.get(f"/api/v1/files/{file_id}").status_code == 200
    theirs = outsider.get(f"/api/v1/files/{file_id}")
    missing = outsider.get(f"/api/v1/files/{file_id + 1000}")
    assert theirs.status_code == missing.status_code == 404
    body = theirs.get_json()
    assert body["detail"] == f"no file {file_id}"  # no record id, no entity
    assert missing.get_json()["detail"] == f"no file {file_id + 1000}"
    assert set(body) == set(missing.get_json())


def test_history_names_only_fields_the_reader_may_see(vault):
    loom, app, keeper, _, _ = vault
    box = keeper.post("/api/v1/vault/box", {"title": "a", "secret": "s1"}).get_json()
    keeper.patch(f"/api/v1/vault/box/{box['id']}", {"secret": "s2", "row_version": box["row_version"]})
    from runtime.web.ui import views

    with app.test_request_context():
        hidden = loom.permissions.hidden(loom.accounts.actor_for_id(_uid(loom, "viewer")),
                                         loom.entity_tables("vault", "box").entity)
        as_viewer = views._timeline(loom.entity_tables("vault", "box").entity, box["id"], hidden)
        as_keeper = views._timeline(loom.entity_tables("vault", "box").entity, box["id"])
    assert "secret" in hidden
    assert any("secret" in str(entry["fields"]).lower() for entry in as_keeper)
    assert not any("secret" in str(entry["fields"]).lower() for entry in as_viewer)
    assert len(as_viewer) == len(as_keeper) - 1  # the change of the hidden field only is left out


def _uid(loom, name):
    from sqlalchemy import select

    from runtime.data import tables as platform

    with loom.engine.connect() as c:
        return c.execute(select(platform.user.c.id).where(platform.user.c.username == name)).scalar_one()
