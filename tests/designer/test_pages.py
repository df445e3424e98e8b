"""The designer's pages over HTTP: access, create → edit → validate → publish → history → rollback."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from runtime.data import tables

NEW = "/designer/apps/vacation"


def html(response) -> str:
    return response.get_data(as_text=True)


def revision_of(page: str) -> str:
    match = re.search(r'name="revision" value="(\d+)"', page)
    assert match, "the page has no revision field"
    return match.group(1)


def textarea(page: str) -> str:
    import html as h
    match = re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert match, "the page has no text area"
    return h.unescape(match.group(1))


def audit_actions(loom) -> list[tuple]:
    a = tables.audit
    with loom.engine.connect() as c:
        return [(r.action, r.username, r.after) for r in c.execute(select(a.c.action, a.c.username, a.c.after)
                                                                    .order_by(a.c.seq))]


def designer_urls(app) -> list[tuple[str, list[str]]]:
    """Every designer route (the editors' and the preview's too) with its arguments filled in."""
    fill = {"int": "1", "path": "app.yaml"}
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("designer.") or rule.endpoint == "designer.static":
            continue
        url = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", lambda m: fill.get(m.group(1) or "", "x"), rule.rule)
        out.append((url, sorted(rule.methods - {"HEAD", "OPTIONS"})))
    return out


def test_only_analysts_and_admins_may_use_the_designer(designer_web, carl, ann, root):
    urls = designer_urls(designer_web)
    assert len(urls) >= 12, urls  # the pages of this module at least
    token = carl.token("/ui/")
    for url, methods in urls:
        for method in methods:
            if method == "GET":
                response = carl.get(url)
            else:
                response = carl.http.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 403, (method, url, response.status_code)
    assert ann.get("/designer/").status_code == 200
    assert root.get("/designer/").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(designer_web):
    response = designer_web.test_client().get("/designer/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def create_vacation(browser):
    response = browser.post("/designer/apps", {"name": "vacation", "title_ru": "Отпуска", "title_en": "Vacations"},
                            token_from="/designer/")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{NEW}/")


def add_request_entity(browser):
    page = html(browser.get(f"{NEW}/"))
    response = browser.post(f"{NEW}/entities", {"name": "request", "title_ru": "Заявка", "title_en": "Request",
                                                 "revision": revision_of(page)}, token_from=f"{NEW}/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{NEW}/entities/request/fields")


def save_raw(browser, item: str, text: str):
    url = f"{NEW}/raw/{item}"
    page = html(browser.get(url))
    return browser.post(url, {"text": text, "revision": revision_of(page)}, token_from=url)


REQUEST_OK = """title: {ru: Заявка на отпуск, en: Vacation request}
title_field: employee
fields:
  employee: {type: string, required: true, max_length: 200}
  days: {type: integer, min: 1}
"""


def test_create_edit_validate_publish_history_rollback(designer_loom, ann):
    loom = designer_loom
    create_vacation(ann)
    index = html(ann.get("/designer/"))
    assert 'id="app-vacation"' in index and "Vacations" in index and 'lang="en"' in index
    assert loom.store.draft("vacation")["current_version"] is None

    add_request_entity(ann)
    overview = html(ann.get(f"{NEW}/"))
    assert 'id="entity-request"' in overview
    assert f'href="{NEW}/entities/request/workflow"' in overview and f'href="{NEW}/entities/request/form"' in overview

    raw = html(ann.get(f"{NEW}/raw/entities/request.yaml"))
    assert "title_field: name" in textarea(raw)

    # broken YAML: file and line, the text kept, nothing saved
    broken = "title: {en: Request}\nfields:\n  name: {type: string\n  days: [1,\n"
    response = save_raw(ann, "entities/request.yaml", broken)
    assert response.status_code == 422
    assert "entities/request.yaml:" in html(response) and textarea(html(response)) == broken
    assert "days" not in str(loom.store.draft("vacation")["draft"]["entities"]["request"])

    # schema error: path, line and a hint
    response = save_raw(ann, "entities/request.yaml", "title: {en: Request}\nfields:\n  name: {type: strng}\n")
    assert response.status_code == 422
    page = html(response)
    assert "entities/request.yaml:3" in page and "fields.name.type" in page and "did you mean &#39;string&#39;" in page

    # a schema-valid text with a dangling reference is saved; validate shows it with a link to its editor
    response = save_raw(ann, "entities/request.yaml", REQUEST_OK.replace("title_field: employee", "title_field: nobody"))
    assert response.status_code == 302
    page = html(ann.get(f"{NEW}/validate"))
    assert 'id="problems"' in page
    assert f'href="{NEW}/entities/request/fields#title_field"' in page
    shown = textarea(html(ann.get(f"{NEW}/raw/entities/request.yaml"))).split("\n")
    line = next(i for i, text in enumerate(shown, start=1) if text.startswith("title_field:"))
    assert f"entities/request.yaml:{line}</code>" in page  # the line in the YAML the raw view shows

    # publishing is impossible while there are problems
    page = html(ann.get(f"{NEW}/publish"))
    assert 'id="publish-problems"' in page and 'id="publish-button" disabled' in page
    assert f'href="{NEW}/entities/request/fields#title_field"' in page
    response = ann.post(f"{NEW}/publish", {"comment": "try", "revision": revision_of(page)}, token_from=f"{NEW}/publish")
    assert response.status_code == 422
    assert loom.store.draft("vacation")["current_version"] is None

    # fixed: the publish page shows the diff and the storage plan; a comment is required
    assert save_raw(ann, "entities/request.yaml", REQUEST_OK).status_code == 302
    page = html(ann.get(f"{NEW}/publish"))
    assert 'id="publish-problems"' not in page
    assert "create table for request" in page and 'id="diff"' in page
    response = ann.post(f"{NEW}/publish", {"comment": " ", "revision": revision_of(page)}, token_from=f"{NEW}/publish")
    assert response.status_code == 422 and 'id="comment-error"' in html(response)
    response = ann.post(f"{NEW}/publish", {"comment": "first version", "revision": revision_of(page)},
                        token_from=f"{NEW}/publish")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{NEW}/history")
    state = loom.store.draft("vacation")
    assert state["current_version"] == 1 and state["draft"] is None  # publishing clears the draft
    assert "vacation" in loom.live

    # version 2 adds a field
    text = REQUEST_OK + "  reason: {type: text}\n"
    assert save_raw(ann, "entities/request.yaml", text).status_code == 302
    page = html(ann.get(f"{NEW}/publish"))
    assert "<code>fields.reason</code>" in page and "add request.reason" in page
    response = ann.post(f"{NEW}/publish", {"comment": "reason of the vacation", "revision": revision_of(page)},
                        token_from=f"{NEW}/publish")
    assert response.status_code == 302

    history = html(ann.get(f"{NEW}/history"))
    assert 'id="version-2"' in history and 'id="version-1"' in history and "reason of the vacation" in history
    assert 'id="rollback-1"' in history and 'id="rollback-2"' not in history  # the live version has no button
    compared = html(ann.get(f"{NEW}/history?a=1&b=2"))
    assert 'id="version-diff"' in compared and "fields.reason" in compared
    assert "v1 → v2" in compared

    # one-click rollback publishes version 1 again as version 3, audited as a rollback
    v1_hash = loom.store.versions("vacation")[0]["hash"]
    response = ann.post(f"{NEW}/history/1/rollback", {}, token_from=f"{NEW}/history")
    assert response.status_code == 302
    versions = loom.store.versions("vacation")
    assert [(v["number"], v["rollback_of"]) for v in versions] == [(1, None), (2, None), (3, 1)]
    assert versions[2]["hash"] == v1_hash and versions[2]["author"] == "ann"
    assert "reason" not in loom.live["vacation"].app.entities["request"].fields
    rollbacks = [a for a in audit_actions(loom) if a[0] == "rollback"]
    assert len(rollbacks) == 1 and rollbacks[0][1] == "ann"
    assert rollbacks[0][2]["rollback_of"] == 1 and rollbacks[0][2]["version"] == 3
    actions = [a[0] for a in audit_actions(loom)]
    assert actions.count("publish") == 2 and "draft.create" in actions and "draft.save" in actions
    assert "rollback to v1" in html(ann.get(f"{NEW}/history"))


@pytest.mark.parametrize("designer_loom", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_publish_and_rollback_on_each_database(designer_loom, ann):
    create_vacation(ann)
    add_request_entity(ann)
    for n, text in enumerate((REQUEST_OK, REQUEST_OK + "  reason: {type: text}\n"), start=1):
        assert save_raw(ann, "entities/request.yaml", text).status_code == 302
        page = html(ann.get(f"{NEW}/publish"))
        response = ann.post(f"{NEW}/publish", {"comment": f"v{n}", "revision": revision_of(page)},
                            token_from=f"{NEW}/publish")
        assert response.status_code == 302, html(response)
    created = designer_loom.records.create("vacation", "request", {"employee": "Ivanova", "days": 14, "reason": "sea"})
    assert ann.post(f"{NEW}/history/1/rollback", {}, token_from=f"{NEW}/history").status_code == 302
    assert designer_loom.store.versions("vacation")[-1]["rollback_of"] == 1
    record = designer_loom.records.get("vacation", "request", created["id"])
    assert record["employee"] == "Ivanova" and "reason" not in record  # retired, not dropped
    assert "rollback" in [a[0] for a in audit_actions(designer_loom)]


def test_publish_refuses_a_stale_draft_revision(designer_loom, ann, bob):
    create_vacation(ann)
    add_request_entity(ann)
    assert save_raw(ann, "entities/request.yaml", REQUEST_OK).status_code == 302
    page = html(ann.get(f"{NEW}/publish"))
    assert save_raw(bob, "entities/request.yaml", REQUEST_OK + "  note: {type: text}\n").status_code == 302
    response = ann.post(f"{NEW}/publish", {"comment": "go", "revision": revision_of(page)}, token_from=f"{NEW}/publish")
    assert response.status_code == 409 and "bob" in html(response)
    assert designer_loom.store.draft("vacation")["current_version"] is None


def test_two_analysts_on_one_revision_second_save_conflicts_and_keeps_text(designer_loom, ann, bob):
    create_vacation(ann)
    url = f"{NEW}/raw/app.yaml"
    ann_page, bob_page = html(ann.get(url)), html(bob.get(url))
    assert revision_of(ann_page) == revision_of(bob_page)
    ann_text = "name: vacation\ntitle: {ru: Отпуска, en: Vacation requests}\n"
    bob_text = "name: vacation\ntitle: {ru: Отпуска, en: Holidays}\n"
    assert ann.post(url, {"text": ann_text, "revision": revision_of(ann_page)}).status_code == 302
    response = bob.post(url, {"text": bob_text, "revision": revision_of(bob_page)})
    assert response.status_code == 409
    page = html(response)
    assert 'id="conflict"' in page and "ann" in page and "revision 2" in page and "revision 1" in page
    assert textarea(page) == bob_text  # nothing of bob's is lost
    assert designer_loom.store.draft("vacation")["draft"]["app"]["title"]["en"] == "Vacation requests"


def test_add_script_and_sections_give_a_valid_draft(designer_loom, ann):
    create_vacation(ann)
    add_request_entity(ann)
    page = html(ann.get(f"{NEW}/"))
    response = ann.post(f"{NEW}/scripts", {"file": "checks", "revision": revision_of(page)}, token_from=f"{NEW}/")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{NEW}/scripts/checks.py")
    for kind in ("routing", "sla", "schedules", "notifications", "portal", "reports", "approvals"):
        page = html(ann.get(f"{NEW}/"))
        assert f'<option value="{kind}">' in page
        response = ann.post(f"{NEW}/sections", {"kind": kind, "revision": revision_of(page)}, token_from=f"{NEW}/")
        assert response.status_code == 302 and response.headers["Location"].endswith(f"{NEW}/sections/{kind}")
    doc = designer_loom.store.draft("vacation")["draft"]
    assert set(doc) >= {"routing", "sla", "schedules", "notifications", "portal", "reports", "approvals"}
    assert "checks.py" in doc["scripts"]
    page = html(ann.get(f"{NEW}/validate"))
    assert 'id="problems"' not in page, page
    page = html(ann.get(f"{NEW}/"))
    for kind in ("routing", "sla", "schedules", "notifications", "portal", "reports", "approvals"):
        assert f'<option value="{kind}">' not in page  # nothing of the platform's left to add
    assert 'id="add-section-form"' not in page or '<option value="extensions/' in page  # only plugins' kinds


def test_raw_view_creates_and_removes_items(designer_loom, ann):
    create_vacation(ann)
    add_request_entity(ann)
    page = html(ann.get(f"{NEW}/raw/fixtures/request.yaml"))
    assert 'id="new-item"' in page
    assert save_raw(ann, "fixtures/request.yaml", "- {name: Sample}\n").status_code == 302
    assert designer_loom.store.draft("vacation")["draft"]["fixtures"] == {"request": [{"name": "Sample"}]}
    page = html(ann.get(f"{NEW}/raw/fixtures/request.yaml"))
    response = ann.post(f"{NEW}/raw/fixtures/request.yaml/delete", {"revision": revision_of(page)},
                        token_from=f"{NEW}/raw/fixtures/request.yaml")
    assert response.status_code == 302
    assert designer_loom.store.draft("vacation")["draft"]["fixtures"] == {}
    assert ann.get(f"{NEW}/raw/nothing.txt").status_code == 404
    assert ann.get("/designer/apps/nobody/").status_code == 404


def test_discard_a_draft(designer_loom, ann):
    create_vacation(ann)
    add_request_entity(ann)
    assert save_raw(ann, "entities/request.yaml", REQUEST_OK).status_code == 302
    page = html(ann.get(f"{NEW}/publish"))
    ann.post(f"{NEW}/publish", {"comment": "v1", "revision": revision_of(page)}, token_from=f"{NEW}/publish")
    assert save_raw(ann, "entities/request.yaml", REQUEST_OK + "  x: {type: text}\n").status_code == 302
    page = html(ann.get(f"{NEW}/"))
    assert "draft changed" in page
    response = ann.post(f"{NEW}/discard", {"revision": revision_of(page)}, token_from=f"{NEW}/")
    assert response.status_code == 302
    state = designer_loom.store.draft("vacation")
    assert state["draft"] is None and state["current_version"] == 1
    assert "discard" in " ".join(a[0] for a in audit_actions(designer_loom))

    # an app that was never published exists only as its draft: discarding removes it
    ann.post("/designer/apps", {"name": "scratch", "title_en": "Scratch"}, token_from="/designer/")
    page = html(ann.get("/designer/apps/scratch/"))
    response = ann.post("/designer/apps/scratch/discard", {"revision": revision_of(page)},
                        token_from="/designer/apps/scratch/")
    assert response.headers["Location"].endswith("/designer/")
    assert ann.get("/designer/apps/scratch/").status_code == 404


def test_create_app_refuses_bad_names_and_duplicates(designer_loom, ann):
    response = ann.post("/designer/apps", {"name": "Bad Name", "title_en": "X"}, token_from="/designer/")
    assert response.status_code == 422 and "lower_snake_case" in html(response)
    create_vacation(ann)
    response = ann.post("/designer/apps", {"name": "vacation", "title_en": "Again"}, token_from="/designer/")
    assert response.status_code == 409 and "already exists" in html(response)


def test_pages_are_in_russian_by_default(designer_web, users):
    from .conftest import sign_in
    browser = sign_in(designer_web, "ann", lang="ru")
    page = html(browser.get("/designer/"))
    assert "Новое приложение" in page and "Импорт папки приложения" in page
    create_vacation(browser)
    page = html(browser.get(f"{NEW}/"))
    assert "Добавить сущность" in page and "не опубликовано" in page
