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

import functools

from flask import current_app, render_template
from flask_login import current_user

from runtime.clock import now
from runtime.errors import Conflict, Forbidden, LoomError, NotFound, ValidationFailed
from runtime.extension import (
    Channel,
    ChannelError,
    DocumentRenderer,
    InboundEvent,
    MetadataKind,
    OutgoingMessage,
    RecordEvent,
    ScriptFunction,
    hookimpl,
)
from runtime.extension.platform import Platform, Records, ScriptCall
from runtime.security.permissions import is_analyst
from runtime.web.ui import csrf
from runtime.web.ui.base import NavLink, RecordButton, add_nav_link, add_record_buttons, navigation
from runtime.web.ui.i18n import lang, t

__all__ = [
    "hookimpl", "now",
    "Channel", "ChannelError", "DocumentRenderer", "InboundEvent", "MetadataKind", "OutgoingMessage",
    "RecordEvent", "ScriptFunction", "ScriptCall", "Platform", "Records",
    "LoomError", "Conflict", "Forbidden", "NotFound", "ValidationFailed",
    "NavLink", "add_nav_link", "RecordButton", "add_record_buttons", "current_platform", "current_actor", "login_required", "render_page",
    "csrf_exempt", "is_analyst", "lang", "t",
]


def current_platform() -> Platform:
    """The platform serving this request."""
    return Platform(current_app.extensions["loom"])


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
