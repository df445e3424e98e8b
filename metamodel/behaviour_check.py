"""Cross-checks of an app's behaviour: transitions' actions and timers, aggregation
rules, routing.yaml, sla.yaml and notifications.yaml.

Every name must point at something real (a field of the right type, a status or
category, a calendar, a template, a group field for ``.lead``), so that what an
analyst publishes cannot fail later on a typo while a ticket waits.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .geo import parse_distance
from .model import CURRENT_USER
from .recipients import parse_recipient

CATEGORIES = ("open", "in_work", "waiting", "done", "cancelled")
MAX_ROUTING_LINKS = 2  # group_from/user_from follow at most this many links


class BehaviourCheck:
    """Runs inside :class:`metamodel.validate._CrossCheck`, sharing its collector and helpers."""

    def __init__(self, check):
        self.check = check
        self.app = check.app
        self.out = check.out
        self.templates = set((self.app.section("notifications").get("templates") or {}))
        self.calendars = set((self.app.section("sla").get("calendars") or {}))

    def run(self) -> None:
        for entity in self.app.entities.values():
            base = ("entities", entity.name)
            self.transitions(entity, base)
            self.aggregations(entity, base)
        self.routing()
        self.sla()

    # ------------------------------------------------------------------ shared pieces
    def template(self, name: str, path: tuple) -> None:
        if name not in self.templates:
            self.out.add(path, self.check._unknown("notification template", name, self.templates) +
                         ("" if self.templates else "; declare it in notifications.yaml"))

    def recipients(self, entity, specs: list, path: tuple) -> None:
        for j, spec in enumerate(specs):
            problem = self._recipient_problem(entity, spec)
            if problem:
                self.out.add(path + (j,), problem)

    def _recipient_problem(self, entity, spec: str) -> str | None:
        try:
            parse_recipient(spec, entity, lambda f: self.check.resolve(f.target) if f.target else None)
        except ValueError as exc:
            return f"{exc}; a recipient is a user, group or e-mail field (after links: system.technical_owner), " \
                   f"a group field's .lead, role:<name>, group:<name>, group:<name>.lead, user:<name> or an address"
        return None

    def duration_calendar(self, calendar: str | None, path: tuple) -> None:
        if calendar is not None and calendar not in self.calendars:
            self.out.add(path, self.check._unknown("calendar", calendar, self.calendars) +
                         ("" if self.calendars else "; declare calendars in sla.yaml"))

    def _field_of_type(self, entity, name: str, types: tuple, path: tuple) -> None:
        f = entity.fields.get(name)
        if f is None:
            self.out.add(path, self.check._unknown("field", name, set(entity.fields)))
        elif f.value_type not in types:
            self.out.add(path, f"{name!r} is a {f.value_type} field; a {' or '.join(types)} field is needed here")

    # ------------------------------------------------------------------ entities
    def transitions(self, entity, base: tuple) -> None:
        names = set(entity.fields)
        for i, tr in enumerate(entity.spec.get("transitions", [])):
            path = base + ("transitions", i)
            if "timer" in tr:
                self.duration_calendar(tr["timer"].get("calendar"), path + ("timer", "calendar"))
                if tr.get("from") == "*" or "*" in (tr.get("from") or []):
                    self.out.add(path + ("from",), "a timer transition needs named source statuses, not '*'")
            for j, action in enumerate(tr.get("actions", [])):
                self.action(entity, action, path + ("actions", j), names)

    def action(self, entity, action: dict, path: tuple, names: set) -> None:
        if "notify" in action:
            self.template(action["notify"]["template"], path + ("notify", "template"))
            for key in ("to", "cc"):
                self.recipients(entity, action["notify"].get(key, []), path + ("notify", key))
        if "run" in action:
            self.check._script(action["run"], path + ("run",))
        if "create" in action:
            target = self.check.resolve(action["create"]["entity"])
            if target is None:
                self.out.add(path + ("create", "entity"),
                             self.check._unknown("entity", action["create"]["entity"], set(self.app.entities)))
                return
            for name, expr in action["create"].get("set", {}).items():
                if name not in target.fields:
                    self.out.add(path + ("create", "set", name),
                                 self.check._unknown(f"field of {target.name}", name, set(target.fields)))
                self.check.set_value(entity, expr, path + ("create", "set", name), names | {"id", "user"},
                                     target.fields.get(name))
        if "cascade" in action:
            self.cascade(entity, action["cascade"], path + ("cascade",))

    def cascade(self, entity, spec: dict, path: tuple) -> None:
        """``cascade.field`` is a link to this entity, of this entity (members point at their parent)."""
        f = entity.fields.get(spec["field"])
        if f is None or f.value_type != "link" or self.check.resolve(f.target or "") is not entity:
            self.out.add(path + ("field",), f"{spec['field']!r} must be a link field of {entity.name} "
                                            f"that points to {entity.name}")
        if spec["transition"] not in {t["name"] for t in entity.spec.get("transitions", [])}:
            self.out.add(path + ("transition",), self.check._unknown(
                "transition", spec["transition"], {t["name"] for t in entity.spec.get("transitions", [])}))

    def aggregations(self, entity, base: tuple) -> None:
        names = set(entity.fields)
        for i, rule in enumerate(entity.spec.get("aggregations", [])):
            path = base + ("aggregations", i)
            for j, name in enumerate(rule.get("match", [])):
                if name not in names:
                    self.out.add(path + ("match", j), self.check._unknown("field", name, names))
                elif entity.fields[name].storage != "column":
                    self.out.add(path + ("match", j), f"{name!r} is a {entity.fields[name].type} field; match "
                                 f"compares single values" + ("; use near for points" if
                                                              entity.fields[name].type == "geo" else ""))
            if "near" in rule:
                self._field_of_type(entity, rule["near"]["field"], ("geo",), path + ("near", "field"))
                try:
                    parse_distance(rule["near"]["within"])
                except ValueError as exc:
                    self.out.add(path + ("near", "within"), str(exc))
            if "distinct" in rule and rule["distinct"] not in names | {"created_by"}:
                self.out.add(path + ("distinct",), self.check._unknown("field", rule["distinct"], names))
            f = entity.fields.get(rule["link_field"])
            if f is None or f.value_type != "link" or self.check.resolve(f.target or "") is not entity:
                self.out.add(path + ("link_field",), f"{rule['link_field']!r} must be a link field of "
                                                     f"{entity.name} that points to {entity.name}")
            if "where" in rule:
                self.check._expression(rule["where"], path + ("where",), names, entity)
            parent = rule["parent"]
            if "find" in parent:
                self.check._expression(parent["find"], path + ("parent", "find"), names, entity)
            for name, expr in parent.get("set", {}).items():
                if name not in names:
                    self.out.add(path + ("parent", "set", name), self.check._unknown("field", name, names))
                if expr == CURRENT_USER:
                    self.out.add(path + ("parent", "set", name), f"{CURRENT_USER} is the person who fires a "
                                 f"transition; the system applies an aggregation rule, so there is nobody to set")
                    continue
                self.check._expression(expr, path + ("parent", "set", name), names, entity,
                                       target=entity.fields.get(name))

    # ------------------------------------------------------------------ routing.yaml
    def routing(self) -> None:
        for name, spec in (self.app.section("routing").get("entities") or {}).items():
            path = ("routing", "entities", name)
            entity = self.check.resolve(name)
            if entity is None:
                self.out.add(path, self.check._unknown("entity", name, set(self.app.entities)))
                continue
            self._field_of_type(entity, spec["group_field"], ("group",), path + ("group_field",))
            for key in ("assignee_field", "requester_field"):
                if key in spec:
                    self._field_of_type(entity, spec[key], ("user",), path + (key,))
            if "notify_moved" in spec:
                self.template(spec["notify_moved"], path + ("notify_moved",))
                if "requester_field" not in spec:
                    self.out.add(path + ("notify_moved",), "notify_moved needs requester_field: whom to inform")
            if "reroute" in spec:
                self.reroute(entity, spec, path + ("reroute",))
            rules = list(enumerate(spec.get("rules", [])))
            for i, rule in rules:
                self.rule(entity, rule, path + ("rules", i))
            if "fallback" in spec:
                self.rule(entity, spec["fallback"], path + ("fallback",))

    def reroute(self, entity, spec: dict, path: tuple) -> None:
        """Re-routing triggers: fields of the record (not the ones routing itself sets) and its statuses."""
        own = {spec["group_field"], spec.get("assignee_field")}
        for j, name in enumerate(spec["reroute"].get("fields", [])):
            f = entity.fields.get(name)
            if f is None:
                self.out.add(path + ("fields", j), self.check._unknown("field", name, set(entity.fields)))
            elif name in own:
                self.out.add(path + ("fields", j), f"{name!r} is set by routing itself; a change of it "
                                                   f"moves the record by hand and cannot trigger routing")
            elif f.storage != "column":
                self.out.add(path + ("fields", j), f"{name!r} is a {f.type} field; re-routing watches "
                                                   f"single-value fields")
        statuses = {s["name"] for s in entity.statuses}
        for j, name in enumerate(spec["reroute"].get("statuses", [])):
            if name not in statuses:
                self.out.add(path + ("statuses", j), self.check._unknown("status", name, statuses) +
                             ("" if statuses else f"; {entity.name} has no statuses"))

    def rule(self, entity, rule: dict, path: tuple) -> None:
        if "when" in rule:
            self.check._expression(rule["when"], path + ("when",), set(entity.fields) | {"status"}, entity)
        if "when_script" in rule:
            self.check._script(rule["when_script"], path + ("when_script",))
        if "notify" in rule:
            self.template(rule["notify"]["template"], path + ("notify", "template"))
            for key in ("to", "cc"):
                self.recipients(entity, rule["notify"].get(key, []), path + ("notify", key))
        if not {"group", "group_from", "user", "user_from"} & set(rule):
            self.out.add(path, "a rule routes to a group or a user: add group:, group_from:, user: or user_from:")
        for fixed, key in (("group", "group_from"), ("user", "user_from")):
            if fixed in rule and key in rule:
                self.out.add(path + (key,), f"give either {fixed}: (one {fixed} for every record) or {key}: "
                                            f"(the {fixed} in a field of the record), not both")
        if "group_from" in rule:
            self._routed_path(entity, rule["group_from"], "group", path + ("group_from",))
        if "user_from" in rule:
            self._routed_path(entity, rule["user_from"], "user", path + ("user_from",))
        if rule.get("strategy") == "by_skill":
            if "skill_field" not in rule:
                self.out.add(path + ("strategy",), "by_skill needs skill_field: the field whose value is the skill")
            elif rule["skill_field"] not in entity.fields:
                self.out.add(path + ("skill_field",),
                             self.check._unknown("field", rule["skill_field"], set(entity.fields)))

    def _routed_path(self, entity, dotted: str, kind: str, path: tuple) -> None:
        """``group_from``/``user_from``: a ``kind`` field of the record, or after one or two links."""
        parts = dotted.split(".")
        if len(parts) > MAX_ROUTING_LINKS + 1:
            self.out.add(path, f"{dotted!r} follows {len(parts) - 1} links; routing follows at most "
                               f"{MAX_ROUTING_LINKS} (link.link.field)")
            return
        current = entity
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            f = current.fields.get(part)
            if f is None and last and kind == "user" and part in ("created_by", "updated_by"):
                return
            if f is None:
                self.out.add(path, self.check._unknown(f"field of {current.name}", part, set(current.fields)))
                return
            if last:
                if f.value_type != kind:
                    self.out.add(path, f"{current.name}.{part} is a {f.value_type} field; {dotted!r} must end "
                                       f"in a {kind} field")
                return
            if f.value_type != "link" or f.storage != "column":
                self.out.add(path, f"{part!r} is not a link, so {dotted!r} cannot follow it")
                return
            current = self.check.resolve(f.target)
            if current is None:
                return  # the link itself is reported with the entity

    # ------------------------------------------------------------------ sla.yaml
    def sla(self) -> None:
        section = self.app.section("sla")
        calendars = section.get("calendars") or {}
        if sum(1 for c in calendars.values() if c.get("default")) > 1:
            self.out.add(("sla", "calendars"), "only one calendar may be the default")
        for name, cal in calendars.items():
            try:
                ZoneInfo(cal["timezone"])
            except (ZoneInfoNotFoundError, ValueError):
                self.out.add(("sla", "calendars", name, "timezone"),
                             f"unknown time zone {cal['timezone']!r}; use an IANA name like Asia/Yekaterinburg")
            for day, intervals in (cal.get("hours") or {}).items():
                self._intervals(intervals, ("sla", "calendars", name, "hours", day))
            for j, exc in enumerate(cal.get("exceptions") or []):
                self._intervals(exc["hours"], ("sla", "calendars", name, "exceptions", j, "hours"))
        seen = set()
        for i, policy in enumerate(section.get("policies") or []):
            self.policy(policy, ("sla", "policies", i), seen)

    def _intervals(self, intervals: list, path: tuple) -> None:
        last = None
        for j, text in enumerate(intervals):
            start, _, end = text.partition("-")
            if end <= start:
                self.out.add(path + (j,), f"{text!r} ends before it starts")
            elif last is not None and start < last:
                self.out.add(path + (j,), f"{text!r} overlaps or precedes the interval before it")
            last = end

    def policy(self, policy: dict, path: tuple, seen: set) -> None:
        if policy["name"] in seen:
            self.out.add(path + ("name",), f"policy {policy['name']!r} is defined twice")
        seen.add(policy["name"])
        entity = self.check.resolve(policy["entity"])
        if entity is None:
            self.out.add(path + ("entity",), self.check._unknown("entity", policy["entity"], set(self.app.entities)))
            return
        names = set(entity.fields) | {"status"}
        if "when" in policy:
            self.check._expression(policy["when"], path + ("when",), names, entity)
        if "when_script" in policy:
            self.check._script(policy["when_script"], path + ("when_script",))
        self.duration_calendar(policy.get("calendar"), path + ("calendar",))
        statuses = {s["name"] for s in entity.statuses} | set(CATEGORIES)
        targets = set()
        for j, target in enumerate(policy["targets"]):
            tpath = path + ("targets", j)
            if target["name"] in targets:
                self.out.add(tpath + ("name",), f"target {target['name']!r} is defined twice")
            targets.add(target["name"])
            for key in ("start", "stop", "pause", "reset"):
                for k, name in enumerate(target.get(key, [])):
                    if name not in statuses:
                        self.out.add(tpath + (key, k), self.check._unknown("status or category", name, statuses))
                if f"{key}_when" in target:
                    self.check._expression(target[f"{key}_when"], tpath + (f"{key}_when",),
                                           names | {"status_category"}, entity)
            if not target.get("stop") and "stop_when" not in target:
                self.out.add(tpath, "a target needs stop: (statuses or categories) or stop_when: where it is met")
        levels = set()
        for j, esc in enumerate(policy.get("escalations", [])):
            epath = path + ("escalations", j)
            if esc["level"] in levels:
                self.out.add(epath + ("level",), f"escalation level {esc['level']} is defined twice")
            levels.add(esc["level"])
            for k, name in enumerate(esc.get("targets", [])):
                if name not in targets:
                    self.out.add(epath + ("targets", k), self.check._unknown("target", name, targets))
            if "template" in esc:
                self.template(esc["template"], epath + ("template",))
            for key in ("to", "cc"):
                self.recipients(entity, esc.get(key, []), epath + (key,))
