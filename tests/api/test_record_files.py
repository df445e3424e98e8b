"""Files and table rows count everywhere: a record is created with its files in one request,
a required file is enforced, a table row holds a photo, a transition's ``required`` sees files
and rows. Through the REST API and the record service, on SQLite and PostgreSQL."""
import io
import json
import re

import pytest
from sqlalchemy import func, select

from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.data.files import Upload
from runtime.errors import ValidationFailed
from runtime.web import create_app
from tests.api.conftest import Client

SCRIPT = '''
def check(record):
    for row in record.damaged:
        if row.price is not None and row.price > 1000 and not row.photo:
            return {"damaged": "a damage over 1000 needs its photo: " + row.item}

def tidy(record):  # rewrites the rows, new photos and all
    record.damaged = [dict(row, item=row.item.strip()) for row in record.damaged]
'''
PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 50


def app_doc():
    return {
        "app": {"name": "claims", "title": "Claims", "roles": [{"name": "clerk"}]},
        "entities": {"claim": {
            "title": "Claim", "number": "CL-{0000}",
            "fields": {
                "title": {"type": "string", "required": True},
                "photo": {"type": "file", "required": True, "accept": ["png", "jpg"], "max_size_mb": 1},
                "docs": {"type": "file", "multiple": True},
                "report": {"type": "file"},
                "damaged": {"type": "table", "fields": {
                    "item": {"type": "string", "required": True}, "price": {"type": "money"},
                    "photo": {"type": "file", "accept": ["png", "jpg"]}}},
                "damage_total": {"type": "computed", "result": "money", "expression": "sum(damaged.price)"},
            },
            "statuses": [{"name": "new", "initial": True}, {"name": "inspected"}, {"name": "closed"}],
            "transitions": [
                {"name": "inspect", "from": "new", "to": "inspected", "required": ["damaged", "photo"]},
                {"name": "close", "from": ["new", "inspected"], "to": "closed", "required": ["report"]},
            ],
            "permissions": {"read": ["clerk"], "create": ["clerk"], "update": ["clerk"]},
            "hooks": {"validate": "c.py:check", "before_save": "c.py:tidy"},
        }},
        "scripts": {"c.py": SCRIPT},
    }


@pytest.fixture
def claims(loom, tmp_path):
    loom.store.publish(app_doc(), author="tester")
    uid = loom.accounts.create_user("clerk", "pw-clerk-1234", roles=["claims:clerk"])
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    app.config["TESTING"] = True
    return loom, Client(app.test_client(), loom.accounts.issue_token(uid))


URL = "/api/v1/claims/claim"


def multipart(client, url, record=None, method="post", **files):
    """POST (or PATCH) multipart/form-data: the record as JSON in a part, a part per file
    (``damaged_0_photo`` names the part ``damaged[0].photo``)."""
    data = {} if record is None else {"record": json.dumps(record)}
    for name, content in files.items():
        name = re.sub(r"^(\w+?)_(\d+)_(\w+)$", r"\1[\2].\3", name)
        items = content if isinstance(content, list) else [content]
        data[name] = [(io.BytesIO(body), filename) for filename, body in items]
    return getattr(client.http, method)(url, data=data, content_type="multipart/form-data",
                                        headers=client._headers())


def blobs(loom):
    return sorted(p.name for p in loom.files_dir.rglob("*") if p.is_file())


def attachments(loom, deleted=False):
    a = platform.attachment
    with loom.engine.connect() as c:
        query = select(func.count()).select_from(a)
        query = query.where(a.c.deleted_at.is_not(None) if deleted else a.c.deleted_at.is_(None))
        return c.execute(query).scalar_one()


def test_a_record_and_its_files_are_one_request(claims):
    loom, api = claims
    record = {"title": "Залило склад", "damaged": [{"item": " стеллаж ", "price": "1500"}, {"item": "коробка"}]}
    answer = multipart(api, URL, record, photo=("scene.png", PNG), damaged_0_photo=("rack.jpg", b"jpeg"),
                       docs=[("a.pdf", b"A"), ("b.pdf", b"B")])
    assert answer.status_code == 201, answer.get_json()
    claim = answer.get_json()
    assert [f["filename"] for f in claim["photo"]] == ["scene.png"]
    assert [f["filename"] for f in claim["docs"]] == ["a.pdf", "b.pdf"]
    assert claim["damaged"][0]["photo"]["filename"] == "rack.jpg" and claim["damaged"][1]["photo"] is None
    assert claim["damaged"][0]["item"] == "стеллаж"  # before_save rewrote the rows and kept the new photo
    assert claim["damage_total"] == "1500.00"
    download = api.get(f"/api/v1/files/{claim['photo'][0]['id']}")
    assert download.status_code == 200 and download.data == PNG
    row_photo = api.get(f"/api/v1/files/{claim['damaged'][0]['photo']['id']}")
    assert row_photo.data == b"jpeg"

    as_fields = api.http.post(URL, data={"title": "Поля формы", "damaged": json.dumps([{"item": "дверь"}]),
                                         "photo": (io.BytesIO(PNG), "door.png")},
                              content_type="multipart/form-data", headers=api._headers())
    assert as_fields.status_code == 201, as_fields.get_json()
    assert as_fields.get_json()["damaged"][0]["item"] == "дверь"


def test_a_required_file_is_enforced_and_a_failure_leaves_nothing_behind(claims):
    loom, api = claims
    missing = api.post(URL, {"title": "Без фото"})
    assert missing.status_code == 422
    assert missing.get_json()["errors"] == [{"field": "photo", "message": "is required: attach a file"}]
    wrong_type = multipart(api, URL, {"title": "Не картинка"}, photo=("virus.exe", b"MZ"))
    assert wrong_type.status_code == 422 and "only png, jpg" in wrong_type.get_json()["detail"]
    too_big = multipart(api, URL, {"title": "Большое"}, photo=("big.png", b"0" * (1024 * 1024 + 1)))
    assert too_big.status_code == 422 and "larger than 1 MB" in too_big.get_json()["detail"]
    bad_record = multipart(api, URL, {"title": ""}, photo=("ok.png", PNG), damaged_0_photo=("x.png", b"x"))
    assert bad_record.status_code == 422  # the row the file names is missing
    bad_row = multipart(api, URL, {"title": "x", "damaged": [{"price": "1"}]}, photo=("ok.png", PNG))
    assert bad_row.status_code == 422 and bad_row.get_json()["errors"][0]["field"] == "damaged[0].item"
    hook = multipart(api, URL, {"title": "Дорого", "damaged": [{"item": "станок", "price": "5000"}]},
                     photo=("ok.png", PNG))
    assert hook.status_code == 422 and "needs its photo: станок" in hook.get_json()["detail"]
    assert api.get(URL).get_json()["items"] == []
    assert attachments(loom) == 0 and blobs(loom) == []  # neither rows nor content stayed


def test_the_record_service_takes_files_too(claims):
    loom, _ = claims
    clerk = loom.actor("clerk")
    with pytest.raises(ValidationFailed) as err:
        loom.records.create("claims", "claim", {"title": "Сервис"}, clerk,
                            files={"damaged[3].photo": [Upload("x.png", "image/png", io.BytesIO(PNG))],
                                   "photo": [Upload("p.png", "image/png", io.BytesIO(PNG))]})
    assert err.value.errors[0].field == "damaged[3].photo"
    assert blobs(loom) == []
    made = loom.records.create("claims", "claim", {"title": "Сервис"}, clerk,
                               files={"photo": [Upload("p.png", "image/png", io.BytesIO(PNG))]})
    assert made["photo"][0]["size"] == len(PNG) and len(blobs(loom)) == 1


def test_required_on_a_transition_sees_files_and_table_rows(claims):
    loom, api = claims
    claim = multipart(api, URL, {"title": "Переход"}, photo=("p.png", PNG)).get_json()
    no_rows = api.post(f"{URL}/{claim['id']}/transitions/inspect")
    assert no_rows.status_code == 422 and no_rows.get_json()["errors"] == [
        {"field": "damaged", "message": "is required to inspect"}]
    with_rows = api.post(f"{URL}/{claim['id']}/transitions/inspect", {"damaged": [{"item": "окно"}]})
    assert with_rows.status_code == 200, with_rows.get_json()  # the photo uploaded at create counts
    assert with_rows.get_json()["status"] == "inspected"

    no_report = api.post(f"{URL}/{claim['id']}/transitions/close")
    assert no_report.status_code == 422
    upload = api.http.post(f"{URL}/{claim['id']}/files/report", data={"file": (io.BytesIO(b"%PDF"), "r.pdf")},
                           content_type="multipart/form-data", headers=api._headers())
    assert upload.status_code == 201
    closed = api.post(f"{URL}/{claim['id']}/transitions/close")
    assert closed.status_code == 200, closed.get_json()  # the file uploaded before counts

    other = multipart(api, URL, {"title": "Сразу"}, photo=("p.png", PNG)).get_json()
    at_once = multipart(api, f"{URL}/{other['id']}/transitions/close", {}, report=("r.pdf", b"%PDF-1"))
    assert at_once.status_code == 200, at_once.get_json()  # or the file comes with the transition
    assert at_once.get_json()["report"][0]["filename"] == "r.pdf"


def test_a_table_row_holds_a_file(claims):
    loom, api = claims
    claim = multipart(api, URL, {"title": "Строки", "damaged": [{"item": "стол"}, {"item": "стул"}]},
                      photo=("p.png", PNG)).get_json()
    first, second = claim["damaged"]
    put = api.http.post(f"{URL}/{claim['id']}/files/damaged/{second['id']}/photo",
                        data={"file": (io.BytesIO(b"chair"), "chair.png")}, content_type="multipart/form-data",
                        headers=api._headers())
    assert put.status_code == 201, put.get_json()
    assert put.get_json()["file"]["filename"] == "chair.png"
    again = api.http.post(f"{URL}/{claim['id']}/files/damaged/{second['id']}/photo",
                          data={"file": (io.BytesIO(b"chair, better"), "chair2.png")},
                          content_type="multipart/form-data", headers=api._headers())
    record = again.get_json()["record"]
    assert [r["id"] for r in record["damaged"]] == [first["id"], second["id"]]  # rows keep their ids
    assert record["damaged"][1]["photo"]["filename"] == "chair2.png"
    assert attachments(loom, deleted=True) == 1  # the replaced photo is deleted (its content stays)

    # Rows sent back as read keep their files; a row left out takes its file with it.
    kept = api.patch(f"{URL}/{claim['id']}", {"damaged": record["damaged"], "row_version": record["row_version"]})
    assert kept.status_code == 200 and kept.get_json()["damaged"][1]["photo"]["filename"] == "chair2.png"
    dropped = api.patch(f"{URL}/{claim['id']}", {"damaged": [kept.get_json()["damaged"][0]],
                                                 "row_version": kept.get_json()["row_version"]})
    assert dropped.status_code == 200 and attachments(loom, deleted=True) == 2

    stranger = multipart(api, URL, {"title": "Чужое"}, photo=("p.png", PNG)).get_json()
    smuggled = api.patch(f"{URL}/{stranger['id']}", {"damaged": [{"item": "x", "photo": record["damaged"][1]["photo"]}],
                                                      "row_version": 1})
    assert smuggled.status_code == 422 and "is not a file of this record" in smuggled.get_json()["detail"]
    foreign_file = api.patch(f"{URL}/{stranger['id']}", {"photo": claim["photo"], "row_version": 1})
    assert foreign_file.status_code == 422 and foreign_file.get_json()["errors"][0]["field"] == "photo"
