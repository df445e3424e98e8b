"""``loom masterdata match|export APP.ENTITY``."""
from __future__ import annotations

import click

from runtime.plugin_api import cli_platform

from . import service


def _target(value: str) -> tuple[str, str]:
    app, sep, entity = value.partition(".")
    if not sep or not app or not entity:
        raise click.BadParameter(f"{value!r}: expected APP.ENTITY, the entity that holds source records")
    return app, entity


@click.group("masterdata")
def group():
    """Consumer master data: match source records into masters (Splink on DuckDB)."""


@group.command("match")
@click.argument("target")
def match_command(target):
    """Match the source records of APP.ENTITY and link each to its master."""
    app, entity = _target(target)
    try:
        counts = service.run(cli_platform(), app, entity)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("{records} records, {masters} masters ({created} new), {linked} links written, "
               "{review} pairs for review".format(**counts))


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
