"""Statistics reports (``kind: stats``) on an app of their own (a courier service's deliveries):
several named measures per group of up to three fields — count, sum, average, minimum, maximum,
median and any percentile, each optionally over the records its own ``where`` picks — with the
total over everything; row rules narrow every figure; the API narrows by query filters; the
report's mistakes are named at publish. On SQLite and PostgreSQL, with known figures."""
from __future__ import annotations

import copy
import decimal

import pytest

from metamodel import MetadataError
from runtime.data.query import Filter
from runtime.data.records import SYSTEM
from runtime.data.reports import find_report, result_json, run_report, run_stats

D = decimal.Decimal

STATS = {"name": "speed", "entity": "delivery", "kind": "stats", "group_by": ["depot", "zone"],
         "measures": [{"name": "n", "fn": "count"},
                      {"name": "late", "fn": "count", "where": [{"field": "minutes", "op": "gt", "value": 30}]},
                      {"name": "total", "fn": "sum", "field": "minutes"},
                      {"name": "mean", "fn": "avg", "field": "minutes"},
                      {"name": "fastest", "fn": "min", "field": "minutes"},
                      {"name": "slowest", "fn": "max", "field": "minutes"},
                      {"name": "median", "fn": "median", "field": "minutes"},
                      {"name": "q1", "fn": "percentile", "p": 25, "field": "minutes"},
                      {"name": "p90_late", "fn": "percentile", "p": 90, "field": "minutes",
                       "where": [{"field": "minutes", "op": "gt", "value": 30}]}]}


def doc(report=None) -> dict:
    return {
        "app": {"name": "courier", "title": "Courier", "roles": [{"name": "boss"}, {"name": "north"}]},
        "entities": {"delivery": {
            "title": "Delivery", "number": "D-{000}",
            "fields": {"depot": {"type": "choice", "choices": [{"value": "north"}, {"value": "south"}]},
                       "zone": {"type": "choice", "choices": [{"value": "a"}, {"value": "b"}]},
                       "minutes": {"type": "integer"}},
            "permissions": {"read": ["boss", "north"], "create": ["boss"],
                            "rows": [{"roles": ["north"], "condition": "depot == 'north'"}, {"roles": ["boss"]}]}}},
        "reports": {"reports": [copy.deepcopy(report or STATS)]},
    }


MINUTES = {("north", "a"): [10, 20, 30, 40, 50, None], ("north", "b"): [35], ("south", "a"): [5, 60, 61, 62]}


@pytest.fixture
def courier(loom):
    loom.store.publish(doc(), author="t")
    for (depot, zone), values in MINUTES.items():
        for minutes in values:
            loom.records.create("courier", "delivery", {"depot": depot, "zone": zone, "minutes": minutes}, SYSTEM)
    loom.accounts.create_user("boss", "boss-pass-1", roles=["courier:boss"])
    loom.accounts.create_user("nord", "nord-pass-1", roles=["courier:north"])
    return loom


def figures(result) -> dict:
    return {keys: values for keys, values in result.rows}


def test_every_measure_per_group_and_over_everything(courier):
    result = run_report(courier, "courier", find_report(courier, "courier", "speed"), courier.actor("boss"))
    rows = figures(result)
    north = rows[("north", "a")]
    # 10 20 30 40 50 and an empty one: the empty one is counted, not measured
    assert (north["n"], north["late"], north["total"], north["mean"], north["fastest"], north["slowest"]) == (
        6, 2, 150, D("30.00"), 10, 50)
    assert (north["median"], north["q1"], north["p90_late"]) == (D("30.00"), D("20.00"), D("49.00"))  # 40 + .9 x 10
    assert rows[("north", "b")]["median"] == D("35.00") and rows[("north", "b")]["p90_late"] == D("35.00")
    south = rows[("south", "a")]
    # 5 60 61 62: the median halfway between 60 and 61; q1 at 0.75 of 5..60
    assert (south["median"], south["q1"], south["late"], south["p90_late"]) == (
        D("60.50"), D("46.25"), 3, D("61.80"))
    total = result.total
    # 5 10 20 30 35 40 50 60 61 62
    assert (total["n"], total["late"], total["total"], total["median"], total["q1"]) == (
        11, 6, 373, D("37.50"), D("22.50"))
    assert total["p90_late"] == D("61.50")  # 35 40 50 60 61 62: 61 + .5 x 1
    assert list(rows) == [("north", "a"), ("north", "b"), ("south", "a")]


def test_row_rules_narrow_every_figure_and_the_api_narrows_by_filters(courier):
    report = find_report(courier, "courier", "speed")
    mine = run_report(courier, "courier", report, courier.actor("nord"))
    assert list(figures(mine)) == [("north", "a"), ("north", "b")] and mine.total["n"] == 7
    assert mine.total["median"] == D("32.50")  # 10 20 30 35 40 50
    with courier.reader.connect() as c:
        zone_b = run_stats(courier, "courier", report, courier.actor("boss"), c, [Filter("zone", "eq", "b")])
    as_json = result_json(zone_b)
    assert as_json["rows"] == [{"group": {"depot": "north", "zone": "b"}, "values": {
        "n": 1, "late": 1, "total": 35, "mean": "35.00", "fastest": 35, "slowest": 35, "median": "35.00",
        "q1": "35.00", "p90_late": "35.00"}}]
    assert as_json["measures"][7] == {"name": "q1", "fn": "percentile", "title": None, "field": "minutes", "p": 25}


def test_a_stats_report_without_groups_is_its_total(courier):
    report = dict(STATS, name="all", group_by=None)
    del report["group_by"]
    courier.store.publish(doc(report), author="t")
    result = run_report(courier, "courier", find_report(courier, "courier", "all"), courier.actor("boss"))
    assert result.rows == [] and (result.total["n"], result.total["median"]) == (11, D("37.50"))


def test_publishing_names_the_mistakes(loom):
    wrong = copy.deepcopy(STATS)
    wrong["measures"] += [{"name": "n", "fn": "avg"}, {"name": "bad", "fn": "median", "field": "zone"},
                          {"name": "p", "fn": "percentile", "field": "minutes"}]
    wrong["measure"] = {"fn": "count"}
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc(wrong), author="t")
    message = str(err.value)
    assert "measure 'n' is named twice" in message
    assert "measures[9]: measure avg needs a number field" in message
    assert "'zone' is not a number field" in message
    assert "p (which percentile) belongs to fn: percentile" in message
    assert "a stats report lists its figures under measures:" in message
    group = dict(STATS, kind="group", group_by=["depot", "zone", "minutes"])
    del group["measures"]
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc(group), author="t")
    assert "three are for stats reports" in str(err.value)
