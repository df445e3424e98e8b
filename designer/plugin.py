"""The designer joins the platform as a plugin: its pages, its top-bar link for
analysts, and its catalog of interface strings."""
from __future__ import annotations

from pathlib import Path

from runtime.plugin_api import NavLink, add_nav_link, hookimpl, is_analyst
from runtime.web.ui.i18n import N_


@hookimpl
def loom_web_app(app, loom):
    from . import init_app
    init_app(app)
    add_nav_link(app, NavLink("nav-designer", N_("Designer"), "designer.index", visible=is_analyst))


@hookimpl
def loom_translation_dirs():
    return [Path(__file__).resolve().parent / "translations"]
