"""The Flask application factory."""
from __future__ import annotations


from flask import Flask

from .config import Settings
from .core import Loom


def create_app(settings: Settings | None = None, loom: Loom | None = None) -> Flask:
    """Build the web app for ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key()
    app.config["LOOM_HOME"] = str(settings.home)  # the instance folder (the designer keeps previews there)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_mb * 1024 * 1024
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
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

    from designer import init_app as init_designer
    init_designer(app)

    @app.get("/")
    def index():
        from flask import redirect, url_for
        return redirect(url_for("ui.home"))

    return app
