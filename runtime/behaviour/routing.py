"""Routing and assignment: ordered rules from routing.yaml and the assignment strategies.

``routing.yaml`` names, per entity, a ``group`` field and a ``user`` field and
lists rules; the first rule whose ``when`` holds sends a new record to a group
(and a person in it) or straight to a user. The group or user is named in the
rule (``group: line2``) or read from the record (``group_from: district.group``,
``user_from: curator``). The behaviour hub calls :meth:`Router.assign` and
:meth:`Router.reroute` inside the change's transaction, before the row is
written, and applies the field changes they return.

Routing runs on create; ``reroute`` declares when it runs again: when one of its
``fields`` changes or the record enters one of its ``statuses``.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from runtime.data import tables as platform
from runtime.data.records import SYSTEM
from runtime.errors import LoomError

DEFAULT_STRATEGY = "least_loaded"
# Status categories whose items count towards a member's load.
LOADED = ("open", "in_work", "waiting")


class RoutingError(LoomError):
    """A routing rule that cannot be carried out: it names a group or user that does
    not exist, or a strategy the router does not know."""

    status, title = 409, "Routing failed"


@dataclass(frozen=True)
class Target:
    """Where a rule sends a record: a group and/or a user (named, or read from a field of the
    record: ``group_from``, ``user_from``), and how to pick inside the group."""

    key: str  # "app.entity.rule": names the rule's round-robin pointer
    group: str | None = None
    user: str | None = None
    strategy: str = DEFAULT_STRATEGY
    skill_field: str | None = None
    group_from: str | None = None
    user_from: str | None = None

    @classmethod
    def of(cls, app: str, entity: str, name: str, rule: dict) -> Target:
        return cls(f"{app}.{entity}.{name}", rule.get("group"), rule.get("user"),
                   rule.get("strategy") or DEFAULT_STRATEGY, rule.get("skill_field"),
                   rule.get("group_from"), rule.get("user_from"))

    def pointer(self, group_id: int) -> str:
        """The round-robin pointer of this target in ``group_id``: a rule whose group comes from
        the record keeps one per group, so each group's rotation is its own."""
        return f"{self.key}:{group_id}" if self.group_from else self.key


@dataclass(frozen=True)
class Route:
    """A re-routing decided for a change: the rule, what triggered it and the field changes."""

    rule: str
    trigger: str  # "field:<name>" or "status:<name>"
    changes: dict
    notify: dict | None = None


class Router:
    def __init__(self, loom):
        self.loom = loom

    def spec(self, app: str, entity: str) -> dict | None:
        """The routing of ``entity`` (``routing.yaml: entities.<entity>``), or None."""
        live = self.loom.live.get(app)
        if live is None:
            return None
        return (live.app.section("routing").get("entities") or {}).get(entity)

    def moved(self, app: str, entity: str, values: dict, old: dict | None) -> bool:
        """Whether this change moves the record into another group (the requester is told)."""
        spec = self.spec(app, entity)
        if not spec or old is None:
            return False
        group = values.get(spec["group_field"])
        return group is not None and group != old.get(spec["group_field"])

    # ------------------------------------------------------------------ re-routing
    def reroute(self, conn, app: str, entity: str, values: dict, old: dict) -> Route | None:
        """Route a stored record again when this change meets the entity's ``reroute`` triggers.

        ``values`` are the record's values after the change (``status`` the one it enters),
        ``old`` the stored row. A change that sets the group or the assignee itself is not
        re-routed: the person's choice stands. None when nothing triggers or nothing moves.
        """
        spec = self.spec(app, entity)
        if not spec or not spec.get("reroute"):
            return None
        trigger = _trigger(spec["reroute"], values, old)
        placed = [spec["group_field"], spec.get("assignee_field")]
        if trigger is None or any(f and values.get(f) != old.get(f) for f in placed):
            return None
        found = self._first_rule(conn, app, entity, spec, values)
        if found is None:
            return None
        name, rule = found
        changes = self._place(conn, app, entity, spec, Target.of(app, entity, name, rule), values, rerouting=True)
        changes = {k: v for k, v in changes.items() if v != values.get(k)}
        return Route(name, trigger, changes, rule.get("notify")) if changes else None

    # ------------------------------------------------------------------ assigning
    def assign(self, conn, app: str, entity: str, values: dict, old: dict | None) -> dict:
        """The group and assignee changes routing makes to a record about to be saved.

        ``values`` are the record's field values after the change, ``old`` the stored
        row (None on create). A new record without a group goes through the rules; one
        with a group but no assignee, or one moved to another group without a new
        assignee, gets a member of that group by the group's strategy. Only values that
        differ from ``values`` are returned.
        """
        spec = self.spec(app, entity)
        if not spec:
            return {}
        group_field, assignee_field = spec["group_field"], spec.get("assignee_field")
        if old is None and values.get(group_field) is None:
            changes = self._route(conn, app, entity, spec, values)
        elif old is None and assignee_field and values.get(assignee_field) is None:
            changes = self._reassign(conn, app, entity, spec, values)
        elif (assignee_field and self.moved(app, entity, values, old)
              and values.get(assignee_field) == old.get(assignee_field)):
            # The previous assignee worked in the old group: the new group picks again,
            # and when it picks nobody the item waits unassigned in its queue.
            changes = self._reassign(conn, app, entity, spec, values)
        else:
            return {}
        return {k: v for k, v in changes.items() if v != values.get(k)}

    def _route(self, conn, app: str, entity: str, spec: dict, values: dict) -> dict:
        target = self._match(conn, app, entity, spec, values)
        return {} if target is None else self._place(conn, app, entity, spec, target, values)

    def _place(self, conn, app: str, entity: str, spec: dict, target: Target, values: dict,
               rerouting: bool = False) -> dict:
        """The group and assignee ``target`` gives the record. On create an assignee given with the
        record stays; on a re-route the assignee stays while the group does."""
        group_field, assignee_field = spec["group_field"], spec.get("assignee_field")
        group_id = self._target_group(conn, app, entity, target, values)
        changes = {group_field: group_id} if group_id is not None else {}
        current = values.get(assignee_field) if assignee_field else None
        if not assignee_field or (current is not None and not rerouting):
            return changes
        user_id = self._target_user(conn, app, entity, target, values)
        if user_id is None and group_id is not None:
            if rerouting and current is not None and group_id == values.get(group_field):
                return changes  # still in the same group: its assignee keeps the item
            user_id = self.pick(conn, app, entity, group_id, target.strategy, rule_key=target.pointer(group_id),
                                values=values, skill_field=target.skill_field)
        elif user_id is None and rerouting:
            return changes  # nobody to hand it to: the assignee stays
        changes[assignee_field] = user_id
        return changes

    def _target_group(self, conn, app: str, entity: str, target: Target, values: dict) -> int | None:
        if target.group:
            return self._group_id(conn, target.group)
        if target.group_from:
            return self.value_at(conn, app, entity, values, target.group_from)
        return None

    def _target_user(self, conn, app: str, entity: str, target: Target, values: dict) -> int | None:
        """The user a target names or reads from the record; None when there is none or they are inactive."""
        if target.user:
            return self._user_id(conn, target.user)
        if target.user_from:
            user_id = self.value_at(conn, app, entity, values, target.user_from)
            u = platform.user
            if user_id is not None and conn.execute(select(u.c.is_active).where(u.c.id == user_id)).scalar():
                return user_id
        return None

    def value_at(self, conn, app: str, entity: str, values: dict, path: str):
        """The value at ``path`` (``field`` or ``link.field``, ``link.link.field``) over ``values``;
        None where a link is empty or points at a deleted record. Routing is the engine's own
        decision, so the linked records are read whatever the user who saved may see."""
        *links, name = path.split(".")
        et, row = self.loom.entity_tables(app, entity), values
        for link in links:
            target_id = row.get(link)
            if target_id is None:
                return None
            owner, _, target = et.entity.fields[link].target.rpartition(".")
            et = self.loom.entity_tables(owner or et.entity.app, target)
            t = et.main
            row = conn.execute(select(t).where(t.c.id == target_id, t.c.deleted_at.is_(None))).mappings().first()
            if row is None:
                return None
        return row.get(name)

    def _resolves(self, conn, app: str, entity: str, rule: dict, values: dict) -> bool:
        """A rule that takes its group or user from the record applies only where there is one."""
        return all(self.value_at(conn, app, entity, values, rule[key]) is not None
                   for key in ("group_from", "user_from") if rule.get(key))

    def _reassign(self, conn, app: str, entity: str, spec: dict, values: dict) -> dict:
        group_id = values[spec["group_field"]]
        target = self._group_target(conn, app, entity, spec, group_id)
        user_id = self.pick(conn, app, entity, group_id, target.strategy, rule_key=target.key,
                            values=values, skill_field=target.skill_field)
        return {spec["assignee_field"]: user_id}

    def rule_for(self, app: str, entity: str, values: dict, conn=None) -> dict | None:
        """The rule that routes a record with ``values``: the first whose conditions hold,
        else the fallback; None when the entity is not routed. Pass ``conn`` inside a
        change (a ``when_script`` reads through it)."""
        spec = self.spec(app, entity)
        if not spec:
            return None
        if conn is None:
            with self.loom.reader.connect() as reader:
                return self.rule_for(app, entity, values, reader)
        found = self._first_rule(conn, app, entity, spec, values)
        return found[1] if found else None

    def _match(self, conn, app: str, entity: str, spec: dict, values: dict) -> Target | None:
        found = self._first_rule(conn, app, entity, spec, values)
        return Target.of(app, entity, *found) if found else None

    def _first_rule(self, conn, app: str, entity: str, spec: dict, values: dict) -> tuple[str, dict] | None:
        """``(name, rule)`` of the first rule whose ``when`` and ``when_script`` hold, else
        of the fallback. ``status`` reads as the initial status before the row has one."""
        et = self.loom.entity_tables(app, entity)
        values = {**values, "status": values.get("status") or et.entity.initial_status}
        for i, rule in enumerate(spec.get("rules") or []):
            name = rule.get("name") or str(i)
            if rule.get("when") and not self.loom.records.evaluate(conn, et.entity, rule["when"], values):
                continue
            if rule.get("when_script") and not self.loom.hooks.condition(
                    conn, self.loom.live[app].app, rule["when_script"], f"routing:{name}", values, SYSTEM,
                    entity=et.entity):
                continue
            if not self._resolves(conn, app, entity, rule, values):
                continue
            return name, rule
        fallback = spec.get("fallback")
        return ("fallback", fallback) if fallback and self._resolves(conn, app, entity, fallback, values) else None

    def routed_by(self, conn, app: str, entity: str, row: dict) -> dict | None:
        """The rule that routed a just-created record: the first that matches, if the record is in
        the group it sends to (a record filed into a group by hand was not routed by it)."""
        spec = self.spec(app, entity)
        found = self._first_rule(conn, app, entity, spec, row) if spec else None
        if found is None:
            return None
        group_id = self._target_group(conn, app, entity, Target.of(app, entity, *found), row)
        return found[1] if group_id is None or row.get(spec["group_field"]) == group_id else None

    def _group_target(self, conn, app: str, entity: str, spec: dict, group_id: int) -> Target:
        """How to pick in a group the record was put into by hand: as the first rule that
        targets the group does, else as the fallback does."""
        g = platform.group
        name = conn.execute(select(g.c.name).where(g.c.id == group_id)).scalar()
        for i, rule in enumerate(spec.get("rules") or []):
            if rule.get("group") == name:
                return Target.of(app, entity, rule.get("name") or str(i), rule)
        fallback = spec.get("fallback") or {}
        if fallback.get("group") == name:
            return Target.of(app, entity, "fallback", fallback)
        # Its own pointer: a rotation over this group must not move the fallback group's.
        return Target.of(app, entity, f"group:{name}", {**fallback, "group": name})

    # ------------------------------------------------------------------ strategies
    def pick(self, conn, app: str, entity: str, group_id: int, strategy: str, *, rule_key: str,
             values: dict, skill_field: str | None = None) -> int | None:
        """An active member of the group to assign by ``strategy``; None when the strategy
        is ``manual`` or nobody is active there (the item waits in the group's queue)."""
        if strategy == "manual":
            return None
        members = self._members(conn, group_id)
        if not members:
            return None
        if strategy == "round_robin":
            return self._rotate(conn, rule_key, [m.id for m in members])
        if strategy == "by_skill":
            wanted = self._skill_values(conn, app, entity, skill_field, values)
            members = [m for m in members if wanted & {str(s) for s in m.skills or ()}] or members
        elif strategy != "least_loaded":
            raise RoutingError(f"unknown routing strategy {strategy!r} for {app}.{entity}")
        return self._least_loaded(conn, app, entity, group_id, [m.id for m in members], values.get("id"))

    def _least_loaded(self, conn, app: str, entity: str, group_id: int, user_ids: list[int],
                      record_id: int | None) -> int:
        """The member with the fewest open items; ties go round the tied members in id
        order, starting after the one picked last, so an idle group shares work evenly.

        The group's pointer is locked before the loads are counted: a concurrent pick
        in the same group waits and then sees the item this one assigned.
        """
        key = f"lru:{app}.{entity}:{group_id}"
        last = self._lock_pointer(conn, key)
        loads = self._loads(conn, app, entity, user_ids, record_id)
        low = min(loads.get(u, 0) for u in user_ids)
        chosen = _next_after([u for u in user_ids if loads.get(u, 0) == low], last)
        self._set_pointer(conn, key, chosen)
        return chosen

    def _rotate(self, conn, key: str, user_ids: list[int]) -> int:
        chosen = _next_after(user_ids, self._lock_pointer(conn, key))
        self._set_pointer(conn, key, chosen)
        return chosen

    def _loads(self, conn, app: str, entity: str, user_ids: list[int], record_id: int | None) -> dict[int, int]:
        """Open items per user (statuses of category open, in_work or waiting; a status
        without a category counts as open). The record being routed does not count."""
        et = self.loom.entity_tables(app, entity)
        t = et.main
        assignee = t.c[self.spec(app, entity)["assignee_field"]]
        query = (select(assignee, func.count()).where(assignee.in_(user_ids), t.c.deleted_at.is_(None))
                 .group_by(assignee))
        if et.entity.statuses:
            query = query.where(t.c.status.in_([s["name"] for s in et.entity.statuses
                                                if s.get("category", "open") in LOADED]))
        if record_id is not None:
            query = query.where(t.c.id != record_id)
        return dict(conn.execute(query).all())

    def _skill_values(self, conn, app: str, entity: str, field_name: str | None, values: dict) -> set[str]:
        """What a member's skills may contain to match the record: the field's value, and
        for a link the linked record's title as well."""
        raw = values.get(field_name) if field_name else None
        if raw is None:
            return set()
        field = self.loom.entity_tables(app, entity).entity.fields.get(field_name)
        if field is None or field.value_type != "link":
            return {str(raw)}
        owner, _, name = field.target.rpartition(".")
        target = self.loom.entity_tables(owner or app, name)
        title = conn.execute(select(target.main.c[target.entity.title_field])
                             .where(target.main.c.id == int(raw))).scalar()
        return {str(raw)} if title is None else {str(raw), str(title)}

    # ------------------------------------------------------------------ accounts and pointers
    @staticmethod
    def _members(conn, group_id: int) -> list:
        u, ug = platform.user, platform.user_group
        return conn.execute(select(u.c.id, u.c.skills).join(ug, ug.c.user_id == u.c.id)
                            .where(ug.c.group_id == group_id, u.c.is_active.is_(True))
                            .order_by(u.c.id)).all()

    @staticmethod
    def _group_id(conn, name: str) -> int:
        g = platform.group
        group_id = conn.execute(select(g.c.id).where(g.c.name == name)).scalar()
        if group_id is None:
            raise RoutingError(f"routing names group {name!r}, which does not exist")
        return group_id

    @staticmethod
    def _user_id(conn, username: str) -> int | None:
        """The user's id; None when the account is deactivated (the rule's group then picks)."""
        u = platform.user
        row = conn.execute(select(u.c.id, u.c.is_active).where(u.c.username == username)).first()
        if row is None:
            raise RoutingError(f"routing names user {username!r}, who does not exist")
        return row.id if row.is_active else None

    @staticmethod
    def _lock_pointer(conn, key: str) -> int | None:
        """The user a pointer last picked, with its row locked until the transaction ends
        (created first if missing; two first users of a key both end up locking one row)."""
        rr = platform.round_robin
        locked = select(rr.c.last_user_id).where(rr.c.key == key).with_for_update()
        row = conn.execute(locked).first()
        if row is None:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            conn.execute(insert(rr).values(key=key, last_user_id=None).on_conflict_do_nothing())
            row = conn.execute(locked).one()
        return row.last_user_id

    @staticmethod
    def _set_pointer(conn, key: str, user_id: int) -> None:
        rr = platform.round_robin
        conn.execute(update(rr).where(rr.c.key == key).values(last_user_id=user_id))


def _trigger(reroute: dict, values: dict, old: dict) -> str | None:
    """What in this change re-routes the record: entering a listed status, or a listed field changing."""
    status = values.get("status")
    if status != old.get("status") and status in reroute.get("statuses", ()):
        return f"status:{status}"
    for name in reroute.get("fields", ()):
        if values.get(name) != old.get(name):
            return f"field:{name}"
    return None


def _next_after(user_ids: list[int], last: int | None) -> int:
    """The first id after ``last`` in ascending ``user_ids``, wrapping round."""
    return next((u for u in user_ids if last is not None and u > last), user_ids[0])
