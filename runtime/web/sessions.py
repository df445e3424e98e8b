"""Cookie sessions that cost nothing on a call that has none.

An API call with a Bearer token never reads the session (the token alone says who calls),
yet Flask builds the cookie signer for every request and Flask-Login reads the session in
every response, which also marks it used and adds ``Vary: Cookie``. On a record GET the two
were a tenth of the request (bench/bench_get_throughput.py).
"""
from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


def is_token_call() -> bool:
    """An API call that authenticates with a Bearer token, and so never uses the session."""
    return request.blueprint == "api" and request.headers.get("Authorization", "").startswith("Bearer ")


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; a request without the cookie gets an empty session
    without building a signer, and the signer is built once per secret key."""

    def __init__(self):
        self._signers: dict = {}

    def get_signing_serializer(self, app: Flask):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        signer = self._signers.get(key)
        if signer is None:
            signer = super().get_signing_serializer(app)
            if signer is not None:
                self._signers = {key: signer}  # a changed secret replaces the old signer
        return signer

    def open_session(self, app: Flask, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask, login_manager) -> None:
    """Use :class:`CookieSessions` and keep Flask-Login's remember-cookie step off token calls."""
    app.session_interface = CookieSessions()
    funcs = app.after_request_funcs[None]
    update = login_manager._update_remember_cookie
    index = funcs.index(update)

    def remember_cookie(response):
        return response if is_token_call() else update(response)

    funcs[index] = remember_cookie
