"""Record generators (schedules.yaml ``generate:``) on SQLite and PostgreSQL: once per period
however often they run, calendar periods, the validity window, a periodicity per table row,
a failing template reported without stopping the others, the cron slot and the CLI."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from runtime.behaviour.scheduler import Scheduler
from runtime.data import tables as platform
from runtime.data.fixtures import load_fixtures
from runtime.data.records import SYSTEM
from tests.conftest import APPS, make_loom

from .conftest import upkeep_app, user

D = dt.date
UTC = dt.timezone.utc


@pytest.fixture
def upkeep(loom):
    loom.store.publish(upkeep_app(), author="tester")
    return loom


def asset(loom, name="Насос Н-1", every="monthly", **values):
    return loom.records.create("upkeep", "asset", {"name": name, "every": every, **values})


def inspections(loom, asset_id=None):
    rows = loom.records.find("upkeep", "inspection", where={"asset": asset_id} if asset_id else None, limit=200)
    return sorted((r["due"], r["period"]) for r in rows)


def generated_rows(loom) -> int:
    with loom.engine.connect() as c:
        return c.execute(select(func.count()).select_from(platform.generated)).scalar()


def test_a_period_yields_its_record_once_however_often_the_generator_runs(upkeep):
    pump = asset(upkeep)
    first = upkeep.generators.run("upkeep", "inspections", D(2026, 3, 2))
    assert (first["created"], first["existing"]) == (1, 0)
    again = upkeep.generators.run("upkeep", "inspections", D(2026, 3, 31))  # same month, later day
    assert (again["created"], again["existing"]) == (0, 1)
    assert inspections(upkeep, pump["id"]) == [("2026-03-31", "2026-03-01..2026-03-31")]
    # the next month is another period; February's last day is the 28th
    upkeep.generators.run("upkeep", "inspections", D(2026, 4, 1))
    upkeep.generators.run("upkeep", "inspections", D(2026, 2, 14))
    assert inspections(upkeep, pump["id"]) == [("2026-02-28", "2026-02-01..2026-02-28"),
                                               ("2026-03-31", "2026-03-01..2026-03-31"),
                                               ("2026-04-30", "2026-04-01..2026-04-30")]
    assert generated_rows(upkeep) == 3


def test_generated_records_go_through_the_record_service(upkeep):
    keeper = user(upkeep, "keeper", "engineer")
    pump = asset(upkeep, keeper=keeper)
    upkeep.generators.run("upkeep", "inspections", D(2026, 3, 2))
    [made] = upkeep.records.find("upkeep", "inspection", limit=5)
    assert made["number"] and made["inspector"] == keeper and made["asset"] == pump["id"]
    assert made["title"] == "Осмотр: Насос Н-1"
    a = platform.audit
    with upkeep.engine.connect() as c:
        actions = c.execute(select(a.c.action).where(a.c.entity == "inspection", a.c.record_id == made["id"])).scalars()
        assert list(actions) == ["create"]
        g = c.execute(select(platform.generated)).one()
    assert (g.source_id, g.row_key, g.period, g.entity, g.record_id) == (pump["id"], "", "2026-03-01", "inspection",
                                                                         made["id"])


@pytest.mark.parametrize("every, day, expected", [
    ("daily", D(2026, 3, 4), [("2026-03-04", "2026-03-04..2026-03-04")]),
    ("weekly", D(2026, 3, 4), [("2026-03-08", "2026-03-02..2026-03-08")]),          # Monday to Sunday
    ("quarterly", D(2026, 5, 20), [("2026-06-30", "2026-04-01..2026-06-30")]),
    ("half_yearly", D(2026, 8, 1), [("2026-12-31", "2026-07-01..2026-12-31")]),
    ("yearly", D(2026, 8, 1), [("2026-12-31", "2026-01-01..2026-12-31")]),
])
def test_calendar_periods(upkeep, every, day, expected):
    asset(upkeep, every=every)
    upkeep.generators.run("upkeep", "inspections", day)
    upkeep.generators.run("upkeep", "inspections", day + dt.timedelta(hours=0))
    assert inspections(upkeep) == expected


def test_a_quarter_is_one_period_across_its_months(upkeep):
    asset(upkeep, every="quarterly")
    for day in (D(2026, 4, 1), D(2026, 5, 15), D(2026, 6, 30)):
        upkeep.generators.run("upkeep", "inspections", day)
    upkeep.generators.run("upkeep", "inspections", D(2026, 7, 1))
    assert [due for due, _ in inspections(upkeep)] == ["2026-06-30", "2026-09-30"]


def test_nothing_is_made_outside_the_validity_window(upkeep):
    asset(upkeep, in_service_from="2026-03-15", retire_on="2026-05-10")
    outcomes = [upkeep.generators.run("upkeep", "inspections", D(2026, m, 5)) for m in (2, 3, 4, 5, 6)]
    assert [o["outside"] for o in outcomes] == [1, 0, 0, 0, 1]
    # the first and last periods are clipped to the window
    assert inspections(upkeep) == [("2026-03-31", "2026-03-15..2026-03-31"), ("2026-04-30", "2026-04-01..2026-04-30"),
                                   ("2026-05-10", "2026-05-01..2026-05-10")]


def test_only_templates_whose_condition_holds_generate(upkeep):
    kept = asset(upkeep, "Котёл К-1")
    gone = asset(upkeep, "Котёл К-2")
    upkeep.workflow.transition("upkeep", "asset", gone["id"], "retire")
    asset(upkeep, "Котёл К-3", every=None)  # no periodicity: nothing to generate
    result = upkeep.generators.run("upkeep", "inspections", D(2026, 3, 2))
    assert (result["created"], result["no_period"]) == (1, 1)
    assert [r["asset"] for r in upkeep.records.find("upkeep", "inspection")] == [kept["id"]]


def test_a_failing_template_is_reported_and_the_others_are_made(upkeep):
    asset(upkeep, "Компрессор винтовой с осушителем")  # the title would exceed 30 characters
    fine = asset(upkeep, "Насос Н-2")
    result = upkeep.generators.run("upkeep", "inspections", D(2026, 3, 2))
    assert result["created"] == 1 and result["failed"] == 1
    [error] = result["errors"]
    assert error["period"] == "2026-03-01" and "title" in error["error"]
    assert [r["asset"] for r in upkeep.records.find("upkeep", "inspection")] == [fine["id"]]
    assert generated_rows(upkeep) == 1  # the failed one's claim rolled back with it: the next run tries again


def test_two_generators_running_at_once_make_each_record_once(upkeep):
    for i in range(5):
        asset(upkeep, f"Насос Н-{i}")
    other = make_loom(upkeep.database_url, None)
    try:
        barrier = threading.Barrier(2)
        results = []

        def run(instance):
            barrier.wait()
            results.append(instance.generators.run("upkeep", "inspections", D(2026, 3, 2)))

        threads = [threading.Thread(target=run, args=(x,)) for x in (upkeep, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other.engine.dispose()
    assert sorted(r["created"] for r in results) != [] and sum(r["created"] for r in results) == 5
    assert sum(r["existing"] for r in results) == 5 and not any(r["failed"] for r in results)
    assert len(inspections(upkeep)) == 5


def test_the_cron_slot_runs_the_generator_and_records_its_result(upkeep, frozen):
    asset(upkeep)
    frozen(dt.datetime(2026, 3, 2, 3, 59, tzinfo=UTC))  # 06:59 in Moscow; the slot is 07:00
    scheduler = Scheduler(upkeep)
    scheduler.tick()
    frozen(dt.datetime(2026, 3, 2, 4, 0, 5, tzinfo=UTC))
    assert scheduler.tick()["schedules"] == 1
    r = platform.schedule_run
    with upkeep.engine.connect() as c:
        run = c.execute(select(r.c.outcome, r.c.result).where(r.c.schedule == "inspections")).one()
    assert run.outcome == "ok" and run.result["created"] == 1 and run.result["day"] == "2026-03-02"
    assert inspections(upkeep) == [("2026-03-31", "2026-03-01..2026-03-31")]


def test_a_fixed_periodicity(loom):
    loom.store.publish(upkeep_app(every="weekly"), author="tester")
    asset(loom, every="yearly")  # the asset's own choice is not read: the generator says weekly
    loom.generators.run("upkeep", "inspections", D(2026, 3, 4))
    assert inspections(loom) == [("2026-03-08", "2026-03-02..2026-03-08")]


# ---------------------------------------------------------------------- the service desk's calendar plans
def test_calendar_plans_make_each_work_once_per_period_of_its_row(service_desk):
    load_fixtures(service_desk, "service_desk")
    for day in (D(2026, 3, 2), D(2026, 3, 3), D(2026, 3, 3)):
        service_desk.generators.run("service_desk", "calendar_plan_works", day)
    works = service_desk.records.find("service_desk", "planned_work", limit=100)
    by_work = {}
    for w in works:
        by_work.setdefault(w["work"], []).append((w["due"], w["period_start"], w["period_end"]))
    assert by_work["Проверка резервных копий базы СЭД"] == [("2026-03-06", "2026-03-02", "2026-03-08")]   # weekly, day 5
    assert by_work["Анализ журналов ошибок и производительности"] == [("2026-03-10", "2026-03-01", "2026-03-31")]
    assert by_work["Обновление справочников и классификаторов"] == [("2026-01-15", "2026-01-01", "2026-03-31")]
    assert by_work["Тестовое восстановление из резервной копии"] == [("2026-01-20", "2026-01-01", "2026-06-30")]
    # daily: one per day it ran; the plan starting in February clips its year to the contract
    assert sorted(by_work["Контроль очередей и размера почтовых ящиков"]) == [
        ("2026-03-02", "2026-03-02", "2026-03-02"), ("2026-03-03", "2026-03-03", "2026-03-03")]
    assert by_work["Продление лицензий и аудит учётных записей"] == [("2026-03-02", "2026-02-01", "2026-12-31")]
    assert "Проверка правил межсетевого экрана" not in by_work  # that plan is a draft
    assert len(works) == 8  # 7 works, the daily one on two days


def test_a_plan_is_never_worked_beyond_its_contract(service_desk):
    load_fixtures(service_desk, "service_desk")
    result = service_desk.generators.run("service_desk", "calendar_plan_works", D(2027, 1, 10))
    works = service_desk.records.find("service_desk", "planned_work", limit=100)
    # the Ministry of Health's plan and contract ended in 2026; the mail plan still runs in January 2027
    assert {w["work"] for w in works} == {"Контроль очередей и размера почтовых ящиков",
                                          "Проверка сертификатов и антиспам-фильтров",
                                          "Продление лицензий и аудит учётных записей"}
    assert result["outside"] == 4


def test_a_plan_outside_its_contract_is_refused(service_desk):
    load_fixtures(service_desk, "service_desk")
    from runtime.errors import ValidationFailed
    plan = service_desk.records.find("service_desk", "calendar_plan", where={"status": "draft"})[0]
    with pytest.raises(ValidationFailed) as err:
        service_desk.records.update("service_desk", "calendar_plan", plan["id"], {"valid_to": "2027-03-31"},
                                    plan["row_version"], SYSTEM)
    assert {e.field: e.message for e in err.value.errors}["valid_to"] == \
        "План действует дольше договора (договор действует по 2026-12-31)"


def test_loom_generate_runs_a_generator_now(tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path / 'loom.db'}"
    monkeypatch.setenv("LOOM_DATABASE_URL", db)
    monkeypatch.setenv("LOOM_HOME", str(tmp_path))
    loom = make_loom(db, tmp_path / "files")
    loom.store.install(APPS / "service_desk", author="tester")
    load_fixtures(loom, "service_desk")
    loom.engine.dispose()
    from runtime.cli import main
    runner = CliRunner()
    first = runner.invoke(main, ["generate", "service_desk", "calendar_plan_works", "--at", "2026-03-02"])
    assert first.exit_code == 0, first.output
    assert "2026-03-02: 7 created, 0 made before" in first.output
    again = runner.invoke(main, ["generate", "service_desk", "calendar_plan_works", "--at", "2026-03-02"])
    assert "0 created, 7 made before" in again.output
    wrong = runner.invoke(main, ["generate", "service_desk", "calendar_plan", "--at", "2026-03-02"])
    assert wrong.exit_code == 1 and "generators: calendar_plan_works" in wrong.output


def test_ahead_makes_the_next_periods_record_before_it_starts(loom):
    doc = upkeep_app()
    doc["schedules"]["schedules"][0]["generate"]["ahead"] = "7 days"
    loom.store.publish(doc, author="tester")
    asset(loom)
    loom.generators.run("upkeep", "inspections", D(2026, 3, 24))  # + 7 days is still March
    loom.generators.run("upkeep", "inspections", D(2026, 3, 25))  # + 7 days is April 1st
    assert [due for due, _ in inspections(loom)] == ["2026-03-31", "2026-04-30"]
