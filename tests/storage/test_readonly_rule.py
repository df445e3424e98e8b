"""One read-only rule: read-only to people; the system and the app's own hooks write it.

The same field is checked through the record service, a transition, the REST API and the
UI form, on SQLite and PostgreSQL.
"""
import pytest

from runtime.core.config import Settings
from runtime.errors import Forbidden
from runtime.web import create_app
from tests.api.conftest import Client
from tests.ui.conftest import Browser

SCRIPT = '''
def defaults(record):
    if record.score is None:
        record.score = 5

def before_save(record):
    if not record.stamp:
        record.stamp = "hook:" + record.title

def bump(record):
    record.stamp = "bumped"

def spawn(record):
    create("ticket", {"title": "child", "stamp": "from a script", "score": 9})
'''


def app_doc():
    return {
        "app": {"name": "ro", "title": "Read-only", "roles": [{"name": "clerk"}]},
        "entities": {"ticket": {
            "title": "Ticket",
            "fields": {
                "title": {"type": "string", "required": True},
                "code": {"type": "string", "readonly": True, "default": "NEW"},
                "stamp": {"type": "string", "readonly": True},
                "approved_by": {"type": "string", "readonly": True},
                "score": {"type": "integer"},
            },
            "statuses": [{"name": "open", "initial": True}, {"name": "approved"}],
            "transitions": [{"name": "approve", "from": "open", "to": "approved", "set": {"approved_by": "user"}}],
            "permissions": {"read": ["clerk"], "create": ["clerk"], "update": ["clerk"],
                            "fields": {"score": {"readonly": ["clerk"]}}},
            "hooks": {"default": "t.py:defaults", "before_save": "t.py:before_save",
                      "actions": [{"name": "bump", "script": "t.py:bump"}, {"name": "spawn", "script": "t.py:spawn"}]},
        }},
        "scripts": {"t.py": SCRIPT},
    }


@pytest.fixture
def ro(loom, tmp_path):
    loom.store.publish(app_doc(), author="tester")
    loom.accounts.create_user("clerk", "pw-clerk-1234", roles=["ro:clerk"])
    loom.accounts.create_user("root", "pw-root-12345", is_admin=True)
    return loom


def refused(call) -> list:
    with pytest.raises(Forbidden) as err:
        call()
    return [(e["field"], e["message"]) for e in err.value.extra["errors"]]


def test_people_may_not_set_read_only_fields_and_hooks_may(ro):
    clerk, root = ro.actor("clerk"), ro.actor("root")
    create = lambda data, who: ro.records.create("ro", "ticket", data, who)  # noqa: E731
    assert refused(lambda: create({"title": "a", "stamp": "mine"}, clerk)) == [("stamp", "is read-only: the app sets it")]
    assert refused(lambda: create({"title": "a", "stamp": "mine"}, root)) == [("stamp", "is read-only: the app sets it")]
    assert refused(lambda: create({"title": "a", "score": 1}, clerk)) == [("score", "is read-only for your role")]
    rec = create({"title": "a", "code": "NEW", "stamp": None}, clerk)  # the default, or nothing: no change
    assert (rec["code"], rec["stamp"], rec["score"]) == ("NEW", "hook:a", 5)  # spec default, before_save, default hook

    update = lambda data, who: ro.records.update("ro", "ticket", rec["id"], data, rec["row_version"], who)  # noqa
    assert refused(lambda: update({"stamp": "x"}, root)) == [("stamp", "is read-only: the app sets it")]
    assert refused(lambda: update({"code": "X"}, clerk)) == [("code", "is read-only: the app sets it")]
    same = update({"stamp": "hook:a", "title": "b"}, clerk)  # sending the current value back is no change
    assert same["title"] == "b"

    with pytest.raises(Forbidden):
        ro.workflow.transition("ro", "ticket", rec["id"], "approve", {"approved_by": "me"}, actor=clerk)
    approved = ro.workflow.transition("ro", "ticket", rec["id"], "approve", actor=clerk)
    assert approved["approved_by"] == "clerk"  # the transition's set writes it

    bumped = ro.workflow.action("ro", "ticket", rec["id"], "bump", clerk)["record"]
    assert bumped["stamp"] == "bumped"  # a button script writes it
    ro.workflow.action("ro", "ticket", rec["id"], "spawn", clerk)
    child = ro.records.find("ro", "ticket", {"title": "child"})[0]
    assert (child["stamp"], child["score"]) == ("from a script", 9)  # create() of a script writes it too

    system = ro.records.create("ro", "ticket", {"title": "s", "stamp": "import", "code": "SYS"})
    assert (system["stamp"], system["code"]) == ("import", "SYS")  # the system (fixtures, migrations) sets it


def test_the_api_and_the_form_apply_the_same_rule(ro, tmp_path):
    app = create_app(Settings(tmp_path, ro.database_url), ro)
    app.config["TESTING"] = True
    api = Client(app.test_client(), ro.accounts.issue_token(ro.actor("clerk").id))
    answer = api.post("/api/v1/ro/ticket", {"title": "api", "stamp": "mine"})
    assert answer.status_code == 403 and answer.get_json()["errors"] == [
        {"field": "stamp", "message": "is read-only: the app sets it"}]
    created = api.post("/api/v1/ro/ticket", {"title": "api"})
    assert created.status_code == 201 and created.get_json()["stamp"] == "hook:api"
    patched = api.patch(f"/api/v1/ro/ticket/{created.get_json()['id']}", {"approved_by": "me", "row_version": 1})
    assert patched.status_code == 403

    browser = Browser(app.test_client())
    browser.login("clerk", "pw-clerk-1234")
    page = browser.get("/ui/ro/ticket/new").get_data(as_text=True)
    for name in ("code", "stamp", "approved_by", "score"):  # shown, not editable, on a new record too
        assert f'<input id="{name}"' in page and f'name="{name}"' not in page, name
    posted = browser.post("/ui/ro/ticket/new", {"title": "form", "stamp": "smuggled", "score": "7"})
    assert posted.status_code == 302
    saved = ro.records.find("ro", "ticket", {"title": "form"})[0]
    assert (saved["stamp"], saved["score"]) == ("hook:form", 5)
