"""Consumer master data: deduplicate source records into masters with Splink on DuckDB.

An app declares what to match in ``extensions/masterdata.yaml`` (see
``docs/plugins.md`` and ADR 0030): the entity of source records, the entity of
masters, a normaliser per field, blocking rules, comparisons and the
probability thresholds for "same" and "review".
"""
from __future__ import annotations

from pathlib import Path

from runtime.plugin_api import MetadataKind, hookimpl

HERE = Path(__file__).resolve().parent

from .schema import SCHEMA, check


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind("masterdata", SCHEMA, title={"ru": "Мастер-данные", "en": "Master data"},
                         check=check)]


@hookimpl
def loom_cli_commands():
    from .cli import group
    return [group]


@hookimpl
def loom_job_handlers():
    from . import runs
    return {runs.JOB: runs.run}


@hookimpl
def loom_worker_started(platform):
    """Runs a stopped worker left unfinished continue from their last finished stage."""
    from . import runs
    for job in platform.unfinished_file_runs(runs.KIND):
        runs.start_job(platform, job["id"])


@hookimpl
def loom_web_app(app, loom):
    from .web import bp
    app.register_blueprint(bp)


@hookimpl
def loom_translation_dirs():
    return [HERE / "translations"]
