"""Cross-checks of record generators (``schedules.yaml: generate``), approvals
(``approvals.yaml``) and batch runs (``batches.yaml``): every entity, field, status, transition, role, group field,
template and calendar they name must exist, with the file, line and path of a wrong one.
"""
from __future__ import annotations

from .expressions import ExpressionError, parse
from .model import CURRENT_USER
from .periods import PERIODICITIES

PERIOD_NAMES = {"period_start", "period_end"}
SYSTEM_FILTER_FIELDS = ("id", "number", "status", "created_at", "updated_at")
ROW = "row"


class ConceptsCheck:
    """Runs inside :class:`metamodel.validate._CrossCheck`, after :class:`BehaviourCheck`."""

    def __init__(self, check, behaviour):
        self.check = check
        self.behaviour = behaviour  # templates, calendars and recipients are checked as elsewhere
        self.app = check.app
        self.out = check.out
        self._rows_unknown = False

    def run(self) -> None:
        for i, spec in enumerate(self.app.section("schedules").get("schedules", [])):
            if "generate" in spec:
                self.generator(spec["generate"], ("schedules", "schedules", i, "generate"))
            if "notify_before" in spec:
                self.notices(spec["notify_before"], ("schedules", "schedules", i, "notify_before"))
        seen = set()
        for i, spec in enumerate(self.app.section("approvals").get("approvals", [])):
            self.approval(spec, ("approvals", "approvals", i), seen)
        seen = set()
        for i, spec in enumerate(self.app.section("batches").get("batches", [])):
            self.batch(spec, ("batches", "batches", i), seen)

    # ------------------------------------------------------------------ generators
    def generator(self, spec: dict, path: tuple) -> None:
        source = self._entity(spec["source"], path + ("source",))
        target = self._entity(spec["target"], path + ("target",))
        if source is None:
            return
        rows = None
        self._rows_unknown = False  # a wrong rows: is reported once, not again by every row.<column>
        if "rows" in spec:
            f = source.fields.get(spec["rows"])
            tables = {n for n, g in source.fields.items() if g.storage == "child"}
            self._rows_unknown = f is None or f.storage != "child"
            if f is None:
                self.out.add(path + ("rows",), self.check._unknown(f"table field of {source.name}", spec["rows"],
                                                                   tables))
            elif f.storage != "child":
                self.out.add(path + ("rows",), f"{spec['rows']!r} is a {f.type} field; rows: names a table field "
                                               f"(one record per row)")
            else:
                rows = f
        names = set(source.fields) | {"status"}
        if "when" in spec:
            self.check._expression(spec["when"], path + ("when",), names, source)
        if isinstance(spec["every"], dict):
            self._periodicity(source, rows, spec["every"]["field"], path + ("every", "field"))
        scope = names | {ROW}
        for key in ("valid_from", "valid_to"):
            if key in spec:
                self._expression(source, rows, spec[key], path + (key,), scope)
        for name, expr in spec["set"].items():
            if target is not None and name not in target.fields:
                self.out.add(path + ("set", name), self.check._unknown(f"field of {target.name}", name,
                                                                       set(target.fields)))
            if expr == CURRENT_USER:
                self.out.add(path + ("set", name), f"{CURRENT_USER} is the person who fires a transition; a "
                                                   f"schedule generates records as the system, so there is nobody to set")
                continue
            self._expression(source, rows, str(expr), path + ("set", name), scope | PERIOD_NAMES,
                             target.fields.get(name) if target is not None else None)

    # ------------------------------------------------------------------ notices ahead of a date
    def notices(self, spec: dict, path: tuple) -> None:
        entity = self._entity(spec["entity"], path + ("entity",))
        if entity is None:
            return
        f = entity.fields.get(spec["field"])
        dates = {n for n, g in entity.fields.items() if g.value_type in ("date", "datetime")}
        if f is None:
            self.out.add(path + ("field",), self.check._unknown(f"date field of {entity.name}", spec["field"], dates))
        elif spec["field"] not in dates:
            self.out.add(path + ("field",), f"{spec['field']!r} is a {f.type} field; notices count down to a date "
                                            f"or datetime field")
        if "when" in spec:
            self.check._expression(spec["when"], path + ("when",), set(entity.fields) | {"status"}, entity)
        self.behaviour.template(spec["template"], path + ("template",))
        for key in ("to", "cc"):
            self.behaviour.recipients(entity, spec.get(key, []), path + (key,))

    def _entity(self, ref: str, path: tuple):
        entity = self.check.resolve(ref)
        if entity is None:
            self.out.add(path, self.check._unknown("entity", ref, set(self.app.entities)))
        return entity

    def _periodicity(self, source, rows, ref: str, path: tuple) -> None:
        """``every: {field: ...}``: a choice field (of the source, or ``row.<column>``) whose every
        value is a periodicity."""
        head, _, column = ref.partition(".")
        if head == ROW and column:
            if rows is None and self._rows_unknown:
                return
            if rows is None:
                self.out.add(path, f"{ref!r} reads a table row; add rows: (the table field) to the generator")
                return
            f, owner, known = rows.children.get(column), f"column of {rows.name}", set(rows.children)
        else:
            f, owner, known = source.fields.get(ref), f"field of {source.name}", set(source.fields)
        if f is None:
            self.out.add(path, self.check._unknown(owner, column or ref, known))
        elif f.type != "choice" or not f.choices:
            self.out.add(path, f"{ref!r} is a {f.type} field; the periodicity is read from a choice field whose "
                               f"values are {', '.join(PERIODICITIES)}")
        else:
            wrong = sorted(f.choice_values - set(PERIODICITIES))
            if wrong:
                self.out.add(path, f"{ref!r} has the choices {', '.join(map(repr, wrong))}, which are no "
                                   f"periodicity; use {', '.join(PERIODICITIES)}")

    def _expression(self, source, rows, text: str, path: tuple, names: set, target=None) -> None:
        """An expression over the source record, ``row.<column>`` of its table and the period."""
        self.check._expression(text, path, names, source, target=target)
        try:
            expr = parse(text)
        except ExpressionError:
            return  # reported above
        for dotted in expr.paths:
            head, _, column = dotted.partition(".")
            if head != ROW or (rows is None and self._rows_unknown):
                continue
            if rows is None:
                self.out.add(path, f"{dotted!r} reads a table row; add rows: (the table field) to the generator")
            elif column not in rows.children:
                self.out.add(path, self.check._unknown(f"column of {rows.name}", column, set(rows.children)))
        if ROW in expr.names and ROW not in {p.split(".")[0] for p in expr.paths}:
            self.out.add(path, "row is read by its columns: row.<column>")

    # ------------------------------------------------------------------ approvals
    def _approver_field(self, entity, name: str, path: tuple) -> None:
        """A user or group field of the record, ``table.column`` of a user column (many users), or a
        path through links to one (``department.head``), read as notification recipients are."""
        head, _, column = name.partition(".")
        f = entity.fields.get(head)
        if f is None:
            self.out.add(path, self.check._unknown("field", head, set(entity.fields)))
            return
        if column and f.value_type == "link" and f.storage == "column":
            problem = self.behaviour._recipient_problem(entity, name)
            if problem:
                self.out.add(path, problem)
            return
        if column:
            if f.storage != "child":
                self.out.add(path, f"{head!r} is a {f.type} field; table.column reads a table's user column, "
                                   f"link.field a user or group field of the linked record")
                return
            f = f.children.get(column)
            if f is None:
                self.out.add(path, self.check._unknown(f"column of {head}", column, set(entity.fields[head].children)))
                return
        if f.type not in ("user", "group") or (column and f.type != "user"):
            self.out.add(path, f"{name!r} is a {f.type} field; approvers come from a user or group field, "
                               f"or a user column of a table (table.column)")

    def approval(self, spec: dict, path: tuple, seen: set) -> None:
        if spec["name"] in seen:
            self.out.add(path + ("name",), f"approval {spec['name']!r} is defined twice")
        seen.add(spec["name"])
        entity = self._entity(spec["entity"], path + ("entity",))
        if entity is None:
            return
        statuses = {s["name"] for s in entity.statuses}
        known_start = spec["start"] in statuses
        if not known_start:
            self.out.add(path + ("start",), self.check._unknown("status", spec["start"], statuses) +
                         ("" if statuses else f"; {entity.name} has no statuses"))
        transitions = {t["name"]: t for t in entity.spec.get("transitions", [])}
        for key in ("on_approved", "on_rejected", "on_timeout"):
            name = spec.get(key)
            if name is None:
                continue
            tr = transitions.get(name)
            if tr is None:
                self.out.add(path + (key,), self.check._unknown("transition", name, set(transitions)))
                continue
            sources = tr["from"] if isinstance(tr["from"], list) else [tr["from"]]
            if known_start and "*" not in sources and spec["start"] not in sources:
                self.out.add(path + (key,), f"transition {name!r} goes from {', '.join(sources)}, not from "
                                            f"{spec['start']!r} where the approval is decided")
        if "on_timeout" in spec and "deadline" not in spec:
            self.out.add(path + ("on_timeout",), "on_timeout needs a deadline: when the time is up")
        if "calendar" in spec:
            self.behaviour.duration_calendar(spec["calendar"], path + ("calendar",))
        approvers = spec["approvers"]
        roles = set(self.app.roles)
        for j, role in enumerate(approvers.get("roles", [])):
            if role not in roles:
                self.out.add(path + ("approvers", "roles", j), self.check._unknown("role", role, roles) +
                             "; roles are those of app.yaml")
        for j, name in enumerate(approvers.get("fields", [])):
            self._approver_field(entity, name, path + ("approvers", "fields", j))
        rule = spec["rule"]
        if isinstance(rule, dict) and "n_of_m" in rule and approvers.get("users") and \
                set(approvers) == {"users"} and rule["n_of_m"] > len(approvers["users"]):
            self.out.add(path + ("rule", "n_of_m"), f"{rule['n_of_m']} of {len(approvers['users'])} named users "
                                                    f"can never be reached")
        if "notify" in spec:
            self.behaviour.template(spec["notify"]["template"], path + ("notify", "template"))
        if "notify_timeout" in spec:
            self.behaviour.template(spec["notify_timeout"]["template"], path + ("notify_timeout", "template"))
            for key in ("to", "cc"):
                self.behaviour.recipients(entity, spec["notify_timeout"].get(key, []), path + ("notify_timeout", key))


    # ------------------------------------------------------------------ batch runs
    def batch(self, spec: dict, path: tuple, seen: set) -> None:
        """A batch run: its source and filter, parameters and key, script, results entity and the
        text field there that holds the run key, and the roles that may start it."""
        if spec["name"] in seen:
            self.out.add(path + ("name",), f"batch {spec['name']!r} is defined twice")
        seen.add(spec["name"])
        source = self._entity(spec["source"], path + ("source",))
        if source is not None:
            for j, flt in enumerate(spec.get("filter", [])):
                self.check._path_field(source, flt["field"], path + ("filter", j, "field"),
                                       set(source.fields) | set(SYSTEM_FILTER_FIELDS))
            self.check.filter_check.filters(source, spec.get("filter", []), path + ("filter",))
        params = spec.get("params") or {}
        for j, name in enumerate(spec.get("key", [])):
            if name not in params:
                self.out.add(path + ("key", j), self.check._unknown("parameter", name, set(params)))
        for name, param in params.items():
            if param["type"] == "choice" and not param.get("choices"):
                self.out.add(path + ("params", name, "type"), "a choice parameter needs choices: [{value, title}]")
            elif param.get("choices") and param["type"] != "choice":
                self.out.add(path + ("params", name, "choices"), f"choices go with type: choice, not {param['type']}")
        self.check._script(spec["script"], path + ("script",))
        results = self._entity(spec["results"], path + ("results",))
        if results is not None:
            key_field = spec.get("key_field", "batch_key")
            f = results.fields.get(key_field)
            texts = {n for n, g in results.fields.items() if g.value_type == "string" and g.storage == "column"}
            if f is None:
                self.out.add(path + ("key_field" if "key_field" in spec else "results",),
                             f"{results.name} needs a text field {key_field!r} to hold the run key "
                             f"(results are tagged with it, so a rerun replaces them)" +
                             (f"; its text fields: {', '.join(sorted(texts))}" if texts else ""))
            elif key_field not in texts:
                self.out.add(path + ("key_field",), f"{key_field!r} is a {f.type} field; the run key needs a "
                                                    f"text field")
            elif f.max_length < 120:
                self.out.add(path + ("key_field",), f"{key_field!r} holds at most {f.max_length} "
                                                    f"characters; a run key needs up to 120")
        if results is not None:
            hooks = sorted(set(results.spec.get("hooks") or {}) & {"default", "validate", "before_save", "after_save"})
            if hooks:
                self.out.add(path + ("results",), f"{results.name} has save hooks ({', '.join(hooks)}); batch "
                                                  f"results are written in bulk without them: use an entity "
                                                  f"without save hooks, or compute in the batch's script")
            if "source_field" in spec:
                self._link_to(results, spec["source_field"], spec["source"], path + ("source_field",))
        for j, load in enumerate(spec.get("load", [])):
            lpath = path + ("load", j)
            entity = self._entity(load["entity"], lpath + ("entity",))
            if entity is None:
                continue
            if "by" in load:
                self._link_to(entity, load["by"], spec["source"], lpath + ("by",))
            for k, flt in enumerate(load.get("filter", [])):
                self.check._path_field(entity, flt["field"], lpath + ("filter", k, "field"),
                                       set(entity.fields) | set(SYSTEM_FILTER_FIELDS))
            self.check.filter_check.filters(entity, load.get("filter", []), lpath + ("filter",))
        roles = set(self.app.roles)
        for j, role in enumerate(spec.get("roles", [])):
            if role not in roles and role != "admin":
                self.out.add(path + ("roles", j), self.check._unknown("role", role, roles) + "; roles are those of app.yaml")

    def _link_to(self, entity, name: str, target: str, path: tuple) -> None:
        """``name`` is a link field of ``entity`` to ``target``."""
        f = entity.fields.get(name)
        links = {n for n, g in entity.fields.items() if g.value_type == "link" and g.storage == "column"}
        if f is None:
            self.out.add(path, self.check._unknown(f"link field of {entity.name}", name, links))
        elif f.value_type != "link" or f.target.rpartition(".")[2] != target.rpartition(".")[2]:
            self.out.add(path, f"{name!r} of {entity.name} must link to {target}; it is a {f.type} field" +
                         (f" to {f.target}" if f.target else ""))
