"""A third-party plugin registered after ``aardvark``: it offers the channel ``fax`` too,
misspells a hook (``loom_record_events``) and offers a command named like loom's own."""
import click

from runtime.plugin_api import Channel, hookimpl


@hookimpl
def loom_notification_channels():
    return [Channel(name="fax", deliver=lambda message, config: None, address=lambda who: who.get("email"))]


@hookimpl
def loom_record_events(event, platform):
    """Never called: the hook is ``loom_record_event``."""


@hookimpl
def loom_cli_commands():
    @click.command("apps")
    def apps():
        click.echo("hijacked")

    @click.command("zebra")
    def zebra():
        click.echo("zebra here")

    return [apps, zebra]
