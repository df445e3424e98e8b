"""The analysts' web designer: a Flask blueprint under ``/designer``.

Analysts edit a draft of an app (the same document ``apps_config/`` folders
hold), validate it, preview it against a database of its own, and publish
it with a diff and a storage plan. Modules hang their routes on ``bp``:

- ``plugin``   how the designer joins the platform (the plugin API's hooks)
- ``base``     the blueprint, analysts only
- ``drafts``   the draft service: open, save with a revision check, items, problems
- ``views``    app list, create, import/export, raw YAML, validate, publish, history
- ``editors``  the interactive editors (fields, form layout, workflow diagram,
               scripts, schema-driven sections)
- ``preview``  the draft app served from its own database
- ``proposals`` the improvement proposals users filed for an app, and their answers
"""
from __future__ import annotations

from flask import Flask

from .base import bp


def init_app(app: Flask) -> None:
    from . import editors, preview, proposals, views  # noqa: F401  (their routes hang on bp)
    app.register_blueprint(bp)
