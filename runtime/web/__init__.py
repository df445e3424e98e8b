"""The Flask application factory."""
from __future__ import annotations

import datetime as dt

from flask import Flask, Response
from werkzeug.routing import BaseConverter, IntegerConverter

from runtime.core.config import Settings
from runtime.core.loom import Loom
from runtime.errors import LoomError

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",  # an uploaded file is never run as a script or page
    "X-Frame-Options": "SAMEORIGIN",  # no clickjacking through another site's frame
    "Content-Security-Policy": "frame-ancestors 'self'; object-src 'none'; base-uri 'self'; form-action 'self'",
    "Referrer-Policy": "same-origin",  # record URLs do not leak to other sites
}


def security_headers(response: Response) -> Response:
    headers = response.headers
    # One pass over the headers a view set, not a scan per header (Headers.setdefault).
    present = {name.lower() for name, _ in headers}
    for name, value in SECURITY_HEADERS.items():
        if name.lower() not in present:
            headers.add(name, value)
    if "cache-control" not in present and response.mimetype == "text/html":
        headers.add("Cache-Control", "no-store")  # a signed-out browser's back button shows nothing
    return response


def _loom_error_page(exc: LoomError):
    """A ``LoomError`` no blueprint handled (a plugin's page reading a record the user may not):
    a problem document for a JSON client, else the platform's error page with the status."""
    from flask import render_template, request
    from flask_login import current_user

    from .api import PROBLEM, loom_problem
    from .ui.base import navigation
    from .ui.i18n import t

    actor = current_user.actor if current_user.is_authenticated else None
    if request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM]) != "text/html":
        return loom_problem(exc, actor)
    lead = {404: t("Not found."), 403: t("You may not do this.")}.get(exc.status)
    message = f"{lead} {exc.detail}" if lead else exc.detail
    return render_template("ui/error.html", **navigation(), message=message), exc.status


class Int64Converter(IntegerConverter):
    """``<int:...>`` limited to what a 64-bit id column holds."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


class NameConverter(BaseConverter):
    """``<name:...>``: a metadata name (an entity), so ``/<app>/_batches`` never reads as an entity."""

    regex = r"[a-z][a-z0-9_]*"


def create_app(settings: Settings | None = None, loom: Loom | None = None, without=()) -> Flask:
    """Build the web app for ``settings`` (default: from the environment) with the pages of
    every enabled plugin but those named in ``without`` (the designer's preview of a draft
    app leaves the designer out)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    # Ids in paths are 64-bit: a longer number is "not found", not an overflow in the database.
    app.url_map.converters["int"] = Int64Converter
    app.url_map.converters["name"] = NameConverter
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
    from . import confine, operations
    operations.init_app(app)  # request ids, latency metrics, /healthz, /readyz, /metrics
    confine.init_app(app)  # external users reach only the areas plugins open to them
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    if loom is None:
        loom = settings.make_loom()
    app.extensions["loom"] = loom

    from .api import bp as api_bp
    from .openapi import bp as docs_bp
    app.register_blueprint(api_bp)
    app.register_blueprint(docs_bp)

    from runtime.web.ui import init_app as init_ui
    init_ui(app, exempt=(api_bp,), translations=loom.plugins.translation_dirs())  # the API uses Bearer tokens

    # A plugin's page that lets a NotFound, Forbidden or ValidationFailed of the record service
    # through answers as the platform's pages do; its blueprint's own handlers still come first.
    app.register_error_handler(LoomError, _loom_error_page)
    loom.plugins.call_each("loom_web_app", skip=frozenset(without), app=app, loom=loom)

    @app.get("/")
    def index():
        from flask import redirect, url_for
        return redirect(url_for("ui.home"))

    return app
