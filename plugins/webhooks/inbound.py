"""POST /hooks/<app>/<endpoint>: JSON in, a record (or a comment) out, every call logged."""
from __future__ import annotations

import hashlib
import hmac
import json
import os

from flask import Blueprint, abort, jsonify, request

from runtime.plugin_api import (
    ExpressionError, InboundEvent, LoomError, NotFound, ValidationFailed, csrf_exempt, current_platform, expression,
)

from .schema import read_path

CHANNEL = "webhooks"
MAX_BODY = 1024 * 1024

bp = Blueprint("webhooks_in", __name__, url_prefix="/hooks")
csrf_exempt(bp)


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def endpoint_spec(platform, app: str, name: str) -> dict | None:
    section = platform.app_section(app, "webhooks") or {}
    return (section.get("endpoints") or {}).get(name)


def authenticate(spec: dict, headers, body: bytes) -> None:
    """Raise :class:`Refused` (401) unless the call carries the endpoint's token or signature.
    The secret is read from the environment variable the metadata names, never from YAML."""
    auth = spec["auth"]
    env = auth.get("bearer_env") or auth.get("hmac_env")
    secret = os.environ.get(env)
    if not secret:
        raise Refused(503, f"the secret variable {env} is not set on the server")
    if "bearer_env" in auth:
        given = headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {secret}".encode()):
            raise Refused(401, "missing or wrong bearer token")
        return
    header = auth.get("header", "X-Signature-256")
    given = headers.get(header, "").removeprefix("sha256=")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not given or not hmac.compare_digest(given.lower().encode(), expected.encode()):
        raise Refused(401, f"missing or wrong HMAC-SHA256 signature in {header}")


def mapped(mapping, payload, where: str):
    """The value a field mapping gives: a path, a path with a transform, or a constant."""
    if isinstance(mapping, str):
        return read_path(payload, mapping)
    if "value" in mapping:
        return mapping["value"]
    value = read_path(payload, mapping["path"])
    if value is None:
        value = mapping.get("default")
    if "transform" in mapping:
        try:
            value = expression(mapping["transform"]).evaluate({"value": value, "payload": payload})
        except ExpressionError as exc:
            raise Refused(422, f"{where}.transform: {exc}") from None
    return value


def event_for(platform, app: str, name: str, spec: dict, payload) -> InboundEvent:
    key = read_path(payload, spec["idempotency_key"])
    if key is None or key == "":
        raise Refused(422, f"no idempotency key at {spec['idempotency_key']}")
    where = f"endpoints.{name}"
    fields = {f: mapped(m, payload, f"{where}.fields.{f}") for f, m in (spec.get("fields") or {}).items()}
    fields = {f: v for f, v in fields.items() if v is not None}
    sender = mapped(spec["sender"], payload, f"{where}.sender") if "sender" in spec else None
    text = mapped(spec["text"], payload, f"{where}.text") if "text" in spec else None
    action = spec.get("action", "create")
    record_id = None
    if action in ("comment", "update"):
        wanted = read_path(payload, spec["key"]["path"])
        found = platform.records().find(app, spec["entity"], {spec["key"]["field"]: wanted}, limit=1)
        if not found:
            raise Refused(404, f"no {spec['entity']} with {spec['key']['field']} = {wanted!r}")
        record_id = found[0]["id"]
    return InboundEvent(channel=CHANNEL, app=app, entity=spec["entity"], external_id=f"{app}/{name}/{key}",
                        sender=str(sender or f"{name}"), fields=fields,
                        text=_text(text, payload, action), record_id=record_id, update=action == "update",
                        origin=name)


def _text(text, payload, action: str) -> str:
    """The comment: the mapped text; for a comment endpoint without one, the payload itself."""
    if text is not None:
        return str(text)
    return json.dumps(payload, ensure_ascii=False) if action == "comment" else ""


@bp.post("/<app>/<name>")
def receive(app: str, name: str):
    platform = current_platform()
    spec = endpoint_spec(platform, app, name)
    if spec is None:
        abort(404)
    body = request.get_data(cache=False)[:MAX_BODY + 1]
    external_id = None
    log = dict(app=app, name=name)
    try:
        if len(body) > MAX_BODY:
            raise Refused(413, "the body is larger than 1 MiB")
        authenticate(spec, request.headers, body)
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise Refused(400, f"not JSON: {exc}") from None
        event = event_for(platform, app, name, spec, payload)
        external_id = event.external_id
        try:
            result = platform.receive(event)
        except ValidationFailed as exc:
            raise Refused(422, str(exc)) from None
        except (NotFound, LoomError) as exc:
            raise Refused(422, str(exc)) from None
    except Refused as exc:
        platform.log_delivery(CHANNEL, "in", "refused" if exc.status in (401, 503) else "failed",
                              external_id=external_id, status=exc.status, detail=str(exc), **log)
        return jsonify(error=str(exc)), exc.status
    except Exception as exc:  # the server's fault: logged for the administrator, then Flask's 500
        platform.log_delivery(CHANNEL, "in", "failed", external_id=external_id, status=500,
                              detail=f"{type(exc).__name__}: {exc}", **log)
        raise
    if result["duplicate"]:
        outcome = "duplicate"
    elif spec.get("action") == "update":
        outcome = "updated"
    else:
        outcome = "commented" if result["comment_id"] else "created"
    status = 200 if result["duplicate"] else 201
    platform.log_delivery(CHANNEL, "in", outcome, external_id=external_id, status=status,
                          record_id=result["record_id"], **log)
    return jsonify(outcome=outcome, record_id=result["record_id"], comment_id=result["comment_id"]), status
