"""The analysts' web designer: a Flask blueprint under ``/designer``.

Analysts edit a draft of an app (the same document ``apps_config/`` folders
hold), validate it, preview it against a database of its own, and publish
it with a diff and a storage plan. Modules hang their routes on ``bp``:

- ``drafts``   the draft service: open, save with a revision check, items, problems
- ``views``    app list, create, import/export, raw YAML, validate, publish, history
- ``editors``  the interactive editors (fields, form layout, workflow diagram,
               scripts, schema-driven sections)
- ``preview``  the draft app served from its own database
"""
from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app
from flask_login import current_user

from runtime.permissions import is_analyst

bp = Blueprint("designer", __name__, url_prefix="/designer", template_folder="templates",
               static_folder="static", static_url_path="/static")

def loom():
    return current_app.extensions["loom"]


@bp.before_request
def _require_analyst():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not is_analyst(current_user.actor):
        abort(403)
    loom().refresh_if_stale()
    return None


def init_app(app: Flask) -> None:
    from . import views, editors, preview  # noqa: F401  (their routes hang on bp)
    app.register_blueprint(bp)
