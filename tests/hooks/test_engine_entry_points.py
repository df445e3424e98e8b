"""Scheduled scripts and condition scripts: the entry points the behaviour engine calls."""
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from runtime.data import tables as platform
from runtime.data.records import SYSTEM
from runtime.errors import LoomError

SCRIPT = '''
def expire_contracts():
    done = 0
    for c in find("contract", where={"status": "active"}):
        if c["valid_to"] < today():  # typed: a date, as record.valid_to
            update("contract", c["id"], {"valid_to": c["valid_to"]})
            done += 1
    log("checked contracts", done)
    return done

def is_vip(record):
    return record.amount is not None and record.amount > 100

def not_bool(record):
    return "yes"
'''


def doc():
    return {"app": {"name": "sched", "title": "Sched", "timezone": "Asia/Yekaterinburg"},
            "entities": {"contract": {"title": "Contract", "fields": {
                "valid_to": {"type": "date"}, "amount": {"type": "decimal"}},
                "statuses": [{"name": "active", "initial": True}]}},
            "schedules": {"schedules": [{"name": "expiry", "cron": "0 6 * * *", "script": "jobs.py:expire_contracts"}]},
            "scripts": {"jobs.py": SCRIPT}}


@pytest.fixture
def sched(loom):
    loom.store.publish(doc(), author="t")
    for day in ("2020-01-01", "2999-01-01"):
        loom.records.create("sched", "contract", {"valid_to": day, "amount": "150"})
    return loom


def test_scheduled_script_runs_and_is_logged(sched):
    out = sched.hooks.run_scheduled("sched", "jobs.py:expire_contracts")
    assert out["result"] == 1 and "checked contracts 1" in out["logs"][0]
    r = platform.script_run
    with sched.engine.connect() as c:
        hook, outcome = c.execute(select(r.c.hook, r.c.outcome)).one()
    assert hook == "schedule:jobs.py:expire_contracts" and outcome == "ok"


def test_condition_scripts_answer_bool(sched):
    app = sched.live["sched"].app
    with sched.engine.begin() as c:
        assert sched.hooks.condition(c, app, "jobs.py:is_vip", "routing", {"amount": 150}, SYSTEM) is True
        assert sched.hooks.condition(c, app, "jobs.py:is_vip", "routing", {"amount": 5}, SYSTEM) is False
        with pytest.raises(LoomError, match="must return True or False"):
            sched.hooks.condition(c, app, "jobs.py:not_bool", "routing", {}, SYSTEM)


def test_cli_scripts_check_and_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "instance"))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    from runtime.cli import _loom, main
    loom = _loom()
    loom.store.publish(doc(), author="t")
    loom.records.create("sched", "contract", {"valid_to": "2020-01-01"})
    runner = CliRunner()
    checked = runner.invoke(main, ["scripts", "check", "sched"])
    assert checked.exit_code == 0 and "1 scripts, 0 problem(s)" in checked.output
    ran = runner.invoke(main, ["scripts", "run", "sched", "jobs.py:expire_contracts"])
    assert ran.exit_code == 0, ran.output
    assert "ok: 1" in ran.output and "log: checked contracts 1" in ran.output
