"""UI versus API over the shipped demo app's own permissions (apps_config/service_desk), on both backends.

For every role x entity x operation the REST API (Bearer token) and the web UI
(a Flask-Login session) must give the same answer: allowed or forbidden
(403/404 alike), the same records in lists and search, the same counts, no
hidden field in either, and a CSV export with exactly the rows of the list
and none of its hidden columns. The expected answers come from DOMAIN §3, so
both sides agreeing on a wrong rule fails too. Failures are collected.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from runtime.core.config import Settings
from runtime.data.fixtures import load_fixtures
from runtime.data.query import ListQuery
from runtime.web import create_app
from tests.api.conftest import Client
from tests.ui.conftest import PASSWORD, Browser

from .test_matrix import Report

APP = "service_desk"
ROLES = ("agent", "dispatcher", "client")
ENTITIES = ("request", "contract", "organization", "department", "module", "service")
DICTIONARIES = ("organization", "department", "module", "service")
HIDDEN = {("client", "request"): {"labor_hours", "hourly_rate", "labor_cost"}}
CLIENT_ORG = "Минздрав области"


def allowed(role, entity, op) -> bool:
    """DOMAIN §3, written out: the oracle both sides are checked against."""
    if entity == "request":
        return {"read": True, "create": True, "update": role != "client", "delete": role == "dispatcher"}[op]
    if entity == "contract" and op == "read":
        return role != "client"
    if op == "read":
        return True
    return role == "dispatcher"


def everything(loom, entity):
    et = loom.entity_tables(APP, entity)
    with loom.reader.connect() as c:
        rows = ListQuery(loom, et).run(c, [], ["id"], limit=500).items
        return [loom.records.to_json(c, et, r, related=False) for r in rows]


def ui_ids(html: str, entity: str) -> set[int]:
    return {int(x) for x in re.findall(rf'href="/ui/{APP}/{entity}/(\d+)"', html)}


def titles(entity_obj, names) -> set[str]:
    out = set()
    for name in names:
        title = entity_obj.fields[name].title
        out |= set(title.values()) if isinstance(title, dict) else {title}
    return out


def sample(loom, entity, org_id, n):
    """Valid data for a new record of ``entity`` (``n`` keeps unique fields apart)."""
    some = {e: everything(loom, e)[0]["id"] for e in ("department", "module")}
    today = dt.date.today()
    return {
        "request": {"subject": f"Проверка прав номер {n}", "description": "Проверка", "organization": org_id,
                    "module": some["module"]},
        "contract": {"code": f"ПР-{n}", "organization": org_id, "department": some["department"],
                     "valid_from": str(today), "valid_to": str(today + dt.timedelta(days=30))},
        "organization": {"short_name": f"Проверка {n}", "inn": f"{7700000000 + n}"},
        "department": {"name": f"Отдел проверки {n}"},
        "module": {"name": f"Модуль {n}", "code": f"CHK{n}"},
        "service": {"name": f"Услуга {n}", "module": some["module"]},
    }[entity]


@pytest.fixture
def demo(service_desk, tmp_path):
    loom = service_desk
    load_fixtures(loom, APP)
    org = next(o for o in everything(loom, "organization") if o["short_name"] == CLIENT_ORG)
    users = {
        "agent": loom.accounts.create_user("agent", PASSWORD, roles=["service_desk:agent"]),
        "dispatcher": loom.accounts.create_user("dispatcher", PASSWORD, roles=["service_desk:dispatcher"]),
        "client": loom.accounts.create_user("client", PASSWORD, roles=["service_desk:client"],
                                            organization=f"{APP}.organization:{org['id']}"),
    }
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    app.config["TESTING"] = True
    api, ui = {}, {}
    for role, uid in users.items():
        api[role] = Client(app.test_client(), loom.accounts.issue_token(uid))
        ui[role] = Browser(app.test_client())
        assert ui[role].login(role, PASSWORD).status_code == 302
    return loom, org, api, ui


def _forbidden(code):
    return code in (403, 404)


def test_ui_and_api_agree(demo):
    loom, org, api, ui = demo
    report = Report()
    for entity in ENTITIES:
        ent = loom.entity_tables(APP, entity).entity
        records = everything(loom, entity)
        by_id = {r["id"]: r for r in records}
        view = "all"
        first_column = ent.view(view)["columns"][0]
        for role in ROLES:
            where = f"{role} {entity}"
            hidden = HIDDEN.get((role, entity), set())
            hidden_titles = titles(ent, hidden)
            may_read = allowed(role, entity, "read")
            expected = {r["id"] for r in records
                        if may_read and (role != "client" or entity != "request" or r["organization"] == org["id"])}
            # ---- list and count
            a = api[role].get(f"/api/v1/{APP}/{entity}?limit=500&count=exact")
            u = ui[role].get(f"/ui/{APP}/{entity}?view={view}")
            report.check(a.status_code == (200 if may_read else 403), f"{where} API list {a.status_code}")
            report.check(u.status_code == (200 if may_read else 403), f"{where} UI list {u.status_code}")
            if not may_read:
                report.check(_forbidden(ui[role].get(f"/ui/{APP}/{entity}/export.csv?view={view}").status_code),
                             f"{where} UI export allowed")
                for r in records[:3]:
                    report.check(_forbidden(api[role].get(f"/api/v1/{APP}/{entity}/{r['id']}").status_code),
                                 f"{where} API get {r['id']} allowed")
                    report.check(_forbidden(ui[role].get(f"/ui/{APP}/{entity}/{r['id']}").status_code),
                                 f"{where} UI get {r['id']} allowed")
                continue
            body, html = a.get_json(), u.get_data(as_text=True)
            api_ids = {r["id"] for r in body["items"]}
            got_ui = ui_ids(html, entity)
            report.check(api_ids == expected, f"{where} API list {sorted(api_ids)} != {sorted(expected)}")
            report.check(got_ui == api_ids, f"{where} UI list {sorted(got_ui)} != API {sorted(api_ids)}")
            report.check(body["count"] == len(api_ids) == len(got_ui), f"{where} count {body['count']}")
            for item in body["items"]:
                report.check(not hidden & set(item), f"{where} API list item {item['id']} shows {hidden & set(item)}")
            report.check(not any(t in html for t in hidden_titles), f"{where} UI list shows a hidden column")
            # ---- export: the list's rows, the list's columns first, no hidden column
            e = ui[role].get(f"/ui/{APP}/{entity}/export.csv?view={view}")
            report.check(e.status_code == 200, f"{where} export {e.status_code}")
            if e.status_code == 200:
                rows = list(csv.reader(io.StringIO(e.get_data(as_text=True).lstrip("\ufeff"))))
                heads, data = rows[0], rows[1:]
                shown = [c for c in ent.view(view)["columns"] if c not in hidden]
                for name in shown:
                    if name in ent.fields:
                        report.check(titles(ent, [name]) & set(heads), f"{where} export lacks the column {name}")
                report.check(not hidden_titles & set(heads), f"{where} export has hidden columns")
                report.check(len(data) == len(got_ui), f"{where} export has {len(data)} rows, list {len(got_ui)}")
                report.check({row[0] for row in data} == {str(by_id[i][first_column]) for i in api_ids},
                             f"{where} export rows differ from the list")
            # ---- get one: every record, same answer on both sides
            for r in records:
                a = api[role].get(f"/api/v1/{APP}/{entity}/{r['id']}")
                u = ui[role].get(f"/ui/{APP}/{entity}/{r['id']}")
                visible = r["id"] in expected
                report.check(a.status_code == (200 if visible else 404), f"{where} API get {r['id']} {a.status_code}")
                report.check(u.status_code == (200 if visible else 404), f"{where} UI get {r['id']} {u.status_code}")
                if visible and a.status_code == 200 and u.status_code == 200:
                    report.check(not hidden & set(a.get_json()), f"{where} API get {r['id']} shows hidden fields")
                    page = u.get_data(as_text=True)
                    report.check(not any(t in page for t in hidden_titles), f"{where} UI get {r['id']} shows hidden")
            # ---- search
            if ent.search_fields:
                word = max(str(records[0][ent.search_fields[0]]).split(), key=len)  # not a stop word
                a = api[role].get(f"/api/v1/{APP}/{entity}?q={word}&limit=500&count=exact").get_json()
                u = ui[role].get(f"/ui/{APP}/{entity}?view={view}&q={word}").get_data(as_text=True)
                found = {r["id"] for r in a["items"]}
                report.check(found and found <= expected, f"{where} API search {word!r}: {sorted(found)}")
                report.check(ui_ids(u, entity) == found, f"{where} UI search {sorted(ui_ids(u, entity))} != {found}")
                report.check(a["count"] == len(found), f"{where} search count {a['count']}")
    report.done()


def test_ui_and_api_agree_on_writes(demo):
    loom, org, api, ui = demo
    report = Report()
    n = 0
    for entity in ENTITIES:
        for role in ROLES:
            where = f"{role} {entity}"
            n += 1
            # ---- create: the API posts, the UI opens the form
            may = allowed(role, entity, "create")
            a = api[role].post(f"/api/v1/{APP}/{entity}", sample(loom, entity, org["id"], n))
            u = ui[role].get(f"/ui/{APP}/{entity}/new")
            report.check(a.status_code == (201 if may else 403), f"{where} API create {a.status_code} {a.get_json()}")
            report.check(u.status_code == (200 if may else 403), f"{where} UI new form {u.status_code}")
            # ---- update: a record the role can see (or, when it may not read, any record)
            target = loom.records.create(APP, entity, sample(loom, entity, org["id"], 1000 + n))
            may = allowed(role, entity, "update")
            a = api[role].patch(f"/api/v1/{APP}/{entity}/{target['id']}", {"row_version": target["row_version"]})
            u = ui[role].get(f"/ui/{APP}/{entity}/{target['id']}/edit")
            report.check(a.status_code == 200 if may else _forbidden(a.status_code), f"{where} API update {a.status_code}")
            report.check(u.status_code == 200 if may else _forbidden(u.status_code), f"{where} UI edit {u.status_code}")
            # ---- delete: the API deletes one record, the UI's bulk action another
            may = allowed(role, entity, "delete")
            one = loom.records.create(APP, entity, sample(loom, entity, org["id"], 2000 + n))
            two = loom.records.create(APP, entity, sample(loom, entity, org["id"], 3000 + n))
            a = api[role].delete(f"/api/v1/{APP}/{entity}/{one['id']}")
            report.check(a.status_code == 200 if may else _forbidden(a.status_code), f"{where} API delete {a.status_code}")
            lst = f"/ui/{APP}/{entity}?view=all"
            r = ui[role].post(f"/ui/{APP}/{entity}/bulk", {"action": "delete", "id": str(two["id"])},
                              token_from=lst if allowed(role, entity, "read") else "/ui/")
            html = ui[role].get(r.headers.get("Location", lst)).get_data(as_text=True)
            ok = 'class="flash ok"' in html
            report.check(ok == may and ('class="flash error"' in html) != may, f"{where} UI bulk delete ok={ok}")
            left = {x["id"] for x in everything(loom, entity)}
            report.check((one["id"] in left, two["id"] in left) == (not may, not may),
                         f"{where} delete left {one['id'] in left}, {two['id'] in left}")
    report.done()
