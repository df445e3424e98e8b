"""Personal notifications: an assignment (by routing or by hand) and an @mention reach the person
concerned, in Loom, by e-mail or in the daily digest, as they chose; on two apps."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from runtime.behaviour.personal import PreferenceError
from runtime.behaviour.scheduler import Scheduler
from runtime.data import comments
from runtime.data import tables as platform
from runtime.data.records import SYSTEM
from tests.routing.test_reroute import grid, placed, patch, post  # noqa: F401  (the grid app and its helpers)
from tests.ui.conftest import PASSWORD, Browser, seed

APP = "service_desk"


def personal(loom, user_id: int) -> list:
    n = platform.notification
    with loom.engine.connect() as c:
        return c.execute(select(n.c.title, n.c.kind, n.c.digest, n.c.record_id)
                         .where(n.c.user_id == user_id, n.c.kind.is_not(None)).order_by(n.c.id)).all()


def mails(loom) -> list:
    o = platform.outbox
    with loom.engine.connect() as c:
        return c.execute(select(o.c.recipient, o.c.subject, o.c.body).order_by(o.c.id)).all()


@pytest.fixture
def desk(service_desk):
    loom = service_desk
    data = seed(loom)
    ids = {name: loom.accounts.create_user(name, PASSWORD, full_name=name.title(), email=f"{name}@example.org",
                                           roles=["service_desk:agent"]) for name in ("anna", "boris")}
    return loom, data, ids


def request(loom, data, **extra):
    return loom.records.create(APP, "request", {
        "subject": "Не печатает принтер", "description": "Описание", "organization": data["organization"]["id"],
        "module": data["module"]["id"], **extra})


def test_an_assignment_notifies_the_new_assignee_once(desk):
    loom, data, ids = desk
    made = request(loom, data, assignee=ids["anna"])
    [(title, kind, digest, record_id)] = personal(loom, ids["anna"])
    assert (kind, digest, record_id) == ("assignment", False, made["id"]) and title.startswith("Вам назначено: REQ-")
    made = loom.records.update(APP, "request", made["id"], {"subject": "Не печатает принтер в 301"},
                               made["row_version"], SYSTEM)
    assert len(personal(loom, ids["anna"])) == 1  # the same assignee is not told again
    anna = loom.accounts.authenticate("anna", PASSWORD)
    made = loom.records.update(APP, "request", made["id"], {"assignee": ids["boris"]}, made["row_version"], anna)
    assert [k for _, k, _, _ in personal(loom, ids["boris"])] == ["assignment"]
    loom.records.update(APP, "request", made["id"], {"assignee": ids["anna"]}, made["row_version"], anna)
    assert len(personal(loom, ids["anna"])) == 1  # taking it oneself is no news
    assert mails(loom) == [] or all("назначено" not in m.subject for m in mails(loom))  # in Loom only by default


def test_email_and_digest_follow_the_preference(desk):
    loom, data, ids = desk
    loom.personal.set_preferences(ids["anna"], {"assignment": "email"})
    loom.personal.set_preferences(ids["boris"], {"assignment": "digest", "mention": "digest"})
    assert loom.personal.preferences(ids["boris"]) == {"assignment": "digest", "mention": "digest",
                                                    "proposal": "inapp"}
    with pytest.raises(PreferenceError) as bad:
        loom.personal.set_preferences(ids["anna"], {"assignment": "pigeon"})
    assert bad.value.field == "assignment"
    made = request(loom, data, assignee=ids["anna"])
    sent = [m for m in mails(loom) if m.recipient == "anna@example.org"]
    assert len(sent) == 1 and sent[0].subject.startswith("Вам назначено") and f"/{made['id']}" in sent[0].body
    request(loom, data, assignee=ids["boris"])
    request(loom, data, assignee=ids["boris"])
    assert [d for _, _, d, _ in personal(loom, ids["boris"])] == [True, True]  # in Loom now, e-mail later
    assert not [m for m in mails(loom) if m.recipient == "boris@example.org"]
    # the scheduler starts the digest once a day, once for two schedulers
    day = dt.datetime(2026, 12, 8, 7, 0, tzinfo=dt.UTC)
    first, second = Scheduler(loom), Scheduler(loom)
    assert first.digests(day - dt.timedelta(hours=2)) == 0  # before the digest hour
    assert first.digests(day) == 1 and second.digests(day) == 0
    digest = [m for m in mails(loom) if m.recipient == "boris@example.org"]
    assert len(digest) == 1 and digest[0].subject == "Сводка уведомлений: 2" and digest[0].body.count("- Вам назначено") == 2
    assert [d for _, _, d, _ in personal(loom, ids["boris"])] == [False, False]
    assert loom.personal.send_digests() == 0  # nothing is owed twice


def test_a_mention_notifies_as_chosen(desk):
    loom, data, ids = desk
    made = request(loom, data)
    anna = loom.accounts.authenticate("anna", PASSWORD)
    loom.personal.set_preferences(ids["boris"], {"mention": "email"})
    comments.add(loom, APP, "request", made["id"], "@boris посмотри, пожалуйста; @anna себе не пишет", anna)
    assert [(k, r) for _, k, _, r in personal(loom, ids["boris"])] == [("mention", made["id"])]
    assert personal(loom, ids["anna"]) == []
    [mail] = [m for m in mails(loom) if m.recipient == "boris@example.org"]
    assert mail.subject.startswith("@anna: ") and "посмотри" in mail.body


def test_routing_assignment_notifies_on_another_app(grid):
    """Another app (the grid company's appeals) routes an appeal to a specialist and re-routes it:
    each new assignee hears of it, the previous one does not hear again."""
    record = post(grid, consumer=grid.consumers["ivanov"])
    assert placed(grid, record) == ("north", "n1")
    titles = [t for t, k, _, _ in personal(grid, grid.ids["n1"]) if k == "assignment"]
    assert titles == [f"Вам назначено: {record['number']} · Нет света"]
    n = platform.notification
    with grid.engine.connect() as c:  # posted by a person, placed by routing: the notice says who chose
        body = c.execute(select(n.c.body).where(n.c.user_id == grid.ids["n1"])).scalar()
    assert body == f"{record['number']} · Нет света назначено вам по правилам маршрутизации.", body
    record = patch(grid, record, topic="billing")
    assert placed(grid, record) == ("billing", "b1")
    assert [k for _, k, _, _ in personal(grid, grid.ids["b1"])] == ["assignment"]
    assert len(personal(grid, grid.ids["n1"])) == 1


def test_the_settings_page_and_the_unread_count(desk, tmp_path):
    from runtime.core.config import Settings
    from runtime.web import create_app
    loom, data, ids = desk
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    app.config["TESTING"] = True
    web = Browser(app.test_client())
    assert web.login("boris").status_code == 302
    assert web.get("/ui/notifications/count").get_json() == {"count": 0, "text": ""}
    request(loom, data, assignee=ids["boris"])
    assert web.get("/ui/notifications/count").get_json() == {"count": 1, "text": "1"}
    page = web.get("/ui/notifications/settings").get_data(as_text=True)
    assert "Настройка уведомлений" in page and 'id="pref-assignment-inapp" checked' in page
    r = web.post("/ui/notifications/settings", {"assignment": "digest", "mention": "email"},
                 token_from="/ui/notifications/settings")
    assert r.status_code == 302
    assert loom.personal.preferences(ids["boris"]) == {"assignment": "digest", "mention": "email",
                                                    "proposal": "inapp"}
    r = web.post("/ui/notifications/settings", {"assignment": "pigeon"}, token_from="/ui/notifications/settings")
    assert r.status_code == 400 and "assignment" in r.get_data(as_text=True)
    assert loom.personal.preferences(ids["boris"])["assignment"] == "digest"  # nothing changed
