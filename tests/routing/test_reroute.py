"""Routing again on declared triggers, and groups and users read from the record
(docs/behaviour.md, "Routing and assignment"), through the REST API on SQLite and PostgreSQL."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from metamodel import MetadataError
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app
from tests.api.conftest import Client

URL = "/api/v1/grid/appeal"

ROUTING = {
    "appeal": {
        "group_field": "support_group",
        "assignee_field": "assignee",
        "requester_field": "requester",
        "notify_moved": "moved",
        "reroute": {"fields": ["topic", "consumer"], "statuses": ["escalated"]},
        "rules": [
            {"name": "escalated", "when": "status == 'escalated'", "group": "heads", "strategy": "round_robin",
             "notify": {"template": "escalated", "to": ["support_group.lead"]}},
            {"name": "billing", "when": "topic == 'billing'", "group": "billing"},
            {"name": "connection", "when": "topic == 'connection'", "group_from": "consumer.district.group",
             "user_from": "consumer.district.curator"},
            {"name": "by_district", "group_from": "consumer.district.group", "strategy": "round_robin"},
        ],
        "fallback": {"group": "line1", "strategy": "round_robin"},
    },
}

DOC = {
    "app": {"name": "grid", "title": "Grid"},
    "entities": {
        "district": {"title": "District", "title_field": "name", "fields": {
            "name": {"type": "string", "required": True}, "group": {"type": "group"}, "curator": {"type": "user"}}},
        "consumer": {"title": "Consumer", "title_field": "name", "fields": {
            "name": {"type": "string", "required": True}, "district": {"type": "link", "entity": "district"}}},
        "appeal": {
            "title": "Appeal", "number": "AP-{0000}",
            "fields": {
                "title": {"type": "string"},
                "topic": {"type": "choice", "choices": ["quality", "billing", "connection"]},
                "consumer": {"type": "link", "entity": "consumer"},
                "support_group": {"type": "group"},
                "assignee": {"type": "user"},
                "requester": {"type": "user"},
            },
            "statuses": [{"name": "registered", "category": "open", "initial": True},
                         {"name": "in_work", "category": "in_work"},
                         {"name": "escalated", "category": "in_work"},
                         {"name": "done", "category": "done"}],
            "transitions": [{"name": "take", "from": "registered", "to": "in_work"},
                            {"name": "escalate", "from": "in_work", "to": "escalated"},
                            {"name": "finish", "from": ["in_work", "escalated"], "to": "done"}],
        },
    },
    "notifications": {"templates": {
        "moved": {"channels": ["inapp"], "subject": "{{ record.number }} передано в {{ record._titles.support_group }}"},
        "escalated": {"channels": ["inapp"], "subject": "Эскалация: {{ record.number }}"},
    }},
    "routing": {"entities": ROUTING},
}

GROUPS = {"line1": ["l1"], "billing": ["b1", "b2"], "north": ["n1", "n2"], "south": ["s1"], "heads": ["h1"]}


@pytest.fixture
def grid(loom, tmp_path):
    """The app, its groups (``grid.groups``) and users (``grid.ids``), two districts, four consumers (``grid.consumers``)
    and an admin's API client."""
    groups, ids = {}, {}
    for group, members in GROUPS.items():
        groups[group] = loom.accounts.create_group(group, title=group.capitalize())
        for username in members:
            ids[username] = loom.accounts.create_user(username, None)
            loom.accounts.add_to_group(ids[username], groups[group])
    ids["curator"] = loom.accounts.create_user("curator", None)
    ids["requester"] = loom.accounts.create_user("requester", None)
    loom.accounts.update_group(groups["heads"], lead_id=ids["h1"])
    loom.store.publish(copy.deepcopy(DOC), author="t")
    create = loom.records.create
    north = create("grid", "district", {"name": "Северный", "group": groups["north"], "curator": ids["curator"]})
    south = create("grid", "district", {"name": "Южный", "group": groups["south"]})
    loom.consumers = {key: create("grid", "consumer", {"name": name, "district": district and district["id"]})["id"]
                      for key, name, district in (("ivanov", "Иванов", north), ("petrov", "Петров", north),
                                                  ("sidorov", "Сидоров", south), ("nowhere", "Без района", None))}
    admin = loom.accounts.create_user("admin", "pw-pw-pw-pw", is_admin=True)
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    loom.api = Client(app.test_client(), loom.accounts.issue_token(admin))
    loom.ids, loom.groups = ids, groups
    return loom


def post(grid, **data) -> dict:
    response = grid.api.post(URL, {"title": "Нет света", "requester": grid.ids["requester"], **data})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def patch(grid, record: dict, **data) -> dict:
    response = grid.api.patch(f"{URL}/{record['id']}", data, headers={"If-Match": f'"{record["row_version"]}"'})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def fire(grid, record: dict, name: str) -> dict:
    response = grid.api.post(f"{URL}/{record['id']}/transitions/{name}", {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def placed(grid, record: dict) -> tuple:
    groups, users = {v: k for k, v in grid.groups.items()}, {v: k for k, v in grid.ids.items()}
    return groups.get(record["support_group"]), users.get(record["assignee"])


def routes(grid, record: dict) -> list:
    a = platform.audit
    with grid.engine.connect() as c:
        rows = c.execute(select(a.c.before, a.c.after).where(a.c.action == "route", a.c.app == "grid",
                                                             a.c.record_id == record["id"]).order_by(a.c.seq)).all()
    groups, users = {v: k for k, v in grid.groups.items()}, {v: k for k, v in grid.ids.items()}
    return [(groups.get(r.before["support_group"]), groups.get(r.after["support_group"]),
             users.get(r.after["assignee"]), r.after["rule"], r.after["trigger"]) for r in rows]


def inapp(grid) -> list[str]:
    """The templates' in-app notifications (not the personal "assigned to you" ones)."""
    n = platform.notification
    with grid.engine.connect() as c:
        return [r.title for r in c.execute(select(n.c.title).where(n.c.kind.is_(None)).order_by(n.c.id))]


def test_the_group_and_the_user_come_from_a_linked_record(grid):
    assert placed(grid, post(grid, consumer=grid.consumers["ivanov"])) == ("north", "n1")  # two links away
    assert placed(grid, post(grid, consumer=grid.consumers["petrov"])) == ("north", "n2")  # north's own rotation
    assert placed(grid, post(grid, consumer=grid.consumers["sidorov"])) == ("south", "s1")
    assert placed(grid, post(grid, consumer=grid.consumers["ivanov"], topic="connection")) == ("north", "curator")
    # the district has no curator: that rule needs one, so the next rule picks in the district's group
    assert placed(grid, post(grid, consumer=grid.consumers["sidorov"], topic="connection")) == ("south", "s1")
    assert placed(grid, post(grid, consumer=grid.consumers["nowhere"])) == ("line1", "l1")  # no district: fallback


def test_a_listed_field_change_routes_again_keeping_the_history(grid):
    record = post(grid, consumer=grid.consumers["ivanov"])
    assert placed(grid, record) == ("north", "n1")
    record = patch(grid, record, title="Нет света третий день")  # not a trigger
    assert placed(grid, record) == ("north", "n1") and routes(grid, record) == []
    record = patch(grid, record, topic="billing")
    assert placed(grid, record) == ("billing", "b1")
    assert routes(grid, record) == [("north", "billing", "b1", "billing", "field:topic")]
    assert inapp(grid) == [f"{record['number']} передано в Billing"]  # the requester is told it moved
    timeline = grid.api.get(f"{URL}/{record['id']}/history").get_json()
    assert timeline == []  # no status changed: the status history stays as it was
    record = patch(grid, record, topic="quality", consumer=grid.consumers["sidorov"])
    assert placed(grid, record) == ("south", "s1")
    assert routes(grid, record)[-1] == ("billing", "south", "s1", "by_district", "field:topic")


def test_moving_within_the_same_group_keeps_the_assignee(grid):
    record = post(grid, consumer=grid.consumers["ivanov"])
    record = patch(grid, record, consumer=grid.consumers["petrov"])  # the same district, so the same group
    assert placed(grid, record) == ("north", "n1") and routes(grid, record) == []


def test_a_person_placing_the_record_is_not_overruled(grid):
    record = post(grid, consumer=grid.consumers["ivanov"])
    record = patch(grid, record, topic="billing", support_group=grid.groups["south"])
    assert placed(grid, record) == ("south", "s1") and routes(grid, record) == []


def test_entering_a_listed_status_routes_again(grid):
    record = post(grid, consumer=grid.consumers["sidorov"])
    record = fire(grid, record, "take")
    assert placed(grid, record) == ("south", "s1") and routes(grid, record) == []
    record = fire(grid, record, "escalate")
    assert record["status"] == "escalated" and placed(grid, record) == ("heads", "h1")
    assert routes(grid, record) == [("south", "heads", "h1", "escalated", "status:escalated")]
    assert inapp(grid) == [f"Эскалация: {record['number']}", f"{record['number']} передано в Heads"]
    history = grid.api.get(f"{URL}/{record['id']}/history").get_json()
    assert [(h["from"], h["to"]) for h in history] == [("registered", "in_work"), ("in_work", "escalated")]
    record = fire(grid, record, "finish")  # leaving it is no trigger
    assert placed(grid, record) == ("heads", "h1") and len(routes(grid, record)) == 1


def test_publish_checks_the_triggers_and_the_paths(loom):
    doc = copy.deepcopy(DOC)
    spec = doc["routing"]["entities"]["appeal"]
    spec["reroute"] = {"fields": ["topik", "support_group"], "statuses": ["escalatd"]}
    spec["rules"] = [
        {"name": "a", "group_from": "consumer.name"},
        {"name": "b", "group": "heads", "group_from": "consumer.district.group"},
        {"name": "c", "user_from": "consumer.district.curatr"},
        {"name": "d", "group_from": "consumer.district.group.lead"},
        {"name": "e", "when": "topic == 'billing'"},
    ]
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="t")
    problems = {p.path: p.message for p in err.value.problems}
    base = "entities.appeal."
    assert problems[base + "reroute.fields[0]"] == "unknown field 'topik'; did you mean 'topic'?"
    assert "set by routing itself" in problems[base + "reroute.fields[1]"]
    assert problems[base + "reroute.statuses[0]"] == "unknown status 'escalatd'; did you mean 'escalated'?"
    assert problems[base + "rules[0].group_from"] == "consumer.name is a string field; 'consumer.name' must end " \
                                                     "in a group field"
    assert "not both" in problems[base + "rules[1].group_from"]
    assert "unknown field of district 'curatr'; did you mean 'curator'?" == problems[base + "rules[2].user_from"]
    assert "routing follows at most 2" in problems[base + "rules[3].group_from"]
    assert "add group:, group_from:, user: or user_from:" in problems[base + "rules[4]"]
    assert len(problems) == 8, problems
