"""Webhooks out: a record event matching an app's ``webhooks`` becomes an outbox message,
delivered by the outbox's jobs (retries with back-off, at least once) through the
``webhook`` channel: a signed JSON POST."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import urllib.error
import urllib.request

from runtime.plugin_api import ChannelError

CHANNEL = "webhook"
TIMEOUT = 10
SIGNATURE = "X-Loom-Signature-256"
DELIVERY = "Idempotency-Key"


def matches(hook: dict, event) -> bool:
    if hook["entity"] != event.entity:
        return False
    if event.kind == "created":
        return "created" in hook["events"]
    if event.kind == "transition" and "transition" in hook["events"]:
        wanted = hook.get("transitions")
        return not wanted or event.transition in wanted
    if event.kind in ("updated", "transition") and "changed" in hook["events"]:
        return bool(set(hook.get("fields") or ()) & set(event.changes))
    return False


def on_record_event(event, platform) -> None:
    section = platform.app_section(event.app, "webhooks") or {}
    for name, hook in (section.get("webhooks") or {}).items():
        if not matches(hook, event):
            continue
        kind = "changed" if event.kind == "updated" else event.kind
        body = {"webhook": name, "event": kind, "app": event.app, "entity": event.entity,
                "record_id": event.record_id, "actor": event.actor, "at": event.at.isoformat(),
                "changes": {f: {"old": o, "new": n} for f, (o, n) in event.changes.items()}}
        if event.kind == "transition":
            body.update(transition=event.transition, from_status=event.from_status, to_status=event.to_status)
        try:
            body["record"] = platform.records().get(event.app, event.entity, event.record_id)
        except Exception:  # noqa: BLE001 - deleted meanwhile: the event still goes out
            body["record"] = None
        platform.post(CHANNEL, hook["url"], f"{event.app}.{name}: {kind} #{event.record_id}",
                      json.dumps(body, ensure_ascii=False, default=str), app=event.app, entity=event.entity,
                      record_id=event.record_id, cc=[hook["secret_env"]])


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(message, settings) -> None:
    """POST the body; any answer but 2xx is a failed attempt, retried by the outbox.
    ``message.cc`` holds the name of the secret's environment variable (a name, not the secret)."""
    env = message.cc[0] if message.cc else ""
    secret = os.environ.get(env)
    if not secret:
        raise ChannelError(f"the signing secret variable {env or '(none)'} is not set")
    body = message.body.encode()
    req = urllib.request.Request(message.recipient, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", SIGNATURE: sign(secret, body),
        DELIVERY: message.message_id, "User-Agent": "Loom-Webhooks"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as answer:  # noqa: S310 - http(s) only, by schema
            answer.read(1024)
    except urllib.error.HTTPError as exc:
        raise ChannelError(f"HTTP {exc.code} from {message.recipient}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ChannelError(f"{message.recipient}: {exc}") from None
