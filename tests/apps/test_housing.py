"""Housing billing (DOMAIN §4) through the API with a frozen clock, on SQLite and PostgreSQL.

The figures below are worked out by hand (the arithmetic is in the comments), not by the
accrual script under test. Two accounts, three services:

- maintenance by area at 30.00 a m²; cold water by meter, norm 3 m³ a resident, 40.00 up
  to the norm and 60.00 above it; waste by residents at 200.00 a person;
- account A: 50.00 m², 2 residents, a cold-water meter; account B: 40.50 m², 1 resident,
  no meter (billed by the norm), a 50 % benefit;
- penalty 0.0344 % a day from 2012-01-01, due on the 10th.
"""
from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from metamodel import read_folder
from runtime import clock
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app
from tests.api.conftest import Client
from tests.conftest import APPS

UTC = dt.timezone.utc
D = Decimal
PASSWORD = "housing-pass-1"


def housing_doc(chunk: int = 1) -> dict:
    """The shipped app without its demo fixtures; the accrual in chunks of ``chunk`` accounts."""
    doc, _ = read_folder(APPS / "housing")
    doc = copy.deepcopy(doc)
    doc["fixtures"] = {}
    for batch in doc["batches"]["batches"]:
        batch["chunk"] = chunk
    return doc


@pytest.fixture
def housing(loom):
    clock.freeze(dt.datetime(2026, 2, 1, 6, tzinfo=UTC))
    loom.store.publish(housing_doc(), author="tester")
    yield loom
    clock.thaw()


@pytest.fixture
def data(housing):
    """The dictionaries, two accounts, readings and payments (created as the system)."""
    create = lambda entity, values: housing.records.create("housing", entity, values)  # noqa: E731
    payee = create("payee", {"name": "ООО «УК Тест»", "inn": "6670000001", "kpp": "667001001",
                             "bank": "ПАО Банк", "bik": "046577001", "account_no": "40702810000000000001",
                             "corr_account": "30101810000000000001"})
    house = create("building", {"address": "г. Екатеринбург, ул. Ленина, д. 1", "payee": payee["id"]})
    kind = create("meter_kind", {"name": "ХВС", "unit": "м³", "digits": 5, "cyclic": True, "jump_factor": "3"})
    maint = create("service", {"name": "Содержание", "code": "M", "unit": "м²", "calc": "area", "position": 1})
    water = create("service", {"name": "Холодная вода", "code": "CW", "unit": "м³", "calc": "meter",
                               "meter_kind": kind["id"], "norm": "3", "position": 2})
    waste = create("service", {"name": "ТКО", "code": "W", "unit": "чел.", "calc": "residents", "position": 3})
    for service, base, over in ((maint, "30", None), (water, "40", "60"), (waste, "200", None)):
        create("tariff", {"service": service["id"], "kind": "standard", "base": base, "over_norm": over,
                          "valid_from": "2025-01-01"})
    create("tariff", {"service": maint["id"], "kind": "standard", "base": "99", "valid_from": "2026-05-01"})
    create("penalty_rate", {"rate": "0.0344", "valid_from": "2012-01-01", "due_day": 10})
    connected = [{"service": s["id"], "connected_on": "2025-01-01", "state": "connected"} for s in (maint, water, waste)]
    a = create("account", {"code": "A-1", "building": house["id"], "apartment": "5", "owner": "Иванов Иван Иванович",
                           "area": "50.00", "residents": 2, "tariff_kind": "standard", "services": connected})
    b = create("account", {"code": "B-2", "building": house["id"], "apartment": "6", "owner": "Петрова Анна Петровна",
                           "area": "40.50", "residents": 1, "tariff_kind": "standard", "benefit_percent": "50",
                           "services": connected})
    meter = create("meter", {"serial": "X-1", "kind": kind["id"], "scope": "individual", "account": a["id"]})
    for period, kind_, value in (("2026-01", "initial", "100"), ("2026-02", "monthly", "107.5"),
                                 ("2026-03", "monthly", "111.5")):
        create("reading", {"meter": meter["id"], "period": period, "kind": kind_, "value": value})
    for account, day, amount in ((a, "2026-03-05", "1000.00"), (a, "2026-03-20", "500.00"), (b, "2026-03-15", "2000.00")):
        create("payment", {"account": account["id"], "paid_on": day, "amount": amount})
    create("recalculation", {"account": b["id"], "service": waste["id"], "period": "2026-03", "amount": "-50.00",
                             "reason": "Не проживала 5 дней"})
    housing.accounts.create_user("buh", PASSWORD, roles=["housing:accountant"])
    housing.accounts.create_user("oper", PASSWORD, roles=["housing:operator"])
    return {"a": a["id"], "b": b["id"], "maint": maint["id"], "water": water["id"], "waste": waste["id"],
            "meter": meter["id"], "house": house["id"]}


@pytest.fixture
def web(housing, tmp_path):
    return create_app(Settings(tmp_path, housing.database_url), housing)


def api(web, housing, username="buh") -> Client:
    u = platform.user
    with housing.engine.connect() as c:
        user_id = c.execute(select(u.c.id).where(u.c.username == username)).scalar_one()
    return Client(web.test_client(), housing.accounts.issue_token(user_id))


def accrue(client, period: str, batch: str = "accrual") -> dict:
    answer = client.post(f"/api/v1/housing/_batches/{batch}/runs", json={"params": {"period": period}})
    assert answer.status_code == 202, answer.get_json()
    run = client.get(answer.headers["Location"]).get_json()
    assert run["state"] == "done", run
    return run


def lines(client, period: str) -> dict:
    """{(account, service or 'penalty'): (debt_start, accrued, benefit, recalculation, paid, debt_end)}."""
    items = client.get(f"/api/v1/housing/accrual_line?period={period}&limit=100").get_json()["items"]
    return {(r["account"], r["service"] or "penalty"):
            tuple(D(r[k]) for k in ("debt_start", "accrued", "benefit", "recalculation", "paid", "debt_end"))
            for r in items}


def test_monthly_accrual_penalties_and_advance_distribution_to_the_kopeck(data, web, housing):
    clock.freeze(dt.datetime(2026, 4, 1, 6, tzinfo=UTC))
    buh = api(web, housing)
    a, b, m, w, t = data["a"], data["b"], data["maint"], data["water"], data["waste"]
    feb = accrue(buh, "2026-02")
    assert (feb["total"], feb["done"], feb["results"], feb["chunks"]) == (2, 2, 6, 2)
    assert lines(buh, "2026-02") == {
        # A: 50.00 m² x 30.00; water 7.5 m³ (107.5 - 100): 6 (2 x 3) x 40.00 + 1.5 x 60.00 = 330.00;
        # waste 2 x 200.00. No debt before February, so no penalty line.
        (a, m): (D("0"), D("1500.00"), D("0"), D("0"), D("0"), D("1500.00")),
        (a, w): (D("0"), D("330.00"), D("0"), D("0"), D("0"), D("330.00")),
        (a, t): (D("0"), D("400.00"), D("0"), D("0"), D("0"), D("400.00")),
        # B: 40.50 x 30.00 = 1215.00, half of it the benefit; no meter: the norm, 1 x 3 m³ x 40.00.
        (b, m): (D("0"), D("1215.00"), D("607.50"), D("0"), D("0"), D("607.50")),
        (b, w): (D("0"), D("120.00"), D("60.00"), D("0"), D("0"), D("60.00")),
        (b, t): (D("0"), D("200.00"), D("100.00"), D("0"), D("0"), D("100.00")),
    }
    accrue(buh, "2026-03")
    assert lines(buh, "2026-03") == {
        # A owed 2230.00 from February and paid 1000.00 by the 10th (1500.00 in all):
        # penalty (2230.00 - 1000.00) x 0.0344 % x 21 days (11-31 March) = 8.88552 -> 8.89.
        # Water 4 m³ (111.5 - 107.5), within the norm: 160.00. What the lines owe:
        # 3000.00, 490.00, 800.00, 8.89 = 4298.89; 1500.00 shared in proportion:
        # 1046.78 (1500 x 3000 / 4298.89 = 1046.7818), 170.97 (170.9744), 279.14 (279.1408),
        # 3.10 (3.1020); they make 1499.99, the kopeck left goes to the line owing most.
        (a, m): (D("1500.00"), D("1500.00"), D("0"), D("0"), D("1046.79"), D("1953.21")),
        (a, w): (D("330.00"), D("160.00"), D("0"), D("0"), D("170.97"), D("319.03")),
        (a, t): (D("400.00"), D("400.00"), D("0"), D("0"), D("279.14"), D("520.86")),
        (a, "penalty"): (D("0"), D("8.89"), D("0"), D("0"), D("3.10"), D("5.79")),
        # B owed 767.50 and paid nothing by the 10th: 767.50 x 0.0344 % x 21 = 5.54442 -> 5.54.
        # Waste recalculated by -50.00. Owed: 1215.00, 120.00, 150.00 (100 + 200 - 100 - 50), 5.54 =
        # 1490.54; the 2000.00 paid is more (an advance), shared in the same proportion:
        # 1630.28 (1630.2816), 161.02 (161.0155), 201.27 (201.2693), 7.43 (7.4335) = 2000.00;
        # the debts end negative: 509.46 paid in advance, per service.
        (b, m): (D("607.50"), D("1215.00"), D("607.50"), D("0"), D("1630.28"), D("-415.28")),
        (b, w): (D("60.00"), D("120.00"), D("60.00"), D("0"), D("161.02"), D("-41.02")),
        (b, t): (D("100.00"), D("200.00"), D("100.00"), D("-50.00"), D("201.27"), D("-51.27")),
        (b, "penalty"): (D("0"), D("5.54"), D("0"), D("0"), D("7.43"), D("-1.89")),
    }


def test_a_rerun_of_a_month_changes_nothing(data, web, housing):
    clock.freeze(dt.datetime(2026, 4, 1, 6, tzinfo=UTC))
    buh = api(web, housing)
    accrue(buh, "2026-02")
    accrue(buh, "2026-03")
    before = lines(buh, "2026-03")
    again = accrue(buh, "2026-03")
    assert again["results"] == 8 and lines(buh, "2026-03") == before
    count = buh.get("/api/v1/housing/accrual_line?count=exact&limit=1").get_json()["count"]
    assert count == 6 + 8  # February's and March's lines, none doubled
    with housing.engine.connect() as c:
        audit = [a for a, in c.execute(select(platform.audit.c.action).where(
            platform.audit.c.action.in_(["batch_start", "batch_done"])))]
    assert audit.count("batch_start") == 3 and audit.count("batch_done") == 3


def test_a_run_killed_half_way_and_resumed_gives_the_same_result(data, web, housing, tmp_path):
    clock.freeze(dt.datetime(2026, 4, 1, 6, tzinfo=UTC))
    buh = api(web, housing)
    accrue(buh, "2026-02")
    accrue(buh, "2026-03")
    expected = lines(buh, "2026-03")
    # Start March again but let its worker die after the first account's chunk has committed.
    run = housing.batches.start("housing", "accrual", {"period": "2026-03"}, enqueue=False)
    half = housing.batches.work(run["id"], max_chunks=1)
    assert (half["state"], half["done"], half["chunks"]) == ("running", 1, 1)
    assert buh.get(f"/api/v1/housing/_batches/runs/{run['id']}").get_json()["percent"] == 50
    # The web page offers no resume while the lease holds; once it passed, the API resumes it.
    assert buh.post(f"/api/v1/housing/_batches/runs/{run['id']}/resume").status_code == 409
    clock.freeze(dt.datetime(2026, 4, 1, 6, 10, tzinfo=UTC))
    resumed = buh.post(f"/api/v1/housing/_batches/runs/{run['id']}/resume")
    assert resumed.status_code == 202 and resumed.get_json()["state"] == "done"
    assert resumed.get_json()["chunks"] == 2 and lines(buh, "2026-03") == expected


def test_receipt_pdf_holds_every_field_and_a_building_prints_as_one(data, web, housing, tmp_path):
    from tests.documents.test_documents import pdf_pages, pdf_text
    from tests.ui.conftest import Browser
    clock.freeze(dt.datetime(2026, 4, 1, 6, tzinfo=UTC))
    buh = api(web, housing)
    accrue(buh, "2026-02")
    accrue(buh, "2026-03")
    made = accrue(buh, "2026-03", batch="receipts")
    assert made["results"] == 2
    receipts = {r["account"]: r for r in buh.get("/api/v1/housing/receipt?period=2026-03").get_json()["items"]}
    page = Browser(web.test_client())
    page.login("oper", PASSWORD)
    pdf = page.get(f"/documents/housing/receipt/{receipts[data['a']]['id']}")
    assert pdf.status_code == 200, pdf.get_data(as_text=True)[:500]
    text = " ".join(pdf_text(pdf.data, tmp_path).split())
    for needle in ("ИЗВЕЩЕНИЕ", "КВИТАНЦИЯ", "ООО «УК Тест»", "ИНН 6670000001", "КПП 667001001", "ПАО Банк",
                   "БИК 046577001", "р/с 40702810000000000001", "к/с", "30101810000000000001",
                   "Плательщик: Иванов Иван Иванович", "Адрес: г. Екатеринбург, ул. Ленина, д. 1, кв. 5",
                   "Лицевой счёт: A-1", "март 2026 (2026-03)", "Площадь: 50.00 м²", "Проживает: 2 чел.",
                   "Задолженность на начало периода 2 230,00 руб.", "Оплачено в периоде 1 500,00 руб.",
                   "Дата последней оплаты 2026-03-20", "Начислено за период 2 060,00 руб.", "Льготы 0,00 руб.",
                   "Перерасчёт 0,00 руб.", "Пени 8,89 руб.", "Итого к оплате 2 798,89 руб.", "Оплатить до 2026-04-10",
                   "Содержание", "Холодная", "ТКО", "1 953,21", "319,03", "520,86", "5,79"):
        assert needle.replace(" ", " ") in text.replace("\u00a0", " "), (needle, text)
    building = page.post("/documents/housing/receipt/list", {"id": [r["id"] for r in receipts.values()]},
                         token_from="/ui/housing/receipt")
    assert building.status_code == 200
    both = pdf_text(building.data, tmp_path)
    assert "Иванов Иван Иванович" in both and "Петрова Анна Петровна" in both
    assert "Перерасчёт -50,00 руб." in " ".join(both.replace("\u00a0", " ").split())
    assert pdf_pages(building.data, tmp_path) == 2


def reading(client, meter: int, period: str, value: str):
    return client.post("/api/v1/housing/reading", json={"meter": meter, "period": period, "value": value})


def test_reading_plausibility(data, web, housing):
    oper = api(web, housing, "oper")
    meter = data["meter"]
    # lower than the last one (111.5 in March) on a counter far from its end: refused
    low = reading(oper, meter, "2026-04", "110.000")
    assert low.status_code == 422 and "меньше предыдущего" in low.get_data(as_text=True)
    # the same month twice: refused
    twice = reading(oper, meter, "2026-03", "112.000")
    assert twice.status_code == 422 and "уже внесено" in twice.get_data(as_text=True)
    # consumption 7.5, 4, then 40: far above the average (5.75 x 3): flagged for review
    jump = reading(oper, meter, "2026-04", "151.500")
    assert jump.status_code == 201, jump.get_json()
    body = jump.get_json()
    assert (body["consumption"], body["flagged"], body["account"]) == ("40.000", True, data["a"])
    assert "больше среднего" in body["review_note"]
    review = oper.get("/api/v1/housing/reading?view=review").get_json()["items"]
    assert [r["id"] for r in review] == [body["id"]]
    # a cyclic counter rolls over: 99 990 then 5 is 15 m³ (100 000 - 99 990 + 5)
    create = lambda e, v: housing.records.create("housing", e, v)  # noqa: E731
    kind = housing.records.find("housing", "meter_kind", limit=1)[0]
    other = create("meter", {"serial": "X-2", "kind": kind["id"], "scope": "individual", "account": data["b"]})
    assert reading(oper, other["id"], "2026-01", "99980").status_code == 201
    assert reading(oper, other["id"], "2026-02", "99990").get_json()["consumption"] == "10.000"
    rolled = reading(oper, other["id"], "2026-03", "5").get_json()
    assert (rolled["consumption"], rolled["rollover"], rolled["flagged"]) == ("15.000", True, False)
    # a counter that is not cyclic never rolls over
    plain = create("meter_kind", {"name": "Тепло", "unit": "Гкал", "digits": 5, "cyclic": False})
    heat = create("meter", {"serial": "T-1", "kind": plain["id"], "scope": "collective", "building": data["house"]})
    assert reading(oper, heat["id"], "2026-01", "99990").status_code == 201
    assert reading(oper, heat["id"], "2026-02", "5").status_code == 422
    # an individual meter needs its account
    lonely = oper.post("/api/v1/housing/meter", json={"serial": "X-3", "kind": kind["id"], "scope": "individual"})
    assert lonely.status_code == 422 and "лицевому счёту" in lonely.get_data(as_text=True)


def test_the_account_history_is_one_list_newest_first(data, web, housing):
    """The account's ``timeline``: payments by their date, readings and recalculations as entered,
    newest first, a page at a time, through the API (docs/metadata.md, "Timeline")."""
    oper = api(web, housing, "oper")
    seen, after = [], ""
    while True:
        page = oper.get(f"/api/v1/housing/account/{data['a']}/timeline?limit=2{after}").get_json()
        seen.append([(i["entity"], i["date"]) for i in page["items"]])
        if not page["next"]:
            break
        after = f"&after={page['next']}"
    entered = "2026-02-01T06:00:00Z"  # the frozen clock: readings carry the time they were entered
    assert seen == [[("payment", "2026-03-20"), ("payment", "2026-03-05")],
                    [("reading", entered), ("reading", entered)], [("reading", entered)]]
    first = oper.get(f"/api/v1/housing/account/{data['a']}/timeline").get_json()
    assert first["title"] == "История лицевого счёта" and first["next"] is None
    assert [i["process"] for i in first["items"]] == ["Оплата"] * 2 + ["Показание"] * 3
    assert [i["summary"] for i in first["items"][:2]] == ["500,00", "1\xa0000,00"]
    readings = [i["id"] for i in first["items"] if i["entity"] == "reading"]
    assert readings == sorted(readings, reverse=True)  # one instant: the newest record first
    other = oper.get(f"/api/v1/housing/account/{data['b']}/timeline").get_json()["items"]
    assert [(i["entity"], i["summary"]) for i in other] == [("payment", "2\xa0000,00"), ("recalculation", "-50,00")]
    assert oper.get(f"/api/v1/housing/account/{data['a']}/timeline?after=nonsense").status_code == 422
    assert oper.get(f"/api/v1/housing/building/{data['house']}/timeline").status_code == 404


def test_only_accountants_run_the_accrual(data, web, housing):
    oper = api(web, housing, "oper")
    answer = oper.post("/api/v1/housing/_batches/accrual/runs", json={"params": {"period": "2026-03"}})
    assert answer.status_code == 403
    assert oper.get("/api/v1/housing/_batches").get_json() == []


def test_the_demo_app_installs_with_its_data_and_bills_it(sqlite_loom):
    """What ``make run`` shows: the shipped app with its Russian demo data, accrued and receipted."""
    from runtime.data.fixtures import load_fixtures
    loom = sqlite_loom
    loom.store.install(APPS / "housing", author="demo")
    assert load_fixtures(loom, "housing") > 50
    readings = loom.records.find("housing", "reading", where={"period": "2026-03"}, limit=50)
    assert sorted((r["flagged"], r["rollover"]) for r in readings).count((True, False)) == 1
    assert [r["consumption"] for r in readings if r["rollover"]] == ["15.000"]  # 99 989 -> 4
    clock.freeze(dt.datetime(2026, 4, 2, 6, tzinfo=UTC))
    try:
        for batch, period in (("accrual", "2026-02"), ("accrual", "2026-03"), ("receipts", "2026-03")):
            run = loom.batches.start("housing", batch, {"period": period})
            assert run["state"] == "done" and run["results"] > 0, run
    finally:
        clock.thaw()
    receipts = loom.records.find("housing", "receipt", limit=50)
    assert len(receipts) == 6 and all(D(r["total_due"]) > 0 for r in receipts)
    smirnova = next(r for r in receipts if r["account_code"] == "100102")
    assert D(smirnova["benefits"]) > 0 and smirnova["last_payment_on"] == "2026-03-12"
