"""Acting as an app's demo users through the REST API, for the app acceptance tests."""
from __future__ import annotations

from sqlalchemy import select

from runtime.data import tables as platform
from tests.api.conftest import Client


def uid(loom, username) -> int:
    u = platform.user
    with loom.engine.connect() as c:
        return c.execute(select(u.c.id).where(u.c.username == username)).scalar_one()


def as_user(app_and_web, username) -> Client:
    """A token-carrying client of ``(loom, web)`` signed in as ``username``."""
    loom, web = app_and_web
    return Client(web.test_client(), loom.accounts.issue_token(uid(loom, username)))


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()
