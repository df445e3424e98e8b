"""The consumers test app published on each backend, an operator and a bystander, and
generated source records written in bulk."""
from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import pytest

from metamodel import read_folder
from runtime.plugin_api import Platform

APP = Path(__file__).resolve().parent / "consumers_app"
FIELDS = ("source", "source_id", "name", "first_name", "birth_date", "phone", "email", "address", "inn")
PASSWORD = "consumers-pass-1"


@pytest.fixture
def consumers(loom, tmp_path, monkeypatch):
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "home"))
    doc, _ = read_folder(APP)
    loom.store.publish(doc, author="tester")
    loom.accounts.create_user("olga", PASSWORD, roles=["consumers:operator"])
    loom.accounts.create_user("vera", PASSWORD, roles=[])
    return Platform(loom)


def put(platform, records, user="olga") -> dict:
    """Write generated ``records`` as source records; generator id -> record id."""
    rows = [{f: r[f] for f in FIELDS if r.get(f)} for r in records]
    ids = platform.records(user).bulk_create("consumers", "source_record", rows)
    return dict(zip((r["id"] for r in records), ids))


def links(platform) -> dict:
    """Source record id -> master id."""
    out = {}
    for batch in platform.records().scan("consumers", "source_record", ["master"]):
        out.update({r["id"]: r["master"] for r in batch})
    return out


def pairs(cluster_of: dict) -> set:
    members = defaultdict(list)
    for record, cluster in cluster_of.items():
        members[cluster].append(record)
    return {pair for group in members.values() for pair in itertools.combinations(sorted(group), 2)}


def f1(found: dict, truth: dict) -> tuple[float, float, float]:
    got, true = pairs(found), pairs(truth)
    hits = len(got & true)
    precision, recall = hits / max(len(got), 1), hits / max(len(true), 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)
