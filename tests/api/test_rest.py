"""The generated REST API over real HTTP handling (Flask test client), on SQLite and PostgreSQL."""
import io
import threading

URL = "/api/v1/service_desk/request"


def new_request(seeded, **extra):
    return {"subject": "Не открываются карточки", "description": "Ошибка 500 при открытии карточки документа",
            "organization": seeded["organization"]["id"], "module": seeded["module"]["id"], **extra}


def test_requires_a_token(app):
    client = app.test_client()
    response = client.get(URL)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "Bearer" in response.get_json()["detail"]
    assert client.get(URL, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_token_from_password(app, service_desk):
    service_desk.accounts.create_user("ivanov", "correct horse", roles=["service_desk:agent"])
    client = app.test_client()
    bad = client.post("/api/v1/auth/token", json={"username": "ivanov", "password": "nope"})
    assert bad.status_code == 401
    good = client.post("/api/v1/auth/token", json={"username": "ivanov", "password": "correct horse"})
    assert good.status_code == 201
    token = good.get_json()["token"]
    assert client.get(URL, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_create_get_update_delete_restore(admin, seeded):
    created = admin.post(URL, new_request(seeded, labor_hours="2.5", hourly_rate="1200",
                                          works=[{"work": "Диагностика", "hours": "1.5"}]))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["number"] == "REQ-000001"
    assert body["status"] == "registered"
    assert body["priority"] == "3"  # default from metadata
    assert body["labor_cost"] == "3000.00"  # computed field
    assert body["works"][0]["work"] == "Диагностика"
    assert created.headers["Location"] == f"{URL}/{body['id']}"

    got = admin.get(f"{URL}/{body['id']}")
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'

    changed = admin.patch(f"{URL}/{body['id']}", {"priority": "1", "labor_hours": "3"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["row_version"] == 2
    assert changed.get_json()["labor_cost"] == "3600.00"

    assert admin.delete(f"{URL}/{body['id']}").status_code == 200
    assert admin.get(f"{URL}/{body['id']}").status_code == 404
    assert admin.post(f"{URL}/{body['id']}/restore").status_code == 200
    assert admin.get(f"{URL}/{body['id']}").get_json()["priority"] == "1"


def test_validation_problem_names_every_field(admin, seeded):
    response = admin.post(URL, {"subject": "abc", "priority": "9", "organization": 999, "colour": "red"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert "at least 5 characters" in fields["subject"]
    assert "not one of" in fields["priority"]
    assert "no organization with id 999" in fields["organization"]
    assert "unknown field" in fields["colour"]
    assert fields["description"] == "is required"
    assert admin.get(URL + "?count=exact").get_json()["count"] == 0  # nothing was written


def test_status_changes_only_through_transitions(admin, seeded):
    rec = admin.post(URL, new_request(seeded)).get_json()
    response = admin.patch(f"{URL}/{rec['id']}", {"status": "done", "row_version": 1})
    assert response.status_code == 422
    assert "transition" in response.get_json()["errors"][0]["message"]


def test_update_without_version_is_refused(admin, seeded):
    rec = admin.post(URL, new_request(seeded)).get_json()
    response = admin.patch(f"{URL}/{rec['id']}", {"subject": "Новая тема заявки"})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "row_version"


def test_concurrent_updates_exactly_one_wins(admin, seeded, app, service_desk):
    rec = admin.post(URL, new_request(seeded)).get_json()
    results = []
    barrier = threading.Barrier(2)

    def edit(subject):
        from tests.api.conftest import Client
        client = Client(app.test_client(), admin.token)
        barrier.wait()
        results.append(client.patch(f"{URL}/{rec['id']}", {"subject": subject, "row_version": 1}))

    threads = [threading.Thread(target=edit, args=(f"Правка клиента {i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409]
    conflict = next(r for r in results if r.status_code == 409).get_json()
    winner = next(r for r in results if r.status_code == 200).get_json()
    assert conflict["yours"]["row_version"] == 1
    assert conflict["current"]["row_version"] == 2
    assert conflict["current"]["subject"] == winner["subject"]


def test_list_filters_sort_paging_search_and_views(admin, seeded):
    for i in range(7):
        admin.post(URL, new_request(seeded, subject=f"Заявка номер {i}", priority=str(1 + i % 4),
                                    description="Сбой печати" if i % 2 else "Ошибка в карточке документа"))
    page = admin.get(URL + "?priority__in=1,2&sort=priority,-id&limit=2&count=exact").get_json()
    assert page["count"] == 4 and page["count_exact"] is True
    seen = [r["number"] for r in page["items"]]
    while page["next"]:
        page = admin.get(URL + f"?priority__in=1,2&sort=priority,-id&limit=2&after={page['next']}").get_json()
        seen += [r["number"] for r in page["items"]]
    assert len(seen) == 4 and len(set(seen)) == 4
    found = admin.get(URL + "?q=карточке&count=exact").get_json()
    assert found["count"] == 4
    linked = admin.get(URL + "?organization.short_name__contains=минздрав&count=exact").get_json()
    assert linked["count"] == 7
    view = admin.get(URL + "?view=open&count=exact").get_json()
    assert view["count"] == 7
    assert admin.get(URL + "?view=nope").status_code == 404
    bad = admin.get(URL + "?priority__like=1")
    assert bad.status_code == 400 and "unknown filter operator" in bad.get_json()["detail"]
    bad_field = admin.get(URL + "?colour=red")
    assert bad_field.status_code == 400 and "colour" in bad_field.get_json()["detail"]


def test_file_upload_limits_and_download(admin, seeded):
    rec = admin.post(URL, new_request(seeded)).get_json()
    upload = admin.http.post(f"{URL}/{rec['id']}/files/attachments",
                             data={"file": (io.BytesIO("скриншот".encode()), "screen.png")},
                             headers={"Authorization": f"Bearer {admin.token}"}, content_type="multipart/form-data")
    assert upload.status_code == 201, upload.get_json()
    meta = upload.get_json()
    record = admin.get(f"{URL}/{rec['id']}").get_json()
    assert record["attachments"][0]["filename"] == "screen.png"
    download = admin.get(f"/api/v1/files/{meta['id']}")
    assert download.status_code == 200 and download.data == "скриншот".encode()

    contract = admin.post("/api/v1/service_desk/contract", {
        "code": "ГК-1", "organization": seeded["organization"]["id"], "department": seeded["department"]["id"],
        "valid_from": "2026-01-01", "valid_to": "2026-12-31"}).get_json()
    wrong_type = admin.http.post(f"/api/v1/service_desk/contract/{contract['id']}/files/scan",
                                 data={"file": (io.BytesIO(b"MZ"), "virus.exe")},
                                 headers={"Authorization": f"Bearer {admin.token}"}, content_type="multipart/form-data")
    assert wrong_type.status_code == 422
    assert "only pdf, jpg, png" in wrong_type.get_json()["errors"][0]["message"]


def test_openapi_document_describes_entities(admin):
    spec = admin.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    request_schema = spec["components"]["schemas"]["service_desk.request"]
    assert request_schema["properties"]["priority"]["enum"] == ["1", "2", "3", "4", None]  # nullable
    assert "subject" in spec["components"]["schemas"]["service_desk.request.new"]["required"]
    assert "/api/v1/service_desk/request/{record_id}" in spec["paths"]
    ui = admin.http.get("/api/docs/")
    assert b"swagger-ui-bundle.js" in ui.data
    assert admin.http.get("/api/docs/swagger-ui-bundle.js").status_code == 200


def test_permissions_from_metadata(app, service_desk):
    doc = service_desk.store.document("service_desk")
    doc["entities"]["contract"]["permissions"] = {"read": ["agent", "dispatcher"], "create": ["dispatcher"]}
    service_desk.store.publish(doc, author="tester")
    uid = service_desk.accounts.create_user("agent1", "pw-agent-1", roles=["service_desk:agent"])
    from tests.api.conftest import Client
    agent = Client(app.test_client(), service_desk.accounts.issue_token(uid))
    assert agent.get("/api/v1/service_desk/contract").status_code == 200
    denied = agent.post("/api/v1/service_desk/contract", {"code": "X"})
    assert denied.status_code == 403
    assert "dispatcher" in denied.get_json()["detail"]
    uid2 = service_desk.accounts.create_user("client1", "pw-client-1", roles=["service_desk:client"])
    client = Client(app.test_client(), service_desk.accounts.issue_token(uid2))
    assert client.get("/api/v1/service_desk/contract").status_code == 403
    names = [e["name"] for a in client.get("/api/v1/apps").get_json() for e in a["entities"]]
    assert "contract" not in names and "request" in names
