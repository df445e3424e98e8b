"""Channels: a record remembers where it came from, and its requester is answered through
the channel they chose (docs/metadata.md, "Channels").

An entity's ``channels:`` section names a field that records the channel a record came
from (``ui``, ``api``, ``portal``, ``email``, an inbound endpoint's name, a plugin's
channel), optionally a field with the requester's preferred reply channel, the requester
(a user field, ``created_by``, or an e-mail field) and the channels answers may take.
"""
from __future__ import annotations

#: Where records are made by the platform itself.
ORIGINS = ("ui", "api", "portal", "email")
#: Answer channels that need no notification-channel plugin of their own (``portal``
#: needs the portal plugin, ``email`` the e-mail plugin, which is a notification channel).
BUILTIN_ANSWERS = ("inapp", "portal")
DEFAULT_ALLOWED = ("email", "inapp")
TEXT_TYPES = ("string", "choice")


def allowed(spec: dict) -> list[str]:
    return list(spec.get("allowed") or DEFAULT_ALLOWED)


def _choices(field) -> list | None:
    if field is None or field.type != "choice":
        return None
    return [c["value"] if isinstance(c, dict) else c for c in field.spec.get("choices") or []]


def _fits(entity, name: str, value) -> bool:
    """``value`` may be stored in field ``name`` (a choice field takes only its choices)."""
    values = _choices(entity.fields.get(name))
    return values is None or value in values


def reply_channel(spec: dict, record: dict) -> str:
    """The channel an answer takes: the record's reply field, else the channel it came from,
    when allowed; else the section's ``default``, else the first allowed."""
    ok = allowed(spec)
    for value in (record.get(spec["reply"]) if spec.get("reply") else None, record.get(spec["source"])):
        if value in ok:
            return value
    return spec.get("default") or ok[0]


def stamp(entity, data: dict, channel: str | None) -> dict:
    """The values a new record gets from the channel it came through: the source field (unless
    given), and the reply field (unless given): that channel when answers may take it,
    otherwise the default. Returns only what to add."""
    spec = entity.spec.get("channels")
    if not spec or not channel:
        return {}
    out = {}
    if data.get(spec["source"]) in (None, "") and _fits(entity, spec["source"], channel):
        out[spec["source"]] = channel
    reply = spec.get("reply")
    if reply and data.get(reply) in (None, ""):
        chosen = reply_channel(spec, {spec["source"]: out.get(spec["source"], data.get(spec["source"])) or channel})
        if _fits(entity, reply, chosen):
            out[reply] = chosen
    return out


def check(entity):
    """Problems of an entity's ``channels:`` section: ``(path inside the entity, message)``."""
    spec = entity.spec.get("channels")
    if not spec:
        return
    fields = entity.fields
    base = ("channels",)
    for key in ("source", "reply"):
        name = spec.get(key)
        if name is None:
            continue
        f = fields.get(name)
        if f is None:
            yield base + (key,), f"no field {name!r} in this entity; add a string or choice field for it"
        elif f.type not in TEXT_TYPES:
            yield base + (key,), f"field {name!r} is a {f.type}; a channel is kept in a string or choice field"
    reply = fields.get(spec.get("reply") or "")
    values = _choices(reply)
    if values is not None:
        for channel in allowed(spec):
            if channel not in values:
                yield base + ("reply",), f"choice field {reply.name!r} has no choice {channel!r}, which is allowed"
    requester = spec["requester"]
    f = fields.get(requester)
    if requester != "created_by" and (f is None or f.type not in ("user", "email")):
        yield base + ("requester",), (f"the requester must be created_by, a user field or an e-mail field; "
                                      f"{requester!r} is {'not a field' if f is None else 'a ' + f.type}")
    if "email" in spec and (fields.get(spec["email"]) is None or fields[spec["email"]].type != "email"):
        yield base + ("email",), f"no e-mail field {spec['email']!r} in this entity"
    if "address" in spec and spec["address"] not in fields:
        yield base + ("address",), f"no field {spec['address']!r} in this entity"
    if "default" in spec and spec["default"] not in allowed(spec):
        yield base + ("default",), f"the default {spec['default']!r} is not one of allowed: {', '.join(allowed(spec))}"


def answer_channels(channels, plugins) -> set[str]:
    """The channels a platform with these notification channels and plugins answers through."""
    return set(channels) | {"inapp"} | ({"portal"} if "portal" in plugins else set())


def unknown_answers(spec: dict, channels, plugins) -> list[tuple[int, str]]:
    """Allowed channels this platform cannot answer through: ``(index, name)``."""
    known = answer_channels(channels, plugins)
    return [(i, c) for i, c in enumerate(allowed(spec)) if c not in known]
