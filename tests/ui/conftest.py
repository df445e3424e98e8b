"""Fixtures of the web UI tests: the service desk app, an agent user and a cookie session."""
from __future__ import annotations

import re

import pytest

from runtime.core.config import Settings
from runtime.web import create_app

PASSWORD = "agent-pass-1"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class Browser:
    """A Flask test client that keeps the session cookie and posts forms with their CSRF token."""

    def __init__(self, client):
        self.http = client

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def token(self, url="/login") -> str:
        return csrf(self.http.get(url).get_data(as_text=True))

    def post(self, url, data=None, token_from=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(token_from or url))
        return self.http.post(url, data=data, **kw)

    def login(self, username="agent", password=PASSWORD):
        return self.post("/login", {"username": username, "password": password})


def seed(loom) -> dict:
    create = loom.records.create
    dep = create("service_desk", "department", {"name": "Отдел сопровождения"})
    mod = create("service_desk", "module", {"name": "СЭД", "code": "EDMS", "department": dep["id"]})
    mod2 = create("service_desk", "module", {"name": "Бухгалтерия", "code": "ACC", "department": dep["id"]})
    org = create("service_desk", "organization", {"short_name": "Минздрав", "inn": "6658000001"})
    org2 = create("service_desk", "organization", {"short_name": "Минфин", "inn": "6658000002"})
    return {"department": dep, "module": mod, "module2": mod2, "organization": org, "organization2": org2}


def grant(loom, username: str, *roles: str) -> None:
    """Give a user more roles of the demo app (apps_config/service_desk permissions: only dispatchers
    delete requests and edit contracts and dictionaries)."""
    from sqlalchemy import select

    from runtime.data import tables
    with loom.engine.connect() as c:
        row = c.execute(select(tables.user.c.id, tables.user.c.roles).where(tables.user.c.username == username)).first()
    loom.accounts.update_user(row.id, roles=[*row.roles, *(f"service_desk:{r}" for r in roles)])


@pytest.fixture
def ui_app(service_desk, tmp_path):
    app = create_app(Settings(tmp_path, service_desk.database_url), service_desk)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def data(service_desk):
    out = seed(service_desk)
    service_desk.accounts.create_user("agent", PASSWORD, full_name="Анна Агентова", roles=["service_desk:agent"])
    return out


@pytest.fixture
def browser(ui_app, data):
    return Browser(ui_app.test_client())


@pytest.fixture
def signed_in(browser):
    assert browser.login().status_code == 302
    return browser
