"""The behaviour engine's entry: what happens around every change of a record.

The record service and the workflow call two hooks, inside the change's transaction:

* :meth:`Behaviour.before_write` — routing and assignment, merged into the row
  before it is written;
* :meth:`Behaviour.after_write` — status history, timer transitions, approval rounds,
  SLA targets, aggregation rules and the "moved to another group" notice.

Each piece reads its own metadata; an entity that declares none of it costs a few
dictionary look-ups per change.
"""
from __future__ import annotations

from sqlalchemy import event, insert, select

from runtime.clock import now as clock_now
from runtime.data import tables as platform

from .calendars import calendar_from_app_section, parse_duration

TIMER_TRANSITION = "transition"
ROUTED = "loom.routed"  # conn.info: the assignee routing chose for the row being written, till after_write
ROUTES = "loom.routes"  # conn.info: re-routes decided before a write, logged after it
AUTO_DEPTH = "loom.auto_depth"  # conn.info: automatic transitions firing inside one another
MAX_AUTO_DEPTH = 8  # a chain longer than this is a loop in metadata, not work
RETURN = "return"  # marks a status history row written by a transition to $previous


def history_label(name: str, via: str | None = None, returning: bool = False) -> str:
    """What ``loom_status_history.transition`` says of a transition: its name, after
    ``return:`` when it went back to the previous status and after what fired it when no
    person did (``timer:``, ``cascade:``)."""
    label = f"{RETURN}:{name}" if returning else name
    return f"{via}:{label}" if via else label


def _forget_routes(conn) -> None:
    conn.info.pop(ROUTES, None)


class Behaviour:
    def __init__(self, loom):
        self.loom = loom
        loom.timers.handlers[TIMER_TRANSITION] = self._fire_timer_transition
        for name in ("commit", "rollback"):  # a re-route remembered for after_write lives one transaction
            event.listen(loom.engine, name, _forget_routes)

    def calendar(self, app_name: str, name: str | None = None):
        """A business calendar of an app's ``sla.yaml`` (its default one without ``name``)."""
        return calendar_from_app_section(self.loom.live[app_name].app.section("sla"), name)

    # ------------------------------------------------------------------ before the row is written
    def before_write(self, conn, et, values: dict, existing, actor) -> dict:
        """Field changes routing makes (group, assignee) for a row about to be written.

        ``values`` are the change's column values (with ``status`` when it enters one). A
        re-route is remembered until :meth:`after_write` of the same record logs it.
        """
        entity = et.entity
        router = self.loom.router
        if router.spec(entity.app, entity.name) is None:
            return {}
        old = dict(existing) if existing is not None else None
        merged = {**(old or {}), **values}
        changes = None
        if old is not None:
            route = router.reroute(conn, entity.app, entity.name, merged, old)
            conn.info.setdefault(ROUTES, {})[(entity.app, entity.name, old["id"])] = route
            if route is not None:
                changes = dict(route.changes)
        if changes is None:
            changes = router.assign(conn, entity.app, entity.name, merged, old)
        assignee = router.spec(entity.app, entity.name).get("assignee_field")
        if changes.get(assignee) is not None:  # the assignee hears that routing, not the person, chose them
            conn.info[ROUTED] = (entity.app, entity.name, changes[assignee])
        return changes

    # ------------------------------------------------------------------ after the row is written
    def after_write(self, conn, et, record_id: int, old, actor, transition: str | None = None) -> None:
        """Everything that follows a create, update or transition of a record."""
        entity = et.entity
        app = self.loom.live[entity.app].app
        self.loom.rollups.changed(conn, et, record_id, old)
        if entity.auto_transitions:
            self.auto_transitions(conn, et, record_id)
        engaged = (any("timer" in tr for tr in entity.spec.get("transitions", [])) or entity.spec.get("aggregations")
                   or self.loom.sla.policies(app, entity) or self.loom.router.spec(entity.app, entity.name)
                   or self.loom.approvals.specs(entity.app, entity.name))
        routed = conn.info.pop(ROUTED, None)
        self.loom.personal.assigned(conn, et, record_id, old, actor,  # no query without an assignee field
                                    routed_to=routed[2] if routed and routed[:2] == (entity.app, entity.name) else None)
        if old is None and "delivery" in entity.spec:  # a record that is a message: into the outbox
            self.loom.deliveries.queue(conn, et, [record_id])
        if not engaged and (old is None or not entity.statuses):
            return  # nothing to track: the common case costs no query
        if engaged:
            row = dict(self.loom.records._fetch(conn, et, record_id))
        else:
            main = et.main
            row = {"id": record_id, "status": conn.execute(select(main.c.status).where(main.c.id == record_id)).scalar()}
        old = dict(old) if old is not None else None
        changed_status = old is None or old.get("status") != row.get("status")
        if old is not None and changed_status:
            conn.execute(insert(platform.status_history).values(
                app=entity.app, entity=entity.name, record_id=record_id, from_status=old.get("status"),
                to_status=row["status"], transition=transition, user_id=actor.id, at=clock_now()))
        if not engaged:
            return
        if changed_status:
            self._schedule_timer_transitions(conn, app, entity, row)
            self.loom.approvals.status_changed(conn, entity, row, old)
        self.loom.sla.track(conn, app, entity, row, old)
        if old is None and entity.spec.get("aggregations"):
            from .aggregation import collect
            collect(self.loom, conn, et, row, actor)
        self._notify_routed(conn, app, entity, row, old, actor)

    def after_delete(self, conn, et, row) -> None:
        """A record was deleted or restored (``row``: as it was before): rollups over it move."""
        self.loom.rollups.changed(conn, et, row["id"], dict(row))

    # ------------------------------------------------------------------ automatic transitions
    def auto_transitions(self, conn, et, record_id: int) -> None:
        """Fire, as the system, the first automatic transition (``auto: true``) whose source
        status the record is in and whose condition holds now; the transition's own change
        then gives the next one its chance. A condition that fails, or a transition its own
        rules refuse, leaves the record where it is."""
        from runtime.data.records import SYSTEM
        from runtime.errors import Conflict, ValidationFailed
        entity = et.entity
        if not entity.auto_transitions:
            return
        depth = conn.info.get(AUTO_DEPTH, 0)
        if depth >= MAX_AUTO_DEPTH:
            return
        row = conn.execute(select(et.main).where(et.main.c.id == record_id, et.main.c.deleted_at.is_(None))
                           ).mappings().first()
        if row is None:
            return
        record = None
        for tr in entity.auto_transitions:
            sources = tr["from"] if isinstance(tr["from"], list) else [tr["from"]]
            if row["status"] not in sources:
                continue
            record = record or self.loom.records.full(conn, et, row)
            scope = {"user": SYSTEM.username, "status": row["status"]}
            if not self.loom.records.evaluate(conn, entity, tr["condition"], record, None, scope):
                continue
            conn.info[AUTO_DEPTH] = depth + 1
            try:
                self.loom.workflow.transition(entity.app, entity.name, record_id, tr["name"], actor=SYSTEM,
                                              conn=conn, via="auto")
            except (Conflict, ValidationFailed):
                continue
            finally:
                conn.info[AUTO_DEPTH] = depth
            return

    # ------------------------------------------------------------------ routing notices
    def _notify_routed(self, conn, app, entity, row: dict, old, actor) -> None:
        """The notices of routing: a rule's ``notify`` when it routed the record (on create or
        a re-route), the "moved to another group" notice to the requester, and an audit entry
        for every re-route."""
        router = self.loom.router
        spec = router.spec(entity.app, entity.name)
        if spec is None:
            return
        rule = None
        if old is None:
            # Only a rule that did route the record notifies (not one for a record filed by hand elsewhere).
            rule = router.routed_by(conn, entity.app, entity.name, row)
        else:
            route = conn.info.get(ROUTES, {}).pop((entity.app, entity.name, row["id"]), None)
            if route is not None:
                rule = {"notify": route.notify} if route.notify else None
                self._log_route(conn, entity, spec, row, old, route, actor)
        if rule and rule.get("notify"):
            self.loom.notifier.send(conn, entity.app, rule["notify"]["template"], entity=entity.name,
                                    record_id=row["id"], to=rule["notify"].get("to", []),
                                    cc=rule["notify"].get("cc", []), record=row)
        if old is not None and spec.get("notify_moved") and router.moved(entity.app, entity.name, row, old):
            self.loom.notifier.send(conn, entity.app, spec["notify_moved"], entity=entity.name, record_id=row["id"],
                                    to=[spec["requester_field"]], record=row,
                                    context={"old_group": old.get(spec["group_field"])})

    def _log_route(self, conn, entity, spec: dict, row: dict, old: dict, route, actor) -> None:
        """An audit entry ``route``: where the record was and is now placed, by which rule and trigger."""
        placed = [f for f in (spec["group_field"], spec.get("assignee_field")) if f]
        self.loom.audit.record(conn, actor, "route", entity, row["id"], {f: old.get(f) for f in placed},
                               {**{f: row.get(f) for f in placed}, "rule": route.rule, "trigger": route.trigger})

    # ------------------------------------------------------------------ timer transitions
    def _schedule_timer_transitions(self, conn, app, entity, row: dict) -> None:
        """Entering a status starts the timers of the transitions that leave it; leaving it stops them."""
        timed = [tr for tr in entity.spec.get("transitions", []) if "timer" in tr]
        if not timed:
            return
        record_id = row["id"]
        self.loom.timers.cancel_record(conn, entity.app, entity.name, record_id, kind=TIMER_TRANSITION)
        entered = clock_now()
        for tr in timed:
            sources = tr["from"] if isinstance(tr["from"], list) else [tr["from"]]
            if row["status"] not in sources:
                continue
            calendar = calendar_from_app_section(app.section("sla"), tr["timer"].get("calendar"))
            due = calendar.add(entered, parse_duration(tr["timer"]["after"]))
            self.loom.timers.schedule(
                conn, f"tr:{entity.app}.{entity.name}:{record_id}:{tr['name']}", TIMER_TRANSITION, entity.app, due,
                entity=entity.name, record_id=record_id,
                payload={"transition": tr["name"], "status": row["status"], "entered_at": entered.isoformat()})

    def _fire_timer_transition(self, conn, timer) -> None:
        """A timer transition is due: fire it as the system if the record still waits in that status."""
        from runtime.data.records import SYSTEM
        from runtime.errors import Conflict, NotFound, ValidationFailed
        et = self.loom.entity_tables(timer.app, timer.entity)
        try:
            row = self.loom.records._fetch(conn, et, timer.record_id)
        except NotFound:
            return  # deleted meanwhile
        if row["status"] != timer.payload["status"]:
            return  # it moved on; its new status scheduled its own timers
        try:
            self.loom.workflow.transition(timer.app, timer.entity, timer.record_id, timer.payload["transition"],
                                          actor=SYSTEM, conn=conn, via="timer")
        except (Conflict, ValidationFailed):
            # The transition's own rules refuse it now (a condition, a required field): the
            # timer is spent; the record stays where it is, as a person firing it would see.
            return

    # ------------------------------------------------------------------ reading
    def previous_status(self, conn, app: str, entity: str, record_id: int) -> str | None:
        """The status the record came from, for a transition to ``$previous``.

        The history is read as a stack: every move pushes the status it left, every return
        pops one. So after registered -> in_work -> on_hold -> waiting, a return from
        waiting goes to on_hold and a second return from on_hold to in_work, not back to
        waiting. None when the record has never left its first status.
        """
        h = platform.status_history
        rows = conn.execute(select(h.c.from_status, h.c.transition)
                            .where(h.c.app == app, h.c.entity == entity, h.c.record_id == record_id)
                            .order_by(h.c.id))
        stack: list[str] = []
        for left, label in rows:
            if RETURN in (label or "").split(":")[:-1]:
                if stack:
                    stack.pop()
            elif left is not None:
                stack.append(left)
        return stack[-1] if stack else None

    def history(self, app: str, entity: str, record_id: int) -> list[dict]:
        """The record's status changes, oldest first, with who made them."""
        h, u = platform.status_history, platform.user
        with self.loom.reader.connect() as c:
            rows = c.execute(select(h, u.c.username).outerjoin(u, u.c.id == h.c.user_id)
                             .where(h.c.app == app, h.c.entity == entity, h.c.record_id == record_id)
                             .order_by(h.c.id)).all()
        return [{"from": r.from_status, "to": r.to_status, "transition": r.transition,
                 "user": r.username or "system", "at": r.at.isoformat()} for r in rows]
