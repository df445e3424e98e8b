"""The designer's preview: the draft app over real HTTP, on a database of its own, with sample records."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select

from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app

PASSWORD = "analyst-pass-1"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PREVIEW = "/designer/apps/vacations/preview"

STAFF = {
    "app": {"name": "staff", "title": {"ru": "Кадры", "en": "Staff"}},
    "entities": {
        "department": {
            "title": {"ru": "Отдел", "en": "Department"},
            "dictionary": True,
            "title_field": "name",
            "fields": {"name": {"type": "string", "title": {"ru": "Название", "en": "Name"}, "required": True}},
        },
    },
    "fixtures": {"department": [{"name": "Бухгалтерия"}, {"name": "Отдел кадров"}]},
}

VACATIONS = {
    "app": {"name": "vacations", "title": {"ru": "Отпуска", "en": "Vacation requests"}, "depends_on": ["staff"],
            "roles": [{"name": "employee", "title": {"ru": "Сотрудник", "en": "Employee"}}]},
    "entities": {
        "leave_type": {
            "title": {"ru": "Вид отпуска", "en": "Leave type"},
            "plural": {"ru": "Виды отпусков", "en": "Leave types"},
            "dictionary": True,
            "title_field": "name",
            "fields": {"name": {"type": "string", "title": {"ru": "Название", "en": "Name"}, "required": True}},
        },
        "vacation": {
            "title": {"ru": "Заявление на отпуск", "en": "Vacation request"},
            "plural": {"ru": "Заявления на отпуск", "en": "Vacation requests"},
            "number": "VAC-{0000}",
            "title_field": "employee",
            "fields": {
                "employee": {"type": "string", "title": {"ru": "Сотрудник", "en": "Employee"}, "required": True,
                             "min_length": 3, "max_length": 100},
                "days": {"type": "integer", "title": {"ru": "Дней", "en": "Days"}, "required": True,
                         "min": 1, "max": 28},
                "starts": {"type": "date", "title": {"ru": "Начало", "en": "Starts"}, "required": True},
                "kind": {"type": "link", "entity": "leave_type", "title": {"ru": "Вид", "en": "Kind"}},
                "department": {"type": "link", "entity": "staff.department",
                               "title": {"ru": "Отдел", "en": "Department"}, "required": True},
                "contact": {"type": "email", "title": {"ru": "Почта", "en": "E-mail"}},
            },
            "statuses": [
                {"name": "new", "title": {"ru": "Новое", "en": "New"}, "category": "open", "initial": True},
                {"name": "approved", "title": {"ru": "Согласовано", "en": "Approved"}, "category": "done"},
                {"name": "rejected", "title": {"ru": "Отклонено", "en": "Rejected"}, "category": "cancelled"},
            ],
            "transitions": [
                {"name": "approve", "title": {"ru": "Согласовать", "en": "Approve"}, "from": "new",
                 "to": "approved"},
                {"name": "reject", "title": {"ru": "Отклонить", "en": "Reject"}, "from": "new", "to": "rejected"},
            ],
        },
    },
    "fixtures": {"leave_type": [{"name": "Ежегодный оплачиваемый"}, {"name": "Без сохранения содержания"}]},
}


def csrf(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def preview_files(home: Path, app: str = "vacations") -> list[Path]:
    folder = home / "preview"
    return sorted(folder.glob(f"{app}-*.sqlite")) if folder.exists() else []


def save_draft(loom, doc: dict) -> int:
    """Store ``doc`` as the next revision of its app's draft (creating the app's draft if needed)."""
    from designer.drafts import Drafts
    drafts = Drafts(loom)
    name = doc["app"]["name"]
    return drafts.save(name, doc, drafts.open(name).revision, "ana")


@pytest.fixture
def main(loom):
    """The live platform: app ``staff`` published with its fixtures, an analyst, an agent,
    and the draft-only app ``vacations``."""
    from runtime.data.fixtures import load_fixtures
    loom.store.publish(STAFF, author="tester")
    load_fixtures(loom, "staff")
    loom.accounts.create_user("ana", PASSWORD, roles=["analyst"])
    loom.accounts.create_user("bob", PASSWORD, roles=["vacations:employee"])
    assert loom.store.create_draft("vacations", VACATIONS, "ana") == 1
    return loom


@pytest.fixture
def web(main, tmp_path):
    app = create_app(Settings(tmp_path, main.database_url), main)
    app.config["TESTING"] = True
    yield app
    registry = app.extensions.get("loom_previews")
    if registry is not None:
        registry.close()


def sign_in(web, username="ana"):
    client = web.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    client.get("/lang/en")  # the tests read English texts
    return client


@pytest.fixture
def analyst(web):
    return sign_in(web)


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:1500])
    return response.get_data(as_text=True)


def live_tables(loom) -> set[str]:
    return set(inspect(loom.engine).get_table_names())


# ---------------------------------------------------------------------- the preview over HTTP
def test_preview_shows_the_draft_with_fixtures_and_generated_samples(analyst, main, tmp_path):
    response = analyst.get(f"{PREVIEW}/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"{PREVIEW}/ui/vacations/")

    html = page(analyst, f"{PREVIEW}/ui/vacations/leave_type")
    assert "Ежегодный оплачиваемый" in html and "Без сохранения содержания" in html  # fixtures
    assert 'id="preview-banner"' in html
    assert "Preview of the draft, revision 1" in html and "nothing here reaches the live app" in html

    html = page(analyst, f"{PREVIEW}/ui/vacations/vacation")
    assert "Сотрудник 1" in html and "Сотрудник 3" in html  # made up from the field types
    assert "VAC-0001" in html
    # links in the page stay inside the preview
    assert f'href="{PREVIEW}/ui/vacations/vacation/new"' in html
    assert f'href="{PREVIEW}/static/' in html
    assert page(analyst, f"{PREVIEW}/static/loom.css")

    [db] = preview_files(tmp_path)
    sandbox = create_engine(f"sqlite:///{db}")
    with sandbox.connect() as c:
        samples = c.execute(select(platform.user.c.username, platform.user.c.is_admin)).all()
        assert samples == [("ana", True)]  # the analyst, an administrator of the preview only
    sandbox.dispose()


LINK = re.compile(r'(?:href|action|src|hx-get|hx-post|hx-put|hx-delete)="(/[^"]*)"')


def test_the_pages_link_inside_the_preview(analyst, main):
    escaped, inside = set(), 0
    for url in ("/ui/vacations/vacation", "/ui/vacations/vacation/1", "/ui/vacations/vacation/1/edit",
                "/ui/vacations/vacation/new", "/ui/vacations/leave_type", "/ui/", "/ui/admin/users"):
        html = page(analyst, PREVIEW + url)
        for link in LINK.findall(html):
            if link.startswith(PREVIEW + "/"):
                inside += 1
            elif link != "/designer/apps/vacations/":  # the banner's way back
                escaped.add(link)
    assert inside > 50
    assert escaped == set()  # an absolute link written by hand would leave the preview for the live app


def test_records_made_in_the_preview_stay_there(analyst, main, tmp_path):
    before = live_tables(main)
    form = page(analyst, f"{PREVIEW}/ui/vacations/vacation/new")
    response = analyst.post(f"{PREVIEW}/ui/vacations/vacation/new", data={
        "csrf_token": csrf(form), "employee": "Иванова Мария", "days": "14", "starts": "2030-07-01",
        "department": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    record_url = response.headers["Location"]
    assert re.fullmatch(rf"{PREVIEW}/ui/vacations/vacation/\d+", record_url)
    html = page(analyst, record_url)
    assert "Иванова Мария" in html and 'data-transition="approve"' in html

    # the live database: no such app, no such table, no such record, nothing audited
    assert "vacations__vacation" not in live_tables(main) and live_tables(main) == before
    assert "vacations" not in main.live
    with main.engine.connect() as c:
        audited = c.execute(select(platform.audit.c.after)).scalars().all()
        versions = c.execute(select(platform.app_version.c.app)).scalars().all()
    assert not any("Иванова" in str(a) for a in audited)
    assert versions == ["staff"]

    # ... while the preview's own database has it
    [db] = preview_files(tmp_path)
    sandbox = create_engine(f"sqlite:///{db}")
    with sandbox.connect() as c:
        assert ("Иванова Мария",) in c.exec_driver_sql("SELECT employee FROM vacations__vacation").all()
    sandbox.dispose()


def test_a_transition_fires_in_the_preview(analyst, main):
    html = page(analyst, f"{PREVIEW}/ui/vacations/vacation/1")
    assert 'data-transition="approve"' in html
    response = analyst.post(f"{PREVIEW}/ui/vacations/vacation/1/transitions/approve",
                            data={"csrf_token": csrf(html), "row_version": "1"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{PREVIEW}/ui/vacations/vacation/1"
    html = page(analyst, f"{PREVIEW}/ui/vacations/vacation/1")
    assert re.search(r'id="status">Approved<', html), html[:3000]
    assert 'data-transition="approve"' not in html  # no transition leaves "approved"


def test_a_form_without_the_preview_token_is_refused(analyst, main, tmp_path):
    page(analyst, f"{PREVIEW}/ui/vacations/vacation/new")  # the preview session exists
    main_token = csrf(page(analyst, "/designer/"))  # a token of the main app's session is no good here
    response = analyst.post(f"{PREVIEW}/ui/vacations/vacation/new", data={
        "csrf_token": main_token, "employee": "Петров Пётр", "days": "3", "starts": "2030-07-01",
        "department": "1"})
    assert response.status_code == 400
    [db] = preview_files(tmp_path)
    sandbox = create_engine(f"sqlite:///{db}")
    with sandbox.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM vacations__vacation WHERE employee LIKE 'Петров%'").scalar() == 0
    sandbox.dispose()


def test_a_draft_of_a_live_app_is_migrated_in_the_preview_only(analyst, main, tmp_path):
    changed = copy.deepcopy(STAFF)
    changed["entities"]["department"]["fields"]["code"] = {"type": "string", "title": {"ru": "Код", "en": "Code"}}
    save_draft(main, changed)
    html = page(analyst, "/designer/apps/staff/preview/ui/staff/department/new")
    assert 'name="code"' in html and 'id="preview-banner"' in html
    columns = {c["name"] for c in inspect(main.engine).get_columns("staff__department")}
    assert "code" not in columns  # the live table is untouched
    assert main.live["staff"].version == 1
    assert [p.name.split("-")[0] for p in preview_files(tmp_path, "staff")] == ["staff"]


# ---------------------------------------------------------------------- problems, rebuilding, who may
def test_a_draft_with_problems_lists_them_with_editor_links_instead_of_a_preview(analyst, main, tmp_path):
    broken = copy.deepcopy(VACATIONS)
    broken["entities"]["vacation"]["transitions"][0]["to"] = "archived"
    save_draft(main, broken)
    response = analyst.get(f"{PREVIEW}/ui/vacations/vacation")
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'id="preview-problems"' in html and "archived" in html
    assert 'href="/designer/apps/vacations/entities/vacation/workflow#transitions' in html
    assert 'id="preview-banner"' not in html and "Сотрудник 1" not in html
    assert preview_files(tmp_path) == []  # nothing was built


def test_same_content_reuses_the_preview_and_new_content_builds_a_fresh_one(analyst, main, tmp_path):
    form = page(analyst, f"{PREVIEW}/ui/vacations/vacation/new")
    analyst.post(f"{PREVIEW}/ui/vacations/vacation/new", data={
        "csrf_token": csrf(form), "employee": "Сидоров Иван", "days": "7", "starts": "2030-08-01",
        "department": "2"})
    [first] = preview_files(tmp_path)

    save_draft(main, VACATIONS)  # a new revision, the same content
    html = page(analyst, f"{PREVIEW}/ui/vacations/vacation")
    assert "Сидоров Иван" in html and "revision 2" in html
    assert preview_files(tmp_path) == [first]

    changed = copy.deepcopy(VACATIONS)
    changed["entities"]["vacation"]["fields"]["comment"] = {"type": "text", "title": {"ru": "Комментарий",
                                                                                      "en": "Comment"}}
    save_draft(main, changed)
    html = page(analyst, f"{PREVIEW}/ui/vacations/vacation/new")
    assert 'name="comment"' in html and "revision 3" in html
    [second] = preview_files(tmp_path)
    assert second != first and not first.exists()
    assert "Сидоров Иван" not in page(analyst, f"{PREVIEW}/ui/vacations/vacation")


def test_the_preview_is_for_analysts_only(web, main, tmp_path):
    employee = sign_in(web, "bob")
    assert employee.get(f"{PREVIEW}/").status_code == 403
    assert employee.get(f"{PREVIEW}/ui/vacations/vacation").status_code == 403
    anonymous = web.test_client()
    response = anonymous.get(f"{PREVIEW}/ui/vacations/vacation")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert preview_files(tmp_path) == []


def test_the_preview_session_is_not_the_main_session(analyst, web, main):
    page(analyst, f"{PREVIEW}/ui/vacations/vacation")
    cookie = analyst.get_cookie("loom_preview", path=PREVIEW)
    assert cookie is not None and cookie.path == PREVIEW
    assert analyst.get_cookie("loom_preview", path="/") is None  # not sent to the main app

    # the same secret signs both, yet a preview cookie is no session of the main app
    stranger = web.test_client()
    stranger.set_cookie("session", cookie.value)
    response = stranger.get("/ui/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_preview_app_serves_nobody_who_did_not_come_through_the_designer(analyst, web, main):
    page(analyst, f"{PREVIEW}/ui/vacations/vacation")
    registry = web.extensions["loom_previews"]
    preview = registry.ready("vacations", registry.key(main, VACATIONS))
    assert preview is not None
    assert preview.web.test_client().get("/ui/vacations/vacation").status_code == 403
    assert analyst.get(f"{PREVIEW}/designer/").status_code == 404  # no designer inside a preview
    assert 'id="nav-designer"' not in page(analyst, f"{PREVIEW}/ui/vacations/vacation")  # nor a link to one
    assert "designer" not in {rule.endpoint.split(".")[0] for rule in preview.web.url_map.iter_rules()}


def test_an_unknown_app_has_no_preview(analyst):
    assert analyst.get("/designer/apps/nosuchapp/preview/").status_code == 404


# ---------------------------------------------------------------------- building, without HTTP
EVERY_TYPE = {
    "app": {"name": "kinds", "title": {"ru": "Типы", "en": "Kinds"}, "depends_on": ["staff"],
            "groups": [{"name": "kinds_team", "title": {"ru": "Команда", "en": "Team"}}]},
    "entities": {
        "thing": {
            "title": {"ru": "Вещь", "en": "Thing"},
            "title_field": "name",
            "fields": {
                "name": {"type": "string", "required": True, "unique": True, "min_length": 12, "max_length": 20},
                "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "note": {"type": "text", "required": True},
                "count": {"type": "integer", "required": True, "min": 5, "max": 7},
                "weight": {"type": "decimal", "required": True, "scale": 3},
                "price": {"type": "money", "required": True, "min": 100},
                "active": {"type": "boolean"},
                "day": {"type": "date", "required": True},
                "at": {"type": "datetime", "required": True},
                "size": {"type": "choice", "required": True, "choices": ["s", "m", "l"]},
                "mail": {"type": "email", "required": True},
                "phone": {"type": "phone", "required": True},
                "team": {"type": "group", "required": True},
                "owner": {"type": "user"},
                "departments": {"type": "multilink", "entity": "staff.department", "required": True},
                "parts": {"type": "table", "required": True,
                          "fields": {"part": {"type": "string", "required": True}, "qty": {"type": "integer"}}},
                "total": {"type": "computed", "expression": "count * 2", "result": "integer"},
                "doc": {"type": "file"},
                "level": {"type": "choice", "choices": ["a", "b"], "default": "b"},
            },
        },
    },
}


@pytest.fixture
def registry(main, tmp_path):
    from designer.preview import Previews
    found = Previews(tmp_path, "secret")
    yield found
    found.close()


def test_samples_are_made_for_every_field_type(registry, main):
    key = registry.key(main, EVERY_TYPE)
    preview = registry.get(main, "kinds", EVERY_TYPE, key, "ana", 1)
    assert preview.notes == []
    rows = preview.loom.records
    things = [rows.get("kinds", "thing", i) for i in (1, 2, 3)]
    assert [t["size"] for t in things] == ["s", "m", "l"]
    assert all(len(t["name"]) >= 12 and 5 <= t["count"] <= 7 and t["level"] == "b" for t in things)
    assert things[0]["parts"] and things[0]["departments"] and things[0]["total"] == things[0]["count"] * 2
    assert {t["name"] for t in things} == {"name 1......", "name 2......", "name 3......"}


def test_broken_fixtures_are_replaced_by_samples_and_named_in_the_banner(registry, main, web, analyst):
    broken = copy.deepcopy(VACATIONS)
    broken["fixtures"]["vacation"] = [{"employee": "Кто-то", "days": 3, "starts": "2030-01-01",
                                       "department": "Нет такого отдела"}]
    save_draft(main, broken)
    html = page(analyst, f"{PREVIEW}/ui/vacations/vacation")
    assert "Some sample records could not be made" in html and "Нет такого отдела" in html
    assert "Сотрудник 1" in html  # made up instead
    assert "Ежегодный" not in html


def test_concurrent_requests_build_one_preview(registry, main, tmp_path):
    import threading
    key = registry.key(main, VACATIONS)
    got, errors = [], []

    def build():
        try:
            got.append(registry.get(main, "vacations", VACATIONS, key, "ana", 1))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and len(got) == 3 and got[0] is got[1] is got[2]
    assert len(preview_files(tmp_path)) == 1
    with got[0].loom.engine.connect() as c:  # built once: the samples are there once
        assert c.exec_driver_sql("SELECT count(*) FROM vacations__vacation").scalar() == 3


def test_a_built_preview_file_is_opened_again_not_rebuilt(registry, main, tmp_path):
    from designer.preview import Previews
    key = registry.key(main, VACATIONS)
    first = registry.get(main, "vacations", VACATIONS, key, "ana", 1)
    first.loom.records.create("vacations", "leave_type", {"name": "Учебный"})
    other = Previews(tmp_path, "secret")  # another process, say
    try:
        again = other.get(main, "vacations", VACATIONS, key, "ana", 1)
        assert again.path == first.path
        with again.loom.reader.connect() as c:
            assert "Учебный" in set(c.exec_driver_sql("SELECT name FROM vacations__leave_type").scalars())
    finally:
        other.close()


def test_an_analyst_who_demoted_themselves_in_the_preview_is_an_administrator_again(analyst, web, main):
    page(analyst, f"{PREVIEW}/ui/vacations/vacation")
    registry = web.extensions["loom_previews"]
    preview = registry.ready("vacations", registry.key(main, VACATIONS))
    preview.loom.accounts.update_user(preview.users["ana"], is_admin=False, is_active=False)
    fresh = sign_in(web)  # a new browser: its preview session is signed in anew
    assert 'id="nav-admin"' in page(fresh, f"{PREVIEW}/ui/vacations/vacation")
    assert preview.loom.accounts.actor_for_id(preview.users["ana"]).is_admin


def test_the_analyst_views_the_preview_as_one_role_and_back(analyst, main):
    doc = copy.deepcopy(VACATIONS)
    doc["app"]["roles"].append({"name": "manager", "title": {"ru": "Руководитель", "en": "Manager"}})
    vacation = doc["entities"]["vacation"]
    vacation["permissions"] = {"read": ["employee", "manager"], "create": ["employee"], "update": ["manager"],
                               "delete": ["manager"], "fields": {"contact": {"hidden": ["employee"]}}}
    for tr in vacation["transitions"]:
        tr["roles"] = ["manager"]
    save_draft(main, doc)
    url = f"{PREVIEW}/ui/vacations/vacation/1"
    html = page(analyst, url)
    assert re.search(r'<option value="admin" selected>Administrator</option>', html)
    assert '<option value="employee">Employee</option>' in html and '<option value="manager">Manager</option>' in html
    assert 'data-transition="approve"' in html and 'data-field="contact"' in html

    def view_as(role, html):
        response = analyst.post(f"{PREVIEW}/_preview/view-as", data={"csrf_token": csrf(html), "role": role,
                                                                     "next": url})
        assert response.status_code == 302 and response.headers["Location"] == url
        return page(analyst, url)

    html = view_as("employee", html)  # an employee: no decision buttons, no edit, the contact hidden
    assert re.search(r'<option value="employee" selected>', html)
    assert 'data-transition="approve"' not in html and 'data-field="contact"' not in html
    assert f'href="{url}/edit"' not in html
    assert page(analyst, f"{PREVIEW}/ui/admin/users", status=403)  # no longer an administrator here
    html = view_as("manager", html)  # a manager decides
    assert 'data-transition="approve"' in html and f'href="{url}/edit"' in html
    html = view_as("admin", html)
    assert re.search(r'<option value="admin" selected>', html) and page(analyst, f"{PREVIEW}/ui/admin/users")

    # only the app's roles (and administrator); only inside the preview; only with the preview's token
    assert analyst.post(f"{PREVIEW}/_preview/view-as", data={"csrf_token": csrf(html), "role": "root"}
                        ).status_code == 400
    assert analyst.post(f"{PREVIEW}/_preview/view-as", data={"role": "employee"}).status_code == 400
    response = analyst.post(f"{PREVIEW}/_preview/view-as", data={"csrf_token": csrf(html), "role": "employee",
                                                                 "next": "https://elsewhere.example/"})
    assert response.headers["Location"] == f"{PREVIEW}/ui/vacations/"
    assert "employee" not in main.accounts.actor_for_id(_live_id(main, "ana")).roles  # the live user is untouched


def _live_id(loom, username):
    with loom.engine.connect() as c:
        return c.execute(select(platform.user.c.id).where(platform.user.c.username == username)).scalar_one()


def test_a_form_without_any_token_inside_the_preview_is_a_400_not_a_500(analyst, main):
    page(analyst, f"{PREVIEW}/ui/vacations/vacation/new")
    response = analyst.post(f"{PREVIEW}/ui/vacations/vacation/new", data={"employee": "Петров Пётр"})
    assert response.status_code == 400
