"""The columnar reads and writes of ``runtime.data.bulk`` that match runs use."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from runtime.data import tables
from runtime.errors import Forbidden, ValidationFailed
from tests.masterdata.conftest import put
from tests.masterdata.synth import generate

APP, SRC = "consumers", "source_record"


def test_scan_columns_reads_what_scan_reads_without_the_deleted(consumers, loom):
    records, _ = generate(60, seed=3)
    ids = sorted(put(consumers, records).values())
    loom.records.delete(APP, SRC, ids[5])
    columns = consumers.records().scan_columns(APP, SRC, ["source_id", "phone"], batch=7)
    rows = [r for batch in consumers.records().scan(APP, SRC, ["source_id", "phone"]) for r in batch]
    assert columns["id"] == [r["id"] for r in rows] and ids[5] not in columns["id"]
    assert columns["source_id"] == [r["source_id"] for r in rows]
    assert columns["phone"] == [r["phone"] for r in rows]
    assert list(columns) == ["id", "updated_at", "source_id", "phone"]


def test_scan_columns_takes_only_records_changed_since(consumers):
    records, _ = generate(20, seed=4)
    ids = sorted(put(consumers, records).values())
    later = max(consumers.records().scan_columns(APP, SRC, [])["updated_at"])
    assert consumers.records().scan_columns(APP, SRC, [], changed_since=later)["id"] == []
    earlier = later - dt.timedelta(days=1)
    assert consumers.records().scan_columns(APP, SRC, [], changed_since=earlier)["id"] == ids


def test_scan_columns_refuses_an_unknown_field_and_a_user_without_read(consumers):
    with pytest.raises(ValidationFailed):
        consumers.records().scan_columns(APP, SRC, ["no_such_field"])
    with pytest.raises(Forbidden):
        consumers.records("vera").scan_columns(APP, SRC, ["source_id"])


def test_update_columns_sets_links_with_audit_and_system_columns(consumers, loom):
    records, _ = generate(30, seed=6)
    ids = sorted(put(consumers, records).values())
    master = consumers.records("olga").bulk_create(APP, "master", [{"name": "Ромашка"}])[0]
    before = consumers.records().get(APP, SRC, ids[0])
    assert consumers.records("olga").bulk_update_columns(APP, SRC, ids[:10], {"master": [master] * 10}) == 10
    after = consumers.records().get(APP, SRC, ids[0])
    assert after["master"] == master and after["row_version"] == before["row_version"] + 1
    assert consumers.records().get(APP, SRC, ids[10])["master"] is None
    audit = tables.audit
    with loom.engine.connect() as c:
        entry = c.execute(select(audit).where(audit.c.action == "bulk_update")
                          .order_by(audit.c.seq.desc()).limit(1)).mappings().first()
    assert entry["entity"] == SRC and entry["username"] == "olga"


def test_update_columns_refuses_a_missing_link_and_a_short_column(consumers):
    records, _ = generate(5, seed=8)
    ids = sorted(put(consumers, records).values())
    with pytest.raises(ValidationFailed, match="no record with id"):
        consumers.records("olga").bulk_update_columns(APP, SRC, ids, {"master": [10 ** 9] * len(ids)})
    with pytest.raises(ValidationFailed, match="one value per id"):
        consumers.records("olga").bulk_update_columns(APP, SRC, ids, {"master": [None]})
    with pytest.raises(Forbidden):
        consumers.records("vera").bulk_update_columns(APP, SRC, ids, {"master": [None] * len(ids)})
    assert all(consumers.records().get(APP, SRC, i)["master"] is None for i in ids)
