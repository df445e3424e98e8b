"""The create and edit forms take files in the same submit: a file field, and a file per table row."""
import io
import re

import pytest

from runtime.core.config import Settings
from runtime.web import create_app
from tests.api.test_record_files import PNG, app_doc
from tests.ui.conftest import Browser


@pytest.fixture
def browser(loom, tmp_path):
    loom.store.publish(app_doc(), author="tester")
    loom.accounts.create_user("clerk", "pw-clerk-1234", roles=["claims:clerk"])
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    app.config["TESTING"] = True
    b = Browser(app.test_client())
    b.login("clerk", "pw-clerk-1234")
    return b


def test_a_record_is_created_with_its_files_in_one_submit(browser, loom):
    page = browser.get("/ui/claims/claim/new").get_data(as_text=True)
    assert 'formenctype="multipart/form-data"' in page
    assert re.search(r'<input type="file" name="photo" id="photo"\s+accept="\.png,\.jpg">', page)
    assert 'name="damaged-__i__-photo-file"' in page  # a new row has a file input of its own

    refused = browser.post("/ui/claims/claim/new", {"title": "Без фото", "damaged-0-item": "стол"},
                           token_from="/ui/claims/claim/new", content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "обязательно: прикрепите файл" in refused.get_data(as_text=True)

    done = browser.post("/ui/claims/claim/new", {
        "title": "С фото", "photo": (io.BytesIO(PNG), "scene.png"), "damaged-0-item": "стол",
        "damaged-0-price": "1 500,00", "damaged-0-photo-file": (io.BytesIO(b"table"), "table.png"),
        "damaged-1-item": "", "damaged-1-price": ""},
        token_from="/ui/claims/claim/new", content_type="multipart/form-data")
    assert done.status_code == 302, done.get_data(as_text=True)
    claim = loom.records.find("claims", "claim", {"title": "С фото"})[0]
    full = loom.records.get("claims", "claim", claim["id"])
    assert [f["filename"] for f in full["photo"]] == ["scene.png"]
    assert [(r["item"], r["price"], r["photo"]["filename"]) for r in full["damaged"]] == [
        ("стол", "1500.00", "table.png")]  # the blank row is dropped

    shown = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "table.png" in shown and f"/files/{full['damaged'][0]['photo']['id']}" in shown

    edit_url = f"/ui/claims/claim/{claim['id']}/edit"
    edit = browser.get(edit_url).get_data(as_text=True)
    row_id, photo_id = full["damaged"][0]["id"], full["damaged"][0]["photo"]["id"]
    assert f'name="damaged-0-id" value="{row_id}"' in edit and f'name="damaged-0-photo" value="{photo_id}"' in edit
    saved = browser.post(edit_url, {"title": "С фото", "row_version": str(full["row_version"]),
                                    "damaged-0-id": str(row_id), "damaged-0-item": "стол",
                                    "damaged-0-photo": str(photo_id), "damaged-1-item": "стул",
                                    "damaged-1-photo-file": (io.BytesIO(b"chair"), "chair.png")},
                         token_from=edit_url, content_type="multipart/form-data")
    assert saved.status_code == 302, saved.get_data(as_text=True)
    after = loom.records.get("claims", "claim", claim["id"])
    assert [(r["id"] == row_id, r["photo"]["filename"]) for r in after["damaged"]] == [
        (True, "table.png"), (False, "chair.png")]


def test_a_transition_that_needs_a_file_asks_for_it_in_its_dialog(browser, loom):
    from runtime.data.files import Upload
    claim = loom.records.create("claims", "claim", {"title": "Диалог"},
                                files={"photo": [Upload("p.png", "image/png", io.BytesIO(PNG))]})
    url = f"/ui/claims/claim/{claim['id']}"
    page = browser.get(url).get_data(as_text=True)
    dialog = page[page.index('id="dialog-close"'):]
    dialog = dialog[:dialog.index("</dialog>")]
    assert 'enctype="multipart/form-data"' in dialog and 'type="file" name="report" id="close-report"' in dialog
    fired = browser.post(f"{url}/transitions/close", {"row_version": "1", "report": (io.BytesIO(b"%PDF"), "r.pdf")},
                         token_from=url, content_type="multipart/form-data")
    assert fired.status_code == 302
    after = loom.records.get("claims", "claim", claim["id"])
    assert after["status"] == "closed" and [f["filename"] for f in after["report"]] == ["r.pdf"]
