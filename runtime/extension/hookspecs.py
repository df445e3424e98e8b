"""The hook specifications: everything a plugin can add to Loom.

Each docstring is that hook's documentation (``docs/plugins.md`` links here).
A plugin implements any of them with ``@hookimpl`` from :mod:`runtime.plugin_api`;
hooks that return something return a list (or a single value for
``firstresult`` hooks), and the platform merges the answers of every plugin.
"""
from __future__ import annotations

import pluggy

PROJECT = "loom"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def loom_web_app(app, loom):
    """Add web pages to the Flask ``app`` (blueprints, template folders, globals).

    Called once per web app, after the platform's own blueprints. Pages that use
    ``runtime.plugin_api.render_page`` get the shared layout; every form is under
    the platform's CSRF protection; ``login_required`` and ``current_actor`` give
    the signed-in user. ``loom`` is the running platform itself (its engine included):
    plugins are trusted code, but records go through ``runtime.plugin_api.current_platform``
    so permissions, validation and audit apply. A ``LoomError`` a view lets through answers
    with its status (a page, or a problem document for a JSON client).
    """


@hookspec
def loom_translation_dirs():
    """Folders of gettext catalogs (``<lang>/LC_MESSAGES/messages.mo``) for the
    plugin's interface strings, merged with the platform's."""


@hookspec
def loom_cli_commands():
    """Click commands to add to ``loom`` (a list of ``click.Command``)."""


@hookspec
def loom_notification_channels():
    """Notification channels out (a list of :class:`~runtime.extension.types.Channel`).

    A template's ``channels`` names them; the outbox stores each message with its
    channel and a job delivers it, retrying with back-off.
    """


@hookspec
def loom_inbound_channels():
    """Names of inbound channels this plugin feeds (a list of strings).

    The plugin turns what arrives (mail, a webhook call) into
    :class:`~runtime.extension.types.InboundEvent` and hands it to
    ``runtime.plugin_api.receive``: the platform creates the record or comment
    through the record service, once per ``external_id``.
    """


@hookspec
def loom_document_renderers():
    """Document renderers (a list of :class:`~runtime.extension.types.DocumentRenderer`)."""


@hookspec
def loom_job_handlers():
    """Background jobs: a mapping of job name to ``callable(platform, *args)``.

    Jobs run on RQ workers (or in-process without Redis) and must be safe to run
    twice: a worker may die after taking one. ``platform`` is a
    :class:`runtime.plugin_api.Platform`.
    """


@hookspec
def loom_worker_started(platform):
    """A process that runs jobs has started (``loom worker``, or ``loom run`` without Redis):
    queue again the work a stopped one left unfinished (``platform.unfinished_file_runs``).
    Keep it quick; without Redis ``platform.enqueue`` runs the job right here, so hand it
    to a thread there (``platform.config["redis_url"]`` is empty)."""


@hookspec
def loom_script_functions():
    """Functions for sandboxed scripts (a list of
    :class:`~runtime.extension.types.ScriptFunction`)."""


@hookspec
def loom_record_event(event, platform):
    """A record was created, updated, moved by a transition, deleted or restored.

    Called after the change committed (never for a change that rolled back), in
    the process that made it, with a :class:`~runtime.extension.types.RecordEvent`.
    Keep it quick: hand slow work to a job (``platform.enqueue``). An exception is
    logged with the plugin's name and does not undo the change.
    """


@hookspec
def loom_metadata_kinds():
    """Metadata kinds apps may use (a list of :class:`~runtime.extension.types.MetadataKind`)."""


@hookspec
def loom_periodic_jobs():
    """Jobs to run every so often (a list of :class:`~runtime.extension.types.PeriodicJob`):
    polling a mailbox, a sync. The scheduler claims each period once, so one run per
    period happens however many schedulers tick."""
