"""Comments on records, with ``@username`` mentions.

Whoever may read a record may comment on it. A comment is internal unless it
is marked ``public``: only public ones reach the portal (docs/portal.md); an
external user's own comments are always public, and staff who may update the
record turn a comment public or internal again. A comment is written to
``loom_comment``, recorded in the audit log (so it shows in the record's
history) and each mentioned user gets a personal notification pointing at the record, in
the same transaction, delivered as they chose (in-app, e-mail or the daily digest;
:mod:`runtime.behaviour.personal`). Its author (or an
administrator) may delete it again: it is marked deleted, and the audit log
keeps its text.
"""
from __future__ import annotations

import contextlib
import re

from sqlalchemy import insert, select, update

from runtime.errors import Forbidden, NotFound, ValidationFailed

from . import tables as platform
from .storage import utcnow
from .values import FieldError

MAX_LENGTH = 10_000
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.\-]*[A-Za-z0-9_]|[A-Za-z0-9_])")


def mentioned_names(body: str) -> list[str]:
    """The ``@username``s in a text, in order, without repeats."""
    out = []
    for name in MENTION.findall(body or ""):
        if name not in out:
            out.append(name)
    return out


def add(loom, app: str, entity: str, record_id: int, body: str, actor, conn=None, public: bool = False) -> dict:
    """Post a comment (in ``conn``'s transaction, or a transaction of its own); returns it
    with the resolved mentions."""
    et = loom.entity_tables(app, entity)
    record = loom.records.get(app, entity, record_id, actor, conn=conn)  # exists and the actor may read it
    body = (body or "").strip()
    if not body:
        raise ValidationFailed([FieldError("body", "is required")])
    if len(body) > MAX_LENGTH:
        raise ValidationFailed([FieldError("body", f"at most {MAX_LENGTH} characters allowed, got {len(body)}")])
    public = bool(public) or bool(getattr(actor, "external", False))
    names = mentioned_names(body) if not getattr(actor, "external", False) else []  # a client pings no staff
    u = platform.user
    with contextlib.nullcontext(conn) if conn is not None else loom.engine.begin() as c:
        users = []
        if names:
            users = c.execute(select(u.c.id, u.c.username).where(u.c.username.in_(names), u.c.is_active.is_(True))
                              .order_by(u.c.id)).all()
        mentions = [r.id for r in users]
        now = utcnow()
        new_id = c.execute(insert(platform.comment).values(
            app=app, entity=entity, record_id=record_id, user_id=actor.id,
            author=None if actor.id is not None else actor.username, body=body, mentions=mentions,
            public=public, created_at=now).returning(platform.comment.c.id)).scalar_one()
        loom.audit.record(c, actor, "comment", et.entity, record_id, None,
                          {"comment_id": new_id, "text": body[:500], "mentions": [r.username for r in users],
                           "public": public})
        title = record.get(et.entity.title_field) or record.get("number") or f"#{record_id}"
        for r in users:
            if r.id == actor.id:
                continue
            loom.personal.notify(c, r.id, "mention", f"@{actor.username}: {title}", body, app=app, entity=entity,
                                 record_id=record_id)
        # A public comment answers the requester through their channel (entity ``channels:``).
        answer = loom.answers.comment(c, app, entity, record, body, actor) if public else None
    return {"id": new_id, "body": body, "mentions": mentions, "public": public, "created_at": now, "answer": answer}


def set_public(loom, app: str, entity: str, record_id: int, comment_id: int, public: bool, actor) -> dict:
    """Show a comment on the portal (``public``) or keep it internal: staff who may update the
    record decide, never an external user."""
    et = loom.entity_tables(app, entity)
    loom.records.get(app, entity, record_id, actor)
    if getattr(actor, "external", False) or not loom.permissions.allowed(actor, et.entity, "update"):
        raise Forbidden("only staff who may change the record decide whether a comment is public")
    cm = platform.comment
    with loom.engine.begin() as c:
        row = c.execute(select(cm.c.public).where(
            cm.c.id == comment_id, cm.c.app == app, cm.c.entity == entity, cm.c.record_id == record_id,
            cm.c.deleted_at.is_(None))).first()
        if row is None:
            raise NotFound(f"no comment {comment_id} on this record")
        c.execute(update(cm).where(cm.c.id == comment_id).values(public=bool(public)))
        loom.audit.record(c, actor, "comment_public", et.entity, record_id,
                          {"comment_id": comment_id, "public": bool(row.public)},
                          {"comment_id": comment_id, "public": bool(public)})
        if public and not row.public:  # made public now: it answers the requester (see add)
            text = c.execute(select(cm.c.body).where(cm.c.id == comment_id)).scalar_one()
            loom.answers.comment(c, app, entity, loom.records.get(app, entity, record_id, conn=c), text, actor)
    return {"id": comment_id, "public": bool(public)}


def delete(loom, app: str, entity: str, record_id: int, comment_id: int, actor) -> None:
    """Delete a comment of a record the actor may read; only its author or an administrator may."""
    et = loom.entity_tables(app, entity)
    loom.records.get(app, entity, record_id, actor)
    cm = platform.comment
    with loom.engine.begin() as c:
        row = c.execute(select(cm.c.user_id, cm.c.body).where(
            cm.c.id == comment_id, cm.c.app == app, cm.c.entity == entity, cm.c.record_id == record_id,
            cm.c.deleted_at.is_(None))).first()
        if row is None:
            raise NotFound(f"no comment {comment_id} on this record")
        if row.user_id != actor.id and not actor.is_admin:
            raise Forbidden("only its author or an administrator may delete a comment")
        c.execute(update(cm).where(cm.c.id == comment_id).values(deleted_at=utcnow()))
        loom.audit.record(c, actor, "comment_delete", et.entity, record_id,
                          {"comment_id": comment_id, "text": row.body[:500]}, None)


def list_for(loom, app: str, entity: str, record_id: int, actor, public_only: bool = False) -> list[dict]:
    """The record's comments, oldest first, with their authors and mentioned usernames; an
    external user (or ``public_only``) gets the public ones alone."""
    loom.records.get(app, entity, record_id, actor)
    public_only = public_only or bool(getattr(actor, "external", False))
    cm, u = platform.comment, platform.user
    with loom.reader.connect() as c:
        rows = c.execute(select(cm.c.id, cm.c.user_id, cm.c.author.label("outsider"), cm.c.body, cm.c.mentions,
                                cm.c.created_at, cm.c.public, u.c.username, u.c.full_name)
                         .outerjoin(u, u.c.id == cm.c.user_id)
                         .where(cm.c.app == app, cm.c.entity == entity, cm.c.record_id == record_id,
                                cm.c.deleted_at.is_(None), *([cm.c.public.is_(True)] if public_only else []))
                         .order_by(cm.c.id)).all()
        ids = sorted({i for r in rows for i in (r.mentions or [])})
        names = dict(c.execute(select(u.c.id, u.c.username).where(u.c.id.in_(ids))).all()) if ids else {}
    return [{"id": r.id, "user_id": r.user_id, "body": r.body, "created_at": r.created_at, "username": r.username,
             "author": r.full_name or r.username or r.outsider, "public": bool(r.public), "mentions": [names[i] for i in r.mentions or [] if i in names]}
            for r in rows]
