"""One fetched message: is it a loop or an auto-reply, which record does it answer, and the
:class:`InboundEvent` it becomes. Pure functions over imap-tools' ``MailMessage``."""
from __future__ import annotations

import html
import io
import os
import re

from runtime.plugin_api import InboundEvent, Upload

CHANNEL = "mailin"
#: ``Precedence`` values of list and bulk mail (RFC 2076), never answered by a person.
BULK = {"bulk", "junk", "list", "auto_reply"}
ROBOTS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.IGNORECASE)
QUOTED_HEAD = re.compile(r"^\s*(On .+ wrote:|.+ писал\(а\):|.+ написал\(а\):|-----Original Message-----)\s*$")


def header(msg, name: str) -> str:
    values = msg.headers.get(name.lower()) or ()
    return " ".join(v.strip() for v in values).strip()


def message_id(msg, source: str) -> str:
    """The message's ``Message-ID``; without one, its place in the mailbox stands in."""
    return header(msg, "Message-ID") or f"<{source}>"


def sender(msg) -> str:
    return (msg.from_ or "").strip().lower()


def own_addresses(box: dict) -> set[str]:
    """Addresses Loom sends from: this mailbox's and the e-mail plugin's ``LOOM_MAIL_FROM``."""
    own = {os.environ.get("LOOM_MAIL_FROM", "loom@localhost").lower()}
    if box.get("address"):
        own.add(box["address"].lower())
    return own


def dropped(msg, box: dict) -> str | None:
    """Why this message is not for a person to read (a loop, an auto-reply, a bounce), or ``None``."""
    auto = header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if header(msg, name) and (name != "X-Auto-Response-Suppress" or "all" in header(msg, name).lower()):
            return f"{name} header"
    precedence = header(msg, "Precedence").lower()
    if precedence in BULK:
        return f"Precedence: {precedence}"
    who = sender(msg)
    if not who:
        return "no sender"
    if who in own_addresses(box):
        return f"sent by Loom's own address {who}"
    if ROBOTS.match(who):
        return f"sent by {who}"
    return None


def number_pattern(number: str | None) -> re.Pattern | None:
    """The entity's record numbers in a subject: ``REQ-{000000}`` finds ``REQ-000123``."""
    if not number or "{" not in number:
        return None
    start, end = number.index("{"), number.index("}")
    return re.compile(re.escape(number[:start]) + r"\d{%d,}" % (end - start - 1) + re.escape(number[end + 1:]))


def references(msg) -> list[str]:
    """Message-IDs this message answers (``In-Reply-To`` and ``References``)."""
    text = " ".join([header(msg, "In-Reply-To"), header(msg, "References")])
    return re.findall(r"<[^<>\s]+>", text)


def body(msg) -> str:
    """The text of the message: the plain part, or the HTML part as text."""
    if msg.text and msg.text.strip():
        return msg.text.replace("\r\n", "\n").strip()
    text = re.sub(r"(?is)<(script|style).*?</\1>", "", msg.html or "")
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\r\n", "\n").strip()


def reply_text(msg) -> str:
    """The new part of a reply: quoted lines (``>``) and what follows "On ... wrote:" left out."""
    out = []
    for line in body(msg).splitlines():
        if QUOTED_HEAD.match(line):
            break
        if not line.lstrip().startswith(">"):
            out.append(line)
    return "\n".join(out).strip() or body(msg)


def part(msg, name: str):
    if name == "subject":
        return (msg.subject or "").strip() or "(no subject)"
    if name == "body":
        return body(msg)
    if name == "from":
        return sender(msg)
    if name == "from_name":
        return (msg.from_values.name if msg.from_values else "") or sender(msg)
    if name == "to":
        return ", ".join(msg.to)
    if name == "date":
        return msg.date.isoformat() if msg.date else None
    if name == "message_id":
        return header(msg, "Message-ID")
    raise ValueError(name)


def uploads(msg) -> list[Upload]:
    """The message's attachments (inline parts without a name left out)."""
    return [Upload(a.filename, a.content_type or "application/octet-stream", io.BytesIO(a.payload))
            for a in msg.attachments if a.filename]


def event(msg, *, app: str, box: dict, external_id: str, source: str, record_id: int | None,
          contact_id: int | None) -> InboundEvent:
    """A new record from the message, or (``record_id``) a comment with its new text."""
    files = {}
    if box.get("attachments"):
        found = uploads(msg)
        if found:
            files = {box["attachments"]: found}
    if record_id is not None:
        return InboundEvent(channel=CHANNEL, app=app, entity=box["entity"], external_id=external_id,
                            sender=sender(msg), text=reply_text(msg), record_id=record_id, files=files,
                            source=source)
    fields = {f: part(msg, p) for f, p in (box.get("fields") or {}).items()}
    if contact_id is not None:
        fields[box["contact"]["link"]] = contact_id
    return InboundEvent(channel=CHANNEL, app=app, entity=box["entity"], external_id=external_id,
                        sender=sender(msg), fields={f: v for f, v in fields.items() if v is not None},
                        files=files, source=source, origin="email")
