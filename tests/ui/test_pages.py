"""The generated web UI through Flask's test client: sign-in, lists, forms, record pages."""
from __future__ import annotations

import re

from .conftest import PASSWORD, csrf, grant

NEW = "/ui/service_desk/request/new"


def make_request(loom, data, n=1, **extra):
    out = []
    for i in range(n):
        out.append(loom.records.create("service_desk", "request", {
            "subject": f"Обращение номер {i:03d}", "description": "Описание", "organization": data["organization"]["id"],
            "module": data["module"]["id"], **extra}))
    return out


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


# ---------------------------------------------------------------------- sign-in
def test_pages_need_login(browser):
    r = browser.get("/ui/service_desk/request")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert browser.get("/").headers["Location"] == "/ui/"


def test_login_and_logout(browser):
    r = browser.login()
    assert r.status_code == 302 and r.headers["Location"] == "/ui/"
    home = browser.get("/ui/")
    assert home.status_code == 200 and "Служба поддержки" in text(home)
    r = browser.post("/logout", token_from="/ui/")
    assert r.status_code == 302
    assert browser.get("/ui/").status_code == 302


def test_login_redirects_to_next_but_not_offsite(browser):
    token = browser.token()
    r = browser.http.post("/login?next=/ui/service_desk/request",
                          data={"username": "agent", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/ui/service_desk/request"
    browser.post("/logout", token_from="/ui/")
    token = browser.token()
    r = browser.http.post("/login?next=//evil.example/x",
                          data={"username": "agent", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/ui/"


def test_wrong_password(browser):
    r = browser.login(password="nope")
    assert r.status_code == 401
    assert "Неверное имя пользователя или пароль" in text(r)
    assert browser.get("/ui/").status_code == 302


def test_login_rate_limit(browser):
    for _ in range(5):
        assert browser.login(password="wrong").status_code == 401
    r = browser.login()  # even the right password is refused while blocked
    assert r.status_code == 429
    assert "Слишком много неудачных попыток" in text(r)
    assert browser.get("/ui/").status_code == 302


def test_csrf_is_required(browser, service_desk):
    r = browser.http.post("/login", data={"username": "agent", "password": PASSWORD})
    assert r.status_code == 400
    assert browser.get("/ui/").status_code == 302
    browser.login()
    r = browser.http.post(NEW, data={"subject": "Без токена CSRF"})
    assert r.status_code == 400
    from sqlalchemy import func, select
    t = service_desk.entity_tables("service_desk", "request").main
    with service_desk.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(t)).scalar() == 0


def test_api_needs_no_csrf(ui_app, service_desk, data):
    grant(service_desk, "agent", "dispatcher")  # dictionaries are the dispatchers'
    token = service_desk.accounts.issue_token(service_desk.accounts.authenticate("agent", PASSWORD).id)
    r = ui_app.test_client().post("/api/v1/service_desk/department", json={"name": "Отдел"},
                                  headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201


# ---------------------------------------------------------------------- lists
def test_list_shows_view_columns_with_titles(signed_in, service_desk, data):
    make_request(service_desk, data, priority="1")
    r = signed_in.get("/ui/service_desk/request")
    assert r.status_code == 200
    page = text(r)
    for heading in ("Номер", "Тема", "Организация", "Приоритет", "Статус"):
        assert heading in page
    assert "Минздрав" in page and "СЭД" in page  # link columns show the target's title
    assert "Критический" in page and "Зарегистрирована" in page  # choice and status titles
    assert "REQ-000001" in page
    assert 'href="/ui/service_desk/request/1"' in r.get_data(as_text=True)
    # the sidebar has the app's navigation, with its group
    assert "Справочники" in page and "Модули и системы" in page


def test_list_links_are_loaded_in_one_query_per_target(signed_in, service_desk, data, monkeypatch):
    """No N+1: the number of queries a list page makes does not grow with its rows."""
    from sqlalchemy import event
    monkeypatch.setattr(service_desk, "refresh_if_stale", lambda: None)  # its periodic check is no row's

    def queries() -> int:
        statements = []

        def listener(*args):
            statements.append(args[2])
        event.listen(service_desk.engine, "before_cursor_execute", listener)
        try:
            assert signed_in.get("/ui/service_desk/request").status_code == 200
        finally:
            event.remove(service_desk.engine, "before_cursor_execute", listener)
        return len(statements)

    make_request(service_desk, data, n=2)
    few = queries()
    make_request(service_desk, data, n=20)
    assert queries() == few


def test_list_filters_sort_search(signed_in, service_desk, data):
    make_request(service_desk, data, priority="1", subject="Принтер не печатает")
    make_request(service_desk, data, priority="4", subject="Вопрос по отчёту")
    other = service_desk.records.create("service_desk", "request", {
        "subject": "Сбой в бухгалтерии", "description": "Описание", "organization": data["organization2"]["id"],
        "module": data["module2"]["id"], "priority": "2"})
    r = signed_in.get("/ui/service_desk/request?priority=1")
    page = text(r)
    assert "Принтер" in page and "Вопрос" not in page and "Сбой" not in page
    assert "Приоритет = Критический" in page  # the active filter, removable
    r = signed_in.get(f"/ui/service_desk/request?organization={data['organization2']['id']}")
    assert "Сбой" in text(r) and "Принтер" not in text(r)
    r = signed_in.get("/ui/service_desk/request?priority__in=1,4&sort=-priority")
    page = text(r)
    assert page.index("Вопрос") < page.index("Принтер")
    r = signed_in.get("/ui/service_desk/request?priority__in=1,4&sort=priority")
    page = text(r)
    assert page.index("Принтер") < page.index("Вопрос")
    assert "sort=-priority" in r.get_data(as_text=True)  # clicking the sorted header reverses it
    r = signed_in.get("/ui/service_desk/request?q=бухгалтерии")
    assert "Сбой" in text(r) and "Принтер" not in text(r)
    assert other["number"] in text(r)
    r = signed_in.get("/ui/service_desk/request?nosuch=1")
    assert r.status_code == 200 and "nosuch" in text(r)  # a bad filter is explained, not a crash


def test_list_keyset_paging_and_count(signed_in, service_desk, data):
    make_request(service_desk, data, n=30)
    r = signed_in.get("/ui/service_desk/request?view=all")
    html = r.get_data(as_text=True)
    assert "30 записей" in text(r)
    assert len(re.findall(r'href="/ui/service_desk/request/\d+"', html)) == 25
    match = re.search(r'href="([^"]*after=[^"]+)"[^>]*rel="next"', html)
    assert match, "no next page link"
    r2 = signed_in.get(match.group(1).replace("&amp;", "&"))
    html2 = r2.get_data(as_text=True)
    assert len(re.findall(r'href="/ui/service_desk/request/\d+"', html2)) == 5
    assert 'rel="next"' not in html2
    first = set(re.findall(r"REQ-\d+", html)) & set(re.findall(r"REQ-\d+", html2))
    assert not first


def test_list_view_choice(signed_in, service_desk, data):
    req = make_request(service_desk, data)[0]
    service_desk.workflow.transition("service_desk", "request", req["id"], "cancel")
    assert req["number"] not in text(signed_in.get("/ui/service_desk/request"))  # open requests only
    assert req["number"] in text(signed_in.get("/ui/service_desk/request?view=all"))
    assert signed_in.get("/ui/service_desk/request?view=nope").status_code == 404


# ---------------------------------------------------------------------- forms
def test_create_with_validation_error_then_success(signed_in, service_desk, data):
    form = signed_in.get(NEW)
    html = form.get_data(as_text=True)
    assert form.status_code == 200
    assert "Суть обращения" in html and "Классификация" in html and 'name="works-__i__-work"' in html
    assert 'name="labor_hours"' in html and 'type="datetime-local"' in html
    # a link is one control (type, then pick); its choices come from the options endpoint
    assert 'data-name="organization"' in html and 'role="combobox"' in html and "<select name=\"organization\"" not in html
    found = signed_in.get("/ui/service_desk/request/options/organization?format=json&q=Минз").get_json()
    assert found == [{"id": data["organization"]["id"], "text": "Минздрав"}]
    assert 'name="number"' not in html and 'name="status"' not in html
    bad = signed_in.post(NEW, {"subject": "abc", "organization": data["organization"]["id"], "labor_hours": "x"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert re.search(r'id="err-subject">не короче 5 символов', html)
    assert re.search(r'id="err-description">обязательное поле', html)
    assert re.search(r'id="err-module">обязательное поле', html)
    assert re.search(r'id="err-labor_hours">', html)
    assert 'value="abc"' in html  # the values are kept
    org = data["organization"]["id"]  # the chosen link is kept: its id in the hidden input, its title shown
    assert re.search(rf'name="organization" value="{org}" class="combo-value">', html)
    assert re.search(r'class="combo-input"[^>]*value="Минздрав"', html)
    good = signed_in.post(NEW, {
        "subject": "Не открывается карточка", "description": "Ошибка 500", "organization": data["organization"]["id"],
        "module": data["module"]["id"], "priority": "2", "channel": "email", "labor_hours": "1,5",
        "due_at": "2026-05-01T10:30", "works-0-work": "Диагностика", "works-0-hours": "0.5",
        "works-3-work": "", "works-3-hours": ""}, token_from=NEW)
    assert good.status_code == 302
    record_id = int(good.headers["Location"].rsplit("/", 1)[1])
    stored = service_desk.records.get("service_desk", "request", record_id)
    assert stored["subject"] == "Не открывается карточка" and stored["priority"] == "2"
    assert stored["labor_hours"] == "1.50" and stored["due_at"].startswith("2026-05-01T10:30")
    assert [w["work"] for w in stored["works"]] == ["Диагностика"]
    page = text(signed_in.get(good.headers["Location"]))
    assert "Создано." in page and "Не открывается карточка" in page and "Эл. почта" in page


def test_child_row_error_is_shown_at_its_table(signed_in, data):
    r = signed_in.post(NEW, {"subject": "Проверка строк", "description": "x", "organization": data["organization"]["id"],
                             "module": data["module"]["id"], "works-0-hours": "2"})
    assert r.status_code == 422
    assert re.search(r'id="err-works">Строка 1, Работа: обязательное поле', r.get_data(as_text=True))


def test_edit_and_stale_version_conflict(signed_in, service_desk, data):
    req = make_request(service_desk, data)[0]
    url = f"/ui/service_desk/request/{req['id']}/edit"
    form = signed_in.get(url)
    html = form.get_data(as_text=True)
    assert 'name="row_version" value="1"' in html
    token = csrf(html)
    service_desk.records.update("service_desk", "request", req["id"], {"priority": "1"}, 1)  # someone else
    fields = {"csrf_token": token, "row_version": "1", "subject": "Моя правка темы", "description": "Описание",
              "organization": data["organization"]["id"], "module": data["module"]["id"], "priority": "3"}
    r = signed_in.http.post(url, data=fields)
    assert r.status_code == 409
    page = text(r)
    assert "Запись изменил кто-то другой" in page and "версию 1" in page and "версия 2" in page
    assert 'value="Моя правка темы"' in r.get_data(as_text=True)
    assert service_desk.records.get("service_desk", "request", req["id"])["subject"] == req["subject"]
    r = signed_in.http.post(url, data={**fields, "row_version": "2"})
    assert r.status_code == 302
    assert service_desk.records.get("service_desk", "request", req["id"])["subject"] == "Моя правка темы"


# ---------------------------------------------------------------------- record page
def test_record_page_transition_and_timeline(signed_in, service_desk, data):
    req = make_request(service_desk, data)[0]
    url = f"/ui/service_desk/request/{req['id']}"
    page = text(signed_in.get(url))
    assert "Зарегистрирована" in page and "Взять в работу" in page and "Отменить" in page
    assert "Решить" not in page  # resolve goes from in_work only
    r = signed_in.post(f"{url}/transitions/take", {"row_version": "1"}, token_from=url)
    assert r.status_code == 302
    assert service_desk.records.get("service_desk", "request", req["id"])["status"] == "in_work"
    page = text(signed_in.get(url))
    assert "В работе" in page
    assert "переход: Взять в работу: Зарегистрирована → В работе" in page
    assert "создание" in page and "agent" in page
    # resolve needs a solution: the button opens a dialog asking for it
    html = signed_in.get(url).get_data(as_text=True)
    assert 'data-dialog="dialog-resolve"' in html and 'id="resolve-solution"' in html
    # sent without it: the dialog comes back open, with the reason next to the field
    r = signed_in.post(f"{url}/transitions/resolve", {"row_version": "2", "solution": ""}, token_from=url)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'data-open="1"' in html
    assert re.search(r'id="err-resolve-solution">обязательно для перехода', html)
    assert service_desk.records.get("service_desk", "request", req["id"])["status"] == "in_work"
    r = signed_in.post(f"{url}/transitions/resolve", {"row_version": "2", "solution": "Переустановлен модуль"},
                       token_from=url)
    assert r.status_code == 302
    done = service_desk.records.get("service_desk", "request", req["id"])
    assert done["status"] == "done" and done["solution"] == "Переустановлен модуль"
    # a stale version is refused too
    signed_in.post(f"{url}/transitions/close", {"row_version": "1"}, token_from=url)
    assert "was changed by someone else" in text(signed_in.get(url))


def test_transition_refused_for_missing_role(browser, service_desk, data):
    service_desk.accounts.create_user("client", "client-pass", roles=["service_desk:client"])
    req = make_request(service_desk, data)[0]
    browser.login("client", "client-pass")
    url = f"/ui/service_desk/request/{req['id']}"
    browser.post(f"{url}/transitions/take", {"row_version": "1"}, token_from=url)
    assert "needs one of the roles" in text(browser.get(url))
    assert service_desk.records.get("service_desk", "request", req["id"])["status"] == "registered"


def test_switch_to_english(signed_in, service_desk, data):
    make_request(service_desk, data, priority="1")
    r = signed_in.get("/lang/en?next=/ui/service_desk/request")
    assert r.status_code == 302 and r.headers["Location"] == "/ui/service_desk/request"
    page = text(signed_in.get("/ui/service_desk/request"))
    assert "Requests" in page and "Subject" in page and "Critical" in page and "Registered" in page
    assert "Sign out" in page and "Заявки" not in page
    assert "1 records" in page
    signed_in.get("/lang/ru")
    assert "Заявки" in text(signed_in.get("/ui/service_desk/request"))


def test_numbers_and_dates_follow_the_locale(signed_in, service_desk, data):
    req = make_request(service_desk, data, labor_hours="1234.5", due_at="2026-03-04T05:06:00Z")[0]
    url = f"/ui/service_desk/request/{req['id']}"
    page = text(signed_in.get(url))
    assert "1 234,50" in page and "04.03.2026" in page  # (text() folds the no-break space)
    signed_in.get("/lang/en")
    page = text(signed_in.get(url))
    assert "1,234.50" in page and "3/4/26" in page


def test_unknown_pages(signed_in):
    assert signed_in.get("/ui/nope/").status_code == 404
    assert signed_in.get("/ui/service_desk/nope").status_code == 404
    assert signed_in.get("/ui/service_desk/request/999").status_code == 404
