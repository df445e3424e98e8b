"""External users (a client's contacts) are confined to the areas registered for them.

A plugin registers a blueprint with :func:`runtime.plugin_api.external_facing`;
every other page and endpoint - the internal UI, the designer, the admin pages,
the API, the OpenAPI docs - answers an external user with 403. The front page
and the platform's sign-in page send them to their area's home instead. The
API's tokens are refused for them at the source (``Accounts``), so this guard
only has the session cookie to look at. See docs/decisions/0016-portal.md.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask, abort, current_app, redirect, request
from flask_login import current_user

from .sessions import is_token_call

KEY = "loom.external_areas"
ALWAYS = frozenset({"static", "auth.logout", "auth.set_lang"})
TO_HOME = frozenset({"index", "ui.home", "auth.login"})


def register(app: Flask, blueprint, home: Callable[[object], str]) -> None:
    """Open ``blueprint`` to external users; ``home(actor)`` is the URL they land on."""
    app.extensions.setdefault(KEY, {})[blueprint.name] = home


def init_app(app: Flask) -> None:
    app.extensions.setdefault(KEY, {})
    app.before_request(_confine)


def _confine():
    if is_token_call():
        return None  # the API then reads the token alone, never the session; external users get no token
    if not current_user.is_authenticated or not getattr(current_user.actor, "external", False):
        return None
    areas = current_app.extensions.get(KEY, {})
    blueprint = request.blueprint or ""
    if blueprint in areas or request.endpoint in ALWAYS:
        return None
    if request.endpoint in TO_HOME and areas:
        return redirect(next(iter(areas.values()))(current_user.actor))
    abort(403)
