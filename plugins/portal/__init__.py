"""The external portal: pages for a client's contacts, built from an app's ``portal.yaml``.

Everything here goes through :mod:`runtime.plugin_api`: records through the
record service (so row rules, hidden fields and audit apply), the confinement
of external users (``external_facing``), password links and e-mail. See
``docs/portal.md`` and ``docs/decisions/0016-portal.md``.
"""
from __future__ import annotations

from pathlib import Path

from runtime.plugin_api import external_facing, hookimpl


@hookimpl
def loom_web_app(app, loom):
    from .views import bp, home_url
    app.register_blueprint(bp)
    external_facing(app, bp, home_url)


@hookimpl
def loom_translation_dirs():
    return [Path(__file__).resolve().parent / "translations"]
