"""Delivery: each record of an entity is a message the platform sends through the channel the
record names, and keeps how its delivery went on the record (docs/metadata.md, "Delivery").

An entity's ``delivery:`` section names the field holding each record's channel (``sms``,
``email``, ``push``...: a notification channel of the platform, or another name through
``via``), the field with the address on that channel, the text field that is the message,
and the fields the platform keeps: the delivery state (:data:`STATES`), the attempts, when it
was sent and the last error. Channels listed under ``manual`` are nobody's to send: their
records wait as a work list (a call list) whose outcome a person records.
"""
from __future__ import annotations

QUEUED, SENT, FAILED, MANUAL = "queued", "sent", "failed", "manual"
#: What the state field holds: in the outbox (also while a retry waits), delivered to the
#: channel's server, given up (no address, refused, or out of attempts), or a person's to do.
STATES = (QUEUED, SENT, FAILED, MANUAL)
STATE_TYPES = ("choice", "string")
TEXT_TYPES = ("string", "text", "email", "phone", "choice")
#: The kept fields and the types that may hold them.
KEPT = {"attempts": ("integer",), "sent_at": ("datetime",), "error": ("string", "text")}


def channel_of(spec: dict, value) -> str | None:
    """The notification channel a record whose channel field holds ``value`` is sent through;
    ``None`` for a manual channel (or an empty value)."""
    if value in (None, "") or value in (spec.get("manual") or ()):
        return None
    return (spec.get("via") or {}).get(value, value)


def channels(entity_spec: dict) -> list[str]:
    """The notification channels an entity's records may need (the channel field's choices and
    ``via``), from the entity as written, for the check that they are installed; none for a
    free-text channel field without ``via``."""
    spec = entity_spec.get("delivery") or {}
    f = (entity_spec.get("fields") or {}).get(spec.get("channel") or "") or {}
    if f.get("type") == "choice":
        values = [c if isinstance(c, str) else c.get("value") for c in f.get("choices") or []]
    else:
        values = list(spec.get("via") or {})
    out = []
    for value in values:
        name = channel_of(spec, value)
        if name is not None and name not in out:
            out.append(name)
    return out


def check(entity):
    """Problems of an entity's ``delivery:`` section: ``(path inside the entity, message)``."""
    spec = entity.spec.get("delivery")
    if not spec:
        return
    fields, base = entity.fields, ("delivery",)

    def field(key: str, types: tuple, what: str):
        name = spec.get(key)
        if name is None:
            return None
        f = fields.get(name)
        if f is None:
            yield base + (key,), f"no field {name!r} in this entity; add {what}"
        elif f.value_type not in types:
            yield base + (key,), f"field {name!r} is a {f.type}; {what} is one of: {', '.join(types)}"

    yield from field("channel", ("choice", "string"), "a choice or string field naming each record's channel")
    yield from field("address", TEXT_TYPES, "a text field with the address on that channel")
    yield from field("text", ("string", "text"), "a text field holding the message")
    yield from field("state", STATE_TYPES, "a choice field the platform keeps the delivery state in")
    for key, types in KEPT.items():
        yield from field(key, types, f"a {' or '.join(types)} field")
    state = fields.get(spec.get("state") or "")
    if state is not None and state.type == "choice":
        wanted = [QUEUED, SENT, FAILED] + ([MANUAL] if spec.get("manual") else [])
        missing = [s for s in wanted if s not in state.choice_values]
        if missing:
            yield base + ("state",), (f"choice field {state.name!r} lacks the delivery state(s) "
                                      f"{', '.join(missing)}; it needs {', '.join(wanted)}")
    channel = fields.get(spec.get("channel") or "")
    if channel is not None and channel.type == "choice":
        for key in ("manual", "via"):
            for i, value in enumerate(spec.get(key) or ()):
                if value not in channel.choice_values:
                    path = base + ((key, i) if key == "manual" else (key, value))
                    yield path, (f"{value!r} is not a choice of {channel.name!r}; "
                                 f"choices: {', '.join(sorted(channel.choice_values))}")
