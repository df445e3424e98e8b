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


TRICKY = ['ООО "Ромашка"', "строка\nвторая", "back\\slash", "", None, "emoji 🙂 ё", "  пробелы  ", "{\"json\": 1}"]


def test_scan_arrow_reads_what_scan_columns_reads_as_text(consumers, loom):
    rows = [{"source": "crm", "source_id": f"C-{i}", "name": value} for i, value in enumerate(TRICKY)]
    ids = consumers.records("olga").bulk_create(APP, SRC, rows)
    master = consumers.records("olga").bulk_create(APP, "master", [{"name": "M"}])[0]
    consumers.records("olga").bulk_update_columns(APP, SRC, ids[:2], {"master": [master, master]})
    loom.records.delete(APP, SRC, ids[3])
    table = consumers.records().scan_arrow(APP, SRC, ["source_id", "name", "master"])
    columns = consumers.records().scan_columns(APP, SRC, ["source_id", "name", "master"])
    assert table.column_names == ["id", "updated_at", "source_id", "name", "master"]
    assert str(table.schema.field("id").type) == str(table.schema.field("master").type) == "int64"
    assert table.column("id").to_pylist() == columns["id"] and ids[3] not in columns["id"]
    assert table.column("name").to_pylist() == columns["name"] == [v for i, v in enumerate(TRICKY) if i != 3]
    assert table.column("master").to_pylist() == columns["master"] == [master, master] + [None] * 5
    stamps = [dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC) for s in table.column("updated_at").to_pylist()]
    assert stamps == columns["updated_at"]
    in_pairs = loom.bulk.scan_arrow(APP, SRC, ["source_id", "name", "master"], consumers.records().actor, batch=2)
    assert in_pairs.equals(table)   # batches of two ids, read on two threads, come back in id order


def test_scan_arrow_of_nothing_and_without_read(consumers):
    table = consumers.records().scan_arrow(APP, SRC, ["source_id", "master"])
    assert table.num_rows == 0 and table.column_names == ["id", "updated_at", "source_id", "master"]
    with pytest.raises(Forbidden):
        consumers.records("vera").scan_arrow(APP, SRC, ["source_id"])
    with pytest.raises(ValidationFailed):
        consumers.records().scan_arrow(APP, SRC, ["no_such_field"])


def test_create_columns_writes_what_bulk_create_writes(consumers, loom):
    master = consumers.records("olga").bulk_create(APP, "master", [{"name": "M"}])[0]
    columns = {"source": ["crm", "billing", "portal"], "source_id": ["A", "B", "C"],
               "name": ["Иванов", "", None], "master": [master, None, master]}
    ids = consumers.records("olga").bulk_create_columns(APP, SRC, columns)
    rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
    same = consumers.records("olga").bulk_create(APP, SRC, rows)
    for a, b in zip(ids, same):
        made, expected = consumers.records().get(APP, SRC, a), consumers.records().get(APP, SRC, b)
        for key in ("source", "source_id", "name", "master", "status", "row_version", "created_by"):
            assert made[key] == expected[key], key
    assert [consumers.records().get(APP, SRC, i)["master"] for i in ids] == [master, None, master]
    assert len({consumers.records().get(APP, SRC, i)["number"] for i in ids + same}) == 6
    audit = tables.audit
    with loom.engine.connect() as c:
        entries = c.execute(select(audit.c.seq).where(audit.c.action == "import", audit.c.entity == SRC)).all()
    assert len(entries) == 2


def test_create_columns_refuses_bad_input_naming_the_row_and_writes_nothing(consumers):
    records = consumers.records("olga")
    good = {"source": ["crm", "crm"], "source_id": ["A", "B"]}
    with pytest.raises(ValidationFailed, match="row 2: source_id"):
        records.bulk_create_columns(APP, SRC, {**good, "source_id": ["A", ""]})
    with pytest.raises(ValidationFailed, match="row 1: source"):
        records.bulk_create_columns(APP, SRC, {"source_id": ["A", "B"]})
    with pytest.raises(ValidationFailed, match="row 2: name"):
        records.bulk_create_columns(APP, SRC, {**good, "name": ["ok", "x" * 300]})
    with pytest.raises(ValidationFailed, match="row 1: name"):
        records.bulk_create_columns(APP, SRC, {**good, "name": [12.5j, "ok"]})
    with pytest.raises(ValidationFailed, match="no record with id"):
        records.bulk_create_columns(APP, SRC, {**good, "master": [10 ** 9, None]})
    with pytest.raises(ValidationFailed, match="one value per record"):
        records.bulk_create_columns(APP, SRC, {**good, "name": ["one"]})
    with pytest.raises(Forbidden):
        consumers.records("vera").bulk_create_columns(APP, SRC, good)
    assert consumers.records().scan_columns(APP, SRC, [])["id"] == []
    assert records.bulk_create_columns(APP, SRC, {"source": []}) == []


@pytest.mark.parametrize("one_statement_per_record", [False, True])
def test_update_columns_carries_every_kind_of_value(consumers, monkeypatch, one_statement_per_record):
    # SQLite gets the values as one JSON document; values JSON cannot carry go a statement
    # per record, as on PostgreSQL: both must store exactly what was given
    from runtime.data import bulk
    if one_statement_per_record:
        monkeypatch.setattr(bulk, "_json_safe", lambda values: False)
    ids = consumers.records("olga").bulk_create(APP, SRC, [{"source": "crm", "source_id": f"C-{i}"} for i in range(8)])
    master = consumers.records("olga").bulk_create(APP, "master", [{"name": "M"}])[0]
    changed = consumers.records("olga").bulk_update_columns(
        APP, SRC, ids, {"name": TRICKY, "master": [master, None] * 4})
    assert changed == 8
    after = [consumers.records().get(APP, SRC, i) for i in ids]
    assert [r["name"] for r in after] == TRICKY
    assert [r["master"] for r in after] == [master, None] * 4
    assert {r["row_version"] for r in after} == {2} and {r["updated_by"] for r in after} != {None}
    by_dict = consumers.records("olga").bulk_update(APP, SRC, {ids[0]: {"name": "один"}, ids[1]: {"account": "Л-1"}})
    assert by_dict == 2
    assert consumers.records().get(APP, SRC, ids[0])["name"] == "один"
    assert consumers.records().get(APP, SRC, ids[1])["account"] == "Л-1"
    assert consumers.records().get(APP, SRC, ids[1])["name"] == TRICKY[1]


def test_json_safe_refuses_what_json_would_change():
    from runtime.data.bulk import _json_safe
    assert _json_safe(["текст", 1, -2 ** 63, 2.5, None])
    for value in (2 ** 63, float("nan"), float("inf"), b"bytes", True, 1j):
        assert not _json_safe(["ok", value]), value


def test_create_columns_gives_each_record_the_id_it_was_stored_under(consumers, loom):
    first = consumers.records("olga").bulk_create(APP, SRC, [{"source": "crm", "source_id": "A"}])[0]
    loom.records.delete(APP, SRC, first)   # the largest id, deleted: still taken
    ids = consumers.records("olga").bulk_create_columns(
        APP, SRC, {"source": ["crm"] * 3, "source_id": ["B", "C", "D"]})
    assert ids == list(range(ids[0], ids[0] + 3)) and ids[0] > first
    assert [consumers.records().get(APP, SRC, i)["source_id"] for i in ids] == ["B", "C", "D"]
    one = consumers.records("olga").create(APP, SRC, {"source": "crm", "source_id": "E"})
    assert one["id"] > ids[-1]


@pytest.mark.parametrize("value", ["д'Артаньян", "'; DROP TABLE x; --", "", "строка\nвторая", "ё" * 200, None])
def test_a_column_holding_one_value_throughout_is_stored_as_given(consumers, value):
    # such a column is written into the insert once instead of bound per row
    ids = consumers.records("olga").bulk_create_columns(
        APP, SRC, {"source": ["crm"] * 3, "source_id": ["A", "B", "C"], "name": [value] * 3})
    names = [consumers.records().get(APP, SRC, i)["name"] for i in ids]
    assert names == [value] * 3
    assert len({consumers.records().get(APP, SRC, i)["number"] for i in ids}) == 3


@pytest.mark.parametrize("one_statement_per_record", [False, True])
def test_an_update_naming_a_deleted_record_changes_nothing_even_when_the_caller_goes_on(
        consumers, loom, monkeypatch, one_statement_per_record):
    # SQLite counts the rows its one statement changed instead of counting them first: a
    # refusal must still leave the caller's transaction as it was
    from runtime.data import bulk
    if one_statement_per_record:
        monkeypatch.setattr(bulk, "_json_safe", lambda values: False)
    ids = consumers.records("olga").bulk_create(APP, SRC, [{"source": "crm", "source_id": f"D-{i}"} for i in range(6)])
    loom.records.delete(APP, SRC, ids[3])
    actor = consumers.records("olga").actor
    with loom.engine.begin() as conn:
        with pytest.raises(ValidationFailed, match="do not exist or you may not see them"):
            loom.bulk.update_columns(conn, APP, SRC, ids, {"name": ["новое"] * 6}, actor)
        with pytest.raises(ValidationFailed, match="do not exist or you may not see them"):
            loom.bulk.update(conn, APP, SRC, {i: {"account": "Л-9"} for i in ids}, actor)
        assert loom.bulk.update_columns(conn, APP, SRC, ids[:2], {"name": ["да"] * 2}, actor) == 2
    after = [consumers.records().get(APP, SRC, i) for i in ids[:3] + ids[4:]]
    assert [r["name"] for r in after] == ["да", "да", None, None, None]
    assert {r["account"] for r in after} == {None}
    assert [r["row_version"] for r in after] == [2, 2, 1, 1, 1]
