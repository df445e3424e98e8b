"""Two apps side by side: a role of one app opens nothing of the other, on every channel.

Both shipped apps declare a role ``agent``. ``desk`` is a service desk agent (and a clerk
of a third app, ``bridge``, whose scripts may read it_support); ``it`` is an it_support
agent. Each must see nothing of the other's app: the API's app listing, lists, counts,
full-text search, records, writes, transitions, history, the UI's home page, navigation,
lists, record pages, exports, reports, link pickers, scripts' ``find``/``get`` on their
behalf, and notifications to ``role:agent``. The shipped dictionaries read by ``user``
are not open to a user of another app; an entity read by ``authenticated`` is, by
declaration. Administrators see both. Failures are collected, then reported together.
"""
from __future__ import annotations

import pytest

from runtime.core.config import Settings
from runtime.data.fixtures import load_fixtures
from runtime.data.query import ListQuery
from runtime.data.records import SYSTEM
from runtime.web import create_app
from tests.api.conftest import Client
from tests.conftest import APPS
from tests.ui.conftest import PASSWORD, Browser

from .test_matrix import Report

BRIDGE = {
    "app": {"name": "bridge", "title": "Bridge", "depends_on": ["it_support"],
            "roles": [{"name": "clerk"}]},
    "entities": {
        "note": {
            "title": "Note", "fields": {"text": {"type": "string"}},
            "permissions": {op: ["clerk"] for op in ("read", "create", "update", "delete")},
            "hooks": {"actions": [{"name": "count_tickets", "script": "peek.py:count_tickets"},
                                  {"name": "get_ticket", "script": "peek.py:get_ticket"},
                                  {"name": "my_roles", "script": "peek.py:my_roles"}]},
        },
        "notice": {  # an open board: every signed-in user reads it, whatever app they work in
            "title": "Notice", "fields": {"text": {"type": "string"}},
            "permissions": {"read": ["authenticated"], "create": ["clerk"], "update": ["clerk"], "delete": ["clerk"]},
        },
    },
    "scripts": {"peek.py": '''
def count_tickets(record):
    try:
        return len(find("it_support.ticket", {}, limit=200))
    except Exception as exc:
        return "refused: " + str(exc)

def get_ticket(record):
    ticket = get("it_support.ticket", int(record.text))
    return "none" if ticket is None else ticket["title"]

def my_roles(record):
    return sorted(user["roles"])
'''},
}
SD, IT = "service_desk", "it_support"


@pytest.fixture
def two(loom, tmp_path):
    for name in (SD, IT):
        loom.store.install(APPS / name, author="tester")
        load_fixtures(loom, name)
    loom.store.publish(BRIDGE, author="tester")
    accounts = loom.accounts
    users = {
        "desk": accounts.create_user("desk", PASSWORD, roles=[f"{SD}:agent", "bridge:clerk"]),
        "it": accounts.create_user("it", PASSWORD, roles=[f"{IT}:agent"], email="it@corp.example"),
        "root": accounts.create_user("root", PASSWORD, is_admin=True),
    }
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    app.config["TESTING"] = True
    api, ui = {}, {}
    for name, uid in users.items():
        api[name] = Client(app.test_client(), accounts.issue_token(uid))
        ui[name] = Browser(app.test_client())
        assert ui[name].login(name, PASSWORD).status_code == 302
    note = loom.records.create("bridge", "note", {"text": str(first(loom, IT, "ticket")["id"])}, SYSTEM)
    loom.records.create("bridge", "notice", {"text": "Плановые работы в субботу"}, SYSTEM)
    return loom, users, api, ui, note


def first(loom, app, entity):
    et = loom.entity_tables(app, entity)
    with loom.reader.connect() as c:
        row = ListQuery(loom, et).run(c, [], ["id"], limit=1).items[0]
        return loom.records.to_json(c, et, row, related=False)


def sees_nothing(report, loom, api, ui, who, app, entity, app_title):
    """Every channel into ``app`` answers ``who`` with nothing (403/404, or the app left out)."""
    where = f"{who} -> {app}.{entity}"
    record = first(loom, app, entity)
    rid, words = record["id"], record[loom.entity_tables(app, entity).entity.title_field]
    listing = api.get("/api/v1/apps").get_json()
    report.check(app not in {a["name"] for a in listing}, f"{where}: /api/v1/apps lists the app")
    base = f"/api/v1/{app}/{entity}"
    for url in (base, f"{base}?count=exact", f"{base}?q={words}", f"{base}/{rid}",
                f"{base}/{rid}/history", f"{base}?view=all"):
        code = api.get(url).status_code
        report.check(code in (403, 404), f"{where}: GET {url} -> {code}")
    for method, url, body in (("post", base, {}), ("patch", f"{base}/{rid}", {"row_version": record["row_version"]}),
                              ("delete", f"{base}/{rid}", None), ("post", f"{base}/{rid}/restore", None)):
        response = getattr(api, method)(url, body) if body is not None else getattr(api, method)(url)
        report.check(response.status_code in (403, 404), f"{where}: {method.upper()} {url} -> {response.status_code}")
    for tr in loom.entity_tables(app, entity).entity.spec.get("transitions", [])[:3]:
        url = f"{base}/{rid}/transitions/{tr['name']}"
        code = api.post(url, {}).status_code
        report.check(code in (403, 404), f"{where}: POST {url} -> {code}")

    home = ui.get("/ui/").get_data(as_text=True)  # the app cards and the sidebar's app list
    report.check(app_title not in home and f'href="/ui/{app}/' not in home, f"{where}: the home page shows the app")
    for url in (f"/ui/{app}/", f"/ui/{app}/{entity}", f"/ui/{app}/{entity}/{rid}", f"/ui/{app}/{entity}/new",
                f"/ui/{app}/{entity}/{rid}/edit", f"/ui/{app}/{entity}/export.csv", f"/ui/{app}/{entity}/export.xlsx",
                f"/ui/{app}/reports", f"/ui/{app}/{entity}/filter?status=new", f"/ui/{app}/{entity}/options/status"):
        response = ui.get(url)
        report.check(response.status_code in (403, 404), f"{where}: UI {url} -> {response.status_code}")
        report.check(record["number"] not in response.get_data(as_text=True), f"{where}: UI {url} shows a record")
    for spec in loom.live[app].app.section("reports").get("reports", [])[:3]:
        for url in (f"/ui/{app}/reports/{spec['name']}", f"/ui/{app}/reports/{spec['name']}/data"):
            code = ui.get(url).status_code
            report.check(code in (403, 404), f"{where}: report {url} -> {code}")


def test_a_role_in_one_app_opens_nothing_of_the_other(two):
    loom, users, api, ui, _ = two
    report = Report()
    sd_title, it_title = "Служба поддержки", "Техническая поддержка"
    # the service desk agent holds `agent` - a role it_support declares too - only in the service desk
    sees_nothing(report, loom, api["desk"], ui["desk"], "desk", IT, "ticket", it_title)
    sees_nothing(report, loom, api["desk"], ui["desk"], "desk", IT, "system", it_title)
    # and the it_support agent sees nothing of the service desk, not even its dictionaries (read: [user])
    sees_nothing(report, loom, api["it"], ui["it"], "it", SD, "request", sd_title)
    sees_nothing(report, loom, api["it"], ui["it"], "it", SD, "organization", sd_title)
    # each still works in their own app
    for who, app, entity in (("desk", SD, "request"), ("desk", SD, "organization"), ("it", IT, "ticket")):
        response = api[who].get(f"/api/v1/{app}/{entity}?count=exact")
        report.check(response.status_code == 200 and response.get_json()["count"] > 0,
                     f"{who} lists {app}.{entity}: {response.status_code}")
        report.check(ui[who].get(f"/ui/{app}/{entity}").status_code == 200, f"{who}: UI list of {app}.{entity}")
    listing = {a["name"] for a in api["root"].get("/api/v1/apps").get_json()}
    report.check({SD, IT, "bridge"} <= listing, f"root lists {listing}")
    report.done()


def test_scripts_find_and_get_nothing_of_an_app_the_user_has_no_role_in(two):
    loom, users, api, ui, note = two
    url = f"/api/v1/bridge/note/{note['id']}/actions"
    # on behalf of the desk agent: find is refused, get finds nothing, and user.roles are bridge's own
    refused = api["desk"].post(f"{url}/count_tickets", {}).get_json()["result"]
    assert refused.startswith("refused: you may not read ticket records"), refused
    assert api["desk"].post(f"{url}/get_ticket", {}).get_json()["result"] == "none"
    assert api["desk"].post(f"{url}/my_roles", {}).get_json()["result"] == ["authenticated", "clerk", "user"]
    # the same scripts as an administrator read it_support: the refusal above is the user's, not the script's
    tickets = len(loom.records.find(IT, "ticket", limit=200))
    assert api["root"].post(f"{url}/count_tickets", {}).get_json()["result"] == tickets > 0
    assert api["root"].post(f"{url}/get_ticket", {}).get_json()["result"] == first(loom, IT, "ticket")["title"]


def test_an_entity_read_by_authenticated_is_open_to_every_signed_in_user(two):
    loom, users, api, ui, _ = two
    # `it` holds no role of bridge: its notices are open by declaration, its notes are not
    notices = api["it"].get("/api/v1/bridge/notice")
    assert notices.status_code == 200 and [n["text"] for n in notices.get_json()["items"]] == ["Плановые работы в субботу"]
    assert api["it"].get("/api/v1/bridge/note").status_code == 403
    assert api["it"].post("/api/v1/bridge/notice", {"text": "x"}).status_code == 403  # reading is all it opens
    assert [e["name"] for a in api["it"].get("/api/v1/apps").get_json() if a["name"] == "bridge"
            for e in a["entities"]] == ["notice"]


def test_role_recipients_are_the_apps_own(two):
    loom, users, *_ = two
    ticket = first(loom, IT, "ticket")
    with loom.reader.connect() as c:
        agents = loom.notifier.recipients(c, IT, "ticket", ticket, ["role:agent"])
        desk_agents = loom.notifier.recipients(c, SD, "request", first(loom, SD, "request"), ["role:agent"])
    assert [r.user_id for r in agents] == [users["it"]]
    desk_ids = {r.user_id for r in desk_agents}  # the desk's demo staff hold service_desk:agent too
    assert users["desk"] in desk_ids and users["it"] not in desk_ids
    for user_id in desk_ids:
        assert "service_desk:agent" in loom.accounts.actor_for_id(user_id).roles


def test_roles_are_given_as_app_role(two):
    loom, users, *_ = two
    with pytest.raises(ValueError, match=r"'agent' names no app.*'it_support:agent' or 'service_desk:agent'"):
        loom.accounts.create_user("bare", None, roles=["agent"])
    with pytest.raises(ValueError, match="names no app"):
        loom.accounts.update_user(users["it"], roles=["lead"])
    loom.accounts.update_user(users["it"], roles=[f"{IT}:agent", "analyst"])
    assert loom.accounts.actor_for_id(users["it"]).roles == (f"{IT}:agent", "analyst")


def test_the_upgrade_gives_each_bare_role_to_every_app_that_declares_it(two):
    """Revision 0007: what a bare role granted before (every app declaring it), spelled out."""
    from alembic import command
    from sqlalchemy import select, update

    from runtime.core.migrations import config
    from runtime.data import tables as platform

    loom, users, *_ = two
    u = platform.user
    command.downgrade(config(loom.engine), "0006")
    with loom.engine.begin() as c:
        c.execute(update(u).where(u.c.id == users["desk"]).values(roles=["agent", "client", "analyst", "ghost"]))
    loom.upgrade_db()
    with loom.engine.connect() as c:
        roles = dict(c.execute(select(u.c.username, u.c.roles)).all())
    assert roles["desk"] == ["it_support:agent", "service_desk:agent", "service_desk:client", "analyst", "ghost"]
    # the downgrade made it bare "agent", which both apps declare: both again (an administrator trims it)
    assert roles["it"] == ["it_support:agent", "service_desk:agent"]
    assert roles["root"] == []
