"""Approvals (approvals.yaml) on SQLite and PostgreSQL, through the REST API: N of M, all,
any, a rejection, the deadline, who may vote, the transition the result fires, a new round."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from runtime import clock
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app
from tests.api.conftest import Client
from tests.conftest import make_loom
from tests.ui.conftest import Browser

from .conftest import PASSWORD, upkeep_app, user

UTC = dt.timezone.utc
MONDAY = dt.datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 10:00 in Moscow


@pytest.fixture
def web(loom, tmp_path):
    return create_app(Settings(tmp_path, loom.database_url), loom)


def client(web, loom, username) -> Client:
    return Client(web.test_client(), loom.accounts.issue_token(_id(loom, username)))


def _id(loom, username) -> int:
    u = platform.user
    with loom.engine.connect() as c:
        return c.execute(select(u.c.id).where(u.c.username == username)).scalar_one()


def state(api, app, entity, record_id):
    return api.get(f"/api/v1/{app}/{entity}/{record_id}").get_json()["status"]


def rounds(api, app, entity, record_id):
    answer = api.get(f"/api/v1/{app}/{entity}/{record_id}/approvals")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def vote(api, app, entity, record_id, name, decision, comment=None):
    return api.post(f"/api/v1/{app}/{entity}/{record_id}/approvals/{name}/votes",
                    {"decision": decision, "comment": comment})


# ---------------------------------------------------------------------- the service desk's change board
@pytest.fixture
def board(service_desk, web):
    for name in ("ivanov", "petrova", "sidorov"):
        user(service_desk, name, "cab", app="service_desk")
    user(service_desk, "agent", "agent", app="service_desk")
    clock.freeze(MONDAY)
    yield service_desk
    clock.thaw()


def rfc_plan(loom) -> dict:
    """What an RFC needs to be submitted (entities/change.yaml: submit's required fields)."""
    services = loom.records.find("service_desk", "service", limit=1)
    if services:
        service = services[0]
    else:
        module = loom.records.create("service_desk", "module", {"name": "СЭД", "code": "EDMS"})
        service = loom.records.create("service_desk", "service", {"name": "Восстановление", "module": module["id"]})
    return {"kind": "modify", "object_type": "software", "service": service["id"], "risk": "medium",
            "implementation_plan": "Установка пакета", "backout_plan": "Откат из снимка",
            "planned_start": "2026-03-07T06:00:00Z", "planned_end": "2026-03-07T10:00:00Z"}


def submitted_change(loom, web):
    author = client(web, loom, "agent")
    change = author.post("/api/v1/service_desk/change", {"title": "Обновление СЭД", "description": "Версия 4.2",
                                                         **rfc_plan(loom)})
    assert change.status_code == 201, change.get_json()
    cid = change.get_json()["id"]
    assert author.post(f"/api/v1/service_desk/change/{cid}/transitions/submit", {}).status_code == 200
    return cid


def test_two_of_three_board_members_approve_a_change(board, web):
    cid = submitted_change(board, web)
    ivanov, petrova = client(web, board, "ivanov"), client(web, board, "petrova")
    [opened] = rounds(ivanov, "service_desk", "change", cid)
    assert (opened["state"], opened["need"], opened["approvers"], opened["can_vote"]) == ("open", 2, 3, True)
    assert {v["user"] for v in opened["votes"]} == {"ivanov", "petrova", "sidorov"}
    # each approver got the desk's notice (approvals.yaml notify: change_board)
    n = platform.notification
    with board.engine.connect() as c:
        notices = c.execute(select(n.c.title).where(n.c.entity == "change", n.c.record_id == cid)).scalars().all()
    assert notices == ["Согласуйте изменение RFC-00001: Обновление СЭД"] * 3

    first = vote(ivanov, "service_desk", "change", cid, "cab", "approve", "Окно согласовано с заказчиком")
    assert first.status_code == 200 and first.get_json()["state"] == "open"
    assert state(ivanov, "service_desk", "change", cid) == "approval"
    second = vote(petrova, "service_desk", "change", cid, "cab", "approve", "План отката есть")
    decided = second.get_json()
    assert (decided["state"], decided["transition"], decided["approved"]) == ("approved", "approve", 2)
    assert state(ivanov, "service_desk", "change", cid) == "approved"
    history = ivanov.get(f"/api/v1/service_desk/change/{cid}/history").get_json()
    assert history[-1]["to"] == "approved" and history[-1]["transition"] == "approval:approve"
    comments = {v["user"]: v["comment"] for v in decided["votes"]}
    assert comments == {"ivanov": "Окно согласовано с заказчиком", "petrova": "План отката есть", "sidorov": None}
    # the round is over: the third member's vote is refused
    late = vote(client(web, board, "sidorov"), "service_desk", "change", cid, "cab", "approve")
    assert late.status_code == 409


def test_a_change_is_rejected_once_two_approvals_are_out_of_reach(board, web):
    cid = submitted_change(board, web)
    assert vote(client(web, board, "ivanov"), "service_desk", "change", cid, "cab", "reject", "Нет плана отката") \
        .get_json()["state"] == "open"  # 0 approvals + 2 still to vote can still make 2
    decided = vote(client(web, board, "sidorov"), "service_desk", "change", cid, "cab", "reject").get_json()
    assert (decided["state"], decided["transition"], decided["rejected"]) == ("rejected", "reject", 2)
    assert state(client(web, board, "agent"), "service_desk", "change", cid) == "rejected"


def test_only_approvers_vote_and_only_once(board, web):
    cid = submitted_change(board, web)
    outsider = client(web, board, "agent")  # may read the change, is no board member
    refused = vote(outsider, "service_desk", "change", cid, "cab", "approve")
    assert refused.status_code == 403
    ivanov = client(web, board, "ivanov")
    # a board member may fire approve by role, but not while the vote decides it: no bypass
    bypass = ivanov.post(f"/api/v1/service_desk/change/{cid}/transitions/approve", {})
    assert bypass.status_code == 403 and "decided by the approval 'cab'" in bypass.get_json()["detail"]
    assert vote(ivanov, "service_desk", "change", cid, "cab", "approve").status_code == 200
    twice = vote(ivanov, "service_desk", "change", cid, "cab", "reject")
    assert twice.status_code == 409 and "already voted" in twice.get_json()["detail"]
    assert vote(ivanov, "service_desk", "change", cid, "cab", "maybe").status_code == 422
    assert vote(ivanov, "service_desk", "change", cid, "nope", "approve").status_code == 404
    # a user with no role in the app sees nothing: 404/403, never the round
    board.accounts.create_user("stranger", PASSWORD)
    stranger = client(web, board, "stranger")
    assert stranger.get(f"/api/v1/service_desk/change/{cid}/approvals").status_code in (403, 404)
    [r] = rounds(ivanov, "service_desk", "change", cid)
    assert (r["approved"], r["can_vote"]) == (1, False)
    a = platform.audit
    with board.engine.connect() as c:
        votes = c.execute(select(a.c.username, a.c.after).where(a.c.action == "approval_vote")).all()
    assert [(v.username, v.after["decision"]) for v in votes] == [("ivanov", "approve")]


def test_the_deadline_rejects_a_change_nobody_decided(board, web):
    cid = submitted_change(board, web)
    vote(client(web, board, "ivanov"), "service_desk", "change", cid, "cab", "approve")
    [r] = rounds(client(web, board, "ivanov"), "service_desk", "change", cid)
    deadline = dt.datetime.fromisoformat(r["deadline_at"])
    # 3 business days of the app's calendar (no calendars declared: the platform's default one)
    assert deadline == board.behaviour.calendar("service_desk").add(MONDAY, "3 business days")
    assert MONDAY + dt.timedelta(days=2) < deadline < MONDAY + dt.timedelta(days=4)
    assert board.timers.fire_due(deadline - dt.timedelta(seconds=1)) == 0
    clock.freeze(deadline)
    assert board.timers.fire_due(deadline) == 1
    [r] = rounds(client(web, board, "ivanov"), "service_desk", "change", cid)
    assert (r["state"], r["transition"]) == ("expired", "reject")
    assert state(client(web, board, "agent"), "service_desk", "change", cid) == "rejected"


def test_awaiting_my_approval_on_the_home_page_and_the_vote_form(board, web):
    cid = submitted_change(board, web)
    page = Browser(web.test_client())
    page.login("petrova", PASSWORD)
    home = page.get("/ui/").get_data(as_text=True)
    assert 'id="tasks-approvals"' in home and "Обновление СЭД" in home and "Ждут моего согласования" in home
    url = f"/ui/service_desk/change/{cid}"
    record = page.get(url).get_data(as_text=True)
    assert 'id="approvals"' in record and 'name="decision" value="approve"' in record
    assert 'data-transition="approve"' not in record  # the vote decides, not a button
    assert page.post(url + "/approvals/cab/vote", {"decision": "approve", "comment": "Согласна"},
                     token_from=url).status_code == 302
    assert 'id="tasks-approvals"' not in page.get("/ui/").get_data(as_text=True)
    record = page.get(url).get_data(as_text=True)
    assert "Согласна" in record and 'name="decision" value="approve"' not in record
    [r] = rounds(client(web, board, "petrova"), "service_desk", "change", cid)
    assert [(v["user"], v["decision"]) for v in r["votes"] if v["decision"]] == [("petrova", "approve")]
    assert "Согласует · Согласна" in record  # the vote in the record's history, with its comment
    # the form without its CSRF token is refused
    assert page.http.post(url + "/approvals/cab/vote", data={"decision": "reject"}).status_code == 400


# ---------------------------------------------------------------------- the upkeep app: approvers from fields
@pytest.fixture
def upkeep(loom):
    for name in ("buyer", "manager", "rev1", "rev2"):
        user(loom, name, "buyer" if name == "buyer" else "engineer")
    clock.freeze(MONDAY)
    yield loom
    clock.thaw()


def purchase(loom, web, rule="all"):
    if rule != "all" or "upkeep" not in loom.live:
        loom.store.publish(upkeep_app(rule=rule), author="tester")
    buyer = client(web, loom, "buyer")
    created = buyer.post("/api/v1/upkeep/purchase", {
        "title": "Подшипники для насосов", "manager": _id(loom, "manager"),
        "reviewers": [{"reviewer": _id(loom, "rev1")}, {"reviewer": _id(loom, "rev2")}]})
    assert created.status_code == 201, created.get_json()
    pid = created.get_json()["id"]
    assert buyer.post(f"/api/v1/upkeep/purchase/{pid}/transitions/submit", {}).status_code == 200
    return buyer, pid


def test_all_approvers_from_fields_must_approve(upkeep, web):
    buyer, pid = purchase(upkeep, web)
    [r] = rounds(buyer, "upkeep", "purchase", pid)
    assert ({v["user"] for v in r["votes"]}, r["need"]) == ({"manager", "rev1", "rev2"}, 3)
    n = platform.notification
    with upkeep.engine.connect() as c:  # the approval's template, to each approver
        asked = c.execute(select(n.c.user_id, n.c.title).where(n.c.template == "asked")).all()
    assert sorted(asked) == sorted((_id(upkeep, name), "Подпишите: Подшипники для насосов (sign_off)")
                                   for name in ("manager", "rev1", "rev2"))
    for name in ("manager", "rev1"):
        assert vote(client(web, upkeep, name), "upkeep", "purchase", pid, "sign_off", "approve") \
            .get_json()["state"] == "open"
    assert vote(client(web, upkeep, "rev2"), "upkeep", "purchase", pid, "sign_off", "approve") \
        .get_json()["state"] == "approved"
    assert state(buyer, "upkeep", "purchase", pid) == "approved"


def test_under_all_one_rejection_decides(upkeep, web):
    buyer, pid = purchase(upkeep, web)
    decided = vote(client(web, upkeep, "rev1"), "upkeep", "purchase", pid, "sign_off", "reject", "Дорого").get_json()
    assert decided["state"] == "rejected" and state(buyer, "upkeep", "purchase", pid) == "rejected"


def test_under_any_one_approval_decides(upkeep, web):
    buyer, pid = purchase(upkeep, web, rule="any")
    assert vote(client(web, upkeep, "rev1"), "upkeep", "purchase", pid, "sign_off", "reject").get_json()["state"] \
        == "open"
    assert vote(client(web, upkeep, "rev2"), "upkeep", "purchase", pid, "sign_off", "approve").get_json()["state"] \
        == "approved"
    assert state(buyer, "upkeep", "purchase", pid) == "approved"


def test_re_entering_the_status_opens_a_new_round(upkeep, web):
    buyer, pid = purchase(upkeep, web)
    vote(client(web, upkeep, "manager"), "upkeep", "purchase", pid, "sign_off", "reject", "Нужен второй поставщик")
    assert buyer.post(f"/api/v1/upkeep/purchase/{pid}/transitions/revise", {}).status_code == 200
    assert buyer.post(f"/api/v1/upkeep/purchase/{pid}/transitions/submit", {}).status_code == 200
    second, first = rounds(buyer, "upkeep", "purchase", pid)
    assert (first["round"], first["state"], second["round"], second["state"]) == (1, "rejected", 2, "open")
    assert all(v["decision"] is None for v in second["votes"])
    assert vote(client(web, upkeep, "manager"), "upkeep", "purchase", pid, "sign_off", "approve").status_code == 200


def test_leaving_the_status_cancels_the_round_and_its_deadline(upkeep, web):
    buyer, pid = purchase(upkeep, web)
    assert buyer.post(f"/api/v1/upkeep/purchase/{pid}/transitions/withdraw", {}).status_code == 200
    [r] = rounds(buyer, "upkeep", "purchase", pid)
    assert r["state"] == "cancelled"
    assert vote(client(web, upkeep, "manager"), "upkeep", "purchase", pid, "sign_off", "approve").status_code == 409
    t = platform.timer
    with upkeep.engine.connect() as c:
        assert c.execute(select(t.c.state).where(t.c.kind == "approval")).scalars().all() == ["cancelled"]
    assert upkeep.timers.fire_due(MONDAY + dt.timedelta(days=30)) == 0


def test_a_passed_deadline_notifies_and_fires_on_timeout(upkeep, web):
    buyer, pid = purchase(upkeep, web)
    later = MONDAY + dt.timedelta(days=3)  # 2 business days: Wednesday 10:00 Moscow
    clock.freeze(later)
    assert upkeep.timers.fire_due(later) == 1
    assert state(buyer, "upkeep", "purchase", pid) == "rejected"
    n = platform.notification
    with upkeep.engine.connect() as c:
        late = c.execute(select(n.c.user_id, n.c.title).where(n.c.template == "late")).all()
    assert [(x.user_id, x.title) for x in late] == [(_id(upkeep, "buyer"), "Не подписано: Подшипники для насосов")]


def test_openapi_describes_the_approval_endpoints(board, web):
    spec = client(web, board, "agent").get("/api/v1/openapi.json").get_json()
    base = "/api/v1/service_desk/change/{record_id}"
    assert "get" in spec["paths"][base + "/approvals"]
    vote_op = spec["paths"][base + "/approvals/{name}/votes"]["post"]
    name = next(p for p in vote_op["parameters"] if p["name"] == "name")
    assert name["schema"]["enum"] == ["cab"]
    assert "/api/v1/service_desk/request/{record_id}/approvals" not in spec["paths"]


def test_approvers_from_roles_groups_users_and_fields_each_once_and_only_active(loom, web):
    doc = upkeep_app()
    doc["approvals"]["approvals"][0]["approvers"] = {"roles": ["board"], "groups": ["plant"], "users": ["rev1"],
                                                     "fields": ["manager"]}
    loom.store.publish(doc, author="tester")
    for name in ("buyer", "manager", "rev1", "rev2"):
        user(loom, name, "buyer" if name == "buyer" else "engineer")
    user(loom, "chair", "board")
    retired = user(loom, "retired", "board")
    loom.accounts.update_user(retired, is_active=False)
    plant = loom.accounts.create_group("plant")
    for name in ("manager", "rev2"):  # the manager is in the group and in the field: asked once
        loom.accounts.add_to_group(_id(loom, name), plant)
    buyer = client(web, loom, "buyer")
    pid = buyer.post("/api/v1/upkeep/purchase", {"title": "Фильтры", "manager": _id(loom, "manager")}).get_json()["id"]
    buyer.post(f"/api/v1/upkeep/purchase/{pid}/transitions/submit", {})
    [r] = rounds(buyer, "upkeep", "purchase", pid)
    assert sorted(v["user"] for v in r["votes"]) == ["chair", "manager", "rev1", "rev2"]
    assert r["need"] == 4


def test_two_deciding_votes_at_once_decide_the_round_once(board, web):
    import threading
    cid = submitted_change(board, web)
    other = make_loom(board.database_url, None)
    try:
        barrier = threading.Barrier(2)
        results = []

        def cast(instance, name):
            barrier.wait()
            results.append(instance.approvals.vote("service_desk", "change", cid, "cab", "approve", None,
                                                   instance.actor(name))["state"])

        threads = [threading.Thread(target=cast, args=args) for args in ((board, "ivanov"), (other, "petrova"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other.engine.dispose()
    assert sorted(results) == ["approved", "open"]  # the second to count saw both votes
    h = platform.status_history
    with board.engine.connect() as c:
        fired = c.execute(select(h.c.transition).where(h.c.entity == "change", h.c.record_id == cid,
                                                       h.c.to_status == "approved")).scalars().all()
    assert fired == ["approval:approve"]


def test_approvers_through_a_link_follow_it_as_recipients_do(loom, web):
    """``department.head``: the head of the purchase's department votes, beside a table's reviewers;
    publishing checks the path as it checks a recipient's."""
    doc = upkeep_app()
    doc["entities"]["department"] = {"title": "Department", "title_field": "name",
                                     "fields": {"name": {"type": "string"}, "head": {"type": "user"}}}
    doc["entities"]["purchase"]["fields"]["department"] = {"type": "link", "entity": "department"}
    doc["approvals"]["approvals"][0]["approvers"] = {"fields": ["department.head", "reviewers.reviewer"]}
    loom.store.publish(doc, author="tester")
    for name in ("buyer", "head", "rev1"):
        user(loom, name, "buyer" if name == "buyer" else "engineer")
    dept = loom.records.create("upkeep", "department", {"name": "Цех 1", "head": _id(loom, "head")})
    buyer = client(web, loom, "buyer")
    pid = buyer.post("/api/v1/upkeep/purchase", {"title": "Фильтры", "department": dept["id"],
                                                 "reviewers": [{"reviewer": _id(loom, "rev1")}]}).get_json()["id"]
    buyer.post(f"/api/v1/upkeep/purchase/{pid}/transitions/submit", {})
    [r] = rounds(buyer, "upkeep", "purchase", pid)
    assert sorted(v["user"] for v in r["votes"]) == ["head", "rev1"]
    doc["approvals"]["approvals"][0]["approvers"] = {"fields": ["department.hed"]}
    from metamodel import MetadataError
    with pytest.raises(MetadataError, match="hed"):
        loom.store.publish(doc, author="tester")
