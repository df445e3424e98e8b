"""Fixtures of the improvement proposal tests: the service desk on SQLite and PostgreSQL (the
``loom`` fixture's params), its web app, a request to file from, and four people: anna (an agent
of the desk), ann (an analyst), olga (an agent of another app only) and root (an administrator)."""
from __future__ import annotations

import pytest

from runtime.core.config import Settings
from runtime.web import create_app
from tests.api.conftest import Client as ApiClient
from tests.ui.conftest import Browser, seed

PASSWORD = "proposal-pass-1"


@pytest.fixture
def desk(service_desk):
    """The desk with a request and the people; ``desk.ids`` maps usernames to ids."""
    made = seed(service_desk)
    service_desk.request = service_desk.records.create("service_desk", "request", {
        "organization": made["organization"]["id"], "module": made["module"]["id"],
        "subject": "Не открывается карточка документа", "description": "Ошибка при открытии"})
    accounts = service_desk.accounts
    service_desk.ids = {
        "anna": accounts.create_user("anna", PASSWORD, full_name="Анна Агентова", roles=["service_desk:agent"]),
        "ann": accounts.create_user("ann", PASSWORD, full_name="Ann Analyst", roles=["analyst"]),
        "olga": accounts.create_user("olga", PASSWORD, full_name="Olga Other", roles=["it_support:agent"]),
        "root": accounts.create_user("root", PASSWORD, is_admin=True),
    }
    return service_desk


@pytest.fixture
def web(desk, tmp_path):
    app = create_app(Settings(tmp_path, desk.database_url, secret="proposal-tests"), desk)
    app.config["TESTING"] = True
    return app


def sign_in(app, username: str, lang: str = "en") -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(username, PASSWORD).status_code == 302
    browser.get(f"/lang/{lang}")
    return browser


def api(app, loom, username: str) -> ApiClient:
    return ApiClient(app.test_client(), loom.accounts.issue_token(loom.ids[username]))
