"""Session security: cookie flags, an idle timeout, no fixation, and the headers every response carries."""
from __future__ import annotations

import time

from sqlalchemy import select

from runtime.core.config import Settings
from runtime.data import tables
from runtime.web import create_app

from .conftest import PASSWORD, Browser


def session_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_the_session_cookie_is_http_only_same_site_and_permanent(browser):
    response = browser.login()
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # a permanent session: its lifetime is the idle timeout
    assert "Secure" not in cookie  # plain HTTP on the embedded default


def test_cookies_are_https_only_when_the_instance_is_served_over_https(service_desk, data, tmp_path):
    app = create_app(Settings(tmp_path, service_desk.database_url, base_url="https://loom.example"), service_desk)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    response = Browser(app.test_client()).login()
    assert "; Secure" in session_cookie(response)
    assert not create_app(Settings(tmp_path, service_desk.database_url, base_url="https://loom.example",
                                   secure_cookies=False), service_desk).config["SESSION_COOKIE_SECURE"]


def test_secure_cookies_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOOM_SECURE_COOKIES", "1")
    monkeypatch.setenv("LOOM_SESSION_HOURS", "0.5")
    settings = Settings.from_env(tmp_path)
    assert settings.https and settings.session_hours == 0.5
    monkeypatch.setenv("LOOM_SECURE_COOKIES", "0")
    monkeypatch.setenv("LOOM_BASE_URL", "https://loom.example")
    assert Settings.from_env(tmp_path).https is False  # said explicitly: wins over the https base URL


def test_an_idle_session_ends_and_an_active_one_is_renewed(service_desk, data, tmp_path):
    app = create_app(Settings(tmp_path, service_desk.database_url, session_hours=2 / 3600), service_desk)
    app.config["TESTING"] = True
    browser = Browser(app.test_client())
    assert browser.login().status_code == 302
    for _ in range(3):  # requests within the lifetime renew it, so 3 s of activity keep the session
        time.sleep(1)
        assert browser.get("/ui/").status_code == 200
    time.sleep(3.1)  # idle for longer than the 2 s lifetime
    response = browser.get("/ui/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_signing_in_starts_a_new_session(browser):
    before = browser.http.get_cookie("session")
    browser.get("/lang/en")  # an anonymous session with something in it
    anonymous = browser.http.get_cookie("session").value
    assert browser.login().status_code == 302
    assert browser.http.get_cookie("session").value != anonymous
    assert before is None or before.value != browser.http.get_cookie("session").value


def test_every_response_carries_the_security_headers(browser):
    for url in ("/login", "/api/v1/openapi.json", "/static/loom.css"):
        response = browser.get(url)
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN", url
        assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"], url
        assert response.headers["Referrer-Policy"] == "same-origin", url
    assert browser.get("/login").headers["Cache-Control"] == "no-store"  # pages are not kept after sign-out
    assert "no-store" not in browser.get("/static/loom.css").headers.get("Cache-Control", "")


def test_a_deactivated_user_is_signed_out_at_the_next_request(signed_in, service_desk):
    assert signed_in.get("/ui/").status_code == 200
    with service_desk.engine.connect() as c:
        user_id = c.execute(select(tables.user.c.id).where(tables.user.c.username == "agent")).scalar()
    service_desk.accounts.update_user(user_id, is_active=False)
    response = signed_in.get("/ui/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert Browser(signed_in.http).login("agent", PASSWORD).status_code == 401
