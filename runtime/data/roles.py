"""Roles belong to apps: how a user's roles are stored and which of them count in an app.

A user's role in an app is stored as ``app:role`` (``service_desk:agent``), so
two apps' ``agent`` roles are different roles; platform roles (``analyst``)
are stored bare. Inside an app a user holds only that app's roles, plus two
built-in ones: ``user`` (whoever holds any role of the app) and
``authenticated`` (every signed-in user). This lives beside :class:`Actor` so
that every room above (security, behaviour, web) reads roles the same way.
See docs/decisions/0013-app-scoped-roles.md.
"""
from __future__ import annotations

import re

MEMBER = "user"  # the built-in role of everyone who holds any role of the app
AUTHENTICATED = "authenticated"  # the built-in role of every signed-in user, whatever app they work in
ANALYST = "analyst"  # the platform role of those who build apps in the designer (and read their scripts)
PLATFORM_ROLES = (ANALYST,)  # roles of the platform itself: stored bare, not per app
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def privileged(actor) -> bool:
    """Administrators and trusted platform code (or no actor at all) pass every check."""
    return actor is None or actor.is_admin or actor.system


def is_analyst(actor) -> bool:
    """Analysts and administrators may use the designer and see scripts' details."""
    return actor is not None and (actor.is_admin or ANALYST in actor.roles)


def app_role(app: str, role: str) -> str:
    """How a user's role in ``app`` is stored: ``app:role``."""
    return f"{app}:{role}"


def roles_of(actor, app: str) -> frozenset:
    """The roles ``actor`` holds inside ``app``: its own (stored as ``app:role``), ``user`` when
    it holds any of them, and ``authenticated``. Roles of other apps never count here."""
    prefix = app + ":"
    own = {r[len(prefix):] for r in actor.roles if r.startswith(prefix)}
    if own:
        own.add(MEMBER)
    return frozenset(own | {AUTHENTICATED})


def holds(actor, app: str, roles) -> bool:
    """Whether ``actor`` holds one of ``roles`` of ``app`` (administrators and the system do)."""
    return privileged(actor) or bool(roles_of(actor, app).intersection(roles))


def role_error(role) -> str | None:
    """Why ``role`` cannot be given to a user, or ``None``: app roles are ``app:role``."""
    if not isinstance(role, str):
        return f"a role is text, not {role!r}"
    if role in PLATFORM_ROLES:
        return None
    app, sep, name = role.partition(":")
    if sep and _ROLE_NAME.match(app) and _ROLE_NAME.match(name):
        return None
    if not sep and _ROLE_NAME.match(role):
        return f"role {role!r} names no app: roles belong to apps, write it as 'app:{role}'"
    return f"role {role!r} is not 'app:role' (lower-case names) nor one of {', '.join(PLATFORM_ROLES)}"
