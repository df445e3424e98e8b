"""Improvement proposals: an end user suggests, from any record page, how an app could work
better; the app's analysts answer in the designer and link the published version that made the
change. See docs/decisions/0039-improvement-proposals.md.

A proposal is a platform row (``loom_proposal``), not a record of an app: every app takes them
without declaring anything, and publishing a version never touches them. Whoever may read a
record may file one from it. Analysts and administrators (who have the designer) list an app's
proposals, set a status (:data:`STATUSES`) with a comment and link one of the app's published
versions. An answer that changes the status or links a version tells the proposer: a personal
notification of kind ``proposal`` (:mod:`runtime.behaviour.personal`) in their language, pointing
at the proposal's page. Filing and answering are in the audit log, under the record the proposal
was filed from.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, insert, select, update

from metamodel import title_text
from runtime import clock
from runtime.data import tables as platform
from runtime.data.roles import is_analyst
from runtime.data.values import FieldError
from runtime.errors import Forbidden, NotFound, ValidationFailed

from .personal import record_label

STATUSES = ("new", "in_review", "done", "rejected")
LIMITS = {"what": 2000, "why": 4000, "comment": 4000}  # characters
PAGE = 50
MAX_VERSION = 2**31 - 1  # the version column is a 32-bit integer
KEEP = object()  # ``answer(version=KEEP)``: leave the linked version as it is

TEXTS = {
    "status": {"ru": "Ваше предложение #{id}: {status}", "en": "Your proposal #{id}: {status}"},
    "version": {"ru": "Ваше предложение #{id}: изменение вошло в версию {version}",
                "en": "Your proposal #{id}: the change is in version {version}"},
    "version_line": {"ru": "Версия {version} приложения «{app}»: {comment}",
                     "en": "Version {version} of {app}: {comment}"},
    "new": {"ru": "новое", "en": "new"},
    "in_review": {"ru": "на рассмотрении", "en": "in review"},
    "done": {"ru": "принято, сделано", "en": "accepted, done"},
    "rejected": {"ru": "отклонено", "en": "rejected"},
}


class _Where(NamedTuple):
    """Where an audit entry belongs: the app and entity of the record a proposal came from."""

    app: str
    name: str


def _text(key: str, lang: str, **values) -> str:
    texts = TEXTS[key]
    return texts.get(lang, texts["ru"]).format(**values)


def _clean(values: dict, required: tuple = ()) -> dict:
    """The texts stripped, ``None`` for empty ones; :class:`ValidationFailed` naming each bad one."""
    out, errors = {}, []
    for name, value in values.items():
        if value is not None and not isinstance(value, str):
            errors.append(FieldError(name, "must be text"))
            continue
        text = (value or "").strip()
        if not text and name in required:
            errors.append(FieldError(name, "is required"))
        elif len(text) > LIMITS[name]:
            errors.append(FieldError(name, f"at most {LIMITS[name]} characters allowed, got {len(text)}"))
        elif "\x00" in text:
            errors.append(FieldError(name, "must not contain NUL characters"))
        out[name] = text or None
    if errors:
        raise ValidationFailed(errors)
    return out


class Proposals:
    def __init__(self, loom):
        self.loom = loom

    # ------------------------------------------------------------------ filing
    def file(self, app: str, entity: str, record_id: int, what, why, actor) -> dict:
        """File a proposal from a record ``actor`` may read; returns it."""
        if getattr(actor, "id", None) is None:
            raise Forbidden("proposals are filed by signed-in users")
        record = self.loom.records.get(app, entity, record_id, actor)  # 404 unless it exists and may be read
        texts = _clean({"what": what, "why": why}, required=("what",))
        ent = self.loom.entity_tables(app, entity).entity
        p, now = platform.proposal, clock.now()
        with self.loom.engine.begin() as c:
            new_id = c.execute(insert(p).values(
                app=app, entity=entity, record_id=record_id, record_title=record_label(ent, record)[:255],
                user_id=actor.id, what=texts["what"], why=texts["why"], status="new", created_at=now,
                updated_at=now, updated_by=actor.id).returning(p.c.id)).scalar_one()
            self.loom.audit.record(c, actor, "proposal", _Where(app, entity), record_id, None,
                                   {"proposal": new_id, "text": texts["what"][:500]})
        return self.get(new_id, actor)

    # ------------------------------------------------------------------ reading
    def get(self, proposal_id: int, actor, app: str | None = None) -> dict:
        """One proposal, for its proposer or an analyst (NotFound for anybody else)."""
        p = platform.proposal
        query = _select().where(p.c.id == proposal_id)
        if app is not None:
            query = query.where(p.c.app == app)
        with self.loom.reader.connect() as c:
            row = c.execute(query).mappings().first()
        if row is None or not (row["user_id"] == getattr(actor, "id", None) or is_analyst(actor)):
            raise NotFound(f"no proposal {proposal_id}")
        return dict(row)

    def mine(self, actor, status: str | None = None, before: int | None = None,
             limit: int = PAGE) -> tuple[list[dict], int | None]:
        """The actor's own proposals, newest first, and the ``before`` of the next page (or None)."""
        return self._page(platform.proposal.c.user_id == getattr(actor, "id", None), status, before, limit)

    def of_app(self, app: str, actor, status: str | None = None, before: int | None = None,
               limit: int = PAGE) -> tuple[list[dict], int | None]:
        """An app's proposals for its analysts, newest first, and the next page's ``before``."""
        self.require_analyst(actor)
        return self._page(platform.proposal.c.app == app, status, before, limit)

    def counts(self, app: str) -> dict[str, int]:
        """How many proposals of ``app`` are in each status."""
        p = platform.proposal
        with self.loom.reader.connect() as c:
            found = dict(c.execute(select(p.c.status, func.count()).where(p.c.app == app)
                                   .group_by(p.c.status)).all())
        return {s: found.get(s, 0) for s in STATUSES}

    def versions(self, app: str) -> list[dict]:
        """The app's published versions a proposal can be linked to, newest first, with their comments."""
        v = platform.app_version
        with self.loom.reader.connect() as c:
            rows = c.execute(select(v.c.number, v.c.created_at, v.c.author, v.c.comment)
                             .where(v.c.app == app).order_by(v.c.number.desc())).mappings().all()
        return [dict(r) for r in rows]

    def _page(self, condition, status, before, limit) -> tuple[list[dict], int | None]:
        p = platform.proposal
        query = _select().where(condition)
        if status is not None:
            if status not in STATUSES:
                raise ValidationFailed([FieldError("status", f"must be one of {', '.join(STATUSES)}")])
            query = query.where(p.c.status == status)
        if before is not None:
            query = query.where(p.c.id < before)
        with self.loom.reader.connect() as c:
            rows = c.execute(query.order_by(p.c.id.desc()).limit(limit + 1)).mappings().all()
        items = [dict(r) for r in rows[:limit]]
        return items, items[-1]["id"] if len(rows) > limit else None

    # ------------------------------------------------------------------ answering
    def require_analyst(self, actor) -> None:
        # The designer is open to every analyst for every app, so its proposals are too.
        if not is_analyst(actor):
            raise Forbidden("proposals are answered by analysts and administrators")

    def answer(self, app: str, proposal_id: int, actor, *, status: str | None = None, comment=None,
               version=KEEP) -> dict:
        """Set the status, the comment (``None``: keep it, ``""``: clear it) and the linked version
        (:data:`KEEP`, a published version's number, or ``None`` to unlink) of a proposal of ``app``;
        returns the proposal. The proposer hears of a new status or a newly linked version."""
        self.require_analyst(actor)
        errors = []
        if status is not None and status not in STATUSES:
            errors.append(FieldError("status", f"must be one of {', '.join(STATUSES)}"))
        if version is not KEEP and version is not None and (
                not isinstance(version, int) or isinstance(version, bool) or not 0 < version <= MAX_VERSION):
            errors.append(FieldError("version", "must be a version number"))
        if errors:
            raise ValidationFailed(errors)
        new_comment = comment is not None
        if new_comment:
            comment = _clean({"comment": comment})["comment"]
        p, v = platform.proposal, platform.app_version
        with self.loom.engine.begin() as c:
            row = c.execute(select(p).where(p.c.id == proposal_id, p.c.app == app)).mappings().first()
            if row is None:
                raise NotFound(f"{app} has no proposal {proposal_id}")
            if version not in (KEEP, None) and c.execute(
                    select(v.c.id).where(v.c.app == app, v.c.number == version)).first() is None:
                raise ValidationFailed([FieldError("version", f"{app} has no published version {version}")])
            changes = {}
            if status is not None and status != row["status"]:
                changes["status"] = status
            if new_comment and comment != row["comment"]:
                changes["comment"] = comment
            if version is not KEEP and version != row["version"]:
                changes["version"] = version
            if changes:
                c.execute(update(p).where(p.c.id == proposal_id).values(
                    **changes, updated_at=clock.now(), updated_by=actor.id))
                self.loom.audit.record(c, actor, "proposal_answer", _Where(row["app"], row["entity"]),
                                       row["record_id"], {"proposal": proposal_id, **{k: row[k] for k in changes}},
                                       {"proposal": proposal_id, **changes})
                if ("status" in changes or changes.get("version") is not None) and row["user_id"] != actor.id:
                    self._tell(c, {**row, **changes}, changes)
        return self.get(proposal_id, actor)

    def _tell(self, conn, proposal: dict, changes: dict) -> None:
        """The proposer's notification of an answer, in their language."""
        u, v = platform.user, platform.app_version
        person = conn.execute(select(u.c.lang, u.c.is_active).where(u.c.id == proposal["user_id"])).first()
        if person is None or not person.is_active:
            return
        lang = person.lang or "ru"
        if "status" in changes:
            title = _text("status", lang, id=proposal["id"], status=_text(changes["status"], lang))
        else:
            title = _text("version", lang, id=proposal["id"], version=changes["version"])
        lines = [proposal["comment"] or ""]
        if changes.get("version") is not None:
            live = self.loom.live.get(proposal["app"])
            app_title = title_text(live.app.title, lang) if live is not None else proposal["app"]
            note = conn.execute(select(v.c.comment).where(v.c.app == proposal["app"],
                                                          v.c.number == changes["version"])).scalar()
            lines.append(_text("version_line", lang, version=changes["version"], app=app_title, comment=note or ""))
        self.loom.personal.notify(conn, proposal["user_id"], "proposal", title, "\n".join(filter(None, lines)),
                                  app=proposal["app"], link=f"/ui/proposals/{proposal['id']}")


def _select():
    p, u = platform.proposal, platform.user
    return (select(p.c.id, p.c.app, p.c.entity, p.c.record_id, p.c.record_title, p.c.what, p.c.why, p.c.status,
                   p.c.comment, p.c.version, p.c.user_id, u.c.username.label("proposer"),
                   func.coalesce(u.c.full_name, u.c.username).label("proposer_name"), p.c.created_at, p.c.updated_at)
            .join(u, u.c.id == p.c.user_id))
