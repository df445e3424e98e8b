"""Message gateways over HTTP: the notification channels ``sms``, ``push`` and ``voice``.

Each is one provider's HTTP gateway for the whole installation, like the SMTP server for
e-mail: ``LOOM_SMS_GATEWAY_URL`` (and ``LOOM_PUSH_GATEWAY_URL``, ``LOOM_VOICE_GATEWAY_URL``)
names it, ``LOOM_SMS_GATEWAY_TOKEN`` is sent as a bearer token when set. Until the URL is set
the channel is not configured and its messages wait in the outbox. They are fallbacks: a
plugin of a provider that offers its own ``sms`` channel replaces the gateway's.

A message is one JSON POST: ``{"channel", "to", "subject", "text", "message_id", "app",
"entity", "record_id"}`` with the outbox row's ``Message-ID`` as the ``Idempotency-Key``
header, so a provider drops the copy that at-least-once delivery may send. A 2xx answer is
delivered; 4xx (but 408 and 429) is a refusal for good (a malformed number: no retry); any
other answer or no answer is an attempt the outbox retries with back-off.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from runtime.plugin_api import Channel, ChannelError, MessageRefused

TIMEOUT = 10
GATEWAYS = {
    "sms": {"ru": "SMS", "en": "SMS"},
    "push": {"ru": "Push-уведомление", "en": "Push notification"},
    "voice": {"ru": "Голосовой вызов", "en": "Voice call"},
}
RETRIED = (408, 429)


def url_of(name: str) -> str | None:
    return os.environ.get(f"LOOM_{name.upper()}_GATEWAY_URL") or None


def payload(name: str, message) -> bytes:
    return json.dumps({"channel": name, "to": message.recipient, "subject": message.subject, "text": message.body,
                       "message_id": message.message_id, "app": message.app, "entity": message.entity,
                       "record_id": message.record_id}, ensure_ascii=False).encode()


def post(name: str, message) -> None:
    """POST one message to gateway ``name``; raise :class:`MessageRefused` or :class:`ChannelError`."""
    url = url_of(name)
    if url is None:
        raise ChannelError(f"LOOM_{name.upper()}_GATEWAY_URL is not set")
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.message_id,
               "User-Agent": "Loom-Gateways"}
    token = os.environ.get(f"LOOM_{name.upper()}_GATEWAY_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=payload(name, message), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as answer:
            answer.read(1024)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        text = f"HTTP {exc.code} from the {name} gateway" + (f": {detail}" if detail else "")
        if 400 <= exc.code < 500 and exc.code not in RETRIED:
            raise MessageRefused(text) from None
        raise ChannelError(text) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ChannelError(f"the {name} gateway {url}: {exc}") from None


def channel(name: str) -> Channel:
    return Channel(name=name, deliver=lambda message, config: post(name, message),
                   address=lambda who: who.get("phone") or who.get("address"),
                   ready=lambda config: url_of(name) is not None, title=GATEWAYS[name], fallback=True)


def channels() -> list[Channel]:
    return [channel(name) for name in GATEWAYS]
