"""Cross-checks of the user-interface concepts of an entity: a link field's ``filter`` and
``filter_script``, the record ``graph``, the record ``timeline`` and the organiser's ``tasks``
declaration. Every name
they mention must exist and have the right kind, with the file, line and path of a wrong one.
"""
from __future__ import annotations

from .expressions import ExpressionError
from .model import SYSTEM_COLUMNS, Entity, Field
from .predicates import comparisons, leaves, parse_condition

FILTERED_TYPES = ("link", "multilink")  # a condition reads the linked entity's columns
SCRIPTED_TYPES = ("link", "multilink", "user", "group")  # a script may narrow any picker
DUE_TYPES = ("date", "datetime")
TIMELINE_SYSTEM_DATES = ("created_at", "updated_at")  # what a timeline orders by when a source names no date


def columns(entity: Entity) -> set[str]:
    """The names a row condition over ``entity`` may read."""
    return {f.name for f in entity.fields.values() if f.storage == "column"} | set(SYSTEM_COLUMNS)


def path_heads(entity: Entity) -> set[str]:
    """The fields that hold several rows or records (a table, a multi-link): a row condition
    reads them only through a path, ``co_executors.executor == $user`` (any row matches)."""
    return {f.name for f in entity.fields.values() if f.storage in ("child", "assoc")}


def row_condition(entity: Entity, source: str, refs=None) -> tuple:
    """The tree of a condition over ``entity``'s rows: a row rule, a portal page's filter, a link
    field's filter (``refs``: the edited record's fields ``$name`` may stand for)."""
    return parse_condition(source, columns(entity), refs, path_heads(entity))


def references(entity: Entity) -> set[str]:
    """The fields of a record being edited that ``$name`` may stand for: single values and
    multi-links (a list, for ``in``)."""
    return {f.name for f in entity.fields.values() if f.storage in ("column", "assoc")} | {"id"}


class UiCheck:
    """Runs inside :class:`metamodel.validate._CrossCheck` for each entity."""

    def __init__(self, check):
        self.check, self.out = check, check.out

    def entity(self, entity: Entity, base: tuple) -> None:
        for f in entity.fields.values():
            self.link_filter(entity, f, base + ("fields", f.name))
            for child in f.children.values():
                for key in ("filter", "filter_script"):
                    if key in child.spec:
                        self.out.add(base + ("fields", f.name, "fields", child.name, key),
                                     f"a table column takes no {key}; filter a link field of the record itself")
        if "graph" in entity.spec:
            self.graph(entity, entity.spec["graph"], base + ("graph",))
        if "tasks" in entity.spec:
            self.tasks(entity, entity.spec["tasks"], base + ("tasks",))
        if "timeline" in entity.spec:
            self.timeline(entity, entity.spec["timeline"], base + ("timeline",))

    # ------------------------------------------------------------------ link filters
    def link_filter(self, entity: Entity, f: Field, path: tuple) -> None:
        spec = f.spec
        if "filter_script" in spec:
            if f.value_type not in SCRIPTED_TYPES:
                self.out.add(path + ("filter_script",), f"filter_script applies to link, multilink, user and group "
                                                        f"fields, not to a {f.type} field")
            else:
                self.check._script(spec["filter_script"], path + ("filter_script",))
        if "filter" not in spec:
            return
        if f.type not in FILTERED_TYPES:
            self.out.add(path + ("filter",), f"filter applies to link and multilink fields, not to a {f.type} field"
                         + ("; narrow users or groups with filter_script" if f.type in ("user", "group") else ""))
            return
        target = self.check.resolve(f.target)
        if target is None:
            return  # the unknown entity is reported once, at fields.<name>.entity
        try:
            tree = row_condition(target, spec["filter"], references(entity))
        except ExpressionError as exc:
            self.out.add(path + ("filter",), f"{exc} (the filter reads fields of {target.name}; "
                                             f"$name is a field of {entity.name})")
            return
        self.check.filter_check.condition(target, tree, path + ("filter",))
        for name, (kind, value) in comparisons(tree):
            if kind == "ref":
                problem = self._ref_problem(entity, target, name, value, tree)
                if problem:
                    self.out.add(path + ("filter",), problem)

    def _ref_problem(self, entity: Entity, target: Entity, column: str, ref: str, tree) -> str | None:
        """Why ``column`` of the linked entity cannot be compared with ``$ref`` of the record."""
        source = entity.fields.get(ref)
        ops = {node[1] for node in leaves(tree) if node[0] == "cmp" and node[2] == column and node[3] == ("ref", ref)}
        if source is not None and source.storage == "assoc" and ops - {"in", "not_in"}:
            return f"${ref} is a multilink (a list of records); compare it with 'in' or 'not in'"
        if source is None or source.value_type != "link" and source.storage != "assoc":
            return None
        linked = self.check.resolve(source.target)
        if column == "id":
            same = linked is target
        else:
            col = target.fields.get(column)
            same = col is not None and col.value_type == "link" and self.check.resolve(col.target) is linked
        if same or linked is None:
            return None
        return (f"{column} of {target.name} and ${ref} (a link to {source.target}) hold different records; "
                f"compare ${ref} with a link to {source.target}")

    # ------------------------------------------------------------------ graph
    def graph(self, entity: Entity, spec: dict, path: tuple) -> None:
        relation = self.check.app.entities.get(spec["relation"])
        if relation is None:
            self.out.add(path + ("relation",), self.check._unknown("entity", spec["relation"],
                                                                   set(self.check.app.entities)))
            return
        for key in ("from", "to"):
            f = relation.fields.get(spec[key])
            links = {n for n, g in relation.fields.items()
                     if g.type == "link" and self.check.resolve(g.target) is entity}
            if f is None:
                self.out.add(path + (key,), self.check._unknown(f"field of {relation.name}", spec[key],
                                                                links or set(relation.fields)))
            elif f.type == "link" and self.check.resolve(f.target) is None:
                pass  # the unknown entity is reported once, at fields.<name>.entity
            elif f.type != "link" or self.check.resolve(f.target) is not entity:
                self.out.add(path + (key,), f"{relation.name}.{f.name} is not a link to {entity.name}; an edge "
                             f"joins two {entity.name} records" + (f" (links to it: {', '.join(sorted(links))})"
                                                                     if links else ""))
        if spec["from"] == spec["to"]:
            self.out.add(path + ("to",), f"from and to are both {spec['to']!r}; an edge needs two link fields")
        if "label" in spec:
            f = relation.fields.get(spec["label"])
            if f is None:
                self.out.add(path + ("label",), self.check._unknown(f"field of {relation.name}", spec["label"],
                                                                    set(relation.fields)))
            elif f.storage != "column":
                self.out.add(path + ("label",), f"{relation.name}.{f.name} is a {f.type} field; an edge's label "
                                                f"is a single value")

    # ------------------------------------------------------------------ tasks
    def tasks(self, entity: Entity, spec: dict, path: tuple) -> None:
        if not entity.statuses:
            self.out.add(path, f"{entity.name} has no statuses; tasks are open in some statuses and done in others")
        f = entity.fields.get(spec["assignee"])
        users = {n for n, g in entity.fields.items() if g.value_type == "user" and g.storage == "column"}
        if f is None:
            self.out.add(path + ("assignee",), self.check._unknown("field", spec["assignee"], users or set(entity.fields)))
        elif f.value_type != "user" or f.storage != "column":
            self.out.add(path + ("assignee",), f"{f.name!r} is a {f.type} field; the assignee is a user field"
                         + (f" ({', '.join(sorted(users))})" if users else ""))
        if "due" in spec:
            f = entity.fields.get(spec["due"])
            dates = {n for n, g in entity.fields.items() if g.value_type in DUE_TYPES}
            if f is None:
                self.out.add(path + ("due",), self.check._unknown("field", spec["due"], dates or set(entity.fields)))
            elif f.value_type not in DUE_TYPES:
                self.out.add(path + ("due",), f"{f.name!r} is a {f.type} field; a due date is a date or datetime "
                                              f"field")
        names = {s["name"] for s in entity.statuses}
        for i, status in enumerate(spec.get("open", [])):
            if names and status not in names:
                self.out.add(path + ("open", i), self.check._unknown(f"status of {entity.name}", status, names))


    # ------------------------------------------------------------------ timeline
    def timeline(self, entity: Entity, spec: dict, path: tuple) -> None:
        """Each source is an entity of this app with a link to ``entity``, ordered by one of its
        dates; its channel and summary are single values. One entity and link appear once."""
        seen: dict = {}
        for i, source in enumerate(spec["sources"]):
            at = path + ("sources", i)
            other = self.check.app.entities.get(source["entity"])
            if other is None:
                self.out.add(at + ("entity",), self.check._unknown("entity", source["entity"],
                                                                   set(self.check.app.entities)))
                continue
            links = sorted(n for n, g in other.fields.items()
                           if g.type == "link" and self.check.resolve(g.target) is entity)
            f = other.fields.get(source["link"])
            if f is None:
                self.out.add(at + ("link",), self.check._unknown(f"field of {other.name}", source["link"],
                                                                 set(links) or set(other.fields)))
            elif f.type == "link" and self.check.resolve(f.target) is None:
                pass  # the unknown entity is reported once, at fields.<name>.entity
            elif f.type != "link" or self.check.resolve(f.target) is not entity:
                self.out.add(at + ("link",), f"{other.name}.{f.name} is not a link to {entity.name}; an entry "
                             f"is a record that links here" + (f" (links to it: {', '.join(links)})" if links
                                                               else f"; {other.name} has no link to {entity.name}"))
            key = (other.name, source["link"])
            if key in seen:
                self.out.add(at, f"{other.name} by {source['link']!r} is already the source sources[{seen[key]}]")
            seen.setdefault(key, i)
            date = source.get("date")
            if date is not None and date not in TIMELINE_SYSTEM_DATES:
                g = other.fields.get(date)
                dates = sorted(n for n, h in other.fields.items() if h.value_type in DUE_TYPES
                               and h.storage == "column")
                if g is None:
                    self.out.add(at + ("date",), self.check._unknown(f"field of {other.name}", date,
                                                                     set(dates) | set(TIMELINE_SYSTEM_DATES)))
                elif g.value_type not in DUE_TYPES or g.storage != "column":
                    self.out.add(at + ("date",), f"{other.name}.{date} is a {g.type} field; entries are ordered "
                                 f"by a date or datetime field ({', '.join(dates + list(TIMELINE_SYSTEM_DATES))})")
            for key_ in ("channel", "summary"):
                name = source.get(key_)
                if name is None:
                    continue
                g = other.fields.get(name)
                if g is None and name not in SYSTEM_COLUMNS:
                    self.out.add(at + (key_,), self.check._unknown(f"field of {other.name}", name, set(other.fields)))
                elif g is not None and g.storage != "column":
                    self.out.add(at + (key_,), f"{other.name}.{name} is a {g.type} field; an entry shows a single "
                                               f"value")

