"""Webhooks: inbound endpoints (JSON in → records) and outbound webhooks on record events.

An app declares both in ``extensions/webhooks.yaml`` (see ``docs/plugins.md``);
secrets come from environment variables the metadata names. Inbound calls go
through ``platform.receive`` (idempotent by key, the record service applies);
outbound calls go through the outbox (retries, back-off, at least once).
Administrators read both logs at ``/hooks/log``.
"""
from __future__ import annotations

from runtime.plugin_api import Channel, MetadataKind, hookimpl

from . import inbound, log, outbound
from .schema import SCHEMA, check


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind("webhooks", SCHEMA, check=check)]


@hookimpl
def loom_inbound_channels():
    return [inbound.CHANNEL]


@hookimpl
def loom_notification_channels():
    return [Channel(name=outbound.CHANNEL, deliver=outbound.deliver, address=lambda who: None,
                    title={"ru": "Вебхук", "en": "Webhook"})]


@hookimpl
def loom_record_event(event, platform):
    outbound.on_record_event(event, platform)


@hookimpl
def loom_web_app(app, loom):
    app.register_blueprint(inbound.bp)
    app.register_blueprint(log.bp)
