"""Mail in: IMAP mailboxes an app declares become records and comments.

An app holds ``extensions/mailin.yaml`` (see ``docs/plugins.md``); the password comes from
the environment variable the metadata names. A new message becomes a record of the
mailbox's entity, a reply (the record's number in the subject, or an answer to a message
Loom sent about it) a comment on it; loops and auto-replies are dropped. The scheduler
polls (a periodic job), and ``loom mail fetch [APP]`` does it by hand. Every message is in
the delivery log (channel ``mailin``).
"""
from __future__ import annotations

import json

import click

from runtime.plugin_api import MetadataKind, PeriodicJob, cli_platform, hookimpl

from . import fetch, message
from .schema import SCHEMA, check

JOB = "mailin.fetch"


def poll(platform) -> dict:
    """The periodic job: every mailbox whose ``poll_seconds`` have passed."""
    return fetch.fetch_all(platform, due_only=True)


def has_mailboxes(platform) -> bool:
    return any(True for _ in fetch.mailboxes(platform))


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind("mailin", SCHEMA, check=check, title={"ru": "Входящая почта", "en": "Mail in"})]


@hookimpl
def loom_inbound_channels():
    return [message.CHANNEL]


@hookimpl
def loom_job_handlers():
    return {JOB: poll}


@hookimpl
def loom_periodic_jobs():
    return [PeriodicJob(JOB, every=10, wanted=has_mailboxes)]


@click.group("mail")
def mail():
    """Mail in: IMAP mailboxes declared by apps (extensions/mailin.yaml)."""


@mail.command("fetch")
@click.argument("app", required=False)
def fetch_command(app):
    """Fetch new messages of every mailbox (of APP) now; print what became of them."""
    result = fetch.fetch_all(cli_platform(), app)
    if not result:
        click.echo("no mailboxes" + (f" in app {app!r}" if app else ""))
    for name, counts in result.items():
        click.echo(f"{name}: {json.dumps(counts, ensure_ascii=False, sort_keys=True)}")
    if any("error" in c for c in result.values()):
        raise SystemExit(1)


@hookimpl
def loom_cli_commands():
    return [mail]
