"""The UI blueprint and what every page of it shares: the signed-in actor, the
Loom, sign-in required, error pages, template globals and the sidebar."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user

from runtime.errors import Forbidden, NotFound

from .i18n import t, tt

bp = Blueprint("ui", __name__, url_prefix="/ui")


def loom():
    return current_app.extensions["loom"]


def actor():
    return current_user.actor


@bp.before_request
def _require_login():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    loom().refresh_if_stale()
    return None


@bp.errorhandler(NotFound)
def _not_found(exc):
    return render_template("ui/error.html", message=t("Not found.") + " " + exc.detail), 404


@bp.errorhandler(Forbidden)
def _forbidden(exc):
    return render_template("ui/error.html", message=t("You may not do this.") + " " + exc.detail), 403


@dataclass(frozen=True)
class NavLink:
    """A link a plugin adds to the top bar (the designer's, for instance)."""

    id: str
    title: str  # English; translated with the plugin's catalog
    endpoint: str
    visible: Callable[[Any], bool] = lambda actor: True


def add_nav_link(app, link: NavLink) -> None:
    app.extensions.setdefault("loom.nav_links", []).append(link)


@bp.app_template_global("nav_links")
def nav_links() -> list[tuple[str, str, str]]:
    """``(id, title, url)`` of the plugins' top-bar links the signed-in user may follow."""
    if not current_user.is_authenticated:
        return []
    return [(link.id, t(link.title), url_for(link.endpoint))
            for link in current_app.extensions.get("loom.nav_links", ()) if link.visible(current_user.actor)]


@dataclass(frozen=True)
class RecordButton:
    """A button a plugin puts on record pages, or on lists where it acts on the selected
    records (they are posted to ``url`` as ``id`` fields with the CSRF token).
    ``method``: ``get`` (a link) or ``post`` (a form with the CSRF token)."""

    id: str
    title: str  # already in the user's language
    url: str
    method: str = "get"


def add_record_buttons(app, provider: Callable[[str, str, int | None, Any], list]) -> None:
    """Register ``provider(app, entity, record_id, actor) -> [RecordButton]``, asked for each
    record page (``record_id`` set) and each list page (``record_id`` is ``None``); it
    answers only with buttons the actor may use."""
    app.extensions.setdefault("loom.record_buttons", []).append(provider)


def _buttons(app_name: str, entity: str, record_id: int | None) -> list[RecordButton]:
    return [b for provider in current_app.extensions.get("loom.record_buttons", ())
            for b in provider(app_name, entity, record_id, current_user.actor)]


@bp.app_template_global("record_buttons")
def record_buttons(app_name: str, entity: str, record_id: int) -> list[RecordButton]:
    """The plugins' buttons for one record page."""
    return _buttons(app_name, entity, record_id)


@bp.app_template_global("list_buttons")
def list_buttons(app_name: str, entity: str) -> list[RecordButton]:
    """The plugins' buttons of a list: ``post`` ones act on the selected records, ``get`` ones
    are links beside "New" (an import)."""
    return _buttons(app_name, entity, None)


@bp.app_template_global("here")
def here() -> str:
    """This page's path and query as a ``next`` target: with the script root, without the host."""
    return request.script_root + request.full_path.rstrip("?")


@bp.context_processor
def navigation():
    """The sidebar: the current app's navigation groups and entities the user may read."""
    if not current_user.is_authenticated:  # an error page shown before the sign-in check (a refused CSRF token)
        return {"nav_apps": [], "nav": [], "nav_app": None}
    app_name = (request.view_args or {}).get("app")
    live = loom().live.get(app_name) if app_name else None
    apps = [(name, tt(lv.app.title)) for name, lv in sorted(loom().live.items())
            if loom().permissions.readable(actor(), lv.app)]
    if live is None or app_name not in dict(apps):  # not even the title of an app the user has nothing in
        return {"nav_apps": apps, "nav": [], "nav_app": None}
    entities = live.app.entities

    def item(name):
        e = entities.get(name)
        if e is None or not loom().permissions.allowed(actor(), e, "read"):
            return None
        return {"title": tt(e.plural), "url": url_for("ui.list_view", app=app_name, entity=name), "name": name}

    nav = []
    spec = live.app.document["app"].get("navigation") or [{"entity": n} for n in entities]
    for entry in spec:
        if "entity" in entry:
            it = item(entry["entity"])
            if it:
                nav.append({"title": None, "items": [it]})
        else:
            items = [i for i in (item(x["entity"]) for x in entry.get("items", []) if "entity" in x) if i]
            if items:
                nav.append({"title": tt(entry.get("title")), "items": items})
    return {"nav_apps": apps, "nav": nav, "nav_app": (app_name, tt(live.app.title))}
