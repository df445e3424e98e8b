"""The home page's "my tasks": assigned to me, my groups, due soon and overdue, under row rules."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from runtime import clock
from runtime.data.records import SYSTEM
from tests.permissions.conftest import permissioned_document

from .conftest import PASSWORD, Browser

APP = "service_desk"


def section(response, key: str) -> str:
    html = response.get_data(as_text=True)
    match = re.search(rf'id="tasks-{key}">(.*?)</section>', html, re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))) if match else ""


# A Friday morning in Moscow: the desk's 8-business-hour reaction target then ends on Monday,
# more than a day away, so only the due dates below decide "due soon" and "overdue".
FRIDAY = dt.datetime(2026, 12, 4, 7, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def friday_morning():
    with clock.frozen(FRIDAY):
        yield


def when(**delta) -> str:
    return (clock.now() + dt.timedelta(**delta)).isoformat()


def make(loom, data, subject, **extra):
    return loom.records.create(APP, "request", {
        "subject": subject, "description": "Описание", "organization": data["organization"]["id"],
        "module": data["module"]["id"], **extra})



def test_my_tasks_lists_mine_due_soon_and_overdue(signed_in, service_desk, data):
    loom = service_desk
    agent = loom.accounts.authenticate("agent", PASSWORD).id
    other = loom.accounts.create_user("other", "other-pass-1", roles=["service_desk:agent"])
    make(loom, data, "Моя заявка надолго", assignee=agent, due_at=when(days=5))
    make(loom, data, "Моя срочная заявка", assignee=agent, due_at=when(hours=3))
    make(loom, data, "Моя просроченная заявка", assignee=agent, due_at=when(hours=-2))
    make(loom, data, "Чужая просроченная заявка", assignee=other, due_at=when(hours=-2))
    cancelled = make(loom, data, "Моя отменённая заявка", assignee=agent, due_at=when(hours=-2))
    loom.workflow.transition(APP, "request", cancelled["id"], "cancel", {}, None, SYSTEM)

    home = signed_in.get("/ui/")
    assert home.status_code == 200
    mine = section(home, "mine")
    assert "Назначены мне 3" in mine
    for subject in ("Моя заявка надолго", "Моя срочная заявка", "Моя просроченная заявка"):
        assert subject in mine
    assert "Чужая" not in mine and "отменённая" not in mine
    soon, overdue = section(home, "due_soon"), section(home, "overdue")
    assert "Моя срочная заявка" in soon and "надолго" not in soon and "просроченная" not in soon
    assert "Моя просроченная заявка" in overdue and "Просроченные 1" in overdue
    assert "Чужая" not in overdue and "отменённая" not in overdue
    assert 'href="/ui/service_desk/request/' in home.get_data(as_text=True)
    assert "Служба поддержки" in re.sub(r"<[^>]+>", " ", home.get_data(as_text=True))  # the apps list stays


def test_my_groups_respect_row_rules(ui_app, service_desk, data):
    loom = service_desk
    doc = permissioned_document(loom.store.document(APP))
    doc["entities"]["request"]["permissions"]["rows"] = [
        {"roles": ["agent"], "condition": "assignee == user_id"},
        {"roles": ["dispatcher"]},
    ]
    loom.store.publish(doc, author="tester", comment="agents see only their own requests")
    team = loom.accounts.create_group("first_line")
    agent = loom.accounts.authenticate("agent", PASSWORD).id
    other = loom.accounts.create_user("other", "other-pass-1", roles=["service_desk:agent"])
    boss = loom.accounts.create_user("boss", "boss-pass-1", roles=["service_desk:dispatcher"])
    for user in (agent, other, boss):
        loom.accounts.add_to_group(user, team)
    make(loom, data, "Заявка группы для агента", assignee=agent, support_group=team)
    make(loom, data, "Заявка группы для коллеги", assignee=other, support_group=team, due_at=when(hours=-1))

    b = Browser(ui_app.test_client())
    assert b.login("agent").status_code == 302
    home = b.get("/ui/")
    groups = section(home, "groups")
    assert "Заявка группы для агента" in groups and "коллеги" not in groups
    assert "Задачи моих групп 1" in groups
    assert "коллеги" not in home.get_data(as_text=True)

    b = Browser(ui_app.test_client())
    assert b.login("boss", "boss-pass-1").status_code == 302
    groups = section(b.get("/ui/"), "groups")
    assert "Заявка группы для агента" in groups and "Заявка группы для коллеги" in groups


def test_no_tasks_and_english(signed_in):
    signed_in.get("/lang/en")
    home = signed_in.get("/ui/")
    assert "Assigned to me 0" in section(home, "mine") and "Nothing here." in section(home, "mine")
    assert section(home, "groups") == ""  # the agent is in no group
