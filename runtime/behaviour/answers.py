"""Answers go back through the channel the requester chose (``channels:`` of an entity).

A public comment on a record whose entity declares ``channels:`` is an answer to its
requester, unless the requester wrote it. :meth:`Answers.comment` writes it, in the
comment's own transaction, to the channel :func:`metamodel.channels.reply_channel` picks:

- ``email``: an outbox row for the e-mail channel, its subject carrying the record's
  number (a reply by mail comes back to the record: plugins/mailin);
- ``inapp``: an in-app notification of the requester;
- ``portal``: the public comment is what the portal shows; the requester also gets a
  notice (an in-app notification pointing at the record);
- any other name: a plugin's notification channel (``loom_notification_channels``),
  through the outbox like e-mail, to the address its ``address()`` picks from the
  requester (``email``, ``user_id``, ``username``, ``name``, ``lang``, and ``address``:
  the value of the section's ``address`` field).

Nothing leaves before the comment commits; the outbox delivers at least once.
"""
from __future__ import annotations

from sqlalchemy import func, insert, select

from metamodel import channels, title_text
from runtime import clock
from runtime.data import tables as platform


class Answers:
    def __init__(self, loom):
        self.loom = loom

    def requester(self, conn, entity, spec: dict, record: dict) -> dict | None:
        """Who is answered: ``{user_id, email, username, name, lang, address}``, or ``None``."""
        field = spec["requester"]
        value = record.get(field)
        who = {"user_id": None, "email": None, "username": None, "name": None, "lang": "ru",
               "address": record.get(spec["address"]) if spec.get("address") else None}
        if field == "created_by" or entity.fields[field].type == "user":
            u = platform.user
            row = conn.execute(select(u).where(u.c.id == value, u.c.is_active.is_(True))).first() \
                if value is not None else None
            if row is not None:
                who.update(user_id=row.id, email=row.email, username=row.username,
                           name=row.full_name or row.username, lang=row.lang or "ru")
        elif value:
            who["email"] = str(value)
        if not who["email"] and spec.get("email"):
            who["email"] = record.get(spec["email"]) or None
        if who["user_id"] is None and who["email"]:  # an address of a user (a portal contact): that user
            u = platform.user
            row = conn.execute(select(u).where(func.lower(u.c.email) == who["email"].lower(),
                                               u.c.is_active.is_(True)).order_by(u.c.id).limit(1)).first()
            if row is not None:
                who.update(user_id=row.id, username=row.username, name=row.full_name or row.username,
                           lang=row.lang or "ru")
        return who if (who["user_id"] or who["email"] or who["address"]) else None

    def comment(self, conn, app: str, entity: str, record: dict, text: str, actor) -> dict | None:
        """Send a public comment to the requester through their channel (in ``conn``'s
        transaction); ``{"channel", "outbox_id" | "notification_id"}`` or ``None`` when the
        entity has no channels, nobody to answer, or the requester wrote it."""
        ent = self.loom.entity_tables(app, entity).entity
        spec = ent.spec.get("channels")
        if not spec:
            return None
        who = self.requester(conn, ent, spec, record)
        if who is None or self._by_requester(actor, who):
            return None
        channel = channels.reply_channel(spec, record)
        title = record.get(ent.title_field) or ""
        subject = f"[{record.get('number')}] {title}".strip()[:255]
        where = {"app": app, "entity": entity, "record_id": record["id"]}
        if channel in ("inapp", "portal"):
            if who["user_id"] is None:
                return None
            heading = subject if channel == "inapp" else f"{title_text(ent.title, who['lang'])} {subject}"
            n = platform.notification
            new = conn.execute(insert(n).values(user_id=who["user_id"], title=heading[:255], body=text[:4000],
                                                created_at=clock.now(), **where).returning(n.c.id)).scalar_one()
            return {"channel": channel, "notification_id": new}
        if channel not in self.loom.plugins.channels():
            return None
        book = {k: who[k] for k in ("email", "user_id", "username", "name", "lang", "address")}
        address, error = self.loom.notifier.address(channel, book)
        if error is not None:  # the channel's bug: the answer is kept failed, the comment stands
            outbox_id = self.loom.notifier.unaddressed(conn, channel, book, subject, text, error, **where)
            return {"channel": channel, "outbox_id": outbox_id}
        if not address:
            return None
        outbox_id = self.loom.notifier.mail(conn, address, subject, text, channel=channel, **where)
        return {"channel": channel, "outbox_id": outbox_id}

    @staticmethod
    def _by_requester(actor, who: dict) -> bool:
        """The requester's own comment (signed in, or a reply by mail from their address)."""
        if actor.id is not None:
            return actor.id == who["user_id"]
        sender = (actor.username or "").split(":", 1)[-1].lower()
        return bool(who["email"]) and sender == who["email"].lower()
