"""The generated end-user web UI: server-rendered pages for every published app.

``init_app`` wires the session login (Flask-Login), CSRF protection of every
form (Flask-WTF; the Bearer-token API is exempt), the language (Flask-Babel)
and the blueprints.
"""
from __future__ import annotations

from flask import Flask, render_template
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect

from .. import sessions
from . import i18n, meta

csrf = CSRFProtect()


def init_app(app: Flask, exempt: tuple = (), translations=()) -> None:
    from . import (
        batches,  # noqa: F401  (batch run pages, on the ui blueprint)
        boards,  # noqa: F401  (kanban-page routes on the ui blueprint)
        graph,  # noqa: F401  (the record graph, on the ui blueprint)
        inbox,  # noqa: F401  (the notifications page, on the ui blueprint)
        lists,  # noqa: F401  (list-page routes on the ui blueprint)
        organiser,  # noqa: F401  (the personal organiser page)
        proposals,  # noqa: F401  (improvement proposals: filing from a record, "My proposals")
        records_extra,  # noqa: F401  (its routes hang on the ui blueprint)
        view_kinds,  # noqa: F401  (calendar, Gantt and map pages on the ui blueprint)
    )
    from . import reports as _reports  # noqa: F401  (adds the report pages to the UI blueprint)
    from .auth import bp as auth_bp
    from .auth import load_user
    from .views import bp as ui_bp

    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a token lives as long as the session
    csrf.init_app(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", i18n.translation_directories(translations))
    Babel(app, locale_selector=i18n.lang, default_timezone="UTC")

    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = None
    manager.session_protection = "basic"
    manager.user_loader(load_user)
    sessions.init_app(app, manager)

    app.register_blueprint(auth_bp)
    app.register_blueprint(ui_bp)
    app.register_blueprint(__import__("runtime.web.ui.admin", fromlist=["bp"]).bp)  # users, groups, audit log
    app.jinja_env.globals.update(t=i18n.t, tc=i18n.tc, tt=i18n.tt, lang=i18n.lang, link_depends=meta.link_depends)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return render_template("ui/error.html", message=i18n.t(
            "The form has expired or was not sent from this site. Reload the page and try again.")), 400
