"""E-mail out: the first notification channel, over SMTP (``LOOM_SMTP_URL``).

``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://...``; the
sender is ``LOOM_MAIL_FROM`` (default ``loom@localhost``). Every copy of a
message carries the outbox row's ``Message-ID``, so a receiver drops the
duplicate that at-least-once delivery may send.
"""
from __future__ import annotations

import email.policy
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

from runtime.plugin_api import Channel, OutgoingMessage, hookimpl, now

SMTP_TIMEOUT = 30
# Header lines up to RFC 5322's limit: folding a long Cyrillic subject into several encoded
# words loses the space at the fold (CPython's folder), "аварийном отключении" arriving as
# "аварийномотключении". A subject is at most 255 characters, so it is never folded.
POLICY = email.policy.default.clone(max_line_length=998)


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    ssl: bool
    starttls: bool
    username: str | None
    password: str | None


def smtp_settings(url: str) -> Server:
    """Parse ``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://...``."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"LOOM_SMTP_URL must look like smtp://host:port or smtps://host:port, got {url!r}")
    ssl = parts.scheme == "smtps"
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    return Server(parts.hostname, parts.port or (465 if ssl else 25), ssl, starttls,
                  unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None)


def email_message(message: OutgoingMessage) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = os.environ.get("LOOM_MAIL_FROM", "loom@localhost")
    msg["To"] = message.recipient
    if message.cc:
        msg["Cc"] = ", ".join(message.cc)
    msg["Subject"] = message.subject
    msg["Message-ID"] = message.message_id
    msg["Date"] = format_datetime(now())
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    msg.set_content(message.body)
    return msg


def deliver(message: OutgoingMessage, config: dict) -> None:
    server = smtp_settings(config["smtp_url"])
    cls = smtplib.SMTP_SSL if server.ssl else smtplib.SMTP
    with cls(server.host, server.port, timeout=SMTP_TIMEOUT) as smtp:
        if server.starttls:
            smtp.starttls()
        if server.username:
            smtp.login(server.username, server.password or "")
        smtp.send_message(email_message(message))


def ready(config: dict) -> bool:
    """Configured when ``LOOM_SMTP_URL`` is set; a malformed one is an error before any row is taken."""
    return bool(config.get("smtp_url")) and smtp_settings(config["smtp_url"]) is not None


@hookimpl
def loom_notification_channels():
    return [Channel(name="email", deliver=deliver, address=lambda who: who.get("email"), ready=ready,
                    title={"ru": "Эл. почта", "en": "E-mail"})]
