"""The one module a plugin imports.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names
are the hooks of :mod:`runtime.extension.hookspecs`, announced to Loom as an
entry point of the ``loom.plugins`` group::

    [project.entry-points."loom.plugins"]
    stamps = "loom_stamps"

What it gets from here: the marker, the types hooks exchange, the
:class:`Platform` (records through the record service, so permissions,
validation and audit always apply; jobs; notifications; inbound events;
documents), and for web pages the shared layout, sign-in and CSRF.
See ``docs/plugins.md``.
"""
from __future__ import annotations

import datetime as dt
import functools

from flask import current_app, render_template, request, session
from flask_login import current_user, login_user, logout_user

from metamodel.expressions import ExpressionError
from metamodel.expressions import parse as expression
from metamodel.schemas import titled
from runtime.clock import now
from runtime.errors import Conflict, Forbidden, LoomError, NotFound, ValidationFailed
from runtime.extension import (
    Channel,
    ChannelError,
    DocumentRenderer,
    InboundEvent,
    MessageRefused,
    MetadataKind,
    OutgoingMessage,
    PeriodicJob,
    RecordEvent,
    ScriptFunction,
    hookimpl,
)
from runtime.data.files import Upload
from runtime.extension.platform import Platform, Records, ScriptCall
from runtime.security import throttle
from runtime.security.accounts import LinkInvalid, generate_password
from runtime.security.permissions import is_analyst
from runtime.web import confine
from runtime.web.ui import csrf
from runtime.web.ui.auth import User
from runtime.web.ui.base import NavLink, RecordButton, add_nav_link, add_record_buttons, navigation
from runtime.web.ui.i18n import LANGS, lang, message, t, tt

__all__ = [
    "hookimpl", "now", "expression", "ExpressionError",
    "Channel", "ChannelError", "DocumentRenderer", "InboundEvent", "MessageRefused", "MetadataKind", "OutgoingMessage",
    "PeriodicJob", "RecordEvent", "ScriptFunction", "ScriptCall", "Platform", "Records",
    "LoomError", "Conflict", "Forbidden", "NotFound", "ValidationFailed",
    "NavLink", "add_nav_link", "RecordButton", "add_record_buttons", "current_platform", "current_actor",
    "login_required", "render_page", "csrf_exempt", "is_analyst", "lang", "t", "tt", "LANGS",
    "Upload", "LinkInvalid", "external_facing", "sign_in", "sign_out", "rate_limit", "password_link",
    "redeem_link", "generate_password", "cli_platform", "titled", "message", "transition_fields", "field_errors",
    "link_options",
]


def current_platform() -> Platform:
    """The platform serving this request."""
    return Platform(current_app.extensions["loom"])


def cli_platform() -> Platform:
    """The platform of this instance (from the ``LOOM_*`` environment), for a plugin's ``loom`` command."""
    from runtime.core.config import Settings
    return Platform(Settings.from_env().make_loom())


def current_actor():
    """The signed-in user (an ``Actor``: id, username, roles, groups), or ``None``."""
    return current_user.actor if current_user.is_authenticated else None


def login_required(view):
    """A view only signed-in users reach; others go to the sign-in page and come back."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)
    return wrapped


def render_page(template: str, **context) -> str:
    """Render a template of the plugin's (``{% extends "ui/base.html" %}``, content in
    ``{% block content %}``) with the platform's top bar, sidebar and language."""
    return render_template(template, **navigation(), **context)


def csrf_exempt(view_or_blueprint):
    """Leave a view or blueprint out of CSRF checks: only for endpoints that authenticate
    otherwise (a webhook's signature, a Bearer token), never for cookie-signed-in forms."""
    return csrf.exempt(view_or_blueprint)


def external_facing(app, blueprint, home) -> None:
    """Open ``blueprint`` to external users (a client's contacts, ``loom_user.external``):
    every other page and endpoint of the platform answers them 403, and the front page sends
    them to ``home(actor)`` (a URL). Register the blueprint first."""
    confine.register(app, blueprint, home)


def sign_in(username: str, password: str):
    """Check a password and start a session cookie: ``(actor, None)``, or ``(None, reason)``
    with ``reason`` ``"throttled"`` or ``"wrong"``. The sign-in throttle and audit apply."""
    limits, address = throttle.for_app(current_app), request.remote_addr
    if limits.blocked(username, address):
        return None, "throttled"
    actor = current_app.extensions["loom"].accounts.authenticate(username, password, ip=address)
    if actor is None:
        limits.failed(username, address)
        return None, "wrong"
    limits.succeeded(username, address)
    chosen = session.get("lang")
    session.clear()  # no fixation: the signed-in session starts fresh
    if chosen in LANGS:
        session["lang"] = chosen
    session.permanent = True
    login_user(User(actor))
    return actor, None


def sign_out() -> None:
    chosen = session.get("lang")
    logout_user()
    session.clear()
    if chosen in LANGS:
        session["lang"] = chosen


def rate_limit(key: str, limit: int, window_seconds: float) -> bool:
    """Count one attempt at ``key`` (e.g. an anonymous form from one address); ``False`` once
    ``limit`` were made within the window. Counted in Redis when the platform has one."""
    return throttle.allow(current_app, key, limit, window_seconds)


def password_link(user_id: int, purpose: str) -> str:
    """A signed, single-use token to set a password (``purpose``: ``invite``, ``reset``)."""
    return current_app.extensions["loom"].accounts.password_link(current_app.secret_key, user_id, purpose)


def redeem_link(token: str, purpose: str, max_age: dt.timedelta, password: str | None = None) -> dict:
    """The user of a :func:`password_link` token (raises ``LinkInvalid`` when forged, expired
    or used); with ``password``, set it, which spends the token."""
    return current_app.extensions["loom"].accounts.redeem_link(current_app.secret_key, token, purpose, max_age,
                                                               password)


def transition_fields(app: str, entity: str, transition: str, record: dict) -> list:
    """The fields firing ``transition`` on ``record`` asks of the signed-in user, as the internal
    UI's transition dialog asks them: its ``required`` fields that are empty, that its ``set`` does
    not fill and that the user may edit (neither hidden from them nor read-only)."""
    from runtime.web.ui.views import asked_fields
    ent = current_app.extensions["loom"].entity_tables(app, entity).entity
    tr = next((x for x in ent.spec.get("transitions", []) if x["name"] == transition), None)
    return asked_fields(ent, tr, record, current_actor()) if tr is not None else []


def field_errors(app: str, entity: str, errors, on_form) -> tuple[dict, list]:
    """A refusal's errors (``ValidationFailed.errors``) as the internal forms show them:
    ``({field: [message]}, [line])``, translated; a field not in ``on_form`` becomes a line
    naming it ("Price: is required"), so no reason is lost."""
    from runtime.web.ui.views import field_errors as by_field
    ent = current_app.extensions["loom"].entity_tables(app, entity).entity
    return by_field(ent, errors, set(on_form))


def link_options(app: str, entity: str, field: str, q: str = "", selected=(), values: dict | None = None,
                 limit: int = 200) -> list[tuple[int, str]]:
    """The records the signed-in user may pick for a link field, as the internal UI's link picker
    offers them: up to ``limit`` whose title contains ``q``, plus the ``selected`` ids. A field
    with a ``filter``/``filter_script`` is narrowed for the record ``values`` (the form's values:
    ``{field: text}``), so the options are what a save of those values accepts; without
    ``values`` (a list's filter, not a form) it is not narrowed."""
    from werkzeug.datastructures import MultiDict

    from runtime.errors import LoomError as _LoomError
    from runtime.security.link_filters import filtered
    from runtime.web.ui import meta
    loom, actor = current_app.extensions["loom"], current_actor()
    et = loom.entity_tables(app, entity)
    f = et.entity.fields[field]
    record = None
    if filtered(f) and values is not None:
        args = MultiDict({k: str(v) for k, v in (values or {}).items() if v not in (None, "") and k != "id"})
        with loom.reader.connect() as c:
            try:
                record = loom.link_filters.record_from_args(c, et, args, actor)
            except _LoomError:  # a value that is no value of its field narrows as if it were empty
                record = {}
    return meta.options(loom, actor, f, q, selected, record=record, limit=limit)
