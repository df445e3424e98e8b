"""The columnar reads and writes of ``runtime.data.bulk`` that match runs use."""
from __future__ import annotations

import datetime as dt

import pytest

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
