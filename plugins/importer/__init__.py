"""Import in the UI: an Excel or CSV file into an entity's records, from its list page.

Upload, map columns to fields (suggested from the headers, remembered per entity and
user), a dry run that checks every row as a save would, then a background job that
writes in chunks, resumable, with a progress bar and a file of the rejected rows. See
``docs/plugins.md`` and ``docs/decisions/0025-import-in-the-ui.md``.
"""
from __future__ import annotations

from pathlib import Path

from runtime.plugin_api import hookimpl

HERE = Path(__file__).resolve().parent


@hookimpl
def loom_web_app(app, loom):
    from runtime.plugin_api import add_record_buttons

    from .web import bp, list_buttons
    app.register_blueprint(bp)
    add_record_buttons(app, list_buttons)


@hookimpl
def loom_translation_dirs():
    return [HERE / "translations"]


@hookimpl
def loom_job_handlers():
    from . import engine
    return {engine.JOB: engine.run}


@hookimpl
def loom_worker_started(platform):
    """Imports a stopped worker left unfinished continue after their last committed row."""
    from . import engine
    for run in platform.unfinished_file_runs(engine.KIND):
        engine.start_job(platform, run["id"])
