"""General concepts the service desk needed, tried on an app shaped nothing like it (a workshop):
notices ahead of a date (schedules.yaml ``notify_before``), ``transition()`` in scripts, demo staff
in fixtures (``fixtures/_accounts.yaml``) and ``business_hours_between`` in expressions.
On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest
import yaml
from sqlalchemy import select

from metamodel.errors import MetadataError
from runtime import clock
from runtime.behaviour.scheduler import Scheduler
from runtime.data import tables as platform
from runtime.data.fixtures import load_fixtures
from runtime.data.records import Actor
from runtime.behaviour.hooks import ScriptFailed

D = dt.date
UTC = dt.timezone.utc
ROLES = {"read": ["smith"], "create": ["smith"], "update": ["smith"]}

SCRIPT = '''
def finish_jobs(record):
    """after close: every open job of the batch is finished, and its customer told."""
    for job in find("job", where={"batch": record.id, "status": "open"}):
        transition("job", job.id, "finish", {"note": "Партия " + record.name + " закрыта"})
'''


def workshop(days=(30, 7), when="status == 'open'") -> dict:
    return {
        "app": {"name": "workshop", "title": "Workshop", "timezone": "Europe/Moscow",
                "roles": [{"name": "smith"}]},
        "entities": {
            "tool": {
                "title": "Tool", "title_field": "name",
                "fields": {"name": {"type": "string", "required": True},
                           "calibrate_by": {"type": "date"}, "keeper": {"type": "user"},
                           "crew": {"type": "group"}},
                "permissions": ROLES,
                "statuses": [{"name": "open", "category": "in_work", "initial": True},
                             {"name": "scrapped", "category": "cancelled"}],
                "transitions": [{"name": "scrap", "from": "open", "to": "scrapped"}]},
            "batch": {
                "title": "Batch", "title_field": "name",
                "fields": {"name": {"type": "string", "required": True},
                           "started": {"type": "datetime"}, "ended": {"type": "datetime"},
                           "work_hours": {"type": "computed", "result": "decimal",
                                          "expression": "business_hours_between(started, ended)"}},
                "permissions": ROLES,
                "statuses": [{"name": "open", "category": "in_work", "initial": True},
                             {"name": "closed", "category": "done"}],
                "transitions": [{"name": "close", "from": "open", "to": "closed",
                                 "after": "workshop.py:finish_jobs"}]},
            "job": {
                "title": "Job", "title_field": "title",
                "fields": {"title": {"type": "string", "required": True}, "batch": {"type": "link", "entity": "batch"},
                           "customer": {"type": "email"}, "note": {"type": "text"}},
                "permissions": ROLES,
                "statuses": [{"name": "open", "category": "open", "initial": True},
                             {"name": "finished", "category": "done"}],
                "transitions": [{"name": "finish", "from": "open", "to": "finished", "required": ["note"],
                                 "roles": ["smith"],
                                 "actions": [{"notify": {"template": "finished", "to": ["customer"]}}]}]},
        },
        "schedules": {"schedules": [{"name": "calibration", "cron": "0 8 * * *", "notify_before": {
            "entity": "tool", "field": "calibrate_by", "days": list(days), "when": when,
            "template": "calibrate", "to": ["keeper"], "cc": ["crew"]}}]},
        "notifications": {"templates": {
            "calibrate": {"channels": ["inapp", "email"],
                          "subject": "Поверка {{ record.name }}: {{ days_left }} дн. (порог {{ days }}), до {{ date }}",
                          "body": "-"},
            "finished": {"channels": ["email"], "subject": "Готово: {{ record.title }}", "body": "{{ record.note }}"}}},
        "sla": {"calendars": {"day": {"timezone": "Europe/Moscow", "country": "RU", "default": True,
                                      "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}}},
        "scripts": {"workshop.py": SCRIPT},
    }


@pytest.fixture
def shop(loom):
    loom.store.publish(workshop(), author="tester")
    loom.accounts.create_user("keeper", "pass-word-123", email="keeper@shop.example", roles=["workshop:smith"])
    crew = loom.accounts.create_group("crew", "Бригада", "crew@shop.example")
    member = loom.accounts.create_user("member", "pass-word-123", roles=["workshop:smith"])
    loom.accounts.add_to_group(member, crew)
    yield loom
    clock.thaw()


def notices(loom, user=None) -> list[str]:
    n = platform.notification
    q = select(n.c.title).order_by(n.c.id)
    if user:
        u = platform.user
        q = q.where(n.c.user_id == select(u.c.id).where(u.c.username == user).scalar_subquery())
    with loom.engine.connect() as c:
        return list(c.execute(q).scalars())


def tool(loom, name, by, **values):
    keeper = loom.accounts.actor_for_id(_uid(loom, "keeper")).id
    crew = _gid(loom, "crew")
    return loom.records.create("workshop", "tool", {"name": name, "calibrate_by": by, "keeper": keeper,
                                                    "crew": crew, **values})


def _uid(loom, name):
    with loom.engine.connect() as c:
        return c.execute(select(platform.user.c.id).where(platform.user.c.username == name)).scalar_one()


def _gid(loom, name):
    with loom.engine.connect() as c:
        return c.execute(select(platform.group.c.id).where(platform.group.c.name == name)).scalar_one()


# ---------------------------------------------------------------------- notices ahead of a date
def test_each_threshold_is_noticed_once_per_date(shop):
    gauge = tool(shop, "Штангенциркуль", "2026-04-30")
    assert shop.notices.run("workshop", "calibration", D(2026, 3, 30))["sent"] == 0  # 31 days ahead
    first = shop.notices.run("workshop", "calibration", D(2026, 3, 31))
    assert (first["sent"], first["existing"]) == (1, 0)
    again = shop.notices.run("workshop", "calibration", D(2026, 4, 10))  # still inside the 30-day notice
    assert (again["sent"], again["existing"]) == (0, 1)
    assert shop.notices.run("workshop", "calibration", D(2026, 4, 23))["sent"] == 1  # 7 days ahead
    assert shop.notices.run("workshop", "calibration", D(2026, 4, 30))["existing"] == 1  # the day itself
    assert shop.notices.run("workshop", "calibration", D(2026, 5, 1))["sent"] == 0  # past: nothing
    assert notices(shop, "keeper") == ["Поверка Штангенциркуль: 30 дн. (порог 30), до 2026-04-30",
                                       "Поверка Штангенциркуль: 7 дн. (порог 7), до 2026-04-30"]
    assert len(notices(shop, "member")) == 2  # the crew is copied
    o = platform.outbox
    with shop.engine.connect() as c:
        assert c.execute(select(o.c.recipient)).scalars().all() == ["keeper@shop.example"] * 2
    # moved to a new date: its notices are owed again
    shop.records.update("workshop", "tool", gauge["id"], {"calibrate_by": "2026-05-05"}, gauge["row_version"])
    assert shop.notices.run("workshop", "calibration", D(2026, 5, 1))["sent"] == 1
    assert notices(shop, "keeper")[-1] == "Поверка Штангенциркуль: 4 дн. (порог 7), до 2026-05-05"


def test_a_late_first_look_sends_only_the_nearest_notice_and_when_filters(shop):
    tool(shop, "Микрометр", "2026-04-05")
    scrapped = tool(shop, "Старый нутромер", "2026-04-04")
    shop.workflow.transition("workshop", "tool", scrapped["id"], "scrap")
    assert shop.notices.run("workshop", "calibration", D(2026, 4, 1))["sent"] == 1
    assert notices(shop, "keeper") == ["Поверка Микрометр: 4 дн. (порог 7), до 2026-04-05"]
    assert shop.notices.run("workshop", "calibration", D(2026, 4, 2))["sent"] == 0


def test_the_cron_slot_runs_the_notices_once(shop):
    tool(shop, "Весы", "2026-04-10")
    clock.freeze(dt.datetime(2026, 4, 3, 5, 0, 30, tzinfo=UTC))  # 08:00:30 in Moscow
    assert Scheduler(shop).tick()["schedules"] == 1
    assert Scheduler(shop).tick()["schedules"] == 0  # a second scheduler finds the slot taken
    r = platform.schedule_run
    with shop.engine.connect() as c:
        outcome, result = c.execute(select(r.c.outcome, r.c.result)).one()
    assert outcome == "ok" and result["sent"] == 1
    assert notices(shop, "keeper") == ["Поверка Весы: 7 дн. (порог 7), до 2026-04-10"]


@pytest.mark.parametrize("change, path, message", [
    ({"field": "nme"}, "notify_before.field", "unknown date field of tool 'nme'"),
    ({"field": "name"}, "notify_before.field", "'name' is a string field"),
    ({"template": "calibrat"}, "notify_before.template", "did you mean 'calibrate'"),
    ({"to": ["keper"]}, "notify_before.to[0]", "unknown recipient 'keper'"),
    ({"days": []}, "notify_before.days", "should be non-empty"),
])
def test_a_wrong_notice_is_refused_with_its_path(loom, change, path, message):
    doc = workshop()
    doc["schedules"]["schedules"][0]["notify_before"].update(change)
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="tester")
    problems = [(p.file, p.path, p.message) for p in err.value.problems]
    assert any(f == "schedules.yaml" and path in p and message in m for f, p, m in problems), problems


# ---------------------------------------------------------------------- transition() in scripts
def test_a_hook_fires_transitions_of_other_records_in_the_same_change(shop):
    smith = Actor(_uid(shop, "keeper"), "keeper", ("workshop:smith",))
    batch = shop.records.create("workshop", "batch", {"name": "П-7"}, smith)
    jobs = [shop.records.create("workshop", "job", {"title": t, "batch": batch["id"], "customer": f"{t}@c.example"},
                                smith) for t in ("a", "b")]
    shop.workflow.transition("workshop", "batch", batch["id"], "close", actor=smith)
    for job in jobs:
        stored = shop.records.get("workshop", "job", job["id"])
        assert (stored["status"], stored["note"]) == ("finished", "Партия П-7 закрыта")
    h = platform.status_history
    with shop.engine.connect() as c:
        labels = c.execute(select(h.c.transition).where(h.c.entity == "job", h.c.transition.isnot(None))).scalars()
        assert sorted(labels) == ["script:finish", "script:finish"]
        assert sorted(c.execute(select(platform.outbox.c.recipient)).scalars()) == ["a@c.example", "b@c.example"]


def test_a_transition_a_script_fires_keeps_its_rules_and_rolls_the_change_back(shop):
    doc = workshop()
    doc["scripts"]["workshop.py"] = SCRIPT.replace('{"note": "Партия " + record.name + " закрыта"}', "None")
    shop.store.publish(doc, author="tester")
    smith = Actor(_uid(shop, "keeper"), "keeper", ("workshop:smith",))
    batch = shop.records.create("workshop", "batch", {"name": "П-8"}, smith)
    job = shop.records.create("workshop", "job", {"title": "c", "batch": batch["id"]}, smith)
    with pytest.raises(ScriptFailed) as err:  # finish requires a note: the script fails at its line
        shop.workflow.transition("workshop", "batch", batch["id"], "close", actor=smith)
    assert err.value.error.line == 5 and "note" in err.value.error.message
    assert shop.records.get("workshop", "batch", batch["id"])["status"] == "open"
    assert shop.records.get("workshop", "job", job["id"])["status"] == "open"


# ---------------------------------------------------------------------- business hours in expressions
def test_business_hours_between_counts_working_time(shop):
    # Friday 16:00 to Tuesday 11:00 in Moscow: 2 hours on Friday, 2 on Tuesday; March 8, 2026 is a
    # Sunday, so the holiday moves to Monday March 9, which counts nothing
    batch = shop.records.create("workshop", "batch", {"name": "П-9", "started": "2026-03-06T13:00:00Z",
                                                      "ended": "2026-03-10T08:00:00Z"})
    assert str(batch["work_hours"]) in ("4", "4.00", "4.0")
    half = shop.records.create("workshop", "batch", {"name": "П-10", "started": "2026-03-10T06:30:00Z",
                                                     "ended": "2026-03-10T07:00:00Z"})
    assert str(half["work_hours"]) in ("0.5", "0.50")


# ---------------------------------------------------------------------- demo staff in fixtures
ACCOUNTS = {
    "groups": [{"name": "forge", "title": "Кузница", "email": "forge@shop.example", "lead": "ivanov"}],
    "users": [{"username": "ivanov", "full_name": "Иванов И. И.", "password": "demo-pass-1", "roles": ["smith"],
               "groups": ["forge"], "email": "ivanov@shop.example"},
              {"username": "petrov", "full_name": "Петров П. П.", "roles": ["smith"], "groups": ["forge"]}],
}


def write_app(folder, accounts, tools):
    from metamodel.document import write_folder
    doc = workshop()
    doc["fixtures"] = {"_accounts": accounts, "tool": tools}
    write_folder(doc, folder)
    return folder


def test_fixtures_make_staff_and_name_them_in_records(loom, tmp_path):
    folder = write_app(tmp_path / "shop", ACCOUNTS, [{"name": "Молот", "keeper": "petrov", "crew": "forge"}])
    published = loom.store.install(folder, author="tester")
    assert load_fixtures(loom, published.app) == 1
    ivanov = loom.accounts.authenticate("ivanov", "demo-pass-1")
    assert ivanov is not None and "workshop:smith" in ivanov.roles
    [hammer] = loom.records.find("workshop", "tool", limit=5)
    assert hammer["keeper"] == _uid(loom, "petrov") and hammer["crew"] == _gid(loom, "forge")
    g = platform.group
    with loom.engine.connect() as c:
        assert c.execute(select(g.c.lead_id).where(g.c.name == "forge")).scalar() == ivanov.id
        members = c.execute(select(platform.user_group.c.user_id)).scalars().all()
    assert sorted(members) == sorted([ivanov.id, _uid(loom, "petrov")])
    # loading again reuses the accounts: a user who exists gains only what they lack
    loom.accounts.update_user(_uid(loom, "petrov"), roles=[])
    from runtime.data.fixtures import load_accounts
    load_accounts(loom, "workshop", ACCOUNTS)
    assert loom.accounts.actor_for_id(_uid(loom, "petrov")).roles == ("workshop:smith",) or \
        list(loom.accounts.actor_for_id(_uid(loom, "petrov")).roles) == ["workshop:smith"]


@pytest.mark.parametrize("accounts, path, message", [
    ({"users": [{"username": "x", "roles": ["smth"]}]}, "users[0].roles[0]", "did you mean 'smith'"),
    ({"users": [{"username": "x", "groups": ["frge"]}], "groups": [{"name": "forge"}]}, "users[0].groups[0]",
     "did you mean 'forge'"),
    ({"groups": [{"name": "forge", "lead": "nobody"}]}, "groups[0].lead", "unknown user 'nobody'"),
    ({"users": [{"username": "x", "pasword": "12345678"}]}, "users[0]", "pasword"),
])
def test_wrong_staff_fixtures_are_refused_with_file_and_path(loom, tmp_path, accounts, path, message):
    folder = write_app(tmp_path / "shop", accounts, [])
    with pytest.raises(MetadataError) as err:
        loom.store.install(folder, author="tester")
    problems = [(p.file, p.path, p.message) for p in err.value.problems]
    assert any(f == "fixtures/_accounts.yaml" and path in p and message in m for f, p, m in problems), problems
    text = (folder / "fixtures" / "_accounts.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text) == accounts
