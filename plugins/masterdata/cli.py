"""``loom masterdata match|status|merge|split|export APP.ENTITY``."""
from __future__ import annotations

import click

from runtime.plugin_api import LoomError, cli_platform

from . import runs, service


def _target(value: str) -> tuple[str, str]:
    app, sep, entity = value.partition(".")
    if not sep or not app or not entity:
        raise click.BadParameter(f"{value!r}: expected APP.ENTITY, the entity that holds source records")
    return app, entity


def _counts(job: dict) -> str:
    return ("{records} records ({new} new or changed), {masters} masters ({created} new, {updated} updated), "
            "{linked} links written, {review} pairs for review").format(**runs.counts(job))


@click.group("masterdata")
def group():
    """Consumer master data: match source records into masters (Splink on DuckDB)."""


@group.command("match")
@click.argument("target")
@click.option("--incremental", is_flag=True, help="Only new and changed records, with the last run's model.")
@click.option("--background", is_flag=True, help="Queue the run for a worker and print its id.")
@click.option("--resume", type=int, metavar="RUN", help="Continue a stopped run from its last finished stage.")
@click.option("--user", help="Run as this user (their permissions apply); default: the system.")
def match_command(target, incremental, background, resume, user):
    """Match the source records of APP.ENTITY and link each to its master."""
    app, entity = _target(target)
    platform = cli_platform()
    try:
        run_id = resume or runs.start(platform, app, entity, user, incremental)
        if background:
            platform.enqueue(runs.JOB, run_id)
            click.echo(f"run {run_id} queued")
            return
        outcome = runs.run(platform, run_id)
    except (LookupError, LoomError) as exc:
        raise click.ClickException(str(exc)) from exc
    job = platform.file_run(run_id)
    if outcome != "done":
        raise click.ClickException(f"run {run_id} {outcome}: {job.get('error')}; "
                                   f"`loom masterdata match {target} --resume {run_id}` continues it")
    click.echo(f"run {run_id}: " + _counts(job))


@group.command("status")
@click.argument("target")
def status_command(target):
    """The newest runs of APP.ENTITY: state, stage and figures."""
    app, entity = _target(target)
    for job in cli_platform().file_runs(runs.KIND, app, entity, limit=10):
        stage = job["params"].get("stage")
        click.echo(f"run {job['id']} {job['state']} stage={stage} merged {job['done']}/{job['total']}; "
                   + _counts(job) + (f"; error: {job['error']}" if job["error"] else ""))


@group.command("merge")
@click.argument("target")
@click.argument("survivor", type=int)
@click.argument("other", type=int)
@click.option("--reason", required=True, help="Why these are one consumer (kept in the history).")
@click.option("--user", help="Who merges (their permissions apply); default: the system.")
def merge_command(target, survivor, other, reason, user):
    """Merge master OTHER into SURVIVOR: its source records move, values are recomputed."""
    app, entity = _target(target)
    try:
        done = service.merge_masters(cli_platform(), app, entity, survivor, other, user, reason)
    except (LookupError, LoomError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{done['moved']} source records moved to master {done['survivor']}")


@group.command("split")
@click.argument("target")
@click.argument("master", type=int)
@click.argument("sources", type=int, nargs=-1, required=True)
@click.option("--reason", required=True, help="Why these records are another consumer (kept in the history).")
@click.option("--user", help="Who splits (their permissions apply); default: the system.")
def split_command(target, master, sources, reason, user):
    """Detach SOURCES (source record ids) from MASTER into another master."""
    app, entity = _target(target)
    try:
        done = service.split_master(cli_platform(), app, entity, master, sources, user, reason)
    except (LookupError, LoomError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{done['moved']} source records moved to master {done['master']}")


@group.command("export")
@click.argument("target")
@click.argument("out", type=click.File("w", encoding="utf-8"))
def export_command(target, out):
    """Write source,source_id,master_id of APP.ENTITY's linked records to OUT (CSV)."""
    app, entity = _target(target)
    try:
        count = service.export(cli_platform(), app, entity, out)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{count} rows written")
