"""SLA escalations of the IT support app on real RQ workers: a worker killed while it holds an
escalation neither loses it nor sends it twice."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from runtime import clock
from runtime.behaviour.scheduler import LEASE_SECONDS, Scheduler
from runtime.data import tables as platform
from runtime.data.records import SYSTEM
from tests.conftest import APPS

from .conftest import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

YEKT = dt.timezone(dt.timedelta(hours=5))


def scalar(loom, sql: str, **params):
    with loom.engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def people(loom) -> dict:
    g = platform.group
    with loom.reader.connect() as c:
        line2 = c.execute(select(g.c.id).where(g.c.name == "line2")).scalar_one()
    ids = {name: loom.accounts.create_user(name, None, email=f"{name}@corp.example", roles=["it_support:agent"])
           for name in ("lead", "agent", "tech", "biz")}
    for name in ("lead", "agent"):
        loom.accounts.add_to_group(ids[name], line2)
    loom.accounts.update_group(line2, lead_id=ids["lead"], email="line2@corp.example")
    return ids


def test_a_worker_killed_holding_an_escalation_loses_and_doubles_nothing(services):
    loom = services.loom
    loom.store.install(APPS / "it_support", author="tester")
    ids = people(loom)
    system = loom.records.create("it_support", "system", {"name": "CRM", "technical_owner": ids["tech"],
                                                          "business_owner": ids["biz"]})
    with clock.frozen(dt.datetime(2026, 6, 11, 17, 30, tzinfo=YEKT)):  # long before the workers' "now"
        ticket = loom.records.create("it_support", "ticket", {
            "title": "CRM недоступна", "contact_name": "Иван", "phone": "+79120000001", "description": "500",
            "question_type": "technical", "system": system["id"], "priority": "1"}, actor=SYSTEM)
    # Both targets are long overdue now: breach, level 1 and level 2 of each are due (6 timers).
    scheduler = Scheduler(loom)
    # Hold the reaction target's row: the first escalation blocks on it, mid-transaction.
    services.kill_while_blocked("SELECT id FROM loom_sla WHERE record_id = :id AND target = 'reaction' FOR UPDATE",
                                {"id": ticket["id"]}, scheduler.tick, expect_timers=6)
    assert scalar(loom, "SELECT count(*) FROM loom_outbox") == 0  # its transaction rolled back whole

    services.worker()
    scheduler.tick(clock.now() + dt.timedelta(seconds=LEASE_SECONDS + 1))  # re-enqueue the dead worker's timers
    wait_for(lambda: scalar(loom, "SELECT count(*) FROM loom_timer WHERE state = 'fired'") == 6,
             timeout=30, what="every escalation timer to fire")
    assert scheduler.tick(clock.now() + dt.timedelta(seconds=2 * LEASE_SECONDS))["timers"] == 0

    o = platform.outbox
    with loom.reader.connect() as c:
        mails = c.execute(select(o.c.template, o.c.recipient).where(o.c.record_id == ticket["id"])).all()
        levels = dict(c.execute(select(platform.sla.c.target, platform.sla.c.level)
                                .where(platform.sla.c.record_id == ticket["id"])).all())
    assert sorted(mails) == sorted([("escalation_1", "lead@corp.example")] * 2 +
                                   [("escalation_2", "tech@corp.example"), ("escalation_2", "biz@corp.example")] * 2)
    assert levels == {"reaction": 2, "resolution": 2}
    assert scalar(loom, "SELECT count(*) FROM loom_audit WHERE action = 'escalate'") == 4
