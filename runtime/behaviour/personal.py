"""Personal notifications: "assigned to you", "you were mentioned" and "your proposal was
answered", delivered as each user chooses.

A record whose assignee field (:func:`metamodel.tasks.assignee_field`) gets a new user, by
routing or by hand, notifies that user; an ``@username`` in a comment notifies the user named
(:mod:`runtime.data.comments`); an analyst's answer to an improvement proposal notifies its
proposer (:mod:`runtime.behaviour.proposals`). Nobody is told of their own doing.

Each user chooses per kind (:data:`KINDS`) how it reaches them (:data:`CHOICES`), on the
notification settings page; the choice is a ``loom_preference`` row (key
:data:`PREFERENCE`). Every personal notification is an in-app row, so the top bar counts it;
``email`` also writes an outbox row for the e-mail channel in the same transaction, and
``digest`` marks the row for the daily digest instead: :meth:`Personal.send_digests` (run by
the scheduler once a day) writes one e-mail per user listing what is owed and clears the
marks, user by user, each in its own transaction.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select, update

from runtime import clock
from runtime.data import tables as platform

KINDS = ("assignment", "mention", "proposal")
CHOICES = ("inapp", "email", "digest")
DEFAULT = "inapp"
PREFERENCE = "notifications"
DIGEST_HOUR = 6  # UTC: the digest goes out once a day from this hour on
DIGEST_MAX = 200  # lines in one digest; the rest is summed up

TEXTS = {
    "assignment": {"ru": "Вам назначено: {title}", "en": "Assigned to you: {title}"},
    "assignment_body": {"ru": "{who} назначил(а) вам {title}.", "en": "{who} assigned {title} to you."},
    "assignment_routed": {"ru": "{title} назначено вам по правилам маршрутизации.",
                          "en": "Routing assigned {title} to you."},
    "digest_subject": {"ru": "Сводка уведомлений: {n}", "en": "Notification digest: {n}"},
    "digest_more": {"ru": "…и ещё {n}", "en": "…and {n} more"},
}


class PreferenceError(ValueError):
    """A preference that is not one of the kinds and choices; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _text(key: str, lang: str, **values) -> str:
    texts = TEXTS[key]
    return texts.get(lang, texts["ru"]).format(**values)


class Personal:
    def __init__(self, loom):
        self.loom = loom

    # ------------------------------------------------------------------ preferences
    def preferences(self, user_id: int, conn=None) -> dict:
        """``{kind: choice}`` of a user, with the default for kinds never chosen."""
        p = platform.preference
        query = select(p.c.value).where(p.c.key == PREFERENCE, p.c.user_id == user_id)
        if conn is None:
            with self.loom.reader.connect() as c:
                stored = c.execute(query).scalar()
        else:
            stored = conn.execute(query).scalar()
        stored = stored if isinstance(stored, dict) else {}
        return {kind: stored.get(kind) if stored.get(kind) in CHOICES else DEFAULT for kind in KINDS}

    def set_preferences(self, user_id: int, wanted: dict) -> dict:
        """Store a user's choices (only the kinds given change); :class:`PreferenceError` for a bad one."""
        for kind, choice in wanted.items():
            if kind not in KINDS:
                raise PreferenceError(kind, f"unknown notification kind {kind!r}; kinds: {', '.join(KINDS)}")
            if choice not in CHOICES:
                raise PreferenceError(kind, f"{kind}: {choice!r} is not one of {', '.join(CHOICES)}")
        p = platform.preference
        with self.loom.engine.begin() as c:
            merged = {**self.preferences(user_id, c), **wanted}
            now = clock.now()
            key = (p.c.key == PREFERENCE, p.c.user_id == user_id)
            if c.execute(update(p).where(*key).values(value=merged, updated_at=now)).rowcount == 0:
                c.execute(insert(p).values(key=PREFERENCE, user_id=user_id, value=merged, updated_at=now))
        return merged

    # ------------------------------------------------------------------ sending
    def notify(self, conn, user_id: int, kind: str, title: str, body: str, *, app=None, entity=None,
               record_id=None, link: str | None = None) -> int:
        """One personal notification in ``conn``'s transaction, delivered as the user chose; its id.
        It points at the record (``app``, ``entity``, ``record_id``) or, given ``link`` (a path
        under the site, ``/ui/proposals/7``), at that page."""
        choice = self.preferences(user_id, conn)[kind]
        n = platform.notification
        new_id = conn.execute(insert(n).values(
            user_id=user_id, title=title[:255], body=body[:2000], app=app, entity=entity, record_id=record_id,
            link=link, created_at=clock.now(), kind=kind, digest=choice == "digest").returning(n.c.id)).scalar_one()
        if choice == "email":
            email = conn.execute(select(platform.user.c.email).where(platform.user.c.id == user_id)).scalar()
            if email and "email" in self.loom.plugins.channels():
                link = self._url(app, entity, record_id, link)
                self.loom.notifier.mail(conn, email, title, body + (f"\n\n{link}" if link else ""),
                                        app=app, entity=entity, record_id=record_id)
        return new_id

    def assigned(self, conn, et, record_id: int, old, actor, routed_to: int | None = None) -> int | None:
        """Notify the record's assignee when it is new or changed; the notification's id, if any.
        ``routed_to``: whom routing chose, named in the notice as routing's choice, not the saver's."""
        from metamodel.tasks import assignee_field

        entity = et.entity
        field = assignee_field(entity)
        if field is None or field not in et.main.c:
            return None
        row = conn.execute(select(et.main).where(et.main.c.id == record_id)).mappings().first()
        if row is None:
            return None
        new = row[field]
        if new is None or (old is not None and old.get(field) == new) or new == getattr(actor, "id", None):
            return None
        u = platform.user
        person = conn.execute(select(u.c.lang, u.c.is_active).where(u.c.id == new)).first()
        if person is None or not person.is_active:
            return None
        lang = person.lang or "ru"
        label = record_label(entity, row)
        who = getattr(actor, "full_name", None) or getattr(actor, "username", None) or "Loom"
        if getattr(actor, "id", None) is None or routed_to == new:
            body = _text("assignment_routed", lang, title=label)
        else:
            body = _text("assignment_body", lang, who=who, title=label)
        return self.notify(conn, new, "assignment", _text("assignment", lang, title=label), body,
                           app=entity.app, entity=entity.name, record_id=record_id)

    def send_digests(self, limit_users: int = 1000) -> int:
        """Write one digest e-mail to each user owed one; return how many were written."""
        n, u = platform.notification, platform.user
        with self.loom.reader.connect() as c:
            users = c.execute(select(n.c.user_id).where(n.c.digest.is_(True)).group_by(n.c.user_id)
                              .order_by(n.c.user_id).limit(limit_users)).scalars().all()
        sent = 0
        email_ready = "email" in self.loom.plugins.channels()
        for user_id in users:
            with self.loom.engine.begin() as c:
                person = c.execute(select(u.c.email, u.c.lang).where(u.c.id == user_id)).first()
                rows = c.execute(select(n.c.id, n.c.title, n.c.app, n.c.entity, n.c.record_id, n.c.link, n.c.created_at)
                                 .where(n.c.user_id == user_id, n.c.digest.is_(True)).order_by(n.c.id)).all()
                if not rows:
                    continue
                if person is not None and person.email and email_ready:
                    lang = person.lang or "ru"
                    lines = [f"- {r.title}" + (f"\n  {link}" if (link := self._url(r.app, r.entity, r.record_id, r.link))
                                               else "") for r in rows[:DIGEST_MAX]]
                    if len(rows) > DIGEST_MAX:
                        lines.append(_text("digest_more", lang, n=len(rows) - DIGEST_MAX))
                    self.loom.notifier.mail(c, person.email, _text("digest_subject", lang, n=len(rows)),
                                            "\n".join(lines) + "\n")
                    sent += 1
                c.execute(update(n).where(n.c.id.in_([r.id for r in rows])).values(digest=False))
        return sent

    def digests_owed(self) -> bool:
        """Whether any notification waits for a digest (one indexed look-up)."""
        n = platform.notification
        with self.loom.reader.connect() as c:
            return c.execute(select(n.c.id).where(n.c.digest.is_(True)).limit(1)).first() is not None

    def digest_slot(self, now: dt.datetime) -> dt.datetime | None:
        """Today's digest moment once it has come (``DIGEST_HOUR`` UTC), else ``None``."""
        now = now.astimezone(dt.UTC)
        slot = now.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
        return slot if now >= slot else None

    def _url(self, app, entity, record_id, link=None) -> str | None:
        if link:
            return f"{self.loom.base_url}{link}"
        if app is None or entity is None or record_id is None:
            return None
        return f"{self.loom.base_url}/ui/{app}/{entity}/{record_id}"


def record_label(entity, row) -> str:
    """How a notification names a record: ``REQ-000012 · its title``."""
    title = row.get(entity.title_field) if entity.title_field in row else None
    number = row.get("number")
    if title and number and entity.title_field != "number":
        return f"{number} · {title}"
    return str(title or number or f"#{row['id']}")
