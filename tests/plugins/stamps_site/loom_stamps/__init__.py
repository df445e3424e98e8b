"""A throwaway plugin for the tests: a page, a CLI command, a script function,
a record-event subscriber, a job, a metadata kind and an inbound channel.
It imports nothing of Loom but the plugin API, as every plugin must."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Blueprint, abort, request

from runtime.plugin_api import (
    InboundEvent,
    MetadataKind,
    ScriptFunction,
    current_actor,
    current_platform,
    hookimpl,
    login_required,
    render_page,
)

#: every record event this process heard of, for the tests to read
HEARD: list = []

bp = Blueprint("stamps", __name__, url_prefix="/stamps", template_folder="templates")


@bp.get("/")
@login_required
def page():
    notes = current_platform().records(current_actor().username).find("stamps", "note", limit=100)
    return render_page("stamps/page.html", title="Stamps", notes=notes)


@bp.post("/notes")
@login_required
def add_note():
    text = request.form.get("text") or abort(400)
    current_platform().records(current_actor().username).create("stamps", "note", {"title": text})
    return page()


def stamp(call, text):
    """Script function: the text stamped with the calling user and app."""
    return f"[{call.app}:{call.user['username']}] {text}"


def count_notes(call):
    """Script function for agents only: how many notes the caller may read."""
    return len(call.records.find(call.app, "note", limit=200))


@hookimpl
def loom_web_app(app, loom):
    app.register_blueprint(bp)


@hookimpl
def loom_cli_commands():
    @click.command("stamp")
    @click.argument("text")
    def stamp_command(text):
        """Print TEXT stamped (a plugin's command)."""
        click.echo(f"stamped: {text.upper()}")
    return [stamp_command]


@hookimpl
def loom_script_functions():
    return [ScriptFunction("stamp", stamp), ScriptFunction("count_notes", count_notes, roles=("agent",))]


@hookimpl
def loom_record_event(event, platform):
    HEARD.append(event)
    if event.kind == "created" and event.entity == "note":
        platform.enqueue("stamps.touch", event.record_id)


def touch(platform, record_id):
    """A job: mark the note as seen by the plugin (through the record service)."""
    return platform.records().update("stamps", "note", record_id, {"seen": True})["seen"]


@hookimpl
def loom_job_handlers():
    return {"stamps.touch": touch}


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind("stamp_rules", {
        "type": "object", "additionalProperties": False, "required": ["prefix"],
        "properties": {"prefix": {"type": "string", "maxLength": 10}, "upper": {"type": "boolean"}}})]


@hookimpl
def loom_inbound_channels():
    return ["stamps_mail"]


def receive_mail(platform, message_id, sender, subject, reply_to=None):
    """What a mail-in plugin does with one message (the test calls it directly)."""
    return platform.receive(InboundEvent(channel="stamps_mail", app="stamps", entity="note",
                                         external_id=message_id, sender=sender, fields={"title": subject},
                                         text=subject, record_id=reply_to))


@hookimpl
def loom_translation_dirs():
    return [Path(__file__).parent / "translations"]
