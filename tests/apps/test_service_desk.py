"""The service desk app (DOMAIN §3) with its demo data and script hooks, on both backends."""
import datetime as dt

import pytest
from sqlalchemy import select

from runtime.data import tables as platform
from runtime.data.fixtures import load_fixtures
from runtime.data.records import Actor
from runtime.errors import ValidationFailed

APP = "service_desk"


@pytest.fixture
def sd(service_desk):
    load_fixtures(service_desk, APP)
    return service_desk


def one(loom, entity, **where):
    from runtime.data.query import Filter, ListQuery
    et = loom.entity_tables(APP, entity)
    with loom.engine.connect() as c:
        page = ListQuery(loom, et).run(c, [Filter(k, "eq", v) for k, v in where.items()], [])
        assert len(page.items) == 1, (entity, where)
        return loom.records.to_json(c, et, page.items[0])


def test_contract_is_chosen_from_module_and_service(sd):
    org = one(sd, "organization", short_name="Минздрав области")
    module = one(sd, "module", code="PORTAL")
    service = one(sd, "service", name="Предоставление доступа")
    contract = one(sd, "contract", code="ГК-2026/014")
    rec = sd.records.create(APP, "request", {
        "subject": "Нужен доступ к порталу", "description": "Новому сотруднику отдела кадров",
        "organization": org["id"], "module": module["id"], "service": service["id"]})
    assert rec["contract"] == contract["id"]
    assert rec["department"] == contract["department"]  # routed to the contract's department


def test_no_contract_when_none_covers_the_module(sd):
    org = one(sd, "organization", short_name="Минздрав области")
    module = one(sd, "module", code="HR")
    rec = sd.records.create(APP, "request", {"subject": "Отчёт по кадрам", "description": "Пустой отчёт",
                                             "organization": org["id"], "module": module["id"]})
    assert rec["contract"] is None


def test_services_are_limited_by_module_and_contract(sd):
    org = one(sd, "organization", short_name="Минобразования")
    edms = one(sd, "module", code="EDMS")
    mail_service = one(sd, "service", name="Настройка почтового ящика")
    foreign_contract = one(sd, "contract", code="ГК-2026/014")  # Минздрав's
    with pytest.raises(ValidationFailed) as err:
        sd.records.create(APP, "request", {
            "subject": "Почта в СЭД", "description": "Не та услуга", "organization": org["id"],
            "module": edms["id"], "service": mail_service["id"], "contract": foreign_contract["id"]})
    fields = {e.field: e.message for e in err.value.errors}
    assert fields["service"] == "Услуга не относится к выбранному модулю"
    assert fields["contract"] == "Договор заключён с другой организацией"


def test_contract_dates_and_early_expiry(sd):
    org = one(sd, "organization", short_name="ГКУ Соцзащита")
    dep = one(sd, "department", name="Отдел инфраструктуры")
    with pytest.raises(ValidationFailed) as err:
        sd.records.create(APP, "contract", {"code": "ГК-X", "organization": org["id"], "department": dep["id"],
                                            "valid_from": "2026-06-01", "valid_to": "2026-01-01"})
    assert err.value.errors[0].field == "valid_to" and "раньше даты начала" in err.value.errors[0].message
    future = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    contract = sd.records.create(APP, "contract", {"code": "ГК-Y", "organization": org["id"],
                                                   "department": dep["id"], "valid_from": "2026-01-01",
                                                   "valid_to": future})
    active = sd.workflow.transition(APP, "contract", contract["id"], "activate")
    assert active["status"] == "active"
    with pytest.raises(ValidationFailed, match="завершить его раньше срока нельзя"):
        sd.workflow.transition(APP, "contract", contract["id"], "expire")
    past = one(sd, "contract", code="ГК-2026/027")
    sd.records.update(APP, "contract", past["id"], {"valid_from": "2025-01-01", "valid_to": "2025-12-31"},
                      past["row_version"])
    assert sd.workflow.transition(APP, "contract", past["id"], "expire")["status"] == "expired"


def test_escalate_button_notifies_the_department_head(sd):
    head = sd.accounts.create_user("head", "pw-head-1234", full_name="Руководитель")
    dep = one(sd, "department", name="Отдел сопровождения информационных систем")
    sd.records.update(APP, "department", dep["id"], {"head": head}, dep["row_version"])
    req = one(sd, "request", number="REQ-000001")
    agent = Actor(None, "agent", ("service_desk:agent",))
    out = sd.workflow.action(APP, "request", req["id"], "escalate", agent)
    assert out["record"]["priority"] == "1"
    n = platform.notification
    with sd.engine.connect() as c:
        # the demo's board members hold notices of the change awaiting them; the head has only this one
        assert c.execute(select(n.c.user_id, n.c.title).where(n.c.user_id == head)).all() == \
            [(head, f"Эскалация заявки {req['number']}")]
    with pytest.raises(ValidationFailed, match="уже имеет критический приоритет"):
        sd.workflow.action(APP, "request", req["id"], "escalate", agent)


def test_taking_a_problem_for_analysis_makes_the_agent_its_owner(sd):
    """``set: {owner: $user}``: the person who fires the transition goes into the user field."""
    mine = sd.accounts.create_user("petrov_sd", "pw-petrov-1234", roles=["service_desk:agent"])
    other = sd.accounts.create_user("ivanova_sd", "pw-ivanova-1234", roles=["service_desk:agent"])
    problem = sd.records.create(APP, "problem", {"title": "Портал недоступен по утрам",
                                                 "description": "Таймауты с 9:00 до 9:30", "owner": other})
    taken = sd.workflow.transition(APP, "problem", problem["id"], "analyse", actor=sd.actor("petrov_sd"))
    assert (taken["status"], taken["owner"]) == ("analysis", mine)
    # the system firing it (an import, a cascade) has no person to set: the owner stays
    again = sd.records.create(APP, "problem", {"title": "Медленный отчёт", "description": "10 минут",
                                               "owner": other})
    assert sd.workflow.transition(APP, "problem", again["id"], "analyse")["owner"] == other
