"""A table row may hold a file: the metadata, the storage (a column of the child table, added by a
publish like any column) and the record service, on SQLite and PostgreSQL."""
import copy
import io

import pytest

from metamodel import MetadataError, validate_document
from runtime.data.files import FileStore, Upload
from runtime.errors import ValidationFailed


def doc(photo: bool):
    columns = {"item": {"type": "string"}, "price": {"type": "money"}}
    if photo:
        columns["photo"] = {"type": "file", "accept": ["jpg"], "required": True}
    return {"app": {"name": "inv", "title": "Inventory", "roles": [{"name": "clerk"}]},
            "entities": {"act": {"title": "Act", "fields": {
                "title": {"type": "string"},
                "scan": {"type": "file", "required": True},
                "items": {"type": "table", "fields": columns}},
                "permissions": {"read": ["clerk"], "create": ["clerk"], "update": ["clerk"]}}}}


def test_a_table_row_may_hold_one_file_per_column():
    validate_document(doc(photo=True))
    many = copy.deepcopy(doc(photo=True))
    many["entities"]["act"]["fields"]["items"]["fields"]["photo"]["multiple"] = True
    nested = copy.deepcopy(doc(photo=True))
    nested["entities"]["act"]["fields"]["items"]["fields"]["more"] = {"type": "table", "fields": {
        "x": {"type": "string"}}}
    for bad, path, text in ((many, "fields.items.fields.photo.multiple", "one file per file column"),
                            (nested, "fields.items.fields.more.type", "cannot hold a table field")):
        with pytest.raises(MetadataError) as err:
            validate_document(bad)
        assert [(p.path, text in p.message) for p in err.value.problems] == [(path, True)]


def test_publishing_adds_a_file_column_to_a_table_with_rows(loom):
    loom.store.publish(doc(photo=False), author="tester")
    act = loom.records.create("inv", "act", {"title": "до", "items": [{"item": "стол", "price": "10"}]})
    published = loom.store.publish(doc(photo=True), author="tester")
    assert "add act.items.photo" in published.plan
    rows = loom.records.get("inv", "act", act["id"])["items"]
    assert rows == [{"id": rows[0]["id"], "item": "стол", "price": "10.00", "photo": None}]

    person = loom.accounts.actor_for_id(loom.accounts.create_user("u", "pw-user-12345", roles=["inv:clerk"]))
    with pytest.raises(ValidationFailed) as err:  # the new column is required of the rows a person saves
        loom.records.update("inv", "act", act["id"], {"items": rows}, act["row_version"], person)
    assert err.value.errors[0].field == "items[0].photo"
    with pytest.raises(ValidationFailed) as err:
        loom.records.update("inv", "act", act["id"], {"items": rows}, act["row_version"], person,
                            files={"items[0].photo": [Upload("table.png", "image/png", io.BytesIO(b"png"))]})
    assert "only jpg files are accepted" in err.value.errors[0].message
    done = loom.records.update("inv", "act", act["id"], {"items": rows}, act["row_version"], person,
                               files={"items[0].photo": [Upload("table.jpg", "image/jpeg", io.BytesIO(b"jpg"))]})
    assert done["items"][0]["photo"]["filename"] == "table.jpg" and done["items"][0]["id"] == rows[0]["id"]


def test_people_must_bring_a_required_file_and_the_system_need_not(loom):
    loom.store.publish(doc(photo=True), author="tester")
    uid = loom.accounts.create_user("u", "pw-user-12345", roles=["inv:clerk"])
    person = loom.accounts.actor_for_id(uid)
    with pytest.raises(ValidationFailed) as err:
        loom.records.create("inv", "act", {"title": "x"}, person)
    assert [(e.field, e.message) for e in err.value.errors] == [("scan", "is required: attach a file")]
    made = loom.records.create("inv", "act", {"title": "x"}, person,
                               files={"scan": [Upload("a.pdf", None, io.BytesIO(b"%PDF"))]})
    assert [f["filename"] for f in made["scan"]] == ["a.pdf"]
    assert loom.records.create("inv", "act", {"title": "fixture"})["scan"] == []  # fixtures, imports: no files

    with pytest.raises(ValidationFailed, match="upload another file"):
        FileStore(loom).detach(made["scan"][0]["id"], person)
    with pytest.raises(ValidationFailed, match="is not a file of this record"):  # another record's file
        loom.records.create("inv", "act", {"title": "x", "scan": [made["scan"][0]]}, person)
