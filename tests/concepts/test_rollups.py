"""Rollup fields and automatic transitions on a small workshop app, on SQLite and PostgreSQL:
a job counts and sums its tasks in the same change that moved them (created, changed, moved to
another job, deleted, restored), the value is the same for every reader, publishing a rollup
counts the records that exist already, ``loom rollups`` repairs stored values; a job finishes by
itself when its last task is done and refuses closing while tasks are open; a job whose forecast
passes its tolerance raises one alert."""
from __future__ import annotations

import copy
import decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from metamodel.errors import MetadataError
from runtime.data.records import SYSTEM
from runtime.errors import Conflict, Forbidden

from .conftest import user

D = decimal.Decimal
OPEN = "status in ['open', 'in_work']"


def workshop_app() -> dict:
    everyone = {"read": ["fitter", "boss"], "create": ["fitter", "boss"], "update": ["fitter", "boss"],
                "delete": ["boss"]}
    return {
        "app": {"name": "workshop", "title": "Workshop", "roles": [{"name": "fitter"}, {"name": "boss"}]},
        "entities": {
            "job": {
                "title": "Job", "title_field": "name",
                "fields": {
                    "name": {"type": "string", "required": True},
                    "budget": {"type": "money"},
                    "tolerance": {"type": "money", "default": "0"},
                    "tasks": {"type": "rollup", "entity": "task", "link": "job"},
                    "open_tasks": {"type": "rollup", "entity": "task", "link": "job", "where": OPEN},
                    "hours": {"type": "rollup", "entity": "task", "link": "job", "function": "sum", "of": "hours",
                              "result": "decimal"},
                    "forecast": {"type": "rollup", "entity": "task", "link": "job", "function": "sum",
                                 "of": "cost", "result": "money"},
                    "first_due": {"type": "rollup", "entity": "task", "link": "job", "function": "min",
                                  "of": "due", "result": "date"},
                    "longest": {"type": "rollup", "entity": "task", "link": "job", "function": "max",
                                "of": "hours", "result": "decimal", "where": "status == 'done'"},
                },
                "permissions": everyone,
                "statuses": [{"name": "open", "initial": True}, {"name": "in_work", "category": "in_work"},
                             {"name": "finished", "category": "waiting"},
                             {"name": "over_budget", "category": "waiting"},
                             {"name": "closed", "category": "done"}],
                "transitions": [
                    {"name": "start", "from": "open", "to": "in_work"},
                    {"name": "finish", "from": "in_work", "to": "finished", "auto": True,
                     "condition": "tasks > 0 and open_tasks == 0"},
                    {"name": "exceed", "from": ["open", "in_work"], "to": "over_budget", "auto": True,
                     "condition": "budget != None and forecast > budget + tolerance",
                     "actions": [{"create": {"entity": "alert", "set": {
                         "job": "id", "text": "concat('Прогноз ', str(forecast), ' > бюджет ', str(budget))"}}}]},
                    {"name": "replan", "from": "over_budget", "to": "in_work", "required": ["tolerance"]},
                    {"name": "close", "from": ["in_work", "finished"], "to": "closed",
                     "condition": "open_tasks == 0"}]},
            "task": {
                "title": "Task", "title_field": "title",
                "fields": {"title": {"type": "string", "required": True},
                           "job": {"type": "link", "entity": "job"},
                           "hours": {"type": "decimal"}, "cost": {"type": "money"}, "due": {"type": "date"},
                           "fitter": {"type": "user"}},
                "permissions": {**everyone, "rows": [{"roles": ["fitter"], "condition": "fitter == user_id"}]},
                "statuses": [{"name": "open", "initial": True}, {"name": "in_work", "category": "in_work"},
                             {"name": "done", "category": "done"}],
                "transitions": [{"name": "take", "from": "open", "to": "in_work"},
                                {"name": "done", "from": ["open", "in_work"], "to": "done"},
                                {"name": "reopen", "from": "done", "to": "in_work"}]},
            "alert": {"title": "Alert", "title_field": "text",
                      "fields": {"job": {"type": "link", "entity": "job"}, "text": {"type": "string"}},
                      "permissions": everyone},
        },
    }


@pytest.fixture
def shop(loom):
    loom.store.publish(workshop_app(), author="tester")
    return loom


def job(loom, name="Ремонт насоса", **values):
    return loom.records.create("workshop", "job", {"name": name, **values})


def task(loom, job_id, title="Разборка", **values):
    return loom.records.create("workshop", "task", {"title": title, "job": job_id, **values})


def read(loom, job_id, *fields):
    row = loom.records.get("workshop", "job", job_id)
    return tuple(row[f] for f in fields)


def test_rollups_follow_every_change_of_the_linked_records(shop):
    a, b = job(shop)["id"], job(shop, "Замена задвижки")["id"]
    assert read(shop, a, "tasks", "open_tasks", "hours", "first_due") == (0, 0, "0.00", None)
    t1 = task(shop, a, hours="2.5", due="2026-03-10")
    t2 = task(shop, a, "Сборка", hours="4", due="2026-03-05")
    assert read(shop, a, "tasks", "open_tasks", "hours", "first_due") == (2, 2, "6.50", "2026-03-05")
    shop.records.update("workshop", "task", t2["id"], {"hours": "1"}, t2["row_version"])
    assert read(shop, a, "hours") == ("3.50",)
    shop.workflow.transition("workshop", "task", t1["id"], "done")  # the filtered count moves, the total not
    assert read(shop, a, "tasks", "open_tasks", "longest") == (2, 1, "2.50")
    # moved to another job: both jobs change in the same update
    t2 = shop.records.get("workshop", "task", t2["id"])
    shop.records.update("workshop", "task", t2["id"], {"job": b}, t2["row_version"])
    assert read(shop, a, "tasks", "open_tasks", "hours", "first_due") == (1, 0, "2.50", "2026-03-10")
    assert read(shop, b, "tasks", "open_tasks", "hours", "first_due") == (1, 1, "1.00", "2026-03-05")
    shop.records.delete("workshop", "task", t1["id"])
    assert read(shop, a, "tasks", "hours", "longest", "first_due") == (0, "0.00", None, None)
    shop.records.restore("workshop", "task", t1["id"])
    assert read(shop, a, "tasks", "hours", "longest") == (1, "2.50", "2.50")


def test_a_rollup_rolls_back_with_the_change_that_moved_it(shop):
    a = job(shop)["id"]
    with pytest.raises(RuntimeError):
        with shop.engine.begin() as c:
            shop.records.create("workshop", "task", {"title": "Разборка", "job": a}, conn=c)
            assert c.execute(select(shop.entity_tables("workshop", "job").main.c.tasks)).scalar() == 1
            raise RuntimeError("the change fails later")
    assert read(shop, a, "tasks") == (0,)


def test_a_rollup_is_read_only_and_the_same_for_every_reader(shop):
    user(shop, "boss", "boss", app="workshop")
    user(shop, "ivan", "fitter", app="workshop")
    user(shop, "oleg", "fitter", app="workshop")
    ivan, oleg = shop.actor("ivan"), shop.actor("oleg")
    a = job(shop)["id"]
    task(shop, a, fitter=ivan.id)
    task(shop, a, "Сборка", fitter=oleg.id)
    # ivan sees only his own task, yet the job counts both
    assert len(shop.records.find("workshop", "task", actor=ivan)) == 1
    assert shop.records.get("workshop", "job", a, actor=ivan)["tasks"] == 2
    current = shop.records.get("workshop", "job", a)
    with pytest.raises(Forbidden, match="tasks"):
        shop.records.update("workshop", "job", a, {"tasks": 7}, current["row_version"], actor=shop.actor("boss"))
    assert read(shop, a, "tasks") == (2,)
    # the parent's version does not move when a child does: nobody editing it gets a conflict
    assert shop.records.get("workshop", "job", a)["row_version"] == 1


def test_publishing_a_rollup_counts_existing_records_and_the_cli_repairs_values(shop, tmp_path, monkeypatch):
    doc = workshop_app()
    a = job(shop)["id"]
    task(shop, a, cost="100")
    task(shop, a, cost="250.50")
    newer = copy.deepcopy(doc)
    newer["entities"]["job"]["fields"]["cost_so_far"] = {
        "type": "rollup", "entity": "task", "link": "job", "function": "sum", "of": "cost", "result": "money"}
    newer["entities"]["job"]["fields"]["open_tasks"]["where"] = "status == 'done'"  # changed: recomputed
    shop.store.publish(newer, author="tester")
    assert read(shop, a, "cost_so_far", "open_tasks") == ("350.50", 0)
    job_table = shop.entity_tables("workshop", "job").main
    with shop.engine.begin() as c:  # a value that went wrong outside the platform
        c.execute(update(job_table).values(tasks=99))
    assert shop.rollups.recompute("workshop", "job") == {"job.tasks": 1, "job.open_tasks": 0, "job.hours": 0,
                                                         "job.forecast": 0, "job.first_due": 0, "job.longest": 0,
                                                         "job.cost_so_far": 0}
    assert read(shop, a, "tasks") == (2,)
    with shop.engine.begin() as c:
        c.execute(update(job_table).values(tasks=5))
    from runtime import cli
    monkeypatch.setattr(cli, "_loom", lambda settings=None: shop)
    out = CliRunner().invoke(cli.main, ["rollups", "workshop", "--field", "tasks"])
    assert out.exit_code == 0, out.output
    assert "job.tasks: 1 record(s) changed" in out.output
    assert read(shop, a, "tasks") == (2,)


def test_a_job_finishes_by_itself_when_its_last_task_is_done(shop):
    a = job(shop)["id"]
    t1, t2 = task(shop, a), task(shop, a, "Сборка")
    shop.workflow.transition("workshop", "job", a, "start")
    with pytest.raises(Conflict, match="open_tasks == 0"):
        shop.workflow.transition("workshop", "job", a, "close")
    shop.workflow.transition("workshop", "task", t1["id"], "done")
    assert read(shop, a, "status") == ("in_work",)
    shop.workflow.transition("workshop", "task", t2["id"], "done")
    assert read(shop, a, "status", "open_tasks") == ("finished", 0)
    history = shop.behaviour.history("workshop", "job", a)
    assert history[-1]["transition"] == "auto:finish" and history[-1]["user"] == "system"
    shop.workflow.transition("workshop", "job", a, "close")
    assert read(shop, a, "status") == ("closed",)


def test_a_forecast_past_its_tolerance_raises_one_alert(shop):
    a = job(shop, budget="1000", tolerance="100")["id"]
    shop.workflow.transition("workshop", "job", a, "start")
    t = task(shop, a, cost="900")
    assert read(shop, a, "status") == ("in_work",)
    shop.records.update("workshop", "task", t["id"], {"cost": "1100.01"}, t["row_version"])  # past 1000 + 100
    assert read(shop, a, "status") == ("over_budget",)
    [alert] = shop.records.find("workshop", "alert")
    assert alert["job"] == a and alert["text"] == "Прогноз 1100.01 > бюджет 1000.00"
    task(shop, a, "Ещё работа", cost="50")  # further out: no second alert while the exception stands
    assert len(shop.records.find("workshop", "alert")) == 1
    # a new tolerance that holds the forecast: back in work, and nothing is raised
    shop.workflow.transition("workshop", "job", a, "replan", {"tolerance": "500"})
    assert read(shop, a, "status") == ("in_work",)
    assert len(shop.records.find("workshop", "alert")) == 1


@pytest.mark.parametrize("path, spec, message", [
    (("fields", "tasks"), {"type": "rollup", "entity": "task", "link": "jbo"}, "did you mean 'job'"),
    (("fields", "tasks"), {"type": "rollup", "entity": "tsk", "link": "job"}, "did you mean 'task'"),
    (("fields", "tasks"), {"type": "rollup", "entity": "task", "link": "job", "function": "sum", "of": "title"},
     "'title' is string"),
    (("fields", "tasks"), {"type": "rollup", "entity": "task", "link": "job", "function": "max"}, "needs 'of'"),
    (("fields", "tasks"), {"type": "rollup", "entity": "task", "link": "job", "function": "min", "of": "due"},
     "add result: date"),
    (("fields", "tasks"), {"type": "rollup", "entity": "task", "link": "job", "where": "stats == 'open'"},
     "stats"),
    (("fields", "tasks"), {"type": "rollup", "entity": "task", "link": "job", "where": "fitter == user_id"},
     "cannot read the user"),
    (("fields", "tasks"), {"type": "rollup", "entity": "task", "link": "job", "where": "fitter == $user"},
     "cannot read the user"),
])
def test_publishing_refuses_a_wrong_rollup(sqlite_loom, path, spec, message):
    doc = workshop_app()
    doc["entities"]["job"]["fields"]["tasks"] = spec
    with pytest.raises(MetadataError, match=message) as err:
        sqlite_loom.store.publish(doc, author="tester")
    assert "fields.tasks" in str(err.value)


def test_an_automatic_transition_needs_a_condition(sqlite_loom):
    doc = workshop_app()
    del doc["entities"]["job"]["transitions"][1]["condition"]
    with pytest.raises(MetadataError, match="needs a condition"):
        sqlite_loom.store.publish(doc, author="tester")


def test_the_system_writes_no_rollup_by_hand(shop):
    a = job(shop)["id"]
    shop.records.update("workshop", "job", a, {"name": "Новое имя", "tasks": 5}, 1, actor=SYSTEM)
    assert read(shop, a, "name", "tasks") == ("Новое имя", 0)


def test_a_bulk_import_counts_in_the_rollups_of_its_parents(shop):
    import io
    from runtime.data.importer import import_csv
    a, b = job(shop)["id"], job(shop, "Замена задвижки")["id"]
    task(shop, a, hours="1")
    csv = "title,job,hours\n" + "".join(f"Импорт {i},{a if i % 3 else b},2\n" for i in range(1, 8))
    import_csv(shop, "workshop", "task", io.StringIO(csv), batch=3)
    assert read(shop, a, "tasks", "hours") == (6, "11.00")
    assert read(shop, b, "tasks", "hours") == (2, "4.00")
    imported_jobs = import_csv(shop, "workshop", "job", io.StringIO("name\nНовая работа\n"))
    assert imported_jobs.rows == 1
    [fresh] = shop.records.find("workshop", "job", where={"name": "Новая работа"})
    assert (fresh["tasks"], fresh["hours"], fresh["first_due"]) == (0, "0.00", None)
