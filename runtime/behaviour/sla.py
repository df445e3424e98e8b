"""SLA policies: targets measured in business time, pauses, escalations.

For every record of an entity with policies in ``sla.yaml`` the first policy whose
``when`` holds applies. Each of its targets (reaction, resolution, ...) is a row of
``loom_sla`` that starts, pauses, resumes, stops and resets as the record's status
moves between the statuses or categories the target names. Times are business
seconds of the policy's calendar: the deadline is ``started_at`` plus the target plus
the time spent paused, so a priority change recomputes it from the original start.

Each escalation level (and the breach at 100 %) is a ``loom_timer`` row keyed by
record, target and level; the scheduler fires it exactly once. Firing locks the
target's row, so a level is reached once even when two workers race.
"""
from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from runtime.clock import now as clock_now
from runtime.data import tables as platform

from .calendars import calendar_from_app_section, parse_duration

KIND = "sla"
BREACH = 0  # the level number of the breach timer at 100 %


class WallClock:
    """Plain elapsed time, for durations written without ``business``."""

    def add_seconds(self, start: dt.datetime, seconds: int) -> dt.datetime:
        return start + dt.timedelta(seconds=seconds)

    def between(self, a: dt.datetime, b: dt.datetime) -> int:
        return int((b - a).total_seconds())


WALL = WallClock()


class SLA:
    def __init__(self, loom):
        self.loom = loom
        loom.timers.handlers[KIND] = self._fire

    # ------------------------------------------------------------------ policies
    def policies(self, app, entity) -> list[dict]:
        return [p for p in app.section("sla").get("policies") or []
                if p["entity"].split(".")[-1] == entity.name]

    def choose(self, conn, app, entity, row: dict) -> dict | None:
        """The first policy whose conditions hold for ``row``."""
        scope = {"status": row.get("status"), "status_category": entity.status_category(row.get("status"))}
        for policy in self.policies(app, entity):
            if "when" in policy and not self.loom.records.evaluate(conn, entity, policy["when"], row, None, scope):
                continue
            if "when_script" in policy and not self.loom.hooks.condition(
                    conn, app, policy["when_script"], f"sla:{policy['name']}.when_script", row, None, entity=entity):
                continue
            return policy
        return None

    def clock(self, app, policy: dict, target: dict):
        if not parse_duration(target["duration"]).business:
            return WALL
        return calendar_from_app_section(app.section("sla"), policy.get("calendar"))

    def target_seconds(self, app, policy: dict, target: dict, start: dt.datetime) -> int:
        duration = parse_duration(target["duration"])
        clock = self.clock(app, policy, target)
        if clock is WALL:
            return int(duration.seconds + duration.days * 86400)
        return clock.between(clock.next_working(start), clock.add(start, duration))

    # ------------------------------------------------------------------ tracking changes
    def track(self, conn, app, entity, row: dict, old: dict | None) -> None:
        """Bring every SLA target of ``row`` up to date after a change."""
        if not self.policies(app, entity):
            return
        policy = self.choose(conn, app, entity, row)
        s = platform.sla
        states = {r.target: r for r in conn.execute(select(s).where(
            s.c.app == entity.app, s.c.entity == entity.name, s.c.record_id == row["id"])).all()}
        now = clock_now()
        status_changed = old is None or old.get("status") != row.get("status")
        wanted = {target["name"]: target for target in (policy or {}).get("targets", [])}
        for name, target in wanted.items():
            self._step(conn, app, entity, policy, target, row, states.get(name), now, status_changed)
        for name, state in states.items():
            if name not in wanted and state.stopped_at is None:
                # The record no longer falls under a policy with this target: it stops being measured.
                self._stop(conn, app, entity, state, None, now, met_only=True)

    def _in(self, entity, target: dict, key: str, row: dict) -> bool:
        status = row.get("status")
        category = entity.status_category(status)
        if status in target.get(key, ()) or category in target.get(key, ()):
            return True
        expr = target.get(f"{key}_when")
        return bool(expr) and bool(self.loom.records.evaluate(
            None, entity, expr, row, None, {"status": status, "status_category": category}))

    def _step(self, conn, app, entity, policy, target, row, state, now, status_changed: bool) -> None:
        inside = lambda key: self._in(entity, target, key, row)  # noqa: E731
        if state is None:
            if inside("start") and not inside("stop"):
                self._start(conn, app, entity, policy, target, row, now)
            return
        if status_changed and inside("reset"):
            conn.execute(platform.sla.delete().where(platform.sla.c.id == state.id))
            self._start(conn, app, entity, policy, target, row, now)
            return
        clock = self.clock(app, policy, target)
        seconds = self.target_seconds(app, policy, target, state.started_at)
        values = {}
        if state.policy != policy["name"] or state.target_seconds != seconds:
            values.update(policy=policy["name"], target_seconds=seconds, calendar=policy.get("calendar"))
        if state.stopped_at is not None:
            if status_changed and not inside("stop"):  # reopened: the time it stood stopped counts as a pause
                values.update(stopped_at=None, elapsed_seconds=None,
                              paused_seconds=state.paused_seconds + clock.between(state.stopped_at, now))
                if inside("pause"):
                    values["paused_since"] = now
            elif values:
                elapsed = state.elapsed_seconds or 0
                values.update(breached=state.breached or elapsed > seconds)
                self._save(conn, state, values, now)
                return
            else:
                return
        elif inside("stop"):
            self._stop(conn, app, entity, state, clock, now, extra=values)
            return
        elif inside("pause") and state.paused_since is None:
            values["paused_since"] = now
        elif not inside("pause") and state.paused_since is not None:
            values.update(paused_since=None, paused_seconds=state.paused_seconds + clock.between(state.paused_since, now))
        if not values:
            return
        state = self._save(conn, state, values, now)
        self._schedule(conn, app, entity, policy, target, state)

    def _start(self, conn, app, entity, policy, target, row, now) -> None:
        started = row.get("created_at") if row.get("created_at") and abs(
            (row["created_at"] - now).total_seconds()) < 1 else now
        values = dict(app=entity.app, entity=entity.name, record_id=row["id"], target=target["name"],
                      policy=policy["name"], calendar=policy.get("calendar"),
                      target_seconds=self.target_seconds(app, policy, target, started), started_at=started,
                      paused_seconds=0, breached=False, level=0, updated_at=now,
                      paused_since=now if self._in(entity, target, "pause", row) else None)
        state_id = conn.execute(insert(platform.sla).values(values).returning(platform.sla.c.id)).scalar_one()
        state = conn.execute(select(platform.sla).where(platform.sla.c.id == state_id)).one()
        state = self._save(conn, state, {}, now)
        self._schedule(conn, app, entity, policy, target, state)

    def _stop(self, conn, app, entity, state, clock, now, extra=None, met_only=False) -> None:
        values = dict(extra or {})
        if clock is None:
            policy = next((p for p in self.policies(app, entity) if p["name"] == state.policy), None)
            target = next((tg for tg in (policy or {}).get("targets", []) if tg["name"] == state.target), None)
            clock = self.clock(app, policy, target) if target else WALL
        paused = state.paused_seconds + (clock.between(state.paused_since, now) if state.paused_since else 0)
        elapsed = clock.between(state.started_at, now) - paused
        seconds = values.get("target_seconds", state.target_seconds)
        values.update(stopped_at=now, paused_since=None, paused_seconds=paused, elapsed_seconds=elapsed, due_at=None)
        if elapsed > seconds and not state.breached and not met_only:
            values.update(breached=True, breached_at=clock.add_seconds(state.started_at, seconds + paused))
        self._save(conn, state, values, now)
        self.loom.timers.cancel_record(conn, entity.app, entity.name, state.record_id, kind=KIND,
                                       prefix=self._key(entity, state.record_id, state.target, ""))

    def _save(self, conn, state, values: dict, now):
        """Write ``values`` and the deadline they imply; return the new state."""
        merged = {**state._mapping, **values}
        if merged["stopped_at"] is None and merged["paused_since"] is None:
            values["due_at"] = self._due(merged, 100)
        else:
            values["due_at"] = None
        values["updated_at"] = now
        s = platform.sla
        conn.execute(update(s).where(s.c.id == state.id).values(values))
        return conn.execute(select(s).where(s.c.id == state.id)).one()

    def _due(self, state, percent: float) -> dt.datetime:
        app = self.loom.live[state["app"]].app
        policy = next(p for p in app.section("sla")["policies"] if p["name"] == state["policy"])
        target = next(tg for tg in policy["targets"] if tg["name"] == state["target"])
        clock = self.clock(app, policy, target)
        used = math.ceil(state["target_seconds"] * percent / 100)
        return clock.add_seconds(state["started_at"], used + state["paused_seconds"])

    # ------------------------------------------------------------------ timers
    @staticmethod
    def _key(entity, record_id, target: str, level) -> str:
        return f"sla:{entity.app}.{entity.name}:{record_id}:{target}:{level}"

    def _levels(self, policy: dict, target: str) -> list[dict]:
        return [e for e in policy.get("escalations", []) if not e.get("targets") or target in e["targets"]]

    def _schedule(self, conn, app, entity, policy, target, state) -> None:
        """(Re)arm the breach and escalation timers of a target; a paused or stopped one has none."""
        timers = self.loom.timers
        prefix = self._key(entity, state.record_id, target["name"], "")
        if state.due_at is None:
            timers.cancel_record(conn, entity.app, entity.name, state.record_id, kind=KIND, prefix=prefix)
            return
        mapping = state._mapping
        plan = [] if state.breached else [(BREACH, 100)]
        plan += [(e["level"], e["at"]) for e in self._levels(policy, target["name"]) if e["level"] > state.level]
        for level, percent in plan:
            timers.schedule(conn, prefix + str(level), KIND, entity.app, self._due(mapping, percent),
                            entity=entity.name, record_id=state.record_id,
                            payload={"target": target["name"], "level": level, "percent": percent})

    def _fire(self, conn, timer) -> None:
        """A breach or escalation moment has come: record it and notify, once."""
        s = platform.sla
        query = select(s).where(s.c.app == timer.app, s.c.entity == timer.entity, s.c.record_id == timer.record_id,
                                s.c.target == timer.payload["target"])
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        state = conn.execute(query).one_or_none()
        if state is None or state.stopped_at is not None or state.paused_since is not None:
            return
        level, now = timer.payload["level"], clock_now()
        values = {"updated_at": now}
        if not state.breached and timer.payload["percent"] >= 100:
            values.update(breached=True, breached_at=state.due_at)
        if level != BREACH and level > state.level:
            values["level"] = level
        conn.execute(update(s).where(s.c.id == state.id).values(values))
        if level == BREACH or level <= state.level:
            return
        app = self.loom.live[timer.app].app
        policy = next(p for p in app.section("sla")["policies"] if p["name"] == state.policy)
        escalation = next(e for e in policy.get("escalations", []) if e["level"] == level)
        et = self.loom.entity_tables(timer.app, timer.entity)
        from runtime.data.records import SYSTEM
        self.loom.audit.record(conn, SYSTEM, "escalate", et.entity, timer.record_id, {"level": state.level},
                               {"level": level, "target": state.target, "policy": state.policy})
        if escalation.get("template"):
            self.loom.notifier.send(conn, timer.app, escalation["template"], entity=timer.entity,
                                    record_id=timer.record_id, to=escalation.get("to", []),
                                    cc=escalation.get("cc", []),
                                    context=_escalation_context(app, policy, state, level, escalation["at"]))

    # ------------------------------------------------------------------ reading
    def status(self, conn, app_name: str, entity: str, record_id: int) -> list[dict]:
        """Every target of a record: state (running, paused, met, breached), deadline and time left."""
        s = platform.sla
        rows = conn.execute(select(s).where(s.c.app == app_name, s.c.entity == entity, s.c.record_id == record_id)
                            .order_by(s.c.id)).all()
        app = self.loom.live[app_name].app
        now = clock_now()
        out = []
        for r in rows:
            policy = next((p for p in app.section("sla").get("policies") or [] if p["name"] == r.policy), None)
            target = next((tg for tg in (policy or {}).get("targets", []) if tg["name"] == r.target), None)
            clock = self.clock(app, policy, target) if target else WALL
            if r.stopped_at is not None:
                used = r.elapsed_seconds or 0
            else:
                until = r.paused_since or now
                used = clock.between(r.started_at, until) - r.paused_seconds
            state = ("breached" if r.breached else "met") if r.stopped_at else \
                "paused" if r.paused_since else ("breached" if r.breached or used > r.target_seconds else "running")
            out.append({"target": r.target, "title": (target or {}).get("title", r.target), "policy": r.policy,
                        "state": state, "started_at": _iso(r.started_at), "due_at": _iso(r.due_at),
                        "stopped_at": _iso(r.stopped_at), "target_seconds": r.target_seconds, "used_seconds": used,
                        "remaining_seconds": r.target_seconds - used,
                        "percent": round(100 * used / r.target_seconds, 1) if r.target_seconds else None,
                        "breached": bool(r.breached or (r.stopped_at is None and used > r.target_seconds)),
                        "level": r.level})
        return out


def _escalation_context(app, policy: dict, state, level: int, percent) -> dict:
    """What an escalation's template reads: the target's code and title and the policy's title
    (titles picked per language when rendered), the deadline in the app's time zone as people
    read it, and ``due_at_utc``, the instant."""
    target = next((x for x in policy.get("targets", []) if x["name"] == state.target), {})
    due = state.due_at
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=dt.timezone.utc)
    local = due.astimezone(ZoneInfo(app.timezone)).strftime("%Y-%m-%d %H:%M") if due is not None else None
    return {"level": level, "target": state.target, "target_title": target.get("title") or state.target,
            "percent": percent, "due_at": local, "due_at_utc": _iso(due),
            "policy": policy.get("title", policy["name"])}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
