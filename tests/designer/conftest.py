"""Fixtures of the designer tests: the web app over a fresh Loom, analysts and a plain user.

``designer_loom`` is SQLite; tests that also want PostgreSQL request ``pg_designer_loom``
(or parametrize ``designer_loom`` indirectly with ``"postgres"``).
"""
from __future__ import annotations

import contextlib
import threading

import pytest

from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import APPS, make_loom
from tests.ui.conftest import Browser, csrf  # noqa: F401  (re-exported for the designer tests)

PASSWORD = "analyst-pass-1"


@pytest.fixture(params=["sqlite"])
def designer_loom(request, tmp_path):
    """An empty migrated Loom; ``@pytest.mark.parametrize("designer_loom", ["sqlite", "postgres"],
    indirect=True)`` runs a test on PostgreSQL too."""
    url = f"sqlite:///{tmp_path / 'loom.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    instance = make_loom(url, tmp_path / "files")
    yield instance
    instance.engine.dispose()


@pytest.fixture
def designer_web(designer_loom, tmp_path):
    app = create_app(Settings(tmp_path, designer_loom.database_url, secret="designer-tests"), designer_loom)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def users(designer_loom):
    """ann and bob are analysts, root an administrator, carl an ordinary user."""
    accounts = designer_loom.accounts
    accounts.create_user("ann", PASSWORD, full_name="Ann Analyst", roles=["analyst"])
    accounts.create_user("bob", PASSWORD, full_name="Bob Analyst", roles=["analyst"])
    accounts.create_user("root", PASSWORD, full_name="Root Admin", is_admin=True)
    accounts.create_user("carl", PASSWORD, full_name="Carl User", roles=["service_desk:agent"])
    return ("ann", "bob", "root", "carl")


def sign_in(app, username: str, lang: str = "en") -> Browser:
    """A signed-in browser; English by default so that tests read the msgids."""
    browser = Browser(app.test_client())
    response = browser.login(username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    browser.get(f"/lang/{lang}")
    return browser


@pytest.fixture
def ann(designer_web, users) -> Browser:
    return sign_in(designer_web, "ann")


@pytest.fixture
def bob(designer_web, users) -> Browser:
    return sign_in(designer_web, "bob")


@pytest.fixture
def carl(designer_web, users) -> Browser:
    return sign_in(designer_web, "carl")


@pytest.fixture
def root(designer_web, users) -> Browser:
    return sign_in(designer_web, "root")


@contextlib.contextmanager
def another_instance(folder):
    """A second, empty Loom in ``folder`` and ann, an analyst, signed in to its web app: where an
    exported app is imported to show it publishes to the same hash."""
    other = make_loom(f"sqlite:///{folder / 'other.db'}", folder / "other-files")
    try:
        other.accounts.create_user("ann", PASSWORD, roles=["analyst"])
        web = create_app(Settings(folder / "other", other.database_url, secret="other"), other)
        web.config["TESTING"] = True
        yield other, sign_in(web, "ann")
    finally:
        other.engine.dispose()


# ---------------------------------------------------------------------- real browsers
@contextlib.contextmanager
def live_designer(folder, *apps: str):
    """The shipped ``apps`` installed in a Loom over SQLite in ``folder``, ann an analyst, served
    over HTTP on a free port for a real browser: yields ``(base url, loom)``."""
    from werkzeug.serving import make_server
    loom = make_loom(f"sqlite:///{folder / 'loom.db'}", folder / "files")
    for name in apps:
        loom.store.install(APPS / name, author="tester")
    loom.accounts.create_user("ann", PASSWORD, full_name="Ann Analyst", roles=["analyst"])
    server = make_server("127.0.0.1", 0, create_app(Settings(folder, loom.database_url, secret="live"), loom), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", loom
    finally:
        server.shutdown()
        thread.join(5)
        loom.engine.dispose()


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium for a module's tests (skipped, or failed under LOOM_REQUIRE_SERVICES, without one)."""
    from tests.ui.test_browser import ARGS, CHROMIUM, _need_browser
    _need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@contextlib.contextmanager
def analyst_page(chromium, base: str, lang: str):
    """A page signed in as ann with the interface in ``lang``, 1400x1000; fails on a JavaScript error."""
    from tests.ui.test_browser import sign_in as sign_in_page
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale=f"{lang}-RU")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_page(page, base, "ann", PASSWORD)
    page.goto(f"{base}/lang/{lang}")
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors
