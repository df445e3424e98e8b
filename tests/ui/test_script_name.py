"""The UI mounted under a prefix (``SCRIPT_NAME``, as the designer's preview serves it): every link,
form, script and redirect stays under the prefix; and the top bar's Designer link."""
from __future__ import annotations

import io
import re

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from runtime.data import comments
from runtime.data.files import FileStore
from runtime.data.records import Actor

from .conftest import Browser, grant
from .test_notifications import notify, user_id
from .test_pages import make_request

PREFIX = "/x"
ATTRIBUTE = re.compile(r'\s(href|src|action|hx-get|hx-post|data-url)="([^"]*)"')


class Mounted(Browser):
    """A browser on the UI mounted at ``PREFIX`` of a bigger WSGI site (SCRIPT_NAME is the prefix);
    it takes paths inside the mount, as the other tests do."""

    def get(self, url, **kw):
        return self.http.get(PREFIX + url, **kw)

    def token(self, url="/login") -> str:
        return super().token(PREFIX + url)

    def post(self, url, data=None, token_from=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(token_from or url))
        return self.http.post(PREFIX + url, data=data, **kw)


def mounted(app) -> Mounted:
    site = DispatcherMiddleware(NotFound(), {PREFIX: app.wsgi_app})
    return Mounted(Client(site))


def outside(html: str) -> list[str]:
    """The URLs in a page that do not start with the prefix."""
    return [f"{name}={url}" for name, url in ATTRIBUTE.findall(html) if not url.startswith(PREFIX + "/")]


@pytest.fixture
def records(service_desk, data):
    """A request with a comment by someone else, a file and a notification; a contract."""
    req = make_request(service_desk, data)[0]
    writer = service_desk.accounts.create_user("writer", None, roles=["service_desk:agent"])
    comments.add(service_desk, "service_desk", "request", req["id"], "@agent взгляните",
                 Actor(writer, "writer", ("service_desk:agent",)))
    FileStore(service_desk).attach("service_desk", "request", req["id"], "attachments", "log.txt", "text/plain",
                                   io.BytesIO(b"x"), Actor(user_id(service_desk, "agent"), "agent", ("service_desk:agent",)))
    service_desk.records.create("service_desk", "contract", {
        "code": "Д-1", "organization": data["organization"]["id"], "department": data["department"]["id"],
        "valid_from": "2024-01-01", "valid_to": "2025-12-31"})
    notify(service_desk, user_id(service_desk, "agent"), 1)
    return {"request": req}


def test_every_url_of_the_main_pages_keeps_the_prefix(ui_app, service_desk, records):
    grant(service_desk, "agent", "dispatcher")
    service_desk.accounts.update_user(user_id(service_desk, "agent"), is_admin=True)  # the admin pages too
    browser = mounted(ui_app)
    login = browser.get("/login")
    assert login.status_code == 200 and not outside(login.get_data(as_text=True))
    r = browser.login()
    assert r.status_code == 302 and r.headers["Location"] == f"{PREFIX}/ui/"
    rid = records["request"]["id"]
    pages = ["/ui/", "/ui/service_desk/request", "/ui/service_desk/request?priority=3&sort=-number",
             f"/ui/service_desk/request/{rid}", f"/ui/service_desk/request/{rid}/edit", "/ui/service_desk/request/new",
             "/ui/service_desk/contract", "/ui/service_desk/reports", "/ui/service_desk/reports/requests_by_status",
             "/ui/service_desk/reports/assignee_kpi", "/ui/notifications", "/ui/admin/users", "/ui/admin/groups",
             "/ui/admin/audit", f"/ui/admin/users/{user_id(service_desk, 'agent')}"]
    for page in pages:
        r = browser.get(page)
        assert r.status_code == 200, page
        html = r.get_data(as_text=True)
        assert len(ATTRIBUTE.findall(html)) > 5, page
        assert not outside(html), (page, outside(html))
    html = browser.get(f"/ui/service_desk/request/{rid}").get_data(as_text=True)
    assert f'href="{PREFIX}/ui/service_desk/reports"' in html  # the top bar's report link
    assert re.search(rf'action="{PREFIX}/ui/service_desk/request/{rid}/files/\d+/delete"', html)


def test_redirects_keep_the_prefix(ui_app, records):
    browser = mounted(ui_app)
    r = browser.get("/ui/service_desk/request")
    assert r.status_code == 302 and r.headers["Location"].startswith(f"{PREFIX}/login")
    browser.login()
    html = browser.get("/ui/service_desk/request?priority=3").get_data(as_text=True)
    switch = re.search(r'href="([^"]+)" id="lang-en"', html).group(1).replace("&amp;", "&")
    assert switch.startswith(f"{PREFIX}/lang/en?next=")
    r = browser.get(switch.removeprefix(PREFIX))
    assert r.headers["Location"] == f"{PREFIX}/ui/service_desk/request?priority=3"
    r = browser.post("/ui/notifications/read-all", token_from="/ui/notifications")
    assert r.headers["Location"] == f"{PREFIX}/ui/notifications"


@pytest.mark.parametrize("roles, admin, shown", [(["service_desk:agent"], False, False),
                                                 (["service_desk:agent", "analyst"], False, True),
                                                 ([], True, True)])
def test_the_designer_link_is_for_analysts_and_administrators(ui_app, service_desk, data, roles, admin, shown):
    service_desk.accounts.update_user(user_id(service_desk, "agent"), roles=roles, is_admin=admin)
    browser = mounted(ui_app)
    browser.login()
    html = browser.get("/ui/").get_data(as_text=True)
    assert (f'href="{PREFIX}/designer/" id="nav-designer"' in html) is shown
