"""The designer's blueprint and what all its pages share: analysts only."""
from __future__ import annotations

from flask import Blueprint, abort, current_app
from flask_login import current_user

from runtime.security.permissions import is_analyst

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
