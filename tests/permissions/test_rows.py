"""Row-level rules compiled to SQL, field rules in queries, and where they reach: a small app of
tickets on both backends, the metadata checks at publish, CSV import and link paths."""
import io
import itertools

import pytest

from metamodel import MetadataError, validate_document
from metamodel.expressions import ExpressionError
from metamodel.predicates import parse_condition
from runtime.data.importer import import_csv
from runtime.data.query import Filter, ListQuery
from runtime.data.records import Actor
from runtime.errors import Forbidden, NotFound, ValidationFailed

from .conftest import APP

RULES = {
    "r_not": [{"condition": "not (kind == 'a')"}],
    "r_ne": [{"condition": "kind != 'a'"}],
    "r_in": [{"condition": "kind in ['a', 'b']"}],
    "r_notin": [{"condition": "kind not in ['a', 'b']"}],
    "r_range": [{"condition": "level >= 2 and level < 5"}],
    "r_notlow": [{"condition": "not (level < 2)"}],
    "r_flag": [{"condition": "flag"}],
    "r_noowner": [{"condition": "owner is None"}],
    "r_me": [{"condition": "user_id == owner"}],
    "r_me_dollar": [{"condition": "owner == $user and title != '$user'"}],  # $user as in views
    "r_own": [{"own": True}],
    "r_team": [{"group_field": "team"}],
    "r_teams": [{"condition": "team in user_groups"}],
    "r_org": [{"organisation_field": "org"}],
    "r_orgparam": [{"condition": "org == user_organisation"}],
    "r_either": [{"own": True}, {"condition": "flag == True"}],
    "r_both": [{"own": True, "condition": "level > 1"}],
    "r_all": [{}],
}
ROLES = list(RULES) + ["plain"]
TICKETS = {
    "app": {"name": "tickets", "title": "Tickets", "roles": [{"name": r} for r in ROLES + ["writer"]]},
    "entities": {
        "org": {"title": "Org", "fields": {"name": {"type": "string"}}},
        "ticket": {
            "title": "Ticket",
            "fields": {"title": {"type": "string"}, "level": {"type": "integer"}, "flag": {"type": "boolean"},
                       "kind": {"type": "choice", "choices": ["a", "b", "c"]}, "team": {"type": "group"},
                       "org": {"type": "link", "entity": "org"}, "owner": {"type": "user"},
                       "secret": {"type": "string"}},
            "permissions": {
                **{op: ["user"] for op in ("read", "create", "update", "delete")},  # every role of the app
                "rows": [{"roles": [role], **rule} for role, rules in RULES.items() for rule in rules],
                "fields": {"secret": {"hidden": ["r_all", "plain"]}},
            },
        },
    },
}
ORACLE = {
    "r_not": lambda t, u: t["kind"] != "a",
    "r_ne": lambda t, u: t["kind"] != "a",
    "r_in": lambda t, u: t["kind"] in ("a", "b"),
    "r_notin": lambda t, u: t["kind"] not in ("a", "b"),
    "r_range": lambda t, u: t["level"] is not None and 2 <= t["level"] < 5,
    "r_notlow": lambda t, u: t["level"] is None or t["level"] >= 2,
    "r_flag": lambda t, u: t["flag"] is True,
    "r_noowner": lambda t, u: t["owner"] is None,
    "r_me": lambda t, u: t["owner"] == u.id,
    "r_me_dollar": lambda t, u: t["owner"] == u.id,
    "r_own": lambda t, u: t["created_by"] == u.id,
    "r_team": lambda t, u: t["team"] in u.groups,
    "r_teams": lambda t, u: t["team"] in u.groups,
    "r_org": lambda t, u: u.organization is not None and t["org"] == int(u.organization.rpartition(":")[2]),
    "r_orgparam": lambda t, u: u.organization is not None and t["org"] == int(u.organization.rpartition(":")[2]),
    "r_either": lambda t, u: t["created_by"] == u.id or t["flag"] is True,
    "r_both": lambda t, u: t["created_by"] == u.id and t["level"] is not None and t["level"] > 1,
    "r_all": lambda t, u: True,
    "plain": lambda t, u: True,
}


@pytest.fixture
def tickets(loom):
    loom.store.publish(TICKETS, author="tester")
    accounts = loom.accounts
    g1, g2 = accounts.create_group("g1"), accounts.create_group("g2")
    create = loom.records.create
    o1, o2 = (create("tickets", "org", {"name": n})["id"] for n in ("o1", "o2"))
    u1 = accounts.create_user("u1", None, organization=f"tickets.org:{o1}")
    u2 = accounts.create_user("u2", None)
    accounts.add_to_group(u1, g1)
    writers = [Actor(u1, "u1", ("tickets:writer",)), Actor(u2, "u2", ("tickets:writer",)),
               Actor(None, "system", system=True, is_admin=True)]
    combos = itertools.product(["a", "b", "c", None], [None, 1, 2, 5], [True, False, None])
    for i, (kind, level, flag) in enumerate(combos):
        create("tickets", "ticket", {
            "title": f"t{i}", "kind": kind, "level": level, "flag": flag, "secret": "s",
            "team": [g1, g2, None][i % 3], "org": [o1, o2, None][i % 3 - 1 if i % 2 else i % 3],
            "owner": [u1, u2, None][(i // 2) % 3]}, writers[i % 3])
    return loom, accounts.actor_for_id(u1), accounts.actor_for_id(u2)


def _all(loom):
    et = loom.entity_tables("tickets", "ticket")
    with loom.reader.connect() as c:
        return [dict(r) for r in ListQuery(loom, et).run(c, [], ["id"], limit=500).items]


def test_rules_in_sql_match_their_meaning(tickets):
    loom, u1, u2 = tickets
    rows = _all(loom)
    assert len(rows) == 48
    et = loom.entity_tables("tickets", "ticket")
    failures = []
    for role, user in itertools.product(ROLES, (u1, u2)):
        actor = Actor(user.id, user.username, (f"tickets:{role}",), groups=user.groups, organization=user.organization)
        expected = [t["id"] for t in rows if ORACLE[role](t, actor)]
        with loom.reader.connect() as c:
            page = ListQuery(loom, et).run(c, [], ["id"], limit=500, count="exact", actor=actor)
        got = [r["id"] for r in page.items]
        if got != expected or page.count != len(expected):
            failures.append(f"{role} as {user.username}: expected {expected} ({len(expected)}), got {got} "
                            f"(count {page.count})")
        for t in rows[:12]:  # single fetches agree with the list
            try:
                loom.records.get("tickets", "ticket", t["id"], actor)
                seen = True
            except NotFound:
                seen = False
            if seen != (t["id"] in expected):
                failures.append(f"{role} as {user.username}: get {t['id']} gave seen={seen}")
    assert not failures, "\n".join(failures)
    # Sanity of the data: every rule keeps some rows and hides some (r_all and plain see all).
    for role in ROLES[:-2]:
        actor = Actor(u1.id, "u1", (f"tickets:{role}",), groups=u1.groups, organization=u1.organization)
        assert 0 < sum(ORACLE[role](t, actor) for t in rows) < len(rows), role


def test_several_roles_or_together_and_a_rule_without_parts_opens_all(tickets):
    loom, u1, _ = tickets
    rows = _all(loom)
    et = loom.entity_tables("tickets", "ticket")

    def ids(roles):
        actor = Actor(u1.id, "u1", tuple(f"tickets:{r}" for r in roles), groups=u1.groups,
                      organization=u1.organization)
        with loom.reader.connect() as c:
            return {r["id"] for r in ListQuery(loom, et).run(c, [], [], limit=500, actor=actor).items}

    assert ids(("r_in", "r_flag")) == ids(("r_in",)) | ids(("r_flag",))
    assert ids(("r_in", "r_all")) == {t["id"] for t in rows}
    assert ids(("tickets:plain",)) == {t["id"] for t in rows}  # no rule for the role: every row


def test_missing_user_facts_match_nothing(tickets):
    loom, _, u2 = tickets  # u2 has no organisation and no groups
    et = loom.entity_tables("tickets", "ticket")
    for role in ("r_org", "r_orgparam", "r_team", "r_teams"):
        actor = Actor(u2.id, "u2", (f"tickets:{role}",))
        with loom.reader.connect() as c:
            assert ListQuery(loom, et).run(c, [], [], actor=actor, count="exact").count == 0, role


def test_hidden_field_cannot_be_filtered_sorted_or_written(tickets):
    loom, u1, _ = tickets
    et = loom.entity_tables("tickets", "ticket")
    actor = Actor(u1.id, "u1", ("tickets:plain",))
    with loom.reader.connect() as c:
        for filters, sort in (([Filter("secret", "eq", "s")], []), ([Filter("secret", "isnull", True)], []),
                              ([], ["secret"])):
            with pytest.raises(Forbidden, match="secret"):
                ListQuery(loom, et).run(c, filters, sort, actor=actor)
        # The app's own view may still use it: that is the analyst's choice, not the user's.
        page = ListQuery(loom, et).run(c, [], [], actor=actor, view_filters=[Filter("secret", "eq", "s")],
                                       view_sort=["secret"])
        assert len(page.items) == 48
    with pytest.raises(Forbidden, match="secret"):
        loom.records.create("tickets", "ticket", {"title": "x", "secret": "y"}, actor)
    assert "secret" not in loom.records.get("tickets", "ticket", 1, actor)


def test_rules_are_checked_at_publish(loom):
    import copy
    doc = copy.deepcopy(TICKETS)
    doc["entities"]["ticket"]["permissions"]["rows"] = [
        {"roles": ["nobody_role"], "own": True},
        {"roles": ["plain"], "group_field": "owner"},
        {"roles": ["plain"], "organisation_field": "title"},
        {"roles": ["plain"], "condition": "lower(title) == 'x'"},
        {"roles": ["plain"], "condition": "level + 1 > 2"},
        {"roles": ["plain"], "condition": "colour == 'red'"},
        {"roles": ["plain"], "condition": "level == title"},
    ]
    with pytest.raises(MetadataError) as info:
        validate_document(doc)
    problems = {(p.file, p.path): p.message for p in info.value.problems}
    where = "entities/ticket.yaml", "permissions.rows[{}].{}"
    expected = [(0, "roles[0]", "unknown role 'nobody_role'"), (1, "group_field", "'owner' is not a group field"),
                (2, "organisation_field", "'title' is not a link field"),
                (3, "condition", "one side must be a field"), (4, "condition", "one side must be a field"),
                (5, "condition", "unknown field 'colour'"), (6, "condition", "'title' is not a literal")]
    for i, path, fragment in expected:
        message = problems.get((where[0], where[1].format(i, path)), "")
        assert fragment in message, (i, path, problems)


@pytest.mark.parametrize("source, tree", [
    ("status == 'open'", ("cmp", "eq", "status", ("lit", "open"))),
    ("'open' != status", ("cmp", "ne", "status", ("lit", "open"))),
    ("1 < level", ("cmp", "gt", "level", ("lit", 1))),
    ("level is not None", ("cmp", "ne", "level", ("lit", None))),
    ("team in user_groups", ("cmp", "in", "team", ("param", "user_groups"))),
    ("flag and not (kind in ['a'])", ("and", [("true", "flag"), ("not", ("cmp", "in", "kind", ("list", ["a"])))])),
    ("1 <= level < 3", ("and", [("cmp", "ge", "level", ("lit", 1)), ("cmp", "lt", "level", ("lit", 3))])),
    ("owner == $user", ("cmp", "eq", "owner", ("param", "user_id"))),
    ("kind == '$user'", ("cmp", "eq", "kind", ("lit", "$user"))),
])
def test_condition_trees(source, tree):
    assert parse_condition(source, {"status", "level", "team", "flag", "kind", "owner"}) == tree


@pytest.mark.parametrize("source, message", [
    ("level > other", "unknown field 'other'"),
    ("kind in 'abc'", "needs a list"),
    ("kind == ['a']", "only be used with 'in'"),
    ("level < None", "cannot be ordered"),
    ("len(kind) > 1", "one side must be a field"),
    ("'yes'", "is not a condition"),
    ("level ==", "cannot parse"),
])
def test_conditions_refused(source, message):
    with pytest.raises(ExpressionError, match=message):
        parse_condition(source, {"level", "kind"})


# ---------------------------------------------------------------- on the service desk world

def test_import_respects_field_and_row_rules(world):
    w = world
    client = w.loom.accounts.actor_for_id(w.users["client_a"])
    assert client.organization == f"{APP}.organization:{w.orgs['A']['id']}"
    org_a, org_b, mod = w.orgs["A"]["id"], w.orgs["B"]["id"], w.module["id"]
    head = "subject,description,organization,module\n"
    before = len(w.refresh_requests())
    ok = import_csv(w.loom, APP, "request", io.StringIO(head + f"Импорт строки один,Текст,{org_a},{mod}\n"),
                    actor=client)
    assert ok.rows == 1
    with pytest.raises(ValidationFailed) as info:  # another organisation: as if it did not exist
        import_csv(w.loom, APP, "request", io.StringIO(head + f"Импорт строки два,Текст,{org_b},{mod}\n"),
                   actor=client)
    assert "organization" in info.value.detail
    with pytest.raises(Forbidden, match="internal_note"):
        import_csv(w.loom, APP, "request", io.StringIO("subject,description,organization,module,internal_note\n"
                                                       f"Импорт строки три,Текст,{org_a},{mod},x\n"), actor=client)
    assert len(w.refresh_requests()) == before + 1


def test_import_refuses_rows_the_importer_could_not_see(tickets):
    loom, u1, _ = tickets
    actor = Actor(u1.id, "u1", ("tickets:r_team",), groups=u1.groups)
    group = u1.groups[0]
    before = len(_all(loom))
    text = f"title,team\nмоя группа,{group}\nещё моя,{group}\nнет группы,\n"
    with pytest.raises(ValidationFailed, match="line 4"):
        import_csv(loom, "tickets", "ticket", io.StringIO(text), actor=actor)
    assert len(_all(loom)) == before  # the whole batch rolled back
    assert import_csv(loom, "tickets", "ticket", io.StringIO(f"title,team\nмоя группа,{group}\n"),
                      actor=actor).rows == 1


def test_link_path_sees_only_readable_targets(world):
    from sqlalchemy import update
    w = world
    loom = w.loom
    contract = w.contracts["A"]
    linked = loom.records.create(APP, "request", {
        "subject": "Заявка по договору", "description": "Текст", "organization": w.orgs["A"]["id"],
        "module": w.module["id"], "contract": contract["id"]})
    t = loom.entity_tables(APP, "contract").main
    with loom.engine.begin() as c:  # the contract expires: client_a's rule no longer shows it
        c.execute(update(t).where(t.c.id == contract["id"]).values(status="expired"))
    client = w.clients["client_a"]
    assert client.get(f"/api/v1/{APP}/request/{linked['id']}").status_code == 200
    assert client.get(f"/api/v1/{APP}/contract/{contract['id']}").status_code == 404
    found = client.get(f"/api/v1/{APP}/request?contract.code=ГК-A").get_json()
    assert found["items"] == [] and found["next"] is None
    found = w.clients["dispatcher"].get(f"/api/v1/{APP}/request?contract.code=ГК-A").get_json()
    assert linked["id"] in [r["id"] for r in found["items"]]


def test_actor_carries_groups_and_organisation_through_the_token_cache(world):
    w = world
    accounts = w.loom.accounts
    token = accounts.issue_token(w.users["agent1"])
    first = accounts.actor_for_token(token)
    assert first.groups == (w.groups["first"],) and first.organization is None
    accounts.add_to_group(w.users["agent1"], w.groups["second"])  # forgets cached tokens
    assert accounts.actor_for_token(token).groups == tuple(sorted(w.groups.values()))
    cached = accounts.actor_for_token(token)
    cached.groups = ()
    assert accounts.actor_for_token(token).groups  # callers get copies
