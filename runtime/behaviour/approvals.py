"""Approvals: approvers vote on a record while it waits in a status; the result fires a transition.

``approvals.yaml`` declares them (docs/behaviour.md, "Approvals"). Entering the
``start`` status opens a round: the approvers are resolved then (roles, groups,
users, user and group fields of the record) and written as one
``loom_approval_vote`` row each with no decision, which is both "who must vote"
and the guard against voting twice (a vote fills an empty row, once). The round
needs ``all`` of them, ``any`` one, or ``n_of_m``; it is decided as soon as the
approvals reach that number (approved) or can no longer reach it (rejected), and
the decision fires ``on_approved``/``on_rejected`` as the system, in the vote's
transaction. A deadline is a ``loom_timer`` row: when it passes with the round
still open, the round expires and ``on_timeout`` fires. A record that leaves the
start status otherwise cancels its open round; entering it again opens the next.
"""
from __future__ import annotations

from sqlalchemy import func, insert, select, update

from metamodel import title_text
from runtime import clock
from runtime.data import tables as platform
from runtime.data.records import SYSTEM, Actor
from runtime.data.values import FieldError
from runtime.errors import Conflict, Forbidden, NotFound, ValidationFailed

from .calendars import calendar_from_app_section, parse_duration

TIMER_KIND = "approval"
OPEN = "open"
DECISIONS = ("approve", "reject")


def need_of(rule, approvers: int) -> int:
    """How many approvals decide a round of ``approvers`` people under ``rule``."""
    if rule == "all":
        return approvers
    if rule == "any":
        return 1
    return int(rule["n_of_m"])


def decide(need: int, approvers: int, approved: int, voted: int) -> str | None:
    """``approved`` once the approvals reach ``need``, ``rejected`` once the votes still to come
    cannot reach it, else None (still open)."""
    if approvers and approved >= need:
        return "approved"
    if approved + (approvers - voted) < need:
        return "rejected"
    return None


class Approvals:
    def __init__(self, loom):
        self.loom = loom
        loom.timers.handlers[TIMER_KIND] = self._deadline

    def specs(self, app: str, entity: str) -> list[dict]:
        """The approvals of ``entity`` declared in its app's ``approvals.yaml``."""
        live = self.loom.live.get(app)
        if live is None:
            return []
        return [s for s in live.app.section("approvals").get("approvals", [])
                if s["entity"].split(".")[-1] == entity]

    def spec(self, app: str, entity: str, name: str) -> dict:
        found = next((s for s in self.specs(app, entity) if s["name"] == name), None)
        if found is None:
            raise NotFound(f"{entity} has no approval {name!r}")
        return found

    def deciding(self, entity, status: str | None, transition: str, actor: Actor) -> str | None:
        """The approval whose result ``transition`` is while the record waits in ``status``, when
        ``actor`` may not fire it by hand (only the approval itself, as the system, and
        administrators may: a button would bypass the vote); else None."""
        if actor.system or actor.is_admin:
            return None
        for spec in self.specs(entity.app, entity.name):
            if spec["start"] == status and transition in (spec.get("on_approved"), spec.get("on_rejected"),
                                                          spec.get("on_timeout")):
                return spec["name"]
        return None

    # ------------------------------------------------------------------ status changes
    def status_changed(self, conn, entity, row: dict, old: dict | None) -> None:
        """After a change of status (the hub calls this): leaving a start status cancels the open
        round, entering one opens a round."""
        for spec in self.specs(entity.app, entity.name):
            if old is not None and old.get("status") == spec["start"]:
                self._cancel(conn, entity, row["id"], spec)
            if row.get("status") == spec["start"]:
                self._open(conn, entity, spec, row)

    def _cancel(self, conn, entity, record_id: int, spec: dict) -> None:
        r = platform.approval_round
        open_rounds = select(r.c.id).where(*self._of(entity, record_id, spec), r.c.state == OPEN)
        for round_id in conn.execute(open_rounds).scalars().all():
            conn.execute(update(r).where(r.c.id == round_id).values(state="cancelled", decided_at=clock.now()))
            self.loom.timers.cancel(conn, f"{TIMER_KIND}:{round_id}")

    @staticmethod
    def _of(entity, record_id: int, spec: dict) -> tuple:
        r = platform.approval_round
        return (r.c.app == entity.app, r.c.entity == entity.name, r.c.record_id == record_id,
                r.c.approval == spec["name"])

    def _open(self, conn, entity, spec: dict, row: dict) -> None:
        r, v = platform.approval_round, platform.approval_vote
        record_id = row["id"]
        approvers = self.approvers(conn, entity, spec, row)
        number = (conn.execute(select(func.max(r.c.round)).where(*self._of(entity, record_id, spec))).scalar() or 0) + 1
        opened = clock.now()
        deadline = None
        if spec.get("deadline"):
            calendar = calendar_from_app_section(self.loom.live[entity.app].app.section("sla"), spec.get("calendar"))
            deadline = calendar.add(opened, parse_duration(spec["deadline"]))
        round_id = conn.execute(insert(r).values(
            app=entity.app, entity=entity.name, record_id=record_id, approval=spec["name"], round=number,
            state=OPEN, need=need_of(spec["rule"], len(approvers)), opened_at=opened, deadline_at=deadline)
            .returning(r.c.id)).scalar_one()
        if approvers:
            conn.execute(insert(v), [{"round_id": round_id, "user_id": user_id} for user_id in approvers])
        if deadline is not None:
            self.loom.timers.schedule(conn, f"{TIMER_KIND}:{round_id}", TIMER_KIND, entity.app, deadline,
                                      entity=entity.name, record_id=record_id, payload={"round": round_id})
        self.loom.audit.record(conn, SYSTEM, "approval_open", entity, record_id, None,
                               {"approval": spec["name"], "round": number, "approvers": approvers,
                                "deadline": deadline.isoformat() if deadline else None})
        self._notify_opened(conn, entity, spec, row, approvers)

    def approvers(self, conn, entity, spec: dict, row: dict) -> list[int]:
        """The ids of the active users who vote on ``row``, in a stable order."""
        who = spec["approvers"]
        specs = ([f"role:{name}" for name in who.get("roles", [])] + [f"group:{name}" for name in who.get("groups", [])]
                 + [f"user:{name}" for name in who.get("users", [])]
                 + [name for name in who.get("fields", []) if not _table_column(entity, name)])
        ids = [rcp.user_id for rcp in self.loom.notifier.recipients(conn, entity.app, entity.name, row, specs)
               if rcp.user_id]
        for name in (n for n in who.get("fields", []) if _table_column(entity, n)):  # a user per row
            table, _, column = name.partition(".")
            rows = row.get(table)
            if rows is None:
                et = self.loom.entity_tables(entity.app, entity.name)
                rows = self.loom.records.values(conn, et, self.loom.records._fetch(conn, et, row["id"])).get(table)
            ids += [r.get(column) for r in rows or () if r.get(column)]
        u = platform.user
        active = set(conn.execute(select(u.c.id).where(u.c.id.in_(ids), u.c.is_active.is_(True))).scalars()) \
            if ids else set()
        return list(dict.fromkeys(i for i in ids if i in active))

    def _notify_opened(self, conn, entity, spec: dict, row: dict, approvers: list[int]) -> None:
        if not approvers:
            return
        to = [f"user:{name}" for name in self._usernames(conn, approvers)]
        if spec.get("notify"):
            self.loom.notifier.send(conn, entity.app, spec["notify"]["template"], entity=entity.name,
                                    record_id=row["id"], to=to, record=row,
                                    context={"approval": spec["name"]})
            return
        # No template: a plain in-app notice, titled with the approval's own title in each one's language.
        subject = row.get(entity.spec.get("title_field") or "number") or row.get("number") or f"#{row['id']}"
        u = platform.user
        now = clock.now()
        conn.execute(insert(platform.notification), [
            {"user_id": user.id, "title": f"{title_text(spec.get('title') or spec['name'], user.lang or 'ru')}: "
                                          f"{subject}"[:255],
             "app": entity.app, "entity": entity.name, "record_id": row["id"],
             "template": f"approval:{spec['name']}", "created_at": now}
            for user in conn.execute(select(u.c.id, u.c.lang).where(u.c.id.in_(approvers)))])

    @staticmethod
    def _usernames(conn, ids) -> list[str]:
        u = platform.user
        return list(conn.execute(select(u.c.username).where(u.c.id.in_(ids)).order_by(u.c.id)).scalars())

    # ------------------------------------------------------------------ voting
    def vote(self, app: str, entity: str, record_id: int, name: str, decision: str, comment: str | None,
             actor: Actor) -> dict:
        """Cast ``actor``'s vote in the open round of approval ``name``; decide the round when the
        vote settles it. Returns the round as :meth:`rounds` shows it."""
        if decision not in DECISIONS:
            raise ValidationFailed([FieldError("decision", f"is approve or reject, not {decision!r}")])
        et = self.loom.entity_tables(app, entity)
        spec = self.spec(app, entity, name)
        self.loom.permissions.require(actor, et.entity, "read")
        r, v = platform.approval_round, platform.approval_vote
        with self.loom.records._tx() as c:
            self.loom.records._fetch(c, et, record_id, actor=actor)  # 404 for a record they may not see
            current = c.execute(select(r).where(*self._of(et.entity, record_id, spec), r.c.state == OPEN)
                                .with_for_update()).first()
            if current is None:
                raise Conflict(f"{entity} {record_id} has no open round of {name!r}: there is nothing to vote on")
            mine = c.execute(select(v).where(v.c.round_id == current.id, v.c.user_id == actor.id)).first()
            if mine is None:
                raise Forbidden(f"you are not an approver of this round of {name!r}")
            done = c.execute(update(v).where(v.c.id == mine.id, v.c.decision.is_(None)).values(
                decision=decision, comment=(comment or "").strip() or None, voted_at=clock.now())).rowcount
            if not done:
                raise Conflict(f"you have already voted in this round ({mine.decision})")
            self.loom.audit.record(c, actor, "approval_vote", et.entity, record_id, None,
                                   {"approval": name, "round": current.round, "decision": decision,
                                    "comment": (comment or "")[:500]})
            votes = c.execute(select(v.c.decision).where(v.c.round_id == current.id)).scalars().all()
            outcome = decide(current.need, len(votes), votes.count("approve"), sum(1 for d in votes if d))
            if outcome is not None:
                self._settle(c, et.entity, record_id, spec, current.id, outcome,
                             spec["on_approved" if outcome == "approved" else "on_rejected"])
        return next(x for x in self.rounds(app, entity, record_id, actor) if x["id"] == current.id)

    def _settle(self, c, entity, record_id: int, spec: dict, round_id: int, state: str, transition: str | None):
        """Close the round as ``state`` and fire ``transition`` as the system; a transition its own
        rules refuse now (a condition, a required field) is noted on the round."""
        r = platform.approval_round
        c.execute(update(r).where(r.c.id == round_id).values(state=state, decided_at=clock.now(),
                                                               transition=transition))
        self.loom.timers.cancel(c, f"{TIMER_KIND}:{round_id}")
        self.loom.audit.record(c, SYSTEM, "approval_decided", entity, record_id, None,
                               {"approval": spec["name"], "outcome": state, "transition": transition})
        if not transition:
            return
        try:
            # The transition leaves the start status, so status_changed finds this round no longer open.
            self.loom.workflow.transition(entity.app, entity.name, record_id, transition, actor=SYSTEM, conn=c,
                                          via="approval")
        except (Conflict, ValidationFailed, NotFound) as exc:  # refused now, or the record was deleted
            c.execute(update(r).where(r.c.id == round_id).values(error=str(getattr(exc, "detail", exc))[:2000]))

    def _deadline(self, conn, timer) -> None:
        """The deadline of a round passed: if it is still open, it expires and ``on_timeout`` fires."""
        r = platform.approval_round
        current = conn.execute(select(r).where(r.c.id == timer.payload["round"], r.c.state == OPEN)
                               .with_for_update()).first()
        if current is None:
            return
        try:
            spec = self.spec(current.app, current.entity, current.approval)
            et = self.loom.entity_tables(current.app, current.entity)
        except NotFound:  # the app no longer declares it: the round just ends
            conn.execute(update(r).where(r.c.id == current.id).values(state="expired", decided_at=clock.now()))
            return
        self._settle(conn, et.entity, current.record_id, spec, current.id, "expired", spec.get("on_timeout"))
        notice = spec.get("notify_timeout")
        if notice:
            self.loom.notifier.send(conn, current.app, notice["template"], entity=current.entity,
                                    record_id=current.record_id, to=notice.get("to", []), cc=notice.get("cc", []),
                                    context={"approval": spec["name"]})

    # ------------------------------------------------------------------ reading
    def rounds(self, app: str, entity: str, record_id: int, actor: Actor) -> list[dict]:
        """The record's approval rounds, newest first, with every approver's vote; ``can_vote``
        says whether ``actor`` may vote in it now. 404 for a record the actor may not see."""
        et = self.loom.entity_tables(app, entity)
        self.loom.records.get(app, entity, record_id, actor)
        r, v, u = platform.approval_round, platform.approval_vote, platform.user
        titles = {s["name"]: s.get("title") for s in self.specs(app, entity)}
        with self.loom.reader.connect() as c:
            rounds = c.execute(select(r).where(r.c.app == app, r.c.entity == et.entity.name,
                                               r.c.record_id == record_id)
                               .order_by(r.c.opened_at.desc(), r.c.id.desc())).all()
            votes = c.execute(select(v, u.c.username, u.c.full_name).join(u, u.c.id == v.c.user_id)
                              .where(v.c.round_id.in_([x.id for x in rounds])).order_by(v.c.id)).all() \
                if rounds else []
        out = []
        for x in rounds:
            mine = [vote for vote in votes if vote.round_id == x.id]
            out.append({
                "id": x.id, "approval": x.approval, "title": titles.get(x.approval), "round": x.round,
                "state": x.state, "need": x.need, "approvers": len(mine),
                "approved": sum(1 for vote in mine if vote.decision == "approve"),
                "rejected": sum(1 for vote in mine if vote.decision == "reject"),
                "opened_at": _iso(x.opened_at), "deadline_at": _iso(x.deadline_at), "decided_at": _iso(x.decided_at),
                "transition": x.transition, "error": x.error,
                "can_vote": x.state == OPEN and any(v.user_id == actor.id and v.decision is None for v in mine),
                "votes": [{"user": vote.username, "name": vote.full_name or vote.username, "decision": vote.decision,
                           "comment": vote.comment, "voted_at": _iso(vote.voted_at)}
                          for vote in mine]})
        return out

    def awaiting(self, actor: Actor, limit: int = 50) -> list[dict]:
        """Open rounds in which ``actor`` has yet to vote, oldest deadline first: "awaiting my approval"."""
        if actor.id is None:
            return []
        r, v = platform.approval_round, platform.approval_vote
        with self.loom.reader.connect() as c:
            rows = c.execute(select(r).join(v, v.c.round_id == r.c.id)
                             .where(v.c.user_id == actor.id, v.c.decision.is_(None), r.c.state == OPEN)
                             .order_by(r.c.deadline_at, r.c.opened_at).limit(limit)).all()
        return [{"app": x.app, "entity": x.entity, "record_id": x.record_id, "approval": x.approval,
                 "round": x.round, "deadline_at": x.deadline_at, "opened_at": x.opened_at} for x in rows]


def _iso(value):
    return value.isoformat() if value is not None else None


def _table_column(entity, name: str) -> bool:
    """``table.column`` (a user per row), as opposed to a field or ``link.field`` (a recipient path)."""
    head, dot, _ = name.partition(".")
    f = entity.fields.get(head)
    return bool(dot) and f is not None and f.storage == "child"
