"""Export an app folder as a zip and import it back: same layout, same hash, file:line errors."""
from __future__ import annotations

import io
import zipfile

from metamodel import content_hash, read_folder, write_folder
from tests.conftest import APPS

from .conftest import another_instance
from .test_pages import html, revision_of


def upload(browser, data: bytes, name="app.zip"):
    return browser.post("/designer/import", {"archive": (io.BytesIO(data), name)}, token_from="/designer/",
                        content_type="multipart/form-data")


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


def publish(browser, app: str, comment: str):
    page = html(browser.get(f"/designer/apps/{app}/publish"))
    return browser.post(f"/designer/apps/{app}/publish", {"comment": comment, "revision": revision_of(page)},
                        token_from=f"/designer/apps/{app}/publish")


def test_export_import_publish_gives_the_same_hash(designer_loom, ann, tmp_path):
    designer_loom.store.install(APPS / "service_desk", author="tester")
    live_hash = designer_loom.store.versions("service_desk")[0]["hash"]

    response = ann.get("/designer/apps/service_desk/export?source=live")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert 'filename="service_desk-v1.zip"' in response.headers["Content-Disposition"]
    archive = response.data
    assert ann.get("/designer/apps/service_desk/export?source=live").data == archive  # byte-stable

    # the same layout as apps_config/: one folder named after the app, the files write_folder gives
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    expected = write_folder(designer_loom.store.document("service_desk"), tmp_path / "expected")
    assert sorted(names) == sorted(f"service_desk/{p.relative_to(tmp_path / 'expected').as_posix()}"
                                   for p in expected)
    assert "service_desk/app.yaml" in names and "service_desk/entities/request.yaml" in names
    zipfile.ZipFile(io.BytesIO(archive)).extractall(tmp_path / "unzipped")
    doc, _ = read_folder(tmp_path / "unzipped" / "service_desk")
    assert content_hash(doc) == live_hash

    # import into the same instance: it becomes the draft, equal to live; publishing changes nothing
    response = upload(ann, archive, "service_desk-v1.zip")
    assert response.status_code == 302 and response.headers["Location"].endswith("/designer/apps/service_desk/")
    state = designer_loom.store.draft("service_desk")
    assert state["draft"] is not None and content_hash(state["draft"]) == live_hash
    assert state["current_version"] == 1  # imported, not published
    assert "same as live" in html(ann.get("/designer/"))
    response = publish(ann, "service_desk", "re-import")
    assert response.status_code == 302
    page = html(ann.get(response.headers["Location"]))
    assert "Nothing changed" in page
    assert [v["number"] for v in designer_loom.store.versions("service_desk")] == [1]
    assert designer_loom.store.draft("service_desk")["draft"] is None

    # import into another instance and publish: the very same hash
    with another_instance(tmp_path) as (other, browser):
        assert upload(browser, archive).status_code == 302
        assert other.store.draft("service_desk")["current_version"] is None
        assert publish(browser, "service_desk", "from the zip").status_code == 302
        assert other.store.versions("service_desk")[0]["hash"] == live_hash


def test_export_of_the_draft(designer_loom, ann):
    ann.post("/designer/apps", {"name": "vacation", "title_en": "Vacations"}, token_from="/designer/")
    assert ann.get("/designer/apps/vacation/export?source=live").status_code == 404  # never published
    response = ann.get("/designer/apps/vacation/export?source=draft")
    assert response.status_code == 200 and 'filename="vacation-draft-r1.zip"' in response.headers["Content-Disposition"]
    files = zipfile.ZipFile(io.BytesIO(response.data))
    assert files.namelist() == ["vacation/app.yaml"]
    assert "name: vacation" in files.read("vacation/app.yaml").decode()


def test_a_zip_with_broken_yaml_names_file_and_line(designer_loom, ann):
    archive = make_zip({
        "vacation/app.yaml": "name: vacation\ntitle: {en: Vacations}\n",
        "vacation/entities/request.yaml": "title: {en: Request}\nfields:\n  name: {type: string\n  days: 1\n",
    })
    response = upload(ann, archive)
    assert response.status_code == 422
    page = html(response)
    assert 'id="import-problems"' in page and "entities/request.yaml:" in page and "YAML syntax error" in page
    import re
    assert re.search(r"entities/request\.yaml:[34]</code>", page)
    assert ann.get("/designer/apps/vacation/").status_code == 404  # nothing imported


def test_a_zip_with_files_at_the_top_and_schema_problems_is_imported_as_a_draft(designer_loom, ann):
    archive = make_zip({
        "app.yaml": "name: vacation\ntitle: {en: Vacations}\n",
        "entities/request.yaml": "title: {en: Request}\nfields:\n  name: {type: strng}\n",
    })
    response = upload(ann, archive)
    assert response.status_code == 200
    page = html(response)
    assert "entities/request.yaml:3" in page and "fields.name.type" in page
    assert 'href="/designer/apps/vacation/entities/request/fields#fields.name.type"' in page
    draft = designer_loom.store.draft("vacation")
    assert draft["current_version"] is None and draft["draft"]["entities"]["request"]["fields"]["name"]["type"] == "strng"
    assert "draft.import" in [e for e in _actions(designer_loom)]


def test_what_is_not_an_app_folder_is_refused(designer_loom, ann):
    assert "not a zip file" in html(upload(ann, b"plain text"))
    assert "no app.yaml" in html(upload(ann, make_zip({"readme.txt": "hello"})))
    page = html(upload(ann, make_zip({"a/app.yaml": "name: a\ntitle: A\n", "b/app.yaml": "name: b\ntitle: B\n"})))
    assert "more than one app folder" in page
    page = html(upload(ann, make_zip({"app.yaml": "name: Bad Name\ntitle: X\n"})))
    assert "lower_snake_case" in page
    assert designer_loom.store.list() == []


def _actions(loom):
    from sqlalchemy import select

    from runtime.data import tables
    with loom.engine.connect() as c:
        return list(c.execute(select(tables.audit.c.action)).scalars())


def test_import_never_silently_replaces_an_unpublished_draft(designer_loom, ann, bob):
    designer_loom.store.install(APPS / "service_desk", author="tester")
    archive = ann.get("/designer/apps/service_desk/export").data
    page = html(bob.get("/designer/apps/service_desk/raw/app.yaml"))
    text = "name: service_desk\ntitle: {ru: Служба поддержки, en: Help desk}\n"
    assert bob.post("/designer/apps/service_desk/raw/app.yaml",
                    {"text": text, "revision": revision_of(page)}).status_code == 302
    response = upload(ann, archive)
    assert response.status_code == 409 and "bob" in html(response)
    assert designer_loom.store.draft("service_desk")["draft"]["app"]["title"]["en"] == "Help desk"
    response = ann.post("/designer/import", {"archive": (io.BytesIO(archive), "sd.zip"), "replace": "1"},
                        token_from="/designer/", content_type="multipart/form-data")
    assert response.status_code == 302
    assert designer_loom.store.draft("service_desk")["draft"]["app"]["title"]["en"] == "Service Desk"
