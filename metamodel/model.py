"""Typed, read-only objects built from a validated app document.

The document (plain dicts, as in YAML) stays the source of truth; these
objects give the runtime typed access and a few derived facts, such as how
each field is stored.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from functools import cached_property

from .expressions import CURRENT_USER, Expression  # noqa: F401 (CURRENT_USER is imported from here)

# Columns every entity table has; a field may not take these names.
SYSTEM_COLUMNS = ("id", "number", "status", "created_at", "created_by", "updated_at", "updated_by",
                  "row_version", "meta_version", "deleted_at")
SCALAR_TYPES = ("string", "text", "integer", "decimal", "money", "boolean", "date", "datetime",
                "choice", "link", "user", "group", "email", "phone", "computed", "rollup")
# What a rollup field computes over the records that link to its record (docs/metadata.md, "Rollup fields").
# Every entity table's own indexes. A board's column by status reads ("status", "id", "deleted_at")
# in its default order and counts its cards off the index alone (soft deletion is in every read;
# last, so that the order of id still follows status = ? on PostgreSQL too).
SYSTEM_INDEXES = (("status", "created_at"), ("status", "id", "deleted_at"), ("created_at",), ("updated_at",))
ROLLUP_FUNCTIONS = ("count", "sum", "min", "max")
TEXT_TYPES = ("string", "text", "email", "phone", "choice")
DEFAULT_STRING_LENGTH = 255
BUILTIN_ROLES = ("admin", "user", "authenticated")  # every user of the app; every signed-in user
# A transition target that means "the status the record came from" (its status history decides).
PREVIOUS_STATUS = "$previous"
# The time zone of an app that names none: its days (today(), relative dates) are Moscow's.
DEFAULT_TIMEZONE = "Europe/Moscow"


def title_text(title, lang: str = "ru") -> str:
    """Pick the text of a ``{ru, en}`` title (or a plain string) for ``lang``."""
    if title is None:
        return ""
    if isinstance(title, str):
        return title
    return title.get(lang) or title.get("ru") or title.get("en") or next(iter(title.values()), "")


@dataclass(frozen=True)
class Choice:
    value: str
    title: object = None


@dataclass(frozen=True, eq=False)
class Field:
    name: str
    type: str
    spec: dict
    entity: "Entity" = dc_field(repr=False, default=None)

    @property
    def title(self):
        return self.spec.get("title", self.name)

    def title_text(self, lang="ru"):
        return title_text(self.title, lang)

    @property
    def required(self) -> bool:
        return bool(self.spec.get("required"))

    @cached_property
    def storage(self) -> str:
        """``column``, ``child`` (table rows), ``assoc`` (multi-link), ``attachments`` or ``point``
        (a geo field: two columns, :attr:`columns`)."""
        return {"table": "child", "multilink": "assoc", "file": "attachments", "geo": "point"}.get(self.type, "column")

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The table columns that hold this field's value: its name, or a point's latitude and
        longitude (``<name>__lat``, ``<name>__lon``); none for fields kept in other tables."""
        if self.storage == "point":
            return (f"{self.name}__lat", f"{self.name}__lon")
        return (self.name,) if self.storage == "column" else ()

    @cached_property
    def value_type(self) -> str:
        """The type a stored value has: a computed field's result type, a dictionary choice is a link."""
        if self.type == "computed":
            return self.spec.get("result", "decimal")
        if self.type == "rollup":
            return "integer" if self.spec.get("function", "count") == "count" else self.spec.get("result", "decimal")
        if self.type == "choice" and self.spec.get("dictionary"):
            return "link"
        return self.type

    @cached_property
    def target(self) -> str | None:
        """The linked entity reference (``name`` or ``app.name``) of link-like fields."""
        if self.type in ("link", "multilink"):
            return self.spec["entity"]
        if self.type == "choice":
            return self.spec.get("dictionary")
        return None

    @cached_property
    def choices(self) -> tuple[Choice, ...]:
        out = []
        for item in self.spec.get("choices", ()):
            out.append(Choice(item) if isinstance(item, str) else Choice(item["value"], item.get("title")))
        return tuple(out)

    @cached_property
    def choice_values(self) -> frozenset:
        return frozenset(c.value for c in self.choices)

    @cached_property
    def max_length(self) -> int | None:
        if self.value_type in ("string", "email", "phone"):
            return self.spec.get("max_length", DEFAULT_STRING_LENGTH)
        if self.value_type == "choice":
            return max([64] + [len(c.value) for c in self.choices])
        return self.spec.get("max_length")

    @property
    def scale(self) -> int:
        return self.spec.get("scale", 2)

    @property
    def precision(self) -> int:
        return self.spec.get("precision", 18)

    @cached_property
    def expression(self) -> Expression | None:
        """The expression of a computed field (``None`` when a script computes it)."""
        from .expressions import parse
        return parse(self.spec["expression"]) if self.type == "computed" and "expression" in self.spec else None

    @cached_property
    def children(self) -> dict[str, "Field"]:
        """Columns of a table field's child rows."""
        return {name: Field(name, spec["type"], spec, self.entity) for name, spec in self.spec.get("fields", {}).items()}

    @cached_property
    def row_entity(self) -> "Entity":
        """A table's row seen as a record of its own, its columns its fields: what a computed
        column reads (``quantity * price``, ``part.price`` through a link column)."""
        return Entity(self.entity.app, f"{self.entity.name}.{self.name}", {"fields": self.spec.get("fields", {})},
                      self.entity.timezone)

    def storage_signature(self) -> tuple:
        """What the column looks like; two fields with equal signatures need no migration."""
        return (self.value_type, self.max_length if self.value_type in ("string", "email", "phone", "choice", "text") else None,
                (self.precision, self.scale) if self.value_type in ("decimal", "money") else None,
                self.target if self.value_type in ("link", "multilink") else None)


@dataclass(frozen=True, eq=False)
class Entity:
    app: str
    name: str
    spec: dict
    timezone: str = DEFAULT_TIMEZONE  # the app's: where its days begin and end
    read_indexes: tuple = ()  # what other entities' declarations read here (a timeline's source)

    @property
    def ref(self) -> str:
        return f"{self.app}.{self.name}"

    @property
    def title(self):
        return self.spec.get("title", self.name)

    @property
    def plural(self):
        return self.spec.get("plural", self.title)

    @cached_property
    def fields(self) -> dict[str, Field]:
        return {name: Field(name, spec["type"], spec, self) for name, spec in self.spec.get("fields", {}).items()}

    @property
    def number_pattern(self) -> str:
        return self.spec.get("number") or f"{self.name[:3].upper()}-{{000000}}"

    @property
    def title_field(self) -> str:
        if self.spec.get("title_field"):
            return self.spec["title_field"]
        for f in self.fields.values():
            if f.value_type in ("string",):
                return f.name
        return "number"

    @property
    def statuses(self) -> list[dict]:
        return self.spec.get("statuses", [])

    @cached_property
    def status_categories(self) -> dict[str, str]:
        """Status name -> category (open, in_work, waiting, done, cancelled); open by default."""
        return {s["name"]: s.get("category", "open") for s in self.statuses}

    def status_category(self, status: str | None) -> str | None:
        return self.status_categories.get(status) if status else None

    def statuses_in(self, *categories: str) -> list[str]:
        return [name for name, cat in self.status_categories.items() if cat in categories]

    @property
    def initial_status(self) -> str | None:
        for status in self.statuses:
            if status.get("initial"):
                return status["name"]
        return self.statuses[0]["name"] if self.statuses else None

    @property
    def search_fields(self) -> list[str]:
        return list(self.spec.get("search", []))

    @cached_property
    def indexes(self) -> list[tuple[tuple[str, ...], bool]]:
        """Declared indexes as ``(columns, unique)``, plus one per ``index``/``unique`` field."""
        out = []
        for item in self.spec.get("indexes", []):
            if isinstance(item, list):
                out.append((tuple(item), False))
            else:
                out.append((tuple(item["fields"]), bool(item.get("unique"))))
        for f in self.fields.values():
            if f.storage == "column" and (f.spec.get("unique") or f.spec.get("index") or f.type == "rollup"):
                out.append(((f.name,), bool(f.spec.get("unique"))))
            elif f.storage == "point":  # "near" reads a latitude range off it, longitude from the same entries
                out.append((f.columns, False))
        declared = {cols for cols, _ in out} | set(SYSTEM_INDEXES)
        for cols in self.view_indexes():
            if cols not in declared:
                out.append((cols, False))
                declared.add(cols)
        for cols in self.read_indexes:
            # a declared (link, date) serves the read as well: the id only breaks ties
            if cols not in declared and cols[:-1] not in declared:
                out.append((cols, False))
                declared.add(cols)
        return out

    def view_indexes(self) -> list[tuple[str, ...]]:
        """The indexes the views' own reads need to stay keyset-fast on millions of rows: a kanban
        column (or cell) is ``group_by = value [and swimlanes = lane] and deleted_at is null`` in
        the view's order, read and counted off the index (``deleted_at`` last: PostgreSQL takes
        ``is null`` as no equality that orders what follows); a calendar or Gantt is a range on its
        start. A view sorted by something not in this table (a link's field) gets none: no index
        serves it."""
        out = []
        for view in self.spec.get("views") or []:
            kind = view.get("kind", "list")
            if kind == "kanban":
                spec = view["kanban"]
                lead = [spec["group_by"], spec.get("swimlanes"), *(s.lstrip("-") for s in view.get("sort", []))]
                lead = [c for c in lead if c]
            elif kind in ("calendar", "gantt"):
                lead = [view[kind]["start"]]
            else:
                continue
            cols = tuple(dict.fromkeys([*lead, "id", *(["deleted_at"] if kind == "kanban" else [])]))
            if all(c in SYSTEM_COLUMNS or (c in self.fields and self.fields[c].storage == "column") for c in cols):
                out.append(cols)
        return out

    def correlated_columns(self) -> list[tuple[str, str]]:
        """The column pairs a board reads together: its columns by its swimlanes. A database
        planner that takes them for independent expects rows in every cell and, for a cell
        that is empty or nearly so (status "new" by state "closed"), walks the whole table
        in id order instead of the board's index; PostgreSQL is told of the pair (extended
        statistics) so that it knows which cells hold what."""
        out = []
        for view in self.spec.get("views") or []:
            spec = view.get("kanban") if view.get("kind") == "kanban" else None
            if not spec or not spec.get("swimlanes"):
                continue
            pair = (spec["group_by"], spec["swimlanes"])
            stored = all(c in SYSTEM_COLUMNS or (c in self.fields and self.fields[c].storage == "column")
                         for c in pair)
            if stored and pair not in out:
                out.append(pair)
        return out

    @cached_property
    def computed_order(self) -> list[Field]:
        """Computed fields in an order where each comes after the computed fields it reads."""
        pending = [f for f in self.fields.values() if f.type == "computed" and f.expression is not None]
        done, order = set(), []
        while pending:
            progressed = False
            for f in list(pending):
                deps = {n for n in f.expression.names if n in self.fields and self.fields[n].type == "computed"}
                if deps <= done:
                    order.append(f)
                    done.add(f.name)
                    pending.remove(f)
                    progressed = True
            if not progressed:  # cycles are reported by validation; keep going deterministically
                order.extend(pending)
                break
        return order

    @cached_property
    def rollups(self) -> list[Field]:
        """Rollup fields: stored aggregates over the records whose link points at this one."""
        return [f for f in self.fields.values() if f.type == "rollup"]

    @cached_property
    def auto_transitions(self) -> list[dict]:
        """Transitions the system fires by itself once their condition holds (``auto: true``)."""
        return [tr for tr in self.spec.get("transitions", []) if tr.get("auto")]

    @cached_property
    def privileged_hooks(self) -> frozenset[str]:
        """The hooks that run with system rights, named as the script run log names them:
        ``before_save``, ``action:merge``, ``field:inn.validator``, ``field:service.filter``, ``transition:close.before``
        (``.after``, ``.run`` for its run actions)."""
        hooks = self.spec.get("hooks") or {}
        out = set(hooks.get("privileged", []))
        out.update(f"action:{a['name']}" for a in hooks.get("actions", []) if a.get("privileged"))
        for name, spec in self.spec.get("fields", {}).items():
            if spec.get("privileged"):
                out.update((f"field:{name}.validator", f"field:{name}.script", f"field:{name}.filter"))
        for tr in self.spec.get("transitions", []):
            if tr.get("privileged"):
                out.update(f"transition:{tr['name']}.{part}" for part in ("before", "after", "run"))
        return frozenset(out)

    def board_columns(self, view: dict) -> list[tuple[str, str]]:
        """A kanban view's columns in order: ``(value, title)`` of each status, or of each choice of
        the ``group_by`` choice field."""
        group_by = view["kanban"]["group_by"]
        if group_by == "status":
            return [(s["name"], s.get("title") or s["name"]) for s in self.statuses]
        f = self.fields[group_by]
        return [(c.value, c.title or c.value) for c in f.choices]

    def view(self, name: str | None = None) -> dict:
        views = self.spec.get("views") or []
        if name:
            for v in views:
                if v["name"] == name:
                    return v
            raise KeyError(name)
        for v in views:
            if v.get("default"):
                return v
        return views[0] if views else {"name": "all", "columns": list(dict.fromkeys(["number", self.title_field]))}


@dataclass(frozen=True, eq=False)
class App:
    """A loaded app: its document and typed entities."""

    document: dict

    @property
    def name(self) -> str:
        return self.document["app"]["name"]

    @property
    def title(self):
        return self.document["app"].get("title", self.name)

    @property
    def depends_on(self) -> list[str]:
        return list(self.document["app"].get("depends_on", []))

    @property
    def roles(self) -> list[str]:
        return [r["name"] for r in self.document["app"].get("roles", [])]

    @property
    def timezone(self) -> str:
        """The IANA zone of the app's days: ``today()`` in scripts, relative dates in filters."""
        return self.document["app"].get("timezone") or DEFAULT_TIMEZONE

    @cached_property
    def entities(self) -> dict[str, Entity]:
        specs = self.document.get("entities", {})
        reads = timeline_indexes(specs)
        return {name: Entity(self.name, name, spec, self.timezone, tuple(reads.get(name, ())))
                for name, spec in specs.items()}

    @property
    def scripts(self) -> dict[str, str]:
        return self.document.get("scripts", {})

    @property
    def fixtures(self) -> dict[str, list]:
        return self.document.get("fixtures", {})

    def section(self, kind: str) -> dict:
        return self.document.get(kind) or {}

    @cached_property
    def rollups_over(self) -> dict[str, list[Field]]:
        """Entity name -> the rollup fields (of any entity of this app) that aggregate its records."""
        out: dict[str, list[Field]] = {}
        for entity in self.entities.values():
            for f in entity.rollups:
                out.setdefault(f.spec["entity"], []).append(f)
        return out


def timeline_indexes(specs: dict) -> dict[str, list[tuple[str, ...]]]:
    """Entity name -> the indexes the timelines of this app read on it: a source is read as
    ``link = record`` newest first, which ``(link, date, id)`` answers from the index alone.
    Taken from the raw documents (a source that names what does not exist gets none; the
    cross-check reports it)."""
    out: dict[str, list] = {}
    for spec in specs.values():
        timeline = spec.get("timeline") if isinstance(spec, dict) else None
        for source in (timeline or {}).get("sources") or [] if isinstance(timeline, dict) else []:
            other = specs.get(source.get("entity")) if isinstance(source, dict) else None
            fields = (other or {}).get("fields") or {} if isinstance(other, dict) else {}
            date = source.get("date") or "created_at" if other else None
            link = fields.get(source.get("link")) if other else None
            if not isinstance(link, dict) or link.get("type") != "link":
                continue
            if date not in SYSTEM_COLUMNS and not (isinstance(fields.get(date), dict)
                                                   and fields[date].get("type") in ("date", "datetime")):
                continue
            cols = (source["link"], date, "id")
            if cols not in out.setdefault(source["entity"], []):
                out[source["entity"]].append(cols)
    return out
