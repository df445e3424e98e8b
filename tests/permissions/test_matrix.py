"""The permission matrix: every role x entity x operation through the REST API, on both backends.

Expected visibility is computed here in Python from the rules, over the
records as the system sees them; the API's lists, counts, searches and
single fetches must agree with it and never show a hidden field. Failures
are collected, so one run reports every cell that is wrong.
"""
from runtime.data.records import SYSTEM

from .conftest import APP, SECRET_WORD

READERS = ("admin", "dispatcher", "agent1", "agent2", "client_a", "client_b")
USERS = READERS + ("nobody",)
HIDDEN = {  # (user kind, entity) -> fields that must never appear
    ("agent", "request"): {"hourly_rate"},
    ("client", "request"): {"internal_note", "hourly_rate", "labor_cost"},
    ("client", "organization"): {"inn"},
    ("agent", "contract"): {"amount"},
    ("client", "contract"): {"amount"},
}


def kind(user):
    return user.rstrip("0123456789").removesuffix("_a").removesuffix("_b")


def hidden(user, entity):
    return HIDDEN.get((kind(user), entity), set())


def client_org(w, user):
    return w.orgs["A" if user == "client_a" else "B"]["id"]


def visible(w, user, entity, record) -> bool:
    """The rules of conftest's permissions, evaluated in Python: the oracle."""
    k = kind(user)
    if k in ("admin", "dispatcher", "agent") and entity != "request":
        return True
    if k in ("admin", "dispatcher"):
        return True
    if k == "client":
        org = client_org(w, user)
        if entity == "request":
            return record["organization"] == org
        if entity == "organization":
            return record["id"] == org
        return record["organization"] == org and record["status"] == "active"
    if k == "agent":
        group = w.groups["first" if user == "agent1" else "second"]
        return (record["team"] == group or record["assignee"] == w.users[user]
                or (record["priority"] == "1" and record["status"] != "closed"))
    return False


def everything(w, entity):
    from runtime.data.query import ListQuery
    et = w.loom.entity_tables(APP, entity)
    with w.loom.reader.connect() as c:
        rows = ListQuery(w.loom, et).run(c, [], ["id"], limit=500).items
        return [w.loom.records.to_json(c, et, r, related=False) for r in rows]


class Report:
    def __init__(self):
        self.failures = []

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)

    def status(self, response, expected, what):
        self.check(response.status_code == expected,
                   f"{what}: expected {expected}, got {response.status_code} {response.get_json()}")
        return response.status_code == expected

    def no_hidden(self, record, fields, what):
        leaked = fields & set(record)
        self.check(not leaked, f"{what}: hidden fields {sorted(leaked)} leaked")

    def done(self):
        assert not self.failures, f"{len(self.failures)} wrong cells:\n" + "\n".join(self.failures)


def test_reads(world):
    w, report = world, Report()
    for entity in ("request", "organization", "contract"):
        records = everything(w, entity)
        assert len(records) >= 3
        url = f"/api/v1/{APP}/{entity}"
        for user in USERS:
            api, where = w.clients[user], f"{user} {entity}"
            expected_ids = [r["id"] for r in records if visible(w, user, entity, r)]
            listing = api.get(f"{url}?limit=500&count=exact&sort=id")
            if user == "nobody":
                report.status(listing, 403, f"{where} list")
                report.status(api.get(f"{url}/{records[0]['id']}"), 403, f"{where} get")
                continue
            if report.status(listing, 200, f"{where} list"):
                body = listing.get_json()
                got = [r["id"] for r in body["items"]]
                report.check(got == expected_ids, f"{where} list: expected ids {expected_ids}, got {got}")
                report.check(body["count"] == len(expected_ids) and body["count_exact"],
                             f"{where} count: expected {len(expected_ids)}, got {body['count']}")
                for item in body["items"]:
                    report.no_hidden(item, hidden(user, entity), f"{where} list item {item['id']}")
            capped = api.get(f"{url}?limit=1&count=capped").get_json()
            report.check(capped["count"] == len(expected_ids), f"{where} capped count {capped['count']}")
            for record in records:
                got = api.get(f"{url}/{record['id']}")
                if visible(w, user, entity, record):
                    if report.status(got, 200, f"{where} get {record['id']}"):
                        report.no_hidden(got.get_json(), hidden(user, entity), f"{where} get {record['id']}")
                else:
                    report.status(got, 404, f"{where} get invisible {record['id']}")
            for name in sorted(hidden(user, entity)):
                for query in (f"{name}__notnull=1", f"{name}__isnull=0", f"{name}=x", f"sort={name}",
                              f"sort=-{name}"):
                    denied = api.get(f"{url}?{query}")
                    if report.status(denied, 403, f"{where} filter {query}"):
                        report.check("items" not in denied.get_json(), f"{where} filter {query} answered items")
    # Full-text search: visible rows only, and a word that is only in a hidden field finds nothing.
    requests = everything(w, "request")
    for user in READERS:
        api, where = w.clients[user], f"{user} search"
        expected = [r["id"] for r in requests if visible(w, user, "request", r)]
        found = api.get(f"/api/v1/{APP}/request?q=карточки&limit=500&count=exact&sort=id").get_json()
        report.check([r["id"] for r in found["items"]] == expected and found["count"] == len(expected),
                     f"{where} 'карточки': expected {expected}, got {[r['id'] for r in found['items']]}")
        secret = [r["id"] for r in requests if visible(w, user, "request", r) and "internal_note" not in
                  hidden(user, "request") and SECRET_WORD in (r["internal_note"] or "")]
        found = api.get(f"/api/v1/{APP}/request?q={SECRET_WORD}&limit=500&count=exact&sort=id").get_json()
        report.check([r["id"] for r in found["items"]] == secret and found["count"] == len(secret),
                     f"{where} secret word: expected {secret}, got {[r['id'] for r in found['items']]}")
        orgs = [o["id"] for o in everything(w, "organization") if visible(w, user, "organization", o)]
        found = api.get(f"/api/v1/{APP}/organization?q=области&sort=id").get_json()
        report.check([o["id"] for o in found["items"]] == orgs, f"{where} organisations: {found}")
    # Through a link: a hidden field of the linked entity cannot be filtered either.
    report.status(w.clients["client_a"].get(f"/api/v1/{APP}/request?contract.amount__gt=0"), 403,
                  "client filter contract.amount")
    report.status(w.clients["agent1"].get(f"/api/v1/{APP}/request?organization.short_name__contains=Мин"), 200,
                  "agent filter organization.short_name")
    report.done()


def _target(w, org, team=None, assignee=None, priority="3"):
    """A fresh request made by the system, for one write check."""
    return w.loom.records.create(APP, "request", {
        "subject": "Заявка для проверки записи", "description": "Проверка прав", "organization": w.orgs[org]["id"],
        "module": w.module["id"], "priority": priority, "team": w.groups[team] if team else None,
        "assignee": w.users[assignee] if assignee else None})


def _own_target(w, user):
    return {"admin": lambda: _target(w, "B"), "dispatcher": lambda: _target(w, "B"),
            "agent1": lambda: _target(w, "B", team="first"), "agent2": lambda: _target(w, "A", assignee="agent2"),
            "client_a": lambda: _target(w, "A"), "client_b": lambda: _target(w, "B"),
            "nobody": lambda: _target(w, "A")}[user]()


def test_writes(world):
    w, report = world, Report()
    url = f"/api/v1/{APP}/request"
    may_create = {"admin", "dispatcher", "client_a", "client_b"}
    may_update = {"admin", "dispatcher", "agent1", "agent2"}
    may_delete = {"admin", "dispatcher"}
    for user in USERS:
        api, where = w.clients[user], user
        org = client_org(w, user) if kind(user) == "client" else w.orgs["A"]["id"]
        new = {"subject": f"Новая заявка от {user}", "description": "Не работает поиск",
               "organization": org, "module": w.module["id"]}
        created = api.post(url, new)
        report.status(created, 201 if user in may_create else 403, f"{where} create request")
        if created.status_code == 201:
            body = created.get_json()
            report.no_hidden(body, hidden(user, "request"), f"{where} create response")
            report.check(body["created_by"] == w.users[user], f"{where} create: created_by")
            if kind(user) == "client":  # the before_save script's find ran with the client's rights
                expected = w.contracts["A" if user == "client_a" else "B"]["id"]
                report.check(body["contract"] == expected, f"{where} contract chosen: {body['contract']}")

        mine = _own_target(w, user)
        changed = api.patch(f"{url}/{mine['id']}", {"subject": "Тема исправлена", "row_version": 1})
        report.status(changed, 200 if user in may_update else 403, f"{where} update visible")
        if changed.status_code == 200:
            report.no_hidden(changed.get_json(), hidden(user, "request"), f"{where} update response")
        if kind(user) == "agent":
            other = _target(w, "B")  # no team, no assignee, normal priority: no agent rule matches
            report.status(api.patch(f"{url}/{other['id']}", {"subject": "Чужая заявка", "row_version": 1}),
                          404, f"{where} update invisible")
            report.status(api.post(f"{url}/{other['id']}/transitions/take"), 404, f"{where} transition invisible")
            stale = api.patch(f"{url}/{mine['id']}", {"subject": "Устаревшая правка", "row_version": 1})
            if report.status(stale, 409, f"{where} stale update"):
                report.no_hidden(stale.get_json()["current"], hidden(user, "request"), f"{where} 409 current")

        target = _own_target(w, user)
        deleted = api.delete(f"{url}/{target['id']}")
        report.status(deleted, 200 if user in may_delete else 403, f"{where} delete")

        for entity, data in (("organization", {"short_name": f"Организация {user}"}),
                             ("contract", {"code": f"ГК-{user}", "organization": w.orgs["A"]["id"],
                                           "department": w.contracts["A"]["department"],
                                           "valid_from": "2026-01-01", "valid_to": "2026-12-31"})):
            allowed = user in ("admin", "dispatcher")
            report.status(api.post(f"/api/v1/{APP}/{entity}", data), 201 if allowed else 403,
                          f"{where} create {entity}")
            record = w.orgs["A"] if entity == "organization" else w.contracts["A"]
            current = w.loom.records.get(APP, entity, record["id"])
            report.status(api.patch(f"/api/v1/{APP}/{entity}/{record['id']}",
                                    {"row_version": current["row_version"]}), 200 if allowed else 403,
                          f"{where} update {entity}")
        spare = w.loom.records.create(APP, "organization", {"short_name": f"Удаляемая {user}"})
        report.status(api.delete(f"/api/v1/{APP}/organization/{spare['id']}"),
                      200 if user in may_delete else 403, f"{where} delete organization")
    report.done()


def test_field_rules_on_write(world):
    w = world
    url = f"/api/v1/{APP}/request"
    client, agent = w.clients["client_a"], w.clients["agent1"]
    base = {"subject": "Заявка клиента", "description": "Текст", "organization": w.orgs["A"]["id"],
            "module": w.module["id"]}
    before = len(everything(w, "request"))

    for data, field in (({**base, "internal_note": "x"}, "internal_note"), ({**base, "priority": "1"}, "priority"),
                        ({**base, "team": w.groups["first"]}, "team"), ({**base, "hourly_rate": "1"}, "hourly_rate")):
        refused = client.post(url, data)
        assert refused.status_code == 403, refused.get_json()
        assert refused.get_json()["errors"][0]["field"] == field
        assert field in refused.get_json()["detail"]
    # A readonly field may be sent with no value (a form's empty input).
    assert client.post(url, {**base, "priority": None}).status_code == 201
    # Linking to an organisation the client may not see reads as a missing one, and nothing is written.
    other = client.post(url, {**base, "organization": w.orgs["B"]["id"]})
    assert other.status_code == 422
    assert other.get_json()["errors"][0]["field"] == "organization"
    assert "no organization" in other.get_json()["detail"]
    assert len(everything(w, "request")) == before + 1

    mine = _target(w, "B", team="first")
    for data, field in (({"priority": "1"}, "priority"), ({"hourly_rate": "10"}, "hourly_rate")):
        refused = agent.patch(f"{url}/{mine['id']}", {**data, "row_version": 1})
        assert refused.status_code == 403 and refused.get_json()["errors"][0]["field"] == field
    # Sending a readonly field's current value back is not a change.
    same = agent.patch(f"{url}/{mine['id']}", {"priority": mine["priority"], "subject": "Без изменения приоритета",
                                               "row_version": 1})
    assert same.status_code == 200, same.get_json()
    # Moving a record out of one's own sight is refused and rolled back.
    away = agent.patch(f"{url}/{mine['id']}", {"team": w.groups["second"], "row_version": 2})
    assert away.status_code == 403, away.get_json()
    assert w.loom.records.get(APP, "request", mine["id"])["team"] == w.groups["first"]
    # The record's own button script may still change a field the role may not edit.
    escalated = agent.post(f"{url}/{mine['id']}/actions/escalate")
    assert escalated.status_code == 200, escalated.get_json()
    assert w.loom.records.get(APP, "request", mine["id"], SYSTEM)["priority"] == "1"


def test_apps_list_names_only_readable_entities(world):
    def names(user):
        listing = world.clients[user].get("/api/v1/apps").get_json()
        return {e["name"] for app in listing for e in app["entities"]}

    assert {"request", "organization", "contract", "module"} <= names("client_a")  # module: read by `user`
    assert names("nobody") == set()  # no role in the app: nothing of it, not even its dictionaries
    assert world.clients["nobody"].get("/api/v1/apps").get_json() == []
