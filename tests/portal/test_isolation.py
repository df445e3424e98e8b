"""The isolation matrix: every portal page and endpoint, as a contact of each of two client
organisations and as an anonymous visitor. Rows, fields, files, comments, counts, search and
articles of the other organisation (or internal ones) never reach the page: 0 leaks."""
from __future__ import annotations

import io
import json

import pytest

from .conftest import APP, Client

P = f"/portal/{APP}"
REQUEST_FIELDS = {"id", "subject", "number", "status", "module", "description", "solution", "attachments",
                  "created_at"}
NEVER = ("labor_hours", "hourly_rate", "labor_cost", "organization", "requester_email", "assignee", "SECRET",
         "СЕКРЕТНАЯ", "Внутренний регламент")


def as_user(web, world, i):
    c = Client(web.test_client())
    if i is not None:
        assert c.login(world["users"][i]).status_code == 302
    return c


def no_leak(text: str, other: int, world) -> None:
    for word in NEVER:
        assert word not in text, word
    assert f"организации {other + 1}" not in text
    assert world["secrets"][other] not in text


@pytest.mark.parametrize("me", [0, 1])
def test_a_contact_sees_their_organisations_records_and_nothing_else(web, world, me):
    other = 1 - me
    c = as_user(web, world, me)
    mine, theirs = world["requests"][me]["id"], world["requests"][other]["id"]
    # the list, as HTML and as JSON: one row, the page's fields alone, the right count
    html = c.get(f"{P}/p/requests").get_data(as_text=True)
    no_leak(html, other, world)
    assert f"организации {me + 1}" in html and "Найдено: 1" in html
    data = c.get(f"{P}/p/requests?format=json").get_json()
    assert [r["id"] for r in data["items"]] == [mine] and data["count"] == 1
    assert set(data["items"][0]) == {"id", "subject", "number", "status", "module", "created_at"}
    # a page filter cannot widen the rows
    assert c.get(f"{P}/p/requests?format=json&status=registered&organization={world['orgs'][other]['id']}"
                 ).get_json()["count"] == 1
    # the record: its fields, public comments only, its own file
    r = c.get(f"{P}/p/request/{mine}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    no_leak(html, other, world)
    assert f"Публичный ответ {me + 1}" in html and world["secrets"][me] not in html
    data = c.get(f"{P}/p/request/{mine}?format=json").get_json()
    assert set(data["record"]) == REQUEST_FIELDS
    assert [x["body"] for x in data["comments"]] == [f"Публичный ответ {me + 1}"]
    files = data["record"]["attachments"]
    assert c.get(f"{P}/p/request/{mine}/files/{files[0]['id']}").data == b"png-%d" % me
    # the other organisation's record, its file (also through my record) and its comments: 404
    assert c.get(f"{P}/p/request/{theirs}").status_code == 404
    assert c.get(f"{P}/p/request/{theirs}?format=json").status_code == 404
    their_file = world["desk"].records.get(APP, "request", theirs)["attachments"][0]["id"]
    assert c.get(f"{P}/p/request/{theirs}/files/{their_file}").status_code == 404
    assert c.get(f"{P}/p/request/{mine}/files/{their_file}").status_code == 404
    assert c.post(f"{P}/p/request/{theirs}/comment", {"body": "чужое"}, token_from=f"{P}/p/requests"
                  ).status_code == 404
    assert c.post(f"{P}/p/request/{theirs}/do/confirm", {}, token_from=f"{P}/p/requests").status_code in (403, 404)


@pytest.mark.parametrize("me", [0, 1, None])
def test_the_knowledge_base_shows_published_articles_alone(web, world, me):
    c = as_user(web, world, me)
    for url in (f"{P}/p/kb", f"{P}/p/kb?q=пароля", f"{P}/p/kb?q=паролей&category=access"):
        html = c.get(url).get_data(as_text=True)
        assert "Как сбросить пароль" in html, url
        no_leak(html, 0, world) if me != 0 else no_leak(html, 1, world)
    data = c.get(f"{P}/p/kb?format=json&q=пароль").get_json()
    assert data["count"] == 1 and set(data["items"][0]) == {"id", "title", "kind", "category"}
    internal = world["desk"].records.find(APP, "article", {"published": "false"})[0]["id"]
    assert c.get(f"{P}/p/article/{internal}").status_code == 404
    public = data["items"][0]["id"]
    html = c.get(f"{P}/p/article/{public}").get_data(as_text=True)
    assert "Забыли пароль" in html and "helpful_yes" not in html


@pytest.mark.parametrize("me", [0, 1])
def test_suggestions_while_typing_name_published_articles(web, world, me):
    c = as_user(web, world, me)
    found = c.get(f"{P}/p/new_request/suggest?q=не помню пароля").get_json()
    assert [x["title"] for x in found] == ["Как сбросить пароль"]
    assert "Внутренний" not in json.dumps(found, ensure_ascii=False)


def test_an_anonymous_visitor_reaches_only_the_anonymous_pages(web, world):
    c = as_user(web, world, None)
    mine = world["requests"][0]["id"]
    for url in (f"{P}/p/requests", f"{P}/p/request/{mine}", f"{P}/p/new_request", f"{P}/p/requests?format=json",
                f"{P}/p/request/{mine}?format=json", f"{P}/invite"):
        r = c.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"], url
    assert c.get(f"{P}/p/new_request/suggest?q=пароль").get_json() == []
    assert c.get(f"{P}/p/access").status_code == 200


def test_a_form_fills_the_organisation_itself_and_saves_the_file(web, world, desk):
    c = as_user(web, world, 0)
    other_org = world["orgs"][1]["id"]
    r = c.post(f"{P}/p/new_request", {
        "subject": "Не работает печать из СЭД", "description": "Ошибка при печати",
        "module": str(world["module"]["id"]), "organization": str(other_org), "labor_hours": "99",
        "attachments": (io.BytesIO(b"shot"), "shot.png")}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)
    saved = desk.records.find(APP, "request", {"subject": "Не работает печать из СЭД"})[0]
    full = desk.records.get(APP, "request", saved["id"])
    assert full["organization"] == world["orgs"][0]["id"] and full["labor_hours"] is None
    assert full["requester_email"] == world["users"][0] and full["channel"] == "portal"
    assert [f["filename"] for f in full["attachments"]] == ["shot.png"]
    # the other organisation's contact does not see it
    assert as_user(web, world, 1).get(f"{P}/p/request/{saved['id']}").status_code == 404


INTERNAL = ["/", "/ui/", f"/ui/{APP}/request", f"/ui/{APP}/request/1", "/designer/", "/ui/admin/users", "/ui/admin/users/1", "/ui/admin/groups",
            "/ui/admin/audit", "/api/v1/apps", f"/api/v1/{APP}/request", "/api/docs", "/api/openapi.json",
            f"/ui/{APP}/request/1/comments"]


@pytest.mark.parametrize("me", [0, 1])
def test_internal_urls_answer_external_users_403_or_404(web, world, me):
    c = as_user(web, world, me)
    for url in INTERNAL:
        r = c.get(url)
        if url in ("/", "/ui/"):  # the front pages send them to their portal
            assert r.status_code == 302 and r.headers["Location"].startswith(f"{P}/"), url
            continue
        assert r.status_code in (403, 404), (url, r.status_code)
    assert c.post(f"/ui/{APP}/request/1/comments", data={"body": "x"}).status_code in (400, 403, 404)
    token = c.http.post("/api/v1/auth/token", json={"username": world["users"][me], "password": "portal-pass-1"})
    assert token.status_code == 403


def test_an_external_users_old_token_is_refused(web, world, desk):
    user = desk.accounts.user(email=world["users"][0])
    secret = desk.accounts.issue_token(user["id"])
    r = web.test_client().get("/api/v1/apps", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401
