"""Queue pages: a touch-friendly terminal that takes a ticket and a board of tickets called to
windows, updating live, for any entity an app declares as a queue (``extensions/queue.yaml``);
and appointments: slots cut from each place's reception hours, booked from a page, the API or
a script, checked in at the terminal for a ticket (``booking:``, see :mod:`plugins.queue.booking`).

The tickets and bookings are records of the app's entities, made and read through the record
service as the signed-in user (a kiosk account with the app's role), so numbering hooks,
rollups, permissions and audit apply. See docs/plugins.md.
"""
from __future__ import annotations

from runtime.plugin_api import MetadataKind, PeriodicJob, ScriptFunction, hookimpl

from . import booking
from .schema import SCHEMA, check


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind("queue", SCHEMA, title={"ru": "Электронная очередь", "en": "Queue pages"}, check=check)]


@hookimpl
def loom_web_app(app, loom):
    from .web import bp
    app.register_blueprint(bp)


@hookimpl
def loom_script_functions():
    return [ScriptFunction("book_slot", booking.book_slot,
                           doc="book_slot(queue, record): the seat a booking takes at its slot, or None when "
                               "it holds none (a free status); refuses a slot the schedule does not offer or a full one")]


@hookimpl
def loom_job_handlers():
    return {"queue_no_shows": booking.no_shows}


@hookimpl
def loom_periodic_jobs():
    return [PeriodicJob("queue_no_shows", every=300, wanted=booking.wants_no_shows)]
