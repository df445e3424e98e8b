"""Routing and assignment (docs/behaviour.md, "Routing and assignment") on both backends."""
from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from runtime.behaviour.routing import RoutingError
from runtime.data import tables as platform
from tests.conftest import make_loom

ROUTING = {
    "ticket": {
        "group_field": "support_group",
        "assignee_field": "assignee",
        "requester_field": "requester",
        "rules": [
            {"name": "technical", "when": "question_type == 'technical'", "group": "line2",
             "strategy": "least_loaded"},
            {"name": "by_system", "when": "question_type == 'adjacent'", "group": "adjacent",
             "strategy": "by_skill", "skill_field": "system"},
            {"name": "named", "when": "vip", "user": "alice"},
            {"name": "dispatch", "when": "question_type == 'dispatch'", "group": "dispatch", "strategy": "manual"},
            {"name": "nobody", "when": "question_type == 'nobody'", "group": "nobody"},
            {"name": "urgent", "when_script": "r.py:urgent", "group": "line2", "strategy": "round_robin"},
            {"name": "shadowed", "when": "question_type in ('technical', 'other')", "group": "dispatch"},
        ],
        "fallback": {"group": "line1", "strategy": "round_robin"},
    },
}

GROUPS = {
    "line1": ["a1", "a2", "a3"],
    "line2": ["b1", "b2", "b3"],
    "adjacent": ["c1", "c2", "c3"],
    "dispatch": ["d1"],
    "nobody": [],
}


def app_doc(routing: dict | None) -> dict:
    doc = {
        "app": {"name": "rt", "title": "Routing"},
        "entities": {
            "system": {"title": "System", "title_field": "name",
                       "fields": {"code": {"type": "string"}, "name": {"type": "string", "required": True}}},
            "ticket": {
                "title": "Ticket", "number": "T-{0000}",
                "fields": {
                    "title": {"type": "string"},
                    "question_type": {"type": "choice", "choices": [
                        {"value": v} for v in ("technical", "adjacent", "dispatch", "nobody", "other")]},
                    "system": {"type": "link", "entity": "system"},
                    "vip": {"type": "boolean", "default": False},
                    "support_group": {"type": "group"},
                    "assignee": {"type": "user"},
                    "requester": {"type": "user"},
                },
                "statuses": [
                    {"name": "registered", "category": "open", "initial": True},
                    {"name": "in_work", "category": "in_work"},
                    {"name": "waiting", "category": "waiting"},
                    {"name": "done", "category": "done"},
                    {"name": "cancelled", "category": "cancelled"},
                ],
            },
        },
        "scripts": {"r.py": "def urgent(record):\n    return record.title == 'urgent'\n"},
    }
    if routing is not None:
        doc["routing"] = {"entities": routing}
    return doc


@pytest.fixture
def rt(loom):
    """``loom`` with the routing app, its groups and users (``rt.ids``: name -> id)."""
    ids = {"alice": loom.accounts.create_user("alice", None)}
    for group, members in GROUPS.items():
        ids[group] = loom.accounts.create_group(group)
        for username in members:
            ids[username] = loom.accounts.create_user(username, None)
            loom.accounts.add_to_group(ids[username], ids[group])
    loom.store.publish(app_doc(ROUTING), author="tester")
    loom.ids = ids
    return loom


def assign(loom, values: dict, old: dict | None = None) -> dict:
    with loom.engine.begin() as conn:
        return loom.router.assign(conn, "rt", "ticket", values, old)


def create(loom, **data) -> dict:
    """A record saved through the record service, which routes it."""
    return loom.records.create("rt", "ticket", data)


def names(loom, records) -> list[str]:
    by_id = {v: k for k, v in loom.ids.items() if k not in GROUPS}
    return [by_id.get(r["assignee"]) for r in records]


def set_skills(loom, username: str, skills: list) -> None:
    u = platform.user
    with loom.engine.begin() as c:
        c.execute(update(u).where(u.c.username == username).values(skills=skills))


def deactivate(loom, *usernames) -> None:
    for username in usernames:
        loom.accounts.update_user(loom.ids[username], is_active=False)


# ---------------------------------------------------------------- rules

def test_first_matching_rule_wins(rt):
    changes = assign(rt, {"question_type": "technical"})
    assert changes["support_group"] == rt.ids["line2"]  # not `shadowed`, which also matches
    assert changes["assignee"] in {rt.ids[u] for u in GROUPS["line2"]}


def test_the_fallback_takes_what_no_rule_matches(rt):
    records = [create(rt, question_type="other" if i % 2 else None) for i in range(2)]
    assert [r["support_group"] for r in records] == [rt.ids["line1"], rt.ids["dispatch"]]
    assert names(rt, records) == ["a1", "d1"]  # `shadowed` has no strategy: least loaded


def test_a_when_script_decides_too(rt):
    assert assign(rt, {"title": "urgent"})["support_group"] == rt.ids["line2"]
    assert rt.router.rule_for("rt", "ticket", {"title": "urgent"})["name"] == "urgent"
    assert rt.router.rule_for("rt", "ticket", {"title": "calm"}) == ROUTING["ticket"]["fallback"]


def test_status_reads_as_the_initial_status_on_create(rt, monkeypatch):
    spec = {**ROUTING["ticket"], "rules": [{"name": "new", "when": "status == 'registered'", "group": "line2"}]}
    monkeypatch.setattr(rt.router, "spec", lambda app, entity: spec)
    assert assign(rt, {})["support_group"] == rt.ids["line2"]
    assert assign(rt, {"status": "in_work"})["support_group"] == rt.ids["line1"]


def test_rule_naming_a_user(rt):
    assert assign(rt, {"vip": True}) == {"assignee": rt.ids["alice"]}
    deactivate(rt, "alice")
    assert assign(rt, {"vip": True}) == {}


def test_an_assignee_given_with_the_record_stays(rt):
    assert assign(rt, {"question_type": "technical", "assignee": rt.ids["a1"]}) == {"support_group": rt.ids["line2"]}


def test_manual_strategy_and_empty_group_set_the_group_only(rt):
    assert assign(rt, {"question_type": "dispatch"}) == {"support_group": rt.ids["dispatch"]}
    assert assign(rt, {"question_type": "nobody"}) == {"support_group": rt.ids["nobody"]}


def test_unknown_group_or_user_is_a_clear_error(rt, monkeypatch):
    spec = {"group_field": "support_group", "assignee_field": "assignee",
            "rules": [{"when": "vip", "user": "ghost"}], "fallback": {"group": "nowhere"}}
    monkeypatch.setattr(rt.router, "spec", lambda app, entity: spec)
    with pytest.raises(RoutingError, match="ghost"):
        assign(rt, {"vip": True})
    with pytest.raises(RoutingError, match="nowhere"):
        assign(rt, {"vip": False})


def test_entities_without_routing_are_left_alone(rt):
    with rt.engine.begin() as conn:
        assert rt.router.assign(conn, "rt", "system", {"name": "CRM"}, None) == {}
    assert rt.router.spec("rt", "system") is None
    assert rt.router.spec("missing", "ticket") is None


# ---------------------------------------------------------------- least loaded

def test_least_loaded_counts_open_in_work_and_waiting_items_only(rt):
    b1, b2, b3, line2 = (rt.ids[k] for k in ("b1", "b2", "b3", "line2"))
    for status in ("done", "done", "cancelled"):
        create(rt, support_group=line2, assignee=b1, status=status)
    deleted = create(rt, support_group=line2, assignee=b1)
    rt.records.delete("rt", "ticket", deleted["id"])
    create(rt, support_group=line2, assignee=b2, status="in_work")
    create(rt, support_group=line2, assignee=b3, status="waiting")
    assert names(rt, [create(rt, question_type="technical")]) == ["b1"]
    create(rt, support_group=line2, assignee=b2, status="registered")
    assert names(rt, [create(rt, question_type="technical")]) == ["b3"]  # b1 1, b2 2, b3 1; b1 was last


def test_least_loaded_shares_ties_evenly(rt):
    records = [create(rt, question_type="technical") for _ in range(6)]
    assert names(rt, records) == ["b1", "b2", "b3", "b1", "b2", "b3"]


def test_an_idle_group_rotates_instead_of_feeding_the_lowest_id(rt):
    got = []
    for _ in range(6):
        record = create(rt, question_type="technical")
        got.append(record)
        rt.records.update("rt", "ticket", record["id"], {"status": "done"}, record["row_version"])
    assert Counter(names(rt, got)) == {"b1": 2, "b2": 2, "b3": 2}


def test_inactive_members_are_skipped(rt):
    deactivate(rt, "b2", "a2")
    assert names(rt, [create(rt, question_type="technical") for _ in range(4)]) == ["b1", "b3", "b1", "b3"]
    assert names(rt, [create(rt) for _ in range(3)]) == ["a1", "a3", "a1"]
    deactivate(rt, "b1", "b3")
    assert assign(rt, {"question_type": "technical"}) == {"support_group": rt.ids["line2"]}


# ---------------------------------------------------------------- round robin

def test_round_robin_pointer_survives_a_restart(rt, db_url, tmp_path):
    assert names(rt, [create(rt) for _ in range(2)]) == ["a1", "a2"]
    other = make_loom(db_url, tmp_path / "files2")
    try:
        other.ids = rt.ids
        assert names(other, [create(other) for _ in range(2)]) == ["a3", "a1"]
    finally:
        other.engine.dispose()
    rr = platform.round_robin
    with rt.engine.connect() as c:
        assert c.execute(select(rr.c.last_user_id).where(rr.c.key == "rt.ticket.fallback")).scalar() == rt.ids["a1"]


# ---------------------------------------------------------------- by skill

def test_by_skill_matches_a_link_by_title_or_id(rt):
    crm = rt.records.create("rt", "system", {"name": "CRM"})["id"]
    erp = rt.records.create("rt", "system", {"name": "ERP"})["id"]
    billing = rt.records.create("rt", "system", {"name": "Billing"})["id"]
    set_skills(rt, "c1", ["CRM"])
    set_skills(rt, "c2", [str(erp)])
    set_skills(rt, "c3", ["Excel"])
    assert names(rt, [create(rt, question_type="adjacent", system=erp) for _ in range(2)]) == ["c2", "c2"]
    assert names(rt, [create(rt, question_type="adjacent", system=crm)]) == ["c1"]
    # Nobody knows Billing: the least loaded of the whole group.
    assert names(rt, [create(rt, question_type="adjacent", system=billing)]) == ["c3"]


# ---------------------------------------------------------------- a group set by hand

def test_a_record_filed_into_a_group_gets_a_member_by_the_groups_strategy(rt):
    line2, line1 = rt.ids["line2"], rt.ids["line1"]
    create(rt, support_group=line2, assignee=rt.ids["b1"])
    assert names(rt, [create(rt, support_group=line2)]) == ["b2"]  # least_loaded, from `technical`
    assert names(rt, [create(rt, support_group=line1) for _ in range(2)]) == ["a1", "a2"]  # the fallback's
    assert create(rt, support_group=rt.ids["dispatch"])["assignee"] is None  # manual


def test_moving_to_another_group_picks_a_member_there(rt):
    old = create(rt)
    assert names(rt, [old]) == ["a1"]
    moved = {**old, "support_group": rt.ids["line2"]}
    assert rt.router.moved("rt", "ticket", moved, old)
    assert assign(rt, moved, old) == {"assignee": rt.ids["b1"]}
    assert assign(rt, {**old, "title": "edited"}, old) == {}
    assert not rt.router.moved("rt", "ticket", {**old, "title": "edited"}, old)


def test_moving_with_an_explicit_assignee_keeps_it(rt):
    old = create(rt)
    moved = {**old, "support_group": rt.ids["line2"], "assignee": rt.ids["alice"]}
    assert rt.router.moved("rt", "ticket", moved, old)
    assert assign(rt, moved, old) == {}


def test_moving_to_a_group_nobody_can_take_clears_the_assignee(rt):
    old = create(rt)
    assert assign(rt, {**old, "support_group": rt.ids["nobody"]}, old) == {"assignee": None}
    assert assign(rt, {**old, "support_group": rt.ids["dispatch"]}, old) == {"assignee": None}


def test_a_group_without_a_rule_uses_the_fallback_strategy_with_its_own_pointer(rt):
    extra = rt.accounts.create_group("extra")
    members = [rt.accounts.create_user(f"e{i}", None) for i in range(2)]
    for user_id in members:
        rt.accounts.add_to_group(user_id, extra)
    got = [create(rt, support_group=extra)["assignee"] for _ in range(3)]
    assert got == [members[0], members[1], members[0]]
    assert names(rt, [create(rt)]) == ["a1"]  # line1's rotation is untouched


# ---------------------------------------------------------------- concurrency

@pytest.mark.postgres
@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded"])
def test_concurrent_assignments_are_serialised(pg_url, tmp_path, strategy):
    loom = make_loom(pg_url, tmp_path / "files")
    try:
        group = loom.accounts.create_group("pool")
        members = [loom.accounts.create_user(f"p{i}", None) for i in range(4)]
        for user_id in members:
            loom.accounts.add_to_group(user_id, group)
        spec = {"group_field": "support_group", "assignee_field": "assignee",
                "fallback": {"group": "pool", "strategy": strategy}}
        loom.store.publish(app_doc({"ticket": spec}), author="tester")
        start = threading.Barrier(2)

        def worker():
            start.wait()
            for _ in range(20):
                with loom.engine.begin() as conn:
                    loom.records.create("rt", "ticket", {}, conn=conn)
                    time.sleep(0.002)  # hold the transaction open while the other thread tries

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(worker) for _ in range(2)]:
                future.result()
        t, rr = loom.entity_tables("rt", "ticket").main, platform.round_robin
        with loom.engine.connect() as c:
            in_order = list(c.execute(select(t.c.assignee).order_by(t.c.id)).scalars())
            assert c.execute(select(func.count()).select_from(rr)).scalar() == 1
        assert in_order == members * 10  # one rotation: no two transactions read the same pointer
    finally:
        loom.engine.dispose()
