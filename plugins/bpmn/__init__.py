"""BPMN 2.0 export and import of an entity's workflow (statuses, transitions, timers,
roles), for analysts in the designer. See ``docs/plugins.md`` and
``docs/decisions/0022-bpmn-export-import.md``.

Export reads the app's draft (with the workflow editor's positions) and writes a process
that passes the OMG BPMN 2.0 XSD (vendored in ``xsd/``); import puts a process back into
the draft as one entity's statuses and transitions, never publishing.
"""
from __future__ import annotations

from pathlib import Path

from runtime.plugin_api import hookimpl

HERE = Path(__file__).resolve().parent


@hookimpl
def loom_web_app(app, loom):
    from .web import bp, workflow_links
    app.register_blueprint(bp)
    # the designer's workflow page shows these links when a plugin provides them
    app.context_processor(lambda: {"workflow_links": workflow_links})


@hookimpl
def loom_translation_dirs():
    return [HERE / "translations"]
