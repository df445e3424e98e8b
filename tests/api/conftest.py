import pytest

from runtime.core.config import Settings
from runtime.web import create_app


class Client:
    """A test client that speaks JSON and carries a Bearer token."""

    def __init__(self, flask_client, token=None):
        self.http, self.token = flask_client, token

    def _headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra or {})
        return headers

    def get(self, url, **kw):
        return self.http.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url, json=None, **kw):
        return self.http.post(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, url, json=None, **kw):
        return self.http.patch(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, url, **kw):
        return self.http.delete(url, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def app(service_desk, tmp_path):
    settings = Settings(tmp_path, service_desk.database_url)
    return create_app(settings, service_desk)


@pytest.fixture
def admin(app, service_desk):
    uid = service_desk.accounts.create_user("admin", "s3cret-pass", is_admin=True)
    return Client(app.test_client(), service_desk.accounts.issue_token(uid))


@pytest.fixture
def seeded(admin):
    """Dictionaries a request needs: department, module, organisation."""
    dep = admin.post("/api/v1/service_desk/department", {"name": "Отдел сопровождения"}).get_json()
    mod = admin.post("/api/v1/service_desk/module", {"name": "СЭД", "code": "EDMS", "department": dep["id"]}).get_json()
    org = admin.post("/api/v1/service_desk/organization", {"short_name": "Минздрав", "inn": "6658000001"}).get_json()
    return {"department": dep, "module": mod, "organization": org}
