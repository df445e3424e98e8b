"""The shipped demo data loads on both backends, links resolved by title."""
from runtime.data.fixtures import load_fixtures
from runtime.data.query import Filter, ListQuery


def test_service_desk_demo_data(service_desk):
    count = load_fixtures(service_desk, "service_desk")
    fixtures = service_desk.live["service_desk"].app.fixtures
    assert count == sum(len(v) for k, v in fixtures.items() if k != "_accounts")  # staff are not records
    et = service_desk.entity_tables("service_desk", "contract")
    with service_desk.engine.connect() as c:
        page = ListQuery(service_desk, et).run(c, [Filter("status", "eq", "active")], ["valid_to"], count="exact")
        assert page.count == 5
        contract = service_desk.records.to_json(c, et, page.items[0])  # the first to end: ГК-2026/033
    assert contract["code"] == "ГК-2026/033"
    assert len(contract["modules"]) == 2 and contract["amount"] == "640000.00"
    req = service_desk.entity_tables("service_desk", "request")
    with service_desk.engine.connect() as c:
        mine = ListQuery(service_desk, req).run(c, [Filter("organization.short_name", "eq", "Минздрав области")], [],
                                                count="exact")
    assert mine.count > 0
    assert all(r["organization"] == mine.items[0]["organization"] for r in mine.items)
