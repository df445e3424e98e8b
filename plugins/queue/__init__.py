"""Queue pages: a touch-friendly terminal that takes a ticket and a board of tickets called to
windows, updating live, for any entity an app declares as a queue (``extensions/queue.yaml``).

The tickets are records of the app's entity, made and read through the record service as the
signed-in user (a kiosk account with the app's role), so numbering hooks, rollups, permissions
and audit apply. See docs/plugins.md.
"""
from __future__ import annotations

from runtime.plugin_api import MetadataKind, hookimpl

from .schema import SCHEMA, check


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind("queue", SCHEMA, title={"ru": "Электронная очередь", "en": "Queue pages"}, check=check)]


@hookimpl
def loom_web_app(app, loom):
    from .web import bp
    app.register_blueprint(bp)
