"""The Flask application factory."""
from __future__ import annotations

import datetime as dt

from flask import Flask, Response

from .config import Settings
from .core import Loom

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",  # an uploaded file is never run as a script or page
    "X-Frame-Options": "SAMEORIGIN",  # no clickjacking through another site's frame
    "Content-Security-Policy": "frame-ancestors 'self'; object-src 'none'; base-uri 'self'; form-action 'self'",
    "Referrer-Policy": "same-origin",  # record URLs do not leak to other sites
}


def security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")  # a signed-out browser's back button shows nothing
    return response


def create_app(settings: Settings | None = None, loom: Loom | None = None, designer: bool = True) -> Flask:
    """Build the web app for ``settings`` (default: from the environment); ``designer=False``
    leaves the designer out (the designer's own preview of a draft app)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key()
    app.config["LOOM_HOME"] = str(settings.home)  # the instance folder (the designer keeps previews there)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_mb * 1024 * 1024
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_SECURE=settings.https,
        # signed-in sessions are permanent with this lifetime, renewed by every request: an idle timeout
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
    )
    app.after_request(security_headers)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    if loom is None:
        loom = settings.make_loom()
    app.extensions["loom"] = loom

    from .api import bp as api_bp
    from .openapi import bp as docs_bp
    app.register_blueprint(api_bp)
    app.register_blueprint(docs_bp)

    from .ui import init_app as init_ui
    init_ui(app, exempt=(api_bp,))  # the API authenticates with Bearer tokens, not cookies

    if designer:
        from designer import init_app as init_designer
        init_designer(app)

    @app.get("/")
    def index():
        from flask import redirect, url_for
        return redirect(url_for("ui.home"))

    return app
