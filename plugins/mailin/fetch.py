"""Read new messages of every mailbox an app declares and turn each into a record or a comment.

Each message is handled once, even across restarts and with two fetchers at once: its
``Message-ID`` is stored in ``loom_inbound`` in the transaction that writes the record (a
second copy is a ``duplicate``), and the mailbox's UIDVALIDITY and last UID read are kept in
the plugin state, so a restart goes on after the last message handled. A message the
platform refuses (a validation error) is logged and passed; a failure of the server
(database away) stops that mailbox's round before its UID is passed, to be tried again.
"""
from __future__ import annotations

import logging
import os
import time

from imap_tools import AND, U, MailBox, MailBoxUnencrypted

from runtime.plugin_api import LoomError, now

from . import message

log = logging.getLogger("loom.plugins.mailin")
TIMEOUT = 30
BATCH = 200


def mailboxes(platform, app: str | None = None):
    """``(app, name, spec)`` of every mailbox of the live apps (or of ``app``)."""
    for name in [app] if app else platform.apps():
        section = platform.app_section(name, "mailin") or {}
        for box, spec in (section.get("mailboxes") or {}).items():
            yield name, box, spec


def state_key(app: str, box: str) -> str:
    return f"mailin:{app}:{box}"


def connect(spec: dict):
    password = os.environ.get(spec["password_env"])
    if not password:
        raise LoomError(f"the password variable {spec['password_env']} is not set on the server")
    tls = spec.get("tls", True)
    cls = MailBox if tls else MailBoxUnencrypted
    port = spec.get("port") or (993 if tls else 143)
    return cls(spec["host"], port, timeout=TIMEOUT).login(spec["user"], password,
                                                          initial_folder=spec.get("folder", "INBOX"))


def fetch_all(platform, app: str | None = None, *, due_only: bool = False) -> dict:
    """Fetch every mailbox (``due_only``: those whose ``poll_seconds`` have passed); a count per
    outcome per mailbox, ``{"app.box": {"created": 2, ...}}``, or ``{"error": ...}`` for one
    that could not be read."""
    out = {}
    for app_name, box, spec in mailboxes(platform, app):
        key = state_key(app_name, box)
        state = platform.state(key) or {}
        if due_only and time.time() - state.get("checked", 0) < spec.get("poll_seconds", 60):
            continue
        try:
            out[f"{app_name}.{box}"] = fetch_mailbox(platform, app_name, box, spec)
        except Exception as exc:  # noqa: BLE001 - one broken mailbox must not stop the others
            log.warning("mailbox %s.%s: %s", app_name, box, exc)
            platform.log_delivery(message.CHANNEL, "in", "failed", app=app_name, name=box,
                                  detail=f"{type(exc).__name__}: {exc}")
            out[f"{app_name}.{box}"] = {"error": str(exc)}
    return out


def fetch_mailbox(platform, app: str, box: str, spec: dict) -> dict:
    key = state_key(app, box)
    counts: dict[str, int] = {}
    with connect(spec) as mb:
        folder = spec.get("folder", "INBOX")
        validity = int(mb.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])
        state = platform.state(key) or {}
        last = state.get("last_uid", 0) if state.get("uidvalidity") == validity else 0
        # UID n:* always answers the newest message, even when it is below n: filter again.
        for msg in mb.fetch(AND(uid=U(last + 1, "*")), mark_seen=False, bulk=BATCH):
            uid = int(msg.uid)
            if uid <= last:
                continue
            outcome = handle(platform, app, box, spec, msg, f"{spec['user']}@{spec['host']}/{folder}"
                                                            f";UIDVALIDITY={validity};UID={uid}")
            counts[outcome] = counts.get(outcome, 0) + 1
            last = uid
            platform.save_state(key, {"uidvalidity": validity, "last_uid": last, "checked": time.time()})
    platform.save_state(key, {"uidvalidity": validity, "last_uid": last, "checked": time.time()})
    return counts


def handle(platform, app: str, box: str, spec: dict, msg, source: str) -> str:
    """Receive one message; log it; its outcome (created, commented, duplicate, dropped, failed)."""
    external_id = message.message_id(msg, source)
    logged = dict(app=app, name=box, external_id=external_id)
    reason = message.dropped(msg, spec)
    if reason is not None:
        platform.log_delivery(message.CHANNEL, "in", "dropped", detail=f"{reason}; subject: {msg.subject!r}",
                              **logged)
        return "dropped"
    try:
        record_id = answered(platform, app, spec, msg)
        contact_id = None if record_id is not None else contact(platform, app, spec, message.sender(msg))
        result = platform.receive(message.event(msg, app=app, box=spec, external_id=external_id, source=source,
                                                record_id=record_id, contact_id=contact_id))
    except LoomError as exc:  # the platform refused it (validation, permissions): passed, and logged
        platform.log_delivery(message.CHANNEL, "in", "failed", detail=f"{exc}; subject: {msg.subject!r}",
                              **logged)
        return "failed"
    outcome = "duplicate" if result["duplicate"] else "commented" if result["comment_id"] else "created"
    platform.log_delivery(message.CHANNEL, "in", outcome, record_id=result["record_id"],
                          detail=f"from {message.sender(msg)}: {msg.subject!r} ({source}) at {now():%Y-%m-%d %H:%M}",
                          **logged)
    return outcome


def answered(platform, app: str, spec: dict, msg) -> int | None:
    """The record a reply is about: its number in the subject, or a message Loom sent about it."""
    entity = spec["entity"]
    pattern = message.number_pattern((platform.entity(app, entity) or {}).get("number"))
    found = pattern.search(msg.subject or "") if pattern else None
    if found:
        rows = platform.records().find(app, entity, {"number": found.group(0)}, limit=1)
        if rows:
            return rows[0]["id"]
    about = platform.sent_about(message.references(msg))
    if about and about["app"] == app and about["entity"] == entity:
        return about["record_id"]
    return None


def contact(platform, app: str, spec: dict, email: str) -> int | None:
    """The contact record with the sender's e-mail, when the mailbox links one."""
    link = spec.get("contact")
    if not link or not email:
        return None
    # contains is case-insensitive; keep the rows whose whole address is the sender's
    rows = platform.records().find(app, link["entity"], {f"{link['email']}__contains": email}, limit=20)
    rows = [r for r in rows if str(r.get(link["email"]) or "").strip().lower() == email]
    return rows[0]["id"] if rows else None
