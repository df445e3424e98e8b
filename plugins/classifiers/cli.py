"""``loom classifiers train APP NAME``."""
from __future__ import annotations

import click

from runtime.plugin_api import cli_platform

from . import service


@click.group("classifiers")
def group():
    """Text classifiers trained from an app's labelled records (scikit-learn)."""


@group.command("train")
@click.argument("app")
@click.argument("name")
def train_command(app, name):
    """Measure classifier NAME of APP on a held-back part of its examples, then fit it on all of
    them and keep the model for suggest()."""
    try:
        report = service.train(cli_platform(), app, name)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    ratio = report["accuracy"] / report["baseline"] if report["baseline"] else float("inf")
    click.echo("{examples} examples, {labels} labels; held back {test}: accuracy {accuracy:.3f}, "
               "majority label {baseline:.3f}".format(**report) + f" (x{ratio:.1f}); model kept")
