"""The values hooks pass and return. Plain dataclasses: a plugin builds them
with keywords and the platform reads their attributes."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: What happened to a record, in the vocabulary of Frappe's ``doc_events``.
EVENT_KINDS = ("created", "updated", "transition", "deleted", "restored")


@dataclass(frozen=True)
class RecordEvent:
    """One committed change of a record, handed to ``loom_record_event`` after the commit.

    ``changes`` maps each changed field to ``(old, new)`` in JSON form (``updated``
    and ``transition``); ``transition``, ``from_status`` and ``to_status`` are set for
    a fired transition.
    """

    kind: str
    app: str
    entity: str
    record_id: int
    actor_id: int | None
    actor: str
    at: dt.datetime
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    transition: str | None = None
    from_status: str | None = None
    to_status: str | None = None

    @property
    def changed(self) -> frozenset[str]:
        return frozenset(self.changes)


@dataclass(frozen=True)
class OutgoingMessage:
    """One message of the outbox for a notification channel to deliver.

    ``message_id`` is the same on every attempt: a channel that can, passes it on
    so the receiving side drops a duplicate (delivery is at least once).
    """

    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    message_id: str
    cc: tuple[str, ...] = ()
    app: str | None = None
    entity: str | None = None
    record_id: int | None = None


class ChannelError(Exception):
    """A delivery attempt failed and may succeed later (the outbox retries it)."""


class MessageRefused(ChannelError):
    """The channel's server refused the message for good (an unknown number, a malformed
    address): the outbox marks it failed at once instead of trying again."""


@dataclass(frozen=True)
class Channel:
    """A notification channel out (e-mail, SMS, a messenger).

    ``deliver(message, settings)`` sends one :class:`OutgoingMessage` and raises
    :class:`ChannelError` (or ``OSError``) when the attempt failed; ``settings``
    is the platform's :class:`~runtime.core.config.Settings`-like object.
    ``address(who)`` picks the recipient's address on this channel (``None``: not reachable
    here) from a mapping with ``email``, ``user_id``, ``username``, ``name``, ``lang`` and
    ``address``. Users have no phone: ``address`` is set only for an answer through an entity's
    ``channels:`` section (the value of its ``address`` field), ``None`` for a template's
    notification; a record that is a message (``delivery:``) carries its own address.
    ``ready(settings)`` says whether the channel is configured; until it is,
    messages wait in the outbox.
    """

    name: str
    deliver: Callable[[OutgoingMessage, Any], None]
    address: Callable[[Mapping[str, Any]], str | None]
    ready: Callable[[Any], bool] = lambda settings: True
    title: Mapping[str, str] | None = None
    #: A generic channel (the HTTP gateways' ``sms``): a dedicated plugin's channel of the same
    #: name replaces it instead of being refused as a duplicate.
    fallback: bool = False


@dataclass(frozen=True)
class InboundEvent:
    """Something that arrived from outside (an e-mail, a webhook call, a chat message).

    The platform turns it into a new record of ``app.entity`` with ``fields``, or,
    when ``record_id`` names an existing record (a reply), into a comment on it; with
    ``update`` too, ``fields`` change that record (its newest version) and a ``text``
    that is not empty is added as a comment.
    ``external_id`` makes receiving idempotent: the same id twice creates one record.
    ``files`` (``{file field: [Upload, ...]}``) are saved with the new record, or added to
    the record a comment goes to, in the same transaction. ``source`` names where the
    event was read (``user@host/INBOX;UIDVALIDITY=7;UID=42``), kept beside the id.
    ``origin``: the channel a new record came from as its entity's ``channels:`` section
    records it (``email``, an endpoint's name); the inbound channel's name by default.
    """

    channel: str
    app: str
    entity: str
    external_id: str
    sender: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""
    record_id: int | None = None
    update: bool = False
    files: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    origin: str | None = None


@dataclass(frozen=True)
class PeriodicJob:
    """A plugin job the scheduler starts every ``every`` seconds (once per period across all
    schedulers: the period's slot is claimed like a cron slot). ``name`` is one of the
    plugin's ``loom_job_handlers``; it gets no arguments. ``wanted(platform)``, when given,
    says whether there is anything to do (a mailbox declared); if not, no slot is claimed."""

    name: str
    every: int = 60
    wanted: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class DocumentRenderer:
    """Renders a template with a context into a document (DOCX, PDF, ...).

    ``render(template: bytes, context: dict) -> bytes``; ``media_type`` is what it returns.
    """

    name: str
    media_type: str
    render: Callable[[bytes, dict], bytes]
    suffix: str = ""


@dataclass(frozen=True)
class ScriptFunction:
    """A function offered to sandboxed scripts under ``name``.

    It is called as ``function(call, *args)``, where ``call`` is a
    :class:`runtime.plugin_api.ScriptCall` (the acting user and a record service
    bound to them, so permissions, validation and audit apply). ``roles``: when
    given, only holders of one of them (or administrators and the system) may call
    it; everyone else gets a clear refusal in the script.
    """

    name: str
    function: Callable[..., Any]
    roles: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class MetadataKind:
    """A YAML kind a plugin adds to apps: ``extensions/<name>.yaml`` in an app folder,
    validated against ``schema`` (JSON Schema) at publish; the designer edits it with
    a form generated from the schema.

    ``check(section, doc)``, when given, checks what a schema cannot (references to
    the app's entities and fields, template syntax) at validation and publish: it
    yields ``(path inside the section, message, line offset or None)``.
    """

    name: str
    schema: Mapping[str, Any]
    title: Mapping[str, str] | None = None
    check: Callable[[Any, Mapping[str, Any]], Any] | None = None
