"""The service desk with permissions for agent, dispatcher and client, users and data.

``world`` publishes the demo app with a ``permissions`` block on request,
organisation and contract, creates one user per role (two agents in
different groups, two clients of different organisations) and a spread of
requests, and hands back API clients for each user.
"""
import copy
import datetime as dt
from dataclasses import dataclass, field

import pytest

from runtime.core.config import Settings
from runtime.data.records import SYSTEM
from runtime.web import create_app
from tests.api.conftest import Client

APP = "service_desk"

REQUEST_PERMISSIONS = {
    "read": ["agent", "dispatcher", "client"],
    "create": ["dispatcher", "client"],
    "update": ["agent", "dispatcher"],
    "delete": ["dispatcher"],
    "rows": [
        {"roles": ["client"], "organisation_field": "organization"},
        {"roles": ["agent"], "group_field": "team"},
        {"roles": ["agent"], "condition": "assignee == user_id"},
        {"roles": ["agent"], "condition": "priority in ['1'] and status != 'closed'"},
        {"roles": ["dispatcher"]},  # no conditions: every row
    ],
    "fields": {
        "internal_note": {"hidden": ["client"]},
        "hourly_rate": {"hidden": ["client", "agent"]},
        "labor_cost": {"hidden": ["client"]},
        "priority": {"readonly": ["client", "agent"]},
        "team": {"readonly": ["client"]},
    },
}
ORGANIZATION_PERMISSIONS = {
    "read": ["agent", "dispatcher", "client"],
    "create": ["dispatcher"], "update": ["dispatcher"], "delete": ["dispatcher"],
    "rows": [{"roles": ["client"], "organisation_field": "id"}],
    "fields": {"inn": {"hidden": ["client"]}},
}
CONTRACT_PERMISSIONS = {
    "read": ["agent", "dispatcher", "client"],
    "create": ["dispatcher"], "update": ["dispatcher"], "delete": ["dispatcher"],
    "rows": [{"roles": ["client"], "organisation_field": "organization", "condition": "status == 'active'"}],
    "fields": {"amount": {"hidden": ["client", "agent"]}},
}
SECRET_WORD = "конфиденциально"  # only ever in internal_note


def permissioned_document(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    entities = doc["entities"]
    request = entities["request"]
    request["fields"]["team"] = {"type": "group", "title": {"ru": "Группа", "en": "Team"}}
    request["fields"]["internal_note"] = {"type": "text", "title": {"ru": "Заметка", "en": "Internal note"}}
    request["search"] = ["subject", "description", "internal_note"]
    # copies: a test that changes its document's rules must not change them for the next test
    request["permissions"] = copy.deepcopy(REQUEST_PERMISSIONS)
    entities["organization"]["permissions"] = copy.deepcopy(ORGANIZATION_PERMISSIONS)
    entities["contract"]["permissions"] = copy.deepcopy(CONTRACT_PERMISSIONS)
    return doc


@dataclass
class World:
    loom: object
    users: dict  # name -> user id
    groups: dict  # name -> group id
    clients: dict  # name -> Client (Bearer token of that user)
    orgs: dict = field(default_factory=dict)  # "A"/"B"/"spare" -> record
    contracts: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)  # every request as the system sees it
    module: dict | None = None

    def refresh_requests(self):
        from runtime.data.query import ListQuery
        et = self.loom.entity_tables(APP, "request")
        with self.loom.reader.connect() as c:
            page = ListQuery(self.loom, et).run(c, [], ["id"], limit=500)
            self.requests = [self.loom.records.to_json(c, et, r, related=False) for r in page.items]
        return self.requests


@pytest.fixture
def world(service_desk, tmp_path):
    loom = service_desk
    loom.store.publish(permissioned_document(loom.store.document(APP)), author="tester", comment="permissions")
    accounts = loom.accounts
    groups = {"first": accounts.create_group("first_line"), "second": accounts.create_group("second_line")}
    create = loom.records.create
    dep = create(APP, "department", {"name": "Отдел сопровождения"})
    module = create(APP, "module", {"name": "СЭД", "code": "EDMS", "department": dep["id"]})
    orgs = {key: create(APP, "organization", {"short_name": name, "inn": inn})
            for key, name, inn in (("A", "Минздрав области", "6658000001"), ("B", "Минфин области", "6658000002"),
                                   ("spare", "Минтранс области", "6658000003"))}
    today = dt.date.today()
    contracts = {}
    for key, status in (("A", "active"), ("B", "active"), ("A-old", "expired")):
        contracts[key] = create(APP, "contract", {
            "code": f"ГК-{key}", "organization": orgs[key[0]]["id"], "department": dep["id"], "status": status,
            "modules": [module["id"]], "valid_from": str(today.replace(year=today.year - 1)),
            "valid_to": str(today.replace(year=today.year + 1)), "amount": "100000.00"}, SYSTEM)
    users = {
        "admin": accounts.create_user("admin", None, is_admin=True),
        "dispatcher": accounts.create_user("dispatcher", None, roles=["service_desk:dispatcher"]),
        "agent1": accounts.create_user("agent1", None, roles=["service_desk:agent"]),
        "agent2": accounts.create_user("agent2", None, roles=["service_desk:agent"]),
        "client_a": accounts.create_user("client_a", None, roles=["service_desk:client"],
                                         organization=f"{APP}.organization:{orgs['A']['id']}"),
        "client_b": accounts.create_user("client_b", None, roles=["service_desk:client"],
                                         organization=f"{APP}.organization:{orgs['B']['id']}"),
        "nobody": accounts.create_user("nobody", None, roles=[]),
    }
    accounts.add_to_group(users["agent1"], groups["first"])
    accounts.add_to_group(users["agent2"], groups["second"])
    # A spread over organisation, team, assignee, priority and status, so each rule decides some rows.
    spread = [("A", "first", None, "3", None), ("A", "second", "agent2", "2", None), ("B", "first", None, "4", None),
              ("B", None, "agent2", "3", None), ("A", None, None, "1", None), ("B", None, None, "1", "closed"),
              ("B", "second", None, "3", None), ("A", None, "agent1", "4", None)]
    for i, (org, team, assignee, priority, status) in enumerate(spread):
        data = {"subject": f"Заявка номер {i} про карточки", "description": f"Описание проблемы {i}",
                "organization": orgs[org]["id"], "module": module["id"], "priority": priority,
                "team": groups[team] if team else None, "assignee": users[assignee] if assignee else None,
                "internal_note": f"{SECRET_WORD} {i}" if org == "B" else "обычная заметка",
                "labor_hours": "2", "hourly_rate": "1500"}
        if status:
            data["status"] = status
        create(APP, "request", data, SYSTEM)
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    clients = {name: Client(app.test_client(), accounts.issue_token(uid)) for name, uid in users.items()}
    w = World(loom, users, groups, clients, orgs, contracts, module=module)
    w.refresh_requests()
    return w
