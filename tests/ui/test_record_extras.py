"""Record page extras through the test client: comments with @mentions, attachments,
linked records and the form rules of the metadata."""
from __future__ import annotations

import io
import json
import re

from sqlalchemy import select

from runtime.data import tables as platform

from .conftest import grant
from .test_pages import NEW, make_request, text

R = "/ui/service_desk/request"


def contract(loom, data, code="Д-1"):
    return loom.records.create("service_desk", "contract", {
        "code": code, "organization": data["organization"]["id"], "department": data["department"]["id"],
        "valid_from": "2024-01-01", "valid_to": "2025-12-31"})


# ---------------------------------------------------------------------- comments
def test_comment_with_mention_notifies_and_escapes(signed_in, service_desk, data):
    boss = service_desk.accounts.create_user("boss", "boss-pass-1", full_name="Борис Начальников", roles=["service_desk:agent"])
    boss_id = boss
    req = make_request(service_desk, data)[0]
    page = f"{R}/{req['id']}"
    r = signed_in.post(f"{page}/comments", {"body": "@boss посмотрите <script>alert(1)</script> и @nobody"},
                       token_from=page)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"{page}#comments")
    html = signed_in.get(page).get_data(as_text=True)
    assert '<span class="mention">@boss</span>' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<span class="mention">@nobody</span>' not in html  # not a user: plain text
    assert "комментарий" in text(signed_in.get(page))  # in the history too
    n, c = platform.notification, platform.comment
    with service_desk.engine.connect() as conn:
        notes = conn.execute(select(n).where(n.c.user_id == boss_id)).mappings().all()
        stored = conn.execute(select(c)).mappings().one()
    assert len(notes) == 1 and (notes[0]["app"], notes[0]["entity"], notes[0]["record_id"]) == \
        ("service_desk", "request", req["id"])
    assert stored["mentions"] == [boss_id]
    r = signed_in.post(f"{page}/comments", {"body": "   "}, token_from=page)
    assert "обязательное поле" in text(signed_in.get(page))


def test_comment_needs_csrf_and_read_access(signed_in, service_desk, data):
    req = make_request(service_desk, data)[0]
    assert signed_in.http.post(f"{R}/{req['id']}/comments", data={"body": "x"}).status_code == 400
    r = signed_in.post(f"{R}/999999/comments", {"body": "x"}, token_from=f"{R}/{req['id']}")
    assert r.status_code == 404


# ---------------------------------------------------------------------- attachments
def test_upload_and_download_through_the_ui(signed_in, service_desk, data):
    req = make_request(service_desk, data)[0]
    page = f"{R}/{req['id']}"
    r = signed_in.post(f"{page}/files/attachments", {"file": (io.BytesIO(b"log line\n"), "log.txt")},
                       token_from=page, content_type="multipart/form-data")
    assert r.status_code == 302
    html = signed_in.get(page).get_data(as_text=True)
    assert "Загружено: log.txt" in html
    link = re.search(r'href="(/ui/service_desk/request/\d+/files/\d+)"', html).group(1)
    got = signed_in.get(link)
    assert got.status_code == 200 and got.data == b"log line\n"
    assert "log.txt" in got.headers["Content-Disposition"]
    other = make_request(service_desk, data)[0]  # the file is not reachable through another record
    assert signed_in.get(link.replace(f"/{req['id']}/", f"/{other['id']}/")).status_code == 404


def test_wrong_file_type_is_refused_with_a_message(signed_in, service_desk, data):
    grant(service_desk, "agent", "dispatcher")  # only dispatchers edit contracts
    ctr = contract(service_desk, data)
    page = f"/ui/service_desk/contract/{ctr['id']}"
    r = signed_in.post(f"{page}/files/scan", {"file": (io.BytesIO(b"MZ"), "virus.exe")},
                       token_from=page, content_type="multipart/form-data")
    assert r.status_code == 302
    body = text(signed_in.get(page))
    assert "Не загружено" in body and "virus.exe: допускаются только файлы pdf, jpg, png" in body
    with service_desk.engine.connect() as conn:
        assert conn.execute(select(platform.attachment)).first() is None
    r = signed_in.post(f"{page}/files/scan", {}, token_from=page, content_type="multipart/form-data")
    assert "Выберите файл" in text(signed_in.get(page))


def test_download_needs_login(browser, service_desk, data):
    assert browser.get(f"{R}/1/files/1").status_code == 302


# ---------------------------------------------------------------------- linked records
def test_linked_records_on_an_organisation_page(signed_in, service_desk, data):
    make_request(service_desk, data, n=12)
    contract(service_desk, data, code="Д-77")
    org = data["organization"]["id"]
    r = signed_in.get(f"/ui/service_desk/organization/{org}")
    html = r.get_data(as_text=True)
    linked = re.search(r'<section class="section linked".*?</section>', html, re.S).group(0)
    body = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", linked))
    assert "Связанные записи" in body and "Заявки" in body and "Договоры" in body
    assert "Д-77" in body and "Обращение номер 011" in body
    assert "Обращение номер 000" not in body  # top 10, newest first
    assert f'href="/ui/service_desk/request?organization={org}"' in linked
    assert "более 10" in body
    # the client's timeline (its own section) lists every request and the contract in one list
    timeline = re.search(r'<section class="section timeline-section".*?</section>', html, re.S).group(0)
    assert timeline.count('data-entity="request"') == 12 and timeline.count('data-entity="contract"') == 1
    r = signed_in.get(f"/ui/service_desk/organization/{data['organization2']['id']}")
    assert "Связанные записи" not in text(r)
    assert signed_in.get(f"/ui/service_desk/request?organization={org}").status_code == 200


def test_the_timeline_page_goes_further_back_page_by_page(signed_in, service_desk, data):
    """The record page shows the timeline's first page; "Раньше" leads to its own page, which goes
    further back until every entry was shown once (docs/metadata.md, "Timeline")."""
    doc = service_desk.store.document("service_desk")
    doc["entities"]["organization"]["timeline"]["page_size"] = 5
    service_desk.store.publish(doc, author="tester")
    make_request(service_desk, data, n=12)
    contract(service_desk, data, code="Д-77")
    org = data["organization"]["id"]
    html = signed_in.get(f"/ui/service_desk/organization/{org}").get_data(as_text=True)
    section = re.search(r'<section class="section timeline-section" id="timeline">.*?</section>', html, re.S).group(0)
    rows = re.findall(r'<tr data-entity="(\w+)" data-id="(\d+)"', section)
    assert len(rows) == 5 and "История работы с клиентом" in section
    link = re.search(r'id="timeline-more" href="([^"]+)"', section)
    while link:
        page = signed_in.get(link.group(1).replace("&amp;", "&"))
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert "Самые новые" in body  # back to the first page
        found = re.findall(r'<tr data-entity="(\w+)" data-id="(\d+)"', body)
        assert 0 < len(found) <= 5
        rows += found
        link = re.search(r'id="timeline-more" href="([^"]+)"', body)
    assert len(rows) == len(set(rows)) == 13
    assert rows[-1][0] == "contract"  # valid from 2024: the oldest
    assert signed_in.get(f"/ui/service_desk/organization/{org}/timeline?after=nonsense").status_code in (400, 422)


# ---------------------------------------------------------------------- form rules
def _phone_box(html: str) -> str:
    return re.search(r'<div class="field[^"]*" data-field="requester_phone"[^>]*>', html).group(0)


def test_form_rule_hides_and_requires_the_phone(signed_in, service_desk, data):
    new = signed_in.get(NEW).get_data(as_text=True)
    assert "hidden" in _phone_box(new)  # channel defaults to portal
    assert 'hx-post="/ui/service_desk/request/rules"' in new
    base = {"subject": "Звонок по телефону", "description": "Описание", "organization": data["organization"]["id"],
            "module": data["module"]["id"], "priority": "3"}
    r = signed_in.post(NEW, {**base, "channel": "phone"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "hidden" not in _phone_box(html)
    assert re.search(r'id="err-requester_phone">обязательное поле', html)
    r = signed_in.post(NEW, {**base, "channel": "phone", "requester_phone": "+7 343 123-45-67"})
    assert r.status_code == 302
    rid = int(r.headers["Location"].rsplit("/", 1)[1])
    edit = signed_in.get(f"{R}/{rid}/edit").get_data(as_text=True)
    assert "hidden" not in _phone_box(edit)
    r = signed_in.post(NEW, {**base, "channel": "email"})  # no phone needed
    assert r.status_code == 302
    rid2 = int(r.headers["Location"].rsplit("/", 1)[1])
    page = signed_in.get(f"{R}/{rid2}").get_data(as_text=True)
    assert re.search(r'<div class="value[^"]*" hidden><dt>Телефон заявителя', page)
    # editing: switching the channel to phone requires the phone on save
    version = service_desk.records.get("service_desk", "request", rid2)["row_version"]
    r = signed_in.post(f"{R}/{rid2}/edit", {**base, "channel": "phone", "row_version": str(version)})
    assert r.status_code == 422 and "err-requester_phone" in r.get_data(as_text=True)


def test_rules_endpoint_reevaluates_on_change(signed_in, service_desk, data):
    token_page = NEW
    r = signed_in.post(f"{R}/rules", {"channel": "phone"}, token_from=token_page)
    assert r.status_code == 200
    state = json.loads(r.headers["HX-Trigger"])["loom-rules"]
    assert state["fields"]["requester_phone"] == {"visible": True, "required": True, "readonly": False}
    r = signed_in.post(f"{R}/rules", {"channel": "portal"}, token_from=token_page)
    state = json.loads(r.headers["HX-Trigger"])["loom-rules"]
    assert state["fields"]["requester_phone"]["visible"] is False


# ---------------------------------------------------------------------- deleting comments and files
def _delete_forms(html: str, kind: str) -> list[str]:
    return re.findall(rf'action="([^"]+/{kind}/\d+/delete)"', html)


def _audit(loom, action: str) -> list:
    a = platform.audit
    with loom.engine.connect() as conn:
        return conn.execute(select(a).where(a.c.action == action)).mappings().all()


def test_deleting_ones_own_comment(signed_in, browser, service_desk, data):
    from runtime.data.records import Actor
    req = make_request(service_desk, data)[0]
    page = f"{R}/{req['id']}"
    signed_in.post(f"{page}/comments", {"body": "Мой комментарий"}, token_from=page)
    colleague_id = service_desk.accounts.create_user("colleague", "colleague-pass-1", roles=["service_desk:agent"])
    from runtime.data import comments
    theirs = comments.add(service_desk, "service_desk", "request", req["id"], "Чужой комментарий",
                          Actor(colleague_id, "colleague", ("service_desk:agent",)))
    html = signed_in.get(page).get_data(as_text=True)
    forms = _delete_forms(html, "comments")
    assert len(forms) == 1 and f"/comments/{theirs['id']}/" not in forms[0]  # only one's own
    mine = forms[0]

    assert signed_in.http.post(mine).status_code == 400  # no CSRF token
    refused = signed_in.post(f"{page}/comments/{theirs['id']}/delete", token_from=page)
    assert refused.status_code == 403
    r = signed_in.post(mine, token_from=page)
    assert r.status_code == 302 and r.headers["Location"].endswith("#comments")
    body = text(signed_in.get(page))
    assert "Комментарий удалён." in body and "Мой комментарий" not in body and "Чужой комментарий" in body
    assert "комментарий удалён" in body  # in the history
    [entry] = _audit(service_desk, "comment_delete")
    assert entry["before"]["text"] == "Мой комментарий" and entry["username"] == "agent"
    assert signed_in.post(mine, token_from=page).status_code == 404  # gone already


def test_an_administrator_may_delete_any_comment(ui_app, service_desk, data):
    from .conftest import Browser
    req = make_request(service_desk, data)[0]
    page = f"{R}/{req['id']}"
    service_desk.accounts.create_user("root", "root-pass-1", is_admin=True)
    from runtime.data import comments
    from runtime.data.records import Actor
    uid = service_desk.accounts.create_user("writer", None, roles=["service_desk:agent"])
    theirs = comments.add(service_desk, "service_desk", "request", req["id"], "Лишнее", Actor(uid, "writer", ("service_desk:agent",)))
    admin = Browser(ui_app.test_client())
    assert admin.login("root", "root-pass-1").status_code == 302
    assert _delete_forms(admin.get(page).get_data(as_text=True), "comments")
    assert admin.post(f"{page}/comments/{theirs['id']}/delete", token_from=page).status_code == 302
    assert "Лишнее" not in text(admin.get(page))


def test_deleting_ones_own_file(signed_in, service_desk, data):
    from runtime.data.files import FileStore
    from runtime.data.records import Actor
    req = make_request(service_desk, data)[0]
    page = f"{R}/{req['id']}"
    signed_in.post(f"{page}/files/attachments", {"file": (io.BytesIO(b"mine\n"), "mine.txt")},
                   token_from=page, content_type="multipart/form-data")
    colleague_id = service_desk.accounts.create_user("colleague", None, roles=["service_desk:agent"])
    theirs = FileStore(service_desk).attach("service_desk", "request", req["id"], "attachments", "theirs.txt",
                                            "text/plain", io.BytesIO(b"theirs\n"),
                                            Actor(colleague_id, "colleague", ("service_desk:agent",)))
    html = signed_in.get(page).get_data(as_text=True)
    forms = _delete_forms(html, "files")
    assert len(forms) == 1 and f"/files/{theirs['id']}/" not in forms[0]
    mine = forms[0]
    download = mine.removesuffix("/delete")

    assert signed_in.http.post(mine).status_code == 400  # no CSRF token
    assert signed_in.post(f"{page}/files/{theirs['id']}/delete", token_from=page).status_code == 403
    other = make_request(service_desk, data)[0]  # not through another record's URL
    assert signed_in.post(mine.replace(f"/{req['id']}/", f"/{other['id']}/"), token_from=page).status_code == 404
    r = signed_in.post(mine, token_from=page)
    assert r.status_code == 302 and r.headers["Location"].endswith("#files")
    body = text(signed_in.get(page))
    assert "Файл удалён: mine.txt" in body and "theirs.txt" in body
    assert "файл удалён: mine.txt" in body  # in the history
    assert signed_in.get(download).status_code == 404
    [entry] = _audit(service_desk, "detach")
    assert entry["before"]["filename"] == "mine.txt" and entry["after"] is None


def test_a_file_cannot_be_deleted_without_the_right_to_update_the_record(signed_in, service_desk, data):
    req = make_request(service_desk, data)[0]
    page = f"{R}/{req['id']}"
    signed_in.post(f"{page}/files/attachments", {"file": (io.BytesIO(b"x"), "x.txt")},
                   token_from=page, content_type="multipart/form-data")
    mine = _delete_forms(signed_in.get(page).get_data(as_text=True), "files")[0]
    with service_desk.engine.connect() as conn:
        uid = conn.execute(select(platform.user.c.id).where(platform.user.c.username == "agent")).scalar_one()
    service_desk.accounts.update_user(uid, roles=["service_desk:client"], organization=f"service_desk.organization:"
                                                                          f"{data['organization']['id']}")
    html = signed_in.get(page).get_data(as_text=True)
    assert "x.txt" in html and not _delete_forms(html, "files")  # still readable, no delete button
    assert signed_in.post(mine, token_from=page).status_code == 403
    assert not _audit(service_desk, "detach")
