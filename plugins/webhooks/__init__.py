"""Webhooks: inbound endpoints (JSON in → records) and outbound webhooks on record events.

An app declares both in ``extensions/webhooks.yaml`` (see ``docs/plugins.md``);
secrets come from environment variables the metadata names. Inbound calls go
through ``platform.receive`` (idempotent by key, the record service applies);
outbound calls go through the outbox (retries, back-off, at least once).
Administrators read both logs at ``/hooks/log``.

It also offers the message gateways ``sms``, ``push`` and ``voice``: notification channels
that post each message as JSON to the provider's HTTP gateway (``plugins/webhooks/gateways.py``).
"""
from __future__ import annotations

from pathlib import Path

from runtime.plugin_api import Channel, MetadataKind, NavLink, add_nav_link, hookimpl

from . import gateways, inbound, log, outbound
from .schema import SCHEMA, check

HERE = Path(__file__).resolve().parent


def N_(message: str) -> str:
    """Marks a string for the catalog; translated where it is shown."""
    return message


@hookimpl
def loom_translation_dirs():
    return [HERE / "translations"]


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind("webhooks", SCHEMA, check=check)]


@hookimpl
def loom_inbound_channels():
    return [inbound.CHANNEL]


@hookimpl
def loom_notification_channels():
    return [Channel(name=outbound.CHANNEL, deliver=outbound.deliver, address=lambda who: None,
                    title={"ru": "Вебхук", "en": "Webhook"}), *gateways.channels()]


@hookimpl
def loom_record_event(event, platform):
    outbound.on_record_event(event, platform)


@hookimpl
def loom_web_app(app, loom):
    app.register_blueprint(inbound.bp)
    app.register_blueprint(log.bp)
    add_nav_link(app, NavLink("nav-webhooks", N_("Webhooks"), "webhooks_log.delivery_log",
                              visible=lambda actor: actor is not None and actor.is_admin))
