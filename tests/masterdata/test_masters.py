"""Runs, merges, splits and decisions over the consumers app, on SQLite and PostgreSQL."""
from __future__ import annotations

from plugins.masterdata import merge as rules
from plugins.masterdata import runs, service, state
from tests.masterdata.conftest import f1, links, put
from tests.masterdata.synth import generate

APP, SRC, MASTER = "consumers", "source_record", "master"


def _sources(platform, master_id):
    return platform.records().find(APP, SRC, {"master": master_id}, sort=("id",), limit=100)


def test_a_run_fills_masters_by_the_rules_and_lists_each_system_s_ids(consumers):
    records, _ = generate(800, seed=5)
    put(consumers, records)
    figures = service.run(consumers, APP, SRC, user="olga")
    assert figures["records"] == 800 and figures["created"] == figures["masters"]
    linked = links(consumers)
    assert all(m is not None for m in linked.values())
    _, spec = service.find_match(consumers, APP, SRC)
    checked = 0
    for master_id in sorted(set(linked.values()))[:40]:
        master = consumers.records().get(APP, MASTER, master_id)
        sources = [{**s, "master": None} for s in _sources(consumers, master_id)]
        expected = rules.values(sources, rules.rules(spec), "source", "changed_at")
        assert {k: master[k] for k in expected} == expected
        for s in sources:
            assert f"{s['source']}:" in master["source_ids"] and s["source_id"] in master["source_ids"]
        billing = [s for s in sources if s["source"] == "billing" and s.get("address")]
        if billing:   # billing wins the address
            assert master["address"] in {s["address"] for s in billing}
            checked += 1
    assert checked
    again = service.run(consumers, APP, SRC, user="olga")
    assert (again["created"], again["linked"], again["updated"]) == (0, 0, 0)


def test_merge_then_split_restores_and_the_next_run_honours_both(consumers):
    records, _ = generate(600, seed=11)
    put(consumers, records)
    service.run(consumers, APP, SRC)
    linked = links(consumers)
    masters = sorted(set(linked.values()))
    a, b = masters[0], masters[1]
    before_a, before_b = _sources(consumers, a), _sources(consumers, b)

    service.merge_masters(consumers, APP, SRC, a, b, "olga", "the same flat, a typo in the name")
    assert len(_sources(consumers, a)) == len(before_a) + len(before_b) and not _sources(consumers, b)
    merged = consumers.records().get(APP, MASTER, a)
    assert all(s["source_id"] in merged["source_ids"] for s in before_b)
    note = consumers.records().comments(APP, MASTER, a)[-1]
    assert "a typo in the name" in note["body"]
    moved = consumers.records("olga").get(APP, SRC, before_b[0]["id"])
    assert moved["master"] == a

    service.run(consumers, APP, SRC)      # the "same" decision keeps them together
    assert links(consumers)[before_b[0]["id"]] == links(consumers)[before_a[0]["id"]]

    service.split_master(consumers, APP, SRC, a, [s["id"] for s in before_b], "olga", "two people after all")
    assert [s["id"] for s in _sources(consumers, b)] == [s["id"] for s in before_b]   # back where they were
    assert [s["id"] for s in _sources(consumers, a)] == [s["id"] for s in before_a]
    verdicts = {d["verdict"] for d in state.decision_log(consumers, APP, SRC)}
    assert verdicts == {"same", "different"}

    service.run(consumers, APP, SRC)      # "different" now: never joined again
    after = links(consumers)
    assert after[before_b[0]["id"]] != after[before_a[0]["id"]]


def test_decisions_cut_and_force_pairs_in_the_next_run(consumers):
    records, _ = generate(600, seed=3)
    put(consumers, records)
    service.run(consumers, APP, SRC)
    linked = links(consumers)
    by_master = {}
    for rid, m in linked.items():
        by_master.setdefault(m, []).append(rid)
    pair = next(sorted(ids)[:2] for ids in by_master.values() if len(ids) == 2)
    lone = [ids[0] for ids in by_master.values() if len(ids) == 1][:2]
    service.decide_pair(consumers, APP, SRC, pair[0], pair[1], "different", "olga")
    service.decide_pair(consumers, APP, SRC, lone[0], lone[1], "same", "olga")
    service.run(consumers, APP, SRC)
    after = links(consumers)
    assert after[pair[0]] != after[pair[1]]
    assert after[lone[0]] == after[lone[1]]


def test_a_decision_on_a_record_deleted_since_does_not_stop_the_next_run(consumers, loom):
    records, _ = generate(300, seed=5)
    ids = sorted(put(consumers, records).values())
    service.decide_pair(consumers, APP, SRC, ids[0], ids[1], "different", "olga")
    service.decide_pair(consumers, APP, SRC, ids[2], ids[3], "same", "olga")
    loom.records.delete(APP, SRC, ids[1])
    loom.records.delete(APP, SRC, ids[3])
    figures = service.run(consumers, APP, SRC)
    assert figures["records"] == len(ids) - 2
    after = links(consumers)
    assert ids[1] not in after and ids[3] not in after and after[ids[0]] is not None


def test_a_thousand_new_records_are_matched_against_the_base_without_training(consumers):
    records, truth = generate(4000, seed=7)
    ids = put(consumers, records[:3000])
    full = service.run(consumers, APP, SRC)
    base_masters = set(links(consumers).values())
    ids.update(put(consumers, records[3000:]))
    inc = service.run(consumers, APP, SRC, incremental=True)
    job = consumers.file_run(inc["run"])
    assert inc["new"] == 1000 and job["params"]["stages"]["train"] == {"trained": False, 
        "seconds": job["params"]["stages"]["train"]["seconds"]}
    assert job["params"]["stages"]["predict"]["pairs"] < consumers.file_run(full["run"])["params"]["stages"][
        "predict"]["pairs"]
    linked = links(consumers)
    assert all(m is not None for m in linked.values())
    joined = {linked[ids[r["id"]]] for r in records[3000:]} & base_masters
    assert joined, "new records of known consumers join their masters"
    found = {gen: linked[rid] for gen, rid in ids.items()}
    precision, recall, score = f1(found, truth)
    assert precision >= 0.98 and score >= 0.93, (precision, recall, score)


def test_a_stopped_run_continues_from_its_last_finished_stage(consumers, monkeypatch):
    records, _ = generate(600, seed=9)
    put(consumers, records)
    monkeypatch.setattr(runs, "CHUNK", 50)
    run_id = runs.start(consumers, APP, SRC, "olga")
    assert runs.run(consumers, run_id, stop_after="train") == "running"
    stopped = consumers.file_run(run_id)["params"]["stages"]
    assert set(stopped) == {"read", "train"}
    trained = stopped["train"]

    def no_training(*args):
        raise AssertionError("trained again")
    monkeypatch.setattr(runs, "train", no_training)
    assert runs.run(consumers, run_id) == "done"
    job = consumers.file_run(run_id)
    assert job["params"]["stages"]["train"] == trained and job["done"] == job["total"] == 600
    assert all(m is not None for m in links(consumers).values())


def test_a_user_without_the_role_cannot_run_or_decide(consumers):
    import pytest

    from runtime.plugin_api import Forbidden
    records, _ = generate(200, seed=2)
    put(consumers, records)
    run_id = runs.start(consumers, APP, SRC, "vera")
    assert runs.run(consumers, run_id) == "failed"
    assert "may not" in consumers.file_run(run_id)["error"]
    with pytest.raises(Forbidden):
        service.decide_pair(consumers, APP, SRC, 1, 2, "same", "vera")
