"""Validation of an app document: JSON Schema first, then cross-references.

Every problem is collected (not just the first) and points at a file, a
line when the document came from text, and a path inside the file.
"""
from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from jsonschema import Draft202012Validator

from . import channels, delivery
from .behaviour_check import BehaviourCheck
from .concepts_check import ConceptsCheck
from .document import SourceMap, file_of, normalize, read_folder
from .errors import MetadataError, Problem, dotted
from .expression_types import type_problem
from .expressions import ExpressionError, parse
from .filter_check import FilterCheck
from .geo import parse_near
from .model import BUILTIN_ROLES, CURRENT_USER, PREVIOUS_STATUS, SYSTEM_COLUMNS, App, Entity, Field
from .predicates import parse_condition
from .schemas import validator
from .ui_check import UiCheck, row_condition

# The columns every row of a table field has beside its own (runtime/data/storage.py, child_table).
TABLE_ROW_COLUMNS = ("parent_id", "position")


@dataclass(frozen=True)
class Capabilities:
    """What the platform that will run an app offers beyond the metamodel: enabled
    plugins, notification channels and the metadata kinds plugins define (name ->
    JSON Schema). Validation without it checks none of these references.

    ``checks``: per kind, a plugin's own check of its section beyond the schema
    (references into the app, template syntax): ``check(section, doc)`` yields
    ``(path inside the section, message, line offset or None)``; the offset is added to
    the line of the path (a template's own line inside a YAML block)."""

    plugins: frozenset = frozenset()
    channels: frozenset = frozenset({"inapp"})
    kinds: Mapping[str, Any] = field(default_factory=dict)
    disabled: frozenset = frozenset()
    checks: Mapping[str, Any] = field(default_factory=dict)


#: fixtures/_accounts.yaml: demo staff (groups and users), not records of an entity.
ACCOUNTS = "_accounts"
_SECTION_KIND = {"routing": "routing", "sla": "sla", "schedules": "schedules", "notifications": "notifications",
                 "portal": "portal", "reports": "reports", "approvals": "approvals",
                 "batches": "batches"}
FIELD_TYPES = validator("entity").schema["$defs"]["field"]["properties"]["type"]["enum"]
SWIMLANE_TYPES = ("choice", "boolean", "user", "group", "link")
# what a portal form's set: takes besides $user and literals (read by plugins/portal/pages.py, set_values)
PORTAL_SET_PARAMS = ("user_organisation", "user_id", "user_email", "user_full_name")


class _Collector:
    def __init__(self, source: SourceMap | None):
        self.source = source
        self.problems: list[Problem] = []

    def add(self, path: tuple, message: str, offset: int | None = None) -> None:
        filename, inner = file_of(tuple(path))
        line = self.source.line(filename, inner) if self.source else None
        if line is not None and offset:
            line += offset
        self.problems.append(Problem(filename, dotted(inner), message, line))


def load_app(folder: str | Path, external: dict[str, App] | None = None,
             capabilities: Capabilities | None = None) -> App:
    """Read and validate an app folder; raise :class:`MetadataError` listing every problem."""
    doc, source = read_folder(folder)
    return validate_document(doc, source, external, capabilities)


def validate_document(doc: dict, source: SourceMap | None = None,
                      external: dict[str, App] | None = None, capabilities: Capabilities | None = None) -> App:
    """Validate ``doc`` and return the typed :class:`App`.

    ``external`` holds the apps this one may link to (its ``depends_on``);
    a link to an app missing there is reported. ``capabilities``: the plugins,
    channels and metadata kinds of the platform that will run it.
    """
    doc = normalize(doc)
    out = _Collector(source)
    _check_schemas(doc, out)
    if capabilities is not None:
        _check_capabilities(doc, capabilities, out)
    if not out.problems:
        app = App(doc)
        _CrossCheck(app, external or {}, out).run()
    if out.problems:
        raise MetadataError(out.problems)
    return app


def _check_schemas(doc: dict, out: _Collector) -> None:
    def check(kind: str, data, prefix: tuple):
        for err in sorted(validator(kind).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
            out.add(prefix + tuple(err.absolute_path), explain_schema_error(err))

    if not isinstance(doc.get("app"), dict):
        out.add(("app",), "app.yaml must be a mapping with at least name and title")
        return
    check("app", doc["app"], ("app",))
    for name, spec in doc["entities"].items():
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
            out.add(("entities", name), f"entity file name {name!r} must be lower_snake_case")
        check("entity", spec, ("entities", name))
        if isinstance(spec, dict) and spec.get("name", name) != name:
            out.add(("entities", name, "name"), f"name {spec['name']!r} differs from the file name {name!r}")
    for kind in _SECTION_KIND:
        if kind in doc:
            check(kind, doc[kind], (kind,))
    for name, records in doc["fixtures"].items():
        check("accounts" if name == ACCOUNTS else "fixture", records, ("fixtures", name))


def _check_capabilities(doc: dict, offered: Capabilities, out: _Collector) -> None:
    """References to what plugins provide: the plugins an app needs, its notification
    channels and its ``extensions/<kind>.yaml``."""
    app = doc.get("app") if isinstance(doc.get("app"), dict) else {}
    for i, name in enumerate(app.get("plugins") or []):
        if name in offered.plugins:
            continue
        state = "is disabled here (LOOM_DISABLED_PLUGINS)" if name in offered.disabled else "is not installed"
        out.add(("app", "plugins", i), f"the app needs plugin {name!r}, which {state}; "
                                       f"enabled plugins: {', '.join(sorted(offered.plugins)) or 'none'}")
    templates = (doc.get("notifications") or {}).get("templates") or {}
    for name, spec in templates.items() if isinstance(templates, dict) else ():
        for i, channel in enumerate((spec or {}).get("channels") or [] if isinstance(spec, dict) else []):
            if channel not in offered.channels:
                out.add(("notifications", "templates", name, "channels", i),
                        f"no notification channel {channel!r}{_hint(channel, offered.channels)}; "
                        f"installed: {', '.join(sorted(offered.channels))}")
    for name, spec in (doc.get("entities") or {}).items():
        section = spec.get("channels") if isinstance(spec, dict) else None
        if isinstance(section, dict):
            known = channels.answer_channels(offered.channels, offered.plugins)
            for i, channel in channels.unknown_answers(section, offered.channels, offered.plugins):
                out.add(("entities", name, "channels", "allowed", i),
                        f"no channel {channel!r} to answer through{_hint(channel, known)}; "
                        f"known here: {', '.join(sorted(known))}")
        if isinstance(spec, dict) and isinstance(spec.get("delivery"), dict):
            for channel in delivery.channels(spec):
                if channel not in offered.channels:
                    out.add(("entities", name, "delivery", "channel"),
                            f"records may go through channel {channel!r}, but no such notification channel is "
                            f"installed{_hint(channel, offered.channels)}; installed: "
                            f"{', '.join(sorted(offered.channels))} (list it under manual: when a person "
                            f"delivers it, or map it under via:)")
    for kind, data in (doc.get("extensions") or {}).items():
        schema = offered.kinds.get(kind)
        if schema is None:
            out.add(("extensions", kind), f"no installed plugin defines the metadata kind {kind!r}"
                                          f"{_hint(kind, offered.kinds)}; kinds: {', '.join(sorted(offered.kinds)) or 'none'}")
            continue
        errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        for err in errors:
            out.add(("extensions", kind) + tuple(err.absolute_path), explain_schema_error(err))
        check = offered.checks.get(kind)
        if check is None or errors:  # a plugin's check may assume the shape its schema gives
            continue
        try:
            found = list(check(data, doc))
        except Exception as exc:  # noqa: BLE001  (a plugin's bug must not hide the app's other problems)
            out.add(("extensions", kind), f"the plugin's check of {kind!r} failed: {type(exc).__name__}: {exc}")
            continue
        for path, message, offset in found:
            out.add(("extensions", kind) + tuple(path), message, offset)


def _hint(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def explain_schema_error(err) -> str:
    """Turn a jsonschema error into a sentence an analyst can act on."""
    if err.validator == "enum":
        close = difflib.get_close_matches(str(err.instance), [str(v) for v in err.validator_value], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}{hint}"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        hints = []
        for key in extra:
            close = difflib.get_close_matches(key, allowed, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return f"unknown key {', '.join(hints)}; allowed: {', '.join(allowed)}"
    if err.validator == "required":
        return err.message.replace("is a required property", "is required")
    if err.validator == "pattern":
        desc = err.schema.get("description")
        return f"{err.instance!r} does not fit" + (f": {desc}" if desc else f" the pattern {err.validator_value}")
    if err.validator == "oneOf" and err.schema.get("description"):
        return f"{err.instance!r} is not valid: expected {err.schema['description']}"
    return err.message


class _CrossCheck:
    """References between parts of an app: every name must point at something real."""

    def __init__(self, app: App, external: dict[str, App], out: _Collector):
        self.app, self.external, self.out = app, external, out
        self.roles = set(app.roles) | set(BUILTIN_ROLES)
        self.filter_check = FilterCheck(self)
        self.ui_check = UiCheck(self)

    def run(self) -> None:
        for i, name in enumerate(self.app.roles):
            if name in BUILTIN_ROLES:
                self.out.add(("app", "roles", i, "name"),
                             f"{name!r} is a built-in role (admin: administrators; user: everyone holding a role "
                             f"of this app; authenticated: every signed-in user); name the app's role differently")
        for dep in self.app.depends_on:
            if dep not in self.external and dep != self.app.name:
                self.out.add(("app", "depends_on"), f"depends on app {dep!r}, which is not installed")
        zone = self.app.document["app"].get("timezone")
        try:
            if zone:
                ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.out.add(("app", "timezone"), f"unknown time zone {zone!r}; use an IANA name like Asia/Yekaterinburg")
        for entity in self.app.entities.values():
            self.entity(entity)
        self.navigation()
        self.sections()
        behaviour = BehaviourCheck(self)
        behaviour.run()
        ConceptsCheck(self, behaviour).run()
        self.fixtures()

    def resolve(self, ref: str) -> Entity | None:
        if "." in ref:
            app_name, name = ref.split(".", 1)
            if app_name == self.app.name:
                return self.app.entities.get(name)
            if app_name not in self.app.depends_on:
                return None  # only declared dependencies may be linked to
            other = self.external.get(app_name)
            return other.entities.get(name) if other else None
        return self.app.entities.get(ref)

    def entity(self, entity: Entity) -> None:
        base = ("entities", entity.name)
        names = set(entity.fields)
        for f in entity.fields.values():
            self.field(f, base + ("fields", f.name), names)
            for old in f.spec.get("previous_names", []):
                if old in names:
                    self.out.add(base + ("fields", f.name, "previous_names"),
                                 f"{old!r} is still the name of another field")
        self._computed_cycles(entity, base)
        self._title_field(entity, base)
        for i, spec in enumerate(entity.spec.get("checks") or []):
            self._expression(spec["condition"], base + ("checks", i, "condition"), names, entity)
            if spec.get("field") and spec["field"] not in names:
                self.out.add(base + ("checks", i, "field"), self._unknown("field", spec["field"], names))
        for path, message in channels.check(entity):
            self.out.add(base + path, message)
        for path, message in delivery.check(entity):
            self.out.add(base + path, message)
        for i, name in enumerate(entity.search_fields):
            f = entity.fields.get(name)
            if f is None:
                self.out.add(base + ("search", i), self._unknown("field", name, names))
            elif f.value_type not in ("string", "text", "email", "phone"):
                self.out.add(base + ("search", i), f"full-text search needs a text field; {name!r} is {f.type}")
        for i, item in enumerate(entity.spec.get("indexes", [])):
            cols = item if isinstance(item, list) else item["fields"]
            for col in cols:
                f = entity.fields.get(col)
                if f is None and col not in SYSTEM_COLUMNS:
                    self.out.add(base + ("indexes", i), self._unknown("field", col, names | set(SYSTEM_COLUMNS)))
                elif f is not None and f.storage != "column":
                    self.out.add(base + ("indexes", i), f"{col!r} is a {f.type} field and has no column to index")
        self.form(entity, base)
        self.views(entity, base)
        self.workflow(entity, base)
        self.permissions(entity, base)
        self.hooks(entity, base)
        self.ui_check.entity(entity, base)

    # The system columns a record's title may be: its human number (REQ-000123).
    TITLE_SYSTEM_COLUMNS = ("number",)

    def _title_field(self, entity: Entity, base: tuple) -> None:
        """``title_field`` is a single-value field of the entity, or ``number``."""
        name = entity.spec.get("title_field")
        if not name or name in self.TITLE_SYSTEM_COLUMNS:
            return
        f = entity.fields.get(name)
        titles = {n for n, g in entity.fields.items() if g.storage == "column"} | set(self.TITLE_SYSTEM_COLUMNS)
        if f is None and name in SYSTEM_COLUMNS:
            self.out.add(base + ("title_field",), f"{name!r} is a system column; a record's title is one of its "
                                                  f"fields or number")
        elif f is None:
            self.out.add(base + ("title_field",), self._unknown("field", name, titles))
        elif f.storage != "column":
            self.out.add(base + ("title_field",), f"{name!r} is a {f.type} field; a title is a single-value field "
                                                  f"or number")

    def field(self, f: Field, path: tuple, names: set, in_table: bool = False, row: Entity | None = None) -> None:
        """``row``: for a table's column, the table's row as an entity (what its computed column reads)."""
        spec = f.spec
        if f.name in SYSTEM_COLUMNS:
            self.out.add(path, f"{f.name!r} is a system column name; choose another field name")
        elif in_table and f.name in TABLE_ROW_COLUMNS:
            self.out.add(path, f"{f.name!r} is a column of every table row (the record it belongs to and its "
                               f"place among the rows); choose another column name")
        if f.target is not None and self.resolve(f.target) is None:
            where = "dictionary" if f.type == "choice" else "entity"
            if "." in f.target and f.target.split(".")[0] not in self.app.depends_on + [self.app.name]:
                msg = f"links to app {f.target.split('.')[0]!r}; add it to depends_on in app.yaml"
            else:
                msg = self._unknown("entity", f.target, set(self.app.entities))
            self.out.add(path + (where,), msg)
        if in_table and f.type in ("table", "multilink", "geo"):
            self.out.add(path + ("type",), f"a table row cannot hold a {f.type} field")
        if in_table and f.type == "file" and spec.get("multiple"):
            self.out.add(path + ("multiple",), "a table row holds one file per file column; add a column, "
                                               "or a row per file")
        if f.type == "geo":
            for option in ("unique", "default"):
                if option in spec:
                    self.out.add(path + (option,), f"a geo field takes no {option!r}: a point is indexed for "
                                                   f"'near' already and has no default")
            for column in f.columns:
                if column in names:
                    self.out.add(path, f"the field {column!r} takes the name of a column of this geo field; "
                                       f"rename one of them")
        if f.type == "table":
            for child in f.children.values():
                self.field(child, path + ("fields", child.name), set(f.children), in_table=True, row=f.row_entity)
        if f.value_type in ("decimal", "money"):
            for bound in ("min", "max"):
                digits = str(spec.get(bound, "")).partition(".")[2].rstrip("0")
                if len(digits) > f.scale:
                    self.out.add(path + (bound,), f"{bound} {spec[bound]} has {len(digits)} digits after the point "
                                                  f"and the field keeps {f.scale} (scale); raise the scale or round "
                                                  f"the bound")
        if "format" in spec and f.value_type not in ("string", "text"):
            self.out.add(path + ("format",), f"a {spec['format']} number is text; format applies to a string field")
        if "pattern" in spec:
            try:
                re.compile(spec["pattern"])
            except re.error as exc:
                self.out.add(path + ("pattern",), f"not a valid regular expression: {exc}")
        for key in ("validator", "script"):
            if key in spec:
                self._script(spec[key], path + (key,))
        if f.type == "rollup":
            self._rollup(f, path, in_table)
        if f.type == "computed" and "expression" in spec:
            self._expression(spec["expression"], path + ("expression",), names,
                             entity=row if in_table else f.entity, system=False)
        if "min" in spec and "max" in spec:
            try:
                if float(spec["min"]) > float(spec["max"]):
                    self.out.add(path, f"min {spec['min']} is greater than max {spec['max']}")
            except (TypeError, ValueError):
                pass
        if spec.get("min_length", 0) > spec.get("max_length", 10**9):
            self.out.add(path, "min_length is greater than max_length")
        if "default" in spec and f.type == "choice" and f.choices:
            if spec["default"] not in [c.value for c in f.choices]:
                self.out.add(path + ("default",), f"default {spec['default']!r} is not one of the choices")
        if f.type == "choice" and len({c.value for c in f.choices}) != len(f.choices):
            self.out.add(path + ("choices",), "choice values must be unique")
        option_types = {"choices": ("choice",), "dictionary": ("choice",), "entity": ("link", "multilink", "rollup"),
                        "fields": ("table",), "expression": ("computed",), "result": ("computed", "rollup"),
                        "link": ("rollup",), "function": ("rollup",), "of": ("rollup",), "where": ("rollup",),
                        "script": ("computed",),
                        "scale": ("decimal", "money", "computed"), "precision": ("decimal", "money", "computed"),
                        "currency": ("money",), "max_size_mb": ("file",), "accept": ("file",),
                        "multiple": ("file",)}
        for option, types in option_types.items():
            if option in spec and f.type not in types:
                self.out.add(path + (option,), f"{option!r} does not apply to a {f.type} field "
                                               f"(only to {', '.join(types)})")

    ROLLUP_NUMBERS = ("integer", "decimal", "money")

    def _rollup(self, f: Field, path: tuple, in_table: bool) -> None:
        """A rollup names an entity of this app, that entity's link pointing here, and for sum,
        min and max a field of it whose values fit the rollup's ``result``."""
        spec = f.spec
        if in_table:
            self.out.add(path + ("type",), "a table row cannot hold a rollup field")
            return
        for option in ("default", "unique", "required"):
            if option in spec:
                self.out.add(path + (option,), f"a rollup field takes no {option!r}: the platform computes it")
        child = self.app.entities.get(spec["entity"])
        if child is None:
            self.out.add(path + ("entity",), self._unknown("entity of this app", spec["entity"], set(self.app.entities)))
            return
        link = child.fields.get(spec["link"])
        links = {n for n, g in child.fields.items() if g.type == "link" and g.target in (f.entity.name, f.entity.ref)}
        if link is None or link.type != "link" or link.target not in (f.entity.name, f.entity.ref):
            self.out.add(path + ("link",), f"{spec['link']!r} is not a link of {child.name} to {f.entity.name}" +
                         (f"; did you mean {sorted(links)[0]!r}?" if links else f"; {child.name} has no link to "
                                                                                  f"{f.entity.name}"))
        function = spec.get("function", "count")
        if function == "count":
            for option in ("of", "result"):
                if option in spec:
                    self.out.add(path + (option,), f"count takes no {option!r}: it counts records (an integer)")
        elif "of" not in spec:
            self.out.add(path, f"{function} needs 'of': the field of {child.name} it reads")
        else:
            source = child.fields.get(spec["of"])
            kinds = self.ROLLUP_NUMBERS if function == "sum" else self.ROLLUP_NUMBERS + ("date", "datetime")
            if source is None or source.storage != "column":
                columns = {n for n, g in child.fields.items() if g.storage == "column"}
                self.out.add(path + ("of",), self._unknown(f"field of {child.name}", spec["of"], columns))
            elif source.value_type not in kinds:
                self.out.add(path + ("of",), f"{function} reads {', '.join(kinds)} fields; {spec['of']!r} is "
                                             f"{source.value_type}")
            elif source.value_type in ("date", "datetime") and f.value_type != source.value_type:
                self.out.add(path + ("result",), f"{function} of the {source.value_type} field {spec['of']!r} is a "
                                                 f"{source.value_type}; add result: {source.value_type}")
            elif source.value_type in self.ROLLUP_NUMBERS and f.value_type not in self.ROLLUP_NUMBERS:
                self.out.add(path + ("result",), f"{function} of a number is a number; result: integer, decimal "
                                                 f"or money")
        if "where" in spec:
            columns = {g.name for g in child.fields.values() if g.storage == "column"} | set(SYSTEM_COLUMNS)
            try:
                tree = parse_condition(spec["where"], columns)
            except ExpressionError as exc:
                self.out.add(path + ("where",), str(exc))
            else:
                if re.search(r"\b(user_id|user_groups|user_organisation)\b|\$user\b", spec["where"]):
                    self.out.add(path + ("where",), "a rollup is the same for every reader; its condition cannot "
                                                    "read the user")
                elif "." in re.sub(r"'[^']*'|\"[^\"]*\"|\d+\.\d+", "", spec["where"]):
                    self.out.add(path + ("where",), "a rollup's where reads the counted records' own fields, "
                                                    "not paths through their links")
                else:
                    self.filter_check.condition(child, tree, path + ("where",))

    def _computed_cycles(self, entity: Entity, base: tuple) -> None:
        graph = {f.name: {n for n in (f.expression.names if self._parses(f) else ())
                          if n in entity.fields and entity.fields[n].type == "computed"}
                 for f in entity.fields.values() if f.type == "computed"}
        seen, stack = set(), set()

        def visit(name):
            if name in stack:
                self.out.add(base + ("fields", name, "expression"), "computed fields depend on each other in a cycle")
                return
            if name in seen:
                return
            seen.add(name)
            stack.add(name)
            for dep in graph.get(name, ()):
                visit(dep)
            stack.discard(name)

        for name in graph:
            visit(name)

    @staticmethod
    def _parses(f: Field) -> bool:
        try:
            return f.expression is not None
        except ExpressionError:
            return False

    def form(self, entity: Entity, base: tuple) -> None:
        form = entity.spec.get("form") or {}
        names = set(entity.fields)
        placed: dict[str, tuple] = {}
        sections = [(("form", "sections", i), s) for i, s in enumerate(form.get("sections", []))]
        for t, tab in enumerate(form.get("tabs", [])):
            sections += [(("form", "tabs", t, "sections", i), s) for i, s in enumerate(tab["sections"])]
        for path, section in sections:
            for j, name in enumerate(section["fields"]):
                if name not in names:
                    self.out.add(base + path + ("fields", j), self._unknown("field", name, names))
                elif name in placed:
                    self.out.add(base + path + ("fields", j), f"{name!r} is already placed on the form")
                placed[name] = path
            if "visible_if" in section:
                self._expression(section["visible_if"], base + path + ("visible_if",), names, entity)
        for i, rule in enumerate(form.get("rules", [])):
            if rule["field"] not in names:
                self.out.add(base + ("form", "rules", i, "field"), self._unknown("field", rule["field"], names))
            for key in ("visible_if", "required_if", "readonly_if"):
                if key in rule:
                    self._expression(rule[key], base + ("form", "rules", i, key), names, entity)

    def views(self, entity: Entity, base: tuple) -> None:
        names = set(entity.fields) | set(SYSTEM_COLUMNS)
        seen = set()
        for i, view in enumerate(entity.spec.get("views", [])):
            path = base + ("views", i)
            if view["name"] in seen:
                self.out.add(path + ("name",), f"view {view['name']!r} is defined twice")
            seen.add(view["name"])
            for j, col in enumerate(view.get("columns", [])):
                self._path_field(entity, col, path + ("columns", j), names)
            for j, col in enumerate(view.get("sort", [])):
                self._path_field(entity, col.lstrip("-"), path + ("sort", j), names)
                f = entity.fields.get(col.lstrip("-"))
                if f is not None and f.type == "geo":
                    self.out.add(path + ("sort", j), f"a list cannot be sorted by the point {col.lstrip('-')!r}")
                elif f is not None and f.storage != "column":
                    self.out.add(path + ("sort", j), f"{f.name!r} is a {f.type} field and has no column to sort by")
            for j, flt in enumerate(view.get("filters", [])):
                self._path_field(entity, flt["field"], path + ("filters", j, "field"), names)
                self._geo_filter(entity, flt, path + ("filters", j))
            self.filter_check.filters(entity, view.get("filters", []), path + ("filters",), person=True)
            if view.get("kanban"):
                self._kanban(entity, view["kanban"], path + ("kanban",), names)
            for kind in ("calendar", "gantt", "map"):
                if view.get(kind):
                    self._view_kind(entity, kind, view[kind], path + (kind,), names)

    def _kanban(self, entity: Entity, board: dict, path: tuple, names: set) -> None:
        """A board groups by the status (when the entity has statuses) or by a choice field."""
        group_by = board["group_by"]
        f = entity.fields.get(group_by)
        if group_by == "status":
            if not entity.statuses:
                self.out.add(path + ("group_by",), f"{entity.name} has no statuses to group a board by")
        elif f is None:
            self.out.add(path + ("group_by",), self._unknown("field", group_by, names))
        elif f.type != "choice":
            self.out.add(path + ("group_by",), f"a board groups by the status or a choice field; {group_by!r} is a {f.type} field")
        swim = board.get("swimlanes")
        if swim:
            lane = entity.fields.get(swim)
            if lane is None:
                self.out.add(path + ("swimlanes",), self._unknown("field", swim, names))
            elif lane.type not in SWIMLANE_TYPES:
                self.out.add(path + ("swimlanes",), f"swimlanes split a board by a {', '.join(SWIMLANE_TYPES[:-1])} or {SWIMLANE_TYPES[-1]} "
                                                    f"field; {swim!r} is a {lane.type} field")
            elif swim == group_by:
                self.out.add(path + ("swimlanes",), f"{swim!r} already makes the board's columns")
        for j, col in enumerate(board.get("card", [])):
            self._path_field(entity, col, path + ("card", j), names)

    # What each setting of a calendar, Gantt or map view must name: a field of one of these types.
    VIEW_FIELDS = {
        "calendar": {"start": ("date", "datetime"), "end": ("date", "datetime")},
        "gantt": {"start": ("date", "datetime"), "end": ("date", "datetime"),
                  "progress": ("integer", "decimal"), "depends_on": ("link", "multilink")},
        "map": {"point": ("geo",)},
    }

    def _view_kind(self, entity: Entity, kind: str, spec: dict, path: tuple, names: set) -> None:
        """The fields a calendar, Gantt or map view is built on exist and have the type it needs
        (a rollup counts by its result); a Gantt's dependencies link the entity to itself."""
        for key, types in self.VIEW_FIELDS[kind].items():
            name = spec.get(key)
            if name is None:
                continue
            f = entity.fields.get(name)
            if f is None and name in ("created_at", "updated_at") and "datetime" in types:
                continue
            if f is None:
                self.out.add(path + (key,), self._unknown("field", name, set(entity.fields)))
                continue
            type_ = f.spec.get("result", f.type) if f.type in ("rollup", "computed") else f.type
            if type_ not in types:
                self.out.add(path + (key,), f"{kind} {key} needs a {' or '.join(types)} field; {name!r} is a {type_} field")
            elif key == "depends_on" and f.target != entity.name:
                self.out.add(path + (key,), f"depends_on links {entity.name} to its predecessors; {name!r} links to {f.target}")
        for j, col in enumerate(spec.get("card", [])):
            self._path_field(entity, col, path + ("card", j), names)

    def _geo_filter(self, entity: Entity, flt: dict, path: tuple) -> None:
        """``near`` takes a geo field and a value that names a point and a radius; a geo field takes
        ``near``, ``isnull`` or ``notnull`` only."""
        f = entity.fields.get(flt["field"])
        op = flt.get("op", "eq")
        if op == "near":
            if f is None or f.type != "geo":
                if f is not None:
                    self.out.add(path + ("op",), f"near needs a geo field; {f.name!r} is a {f.type} field")
                return
            try:
                parse_near(flt.get("value"))
            except ValueError as exc:
                self.out.add(path + ("value",), str(exc))
        elif f is not None and f.type == "geo" and op not in ("isnull", "notnull"):
            self.out.add(path + ("op",), f"a geo field is filtered with near (or isnull, notnull), not {op!r}")

    def _path_field(self, entity: Entity, dotted_name: str, path: tuple, names: set) -> None:
        head, _, rest = dotted_name.partition(".")
        if head not in names:
            self.out.add(path, self._unknown("field", head, names))
            return
        if rest:
            f = entity.fields.get(head)
            target = self.resolve(f.target) if f is not None and f.target else None
            if target is None:
                self.out.add(path, f"{head!r} is not a link, so {dotted_name!r} cannot follow it")
            elif rest not in target.fields and rest not in SYSTEM_COLUMNS:
                self.out.add(path, self._unknown(f"field of {target.name}", rest, set(target.fields)))

    def workflow(self, entity: Entity, base: tuple) -> None:
        statuses = [s["name"] for s in entity.statuses]
        for name in {n for n in statuses if statuses.count(n) > 1}:
            self.out.add(base + ("statuses",), f"status {name!r} is defined twice")
        if sum(1 for s in entity.statuses if s.get("initial")) > 1:
            self.out.add(base + ("statuses",), "only one status may be initial")
        known, names, seen = set(statuses), set(entity.fields), set()
        for i, tr in enumerate(entity.spec.get("transitions", [])):
            path = base + ("transitions", i)
            if not statuses:
                self.out.add(path, "transitions need statuses; add a statuses list")
                return
            if tr["name"] in seen:
                self.out.add(path + ("name",), f"transition {tr['name']!r} is defined twice")
            seen.add(tr["name"])
            sources = tr["from"] if isinstance(tr["from"], list) else [tr["from"]]
            for s in sources:
                if s != "*" and s not in known:
                    self.out.add(path + ("from",), self._unknown("status", s, known))
            if tr["to"] == PREVIOUS_STATUS:
                self._return_sources(entity, tr, sources, path)
            elif tr["to"] not in known:
                self.out.add(path + ("to",), self._unknown("status", tr["to"], known) +
                             f" (or {PREVIOUS_STATUS}: back to the status the record came from)")
            for j, name in enumerate(tr.get("required", [])):
                if name not in names:
                    self.out.add(path + ("required", j), self._unknown("field", name, names))
            for name, expr in tr.get("set", {}).items():
                if name not in names:
                    self.out.add(path + ("set", name), self._unknown("field", name, names))
                if expr == CURRENT_USER and (tr.get("auto") or "timer" in tr):
                    self.out.add(path + ("set", name), f"{CURRENT_USER} is the person who fires the transition, and "
                                 f"the system fires {'an automatic' if tr.get('auto') else 'a timer'} transition: "
                                 f"nobody to set; set {name!r} on the transition a person fires")
                    continue
                self.set_value(entity, expr, path + ("set", name), names | {"user"}, entity.fields.get(name))
            if "condition" in tr:
                self._expression(tr["condition"], path + ("condition",), names | {"status", "user"}, entity,
                                 person=not (tr.get("auto") or "timer" in tr))
            elif tr.get("auto"):
                self.out.add(path + ("auto",), "an automatic transition needs a condition: the system fires it "
                                               "when the condition holds")
            if tr.get("auto") and "*" in sources:
                self.out.add(path + ("from",), "an automatic transition needs named source statuses, not '*'")
            for j, role in enumerate(tr.get("roles", [])):
                if role not in self.roles:
                    self.out.add(path + ("roles", j), self._unknown("role", role, self.roles))
            for key in ("before", "after"):
                if key in tr:
                    self._script(tr[key], path + (key,))

    def _return_sources(self, entity: Entity, tr: dict, sources: list, path: tuple) -> None:
        """A transition to ``$previous`` needs named sources that a record can enter from another
        status: in a status nothing leads to, a record has no previous status to go back to."""
        if "*" in sources:
            self.out.add(path + ("from",), f"a transition to {PREVIOUS_STATUS} needs named source statuses, "
                                           f"not '*': name the statuses a record returns from")
            return
        entered: set = set()
        for other in entity.spec.get("transitions", []):
            if other["to"] == PREVIOUS_STATUS:
                continue
            froms = other["from"] if isinstance(other["from"], list) else [other["from"]]
            if "*" in froms or set(froms) - {other["to"]}:
                entered.add(other["to"])
        for s in sources:
            if s != "*" and s in {st["name"] for st in entity.statuses} and s not in entered:
                self.out.add(path + ("from",), f"no transition leads into {s!r} from another status, so a record "
                                               f"in {s!r} has no previous status to return to")

    def permissions(self, entity: Entity, base: tuple) -> None:
        perms = entity.spec.get("permissions") or {}
        for op in ("read", "create", "update", "delete"):
            for j, role in enumerate(perms.get(op, [])):
                if role not in self.roles:
                    self.out.add(base + ("permissions", op, j), self._unknown("role", role, self.roles))
        for i, rule in enumerate(perms.get("rows") or []):
            self._row_rule(entity, rule, base + ("permissions", "rows", i))
        for name, rule in (perms.get("fields") or {}).items():
            if name not in entity.fields:
                self.out.add(base + ("permissions", "fields", name), self._unknown("field", name, set(entity.fields)))
            for key in ("hidden", "readonly"):
                for j, role in enumerate(rule.get(key, [])):
                    if role not in self.roles:
                        self.out.add(base + ("permissions", "fields", name, key, j),
                                     self._unknown("role", role, self.roles))

    def _row_rule(self, entity: Entity, rule: dict, path: tuple) -> None:
        for j, role in enumerate(rule.get("roles", [])):
            if role not in self.roles:
                self.out.add(path + ("roles", j), self._unknown("role", role, self.roles))
        if "group_field" in rule:
            f = entity.fields.get(rule["group_field"])
            if f is None or f.value_type != "group":
                groups = {g.name for g in entity.fields.values() if g.value_type == "group"}
                self.out.add(path + ("group_field",), f"{rule['group_field']!r} is not a group field of "
                             f"{entity.name}" + (f"; group fields: {', '.join(sorted(groups))}" if groups else ""))
        if "organisation_field" in rule and rule["organisation_field"] != "id":
            f = entity.fields.get(rule["organisation_field"])
            if f is None or f.value_type != "link":
                self.out.add(path + ("organisation_field",), f"{rule['organisation_field']!r} is not a link field "
                             f"of {entity.name}; name the link to the organisation (or 'id' when the record "
                             f"is the organisation)")
        if "condition" in rule:
            try:
                tree = row_condition(entity, rule["condition"])
            except ExpressionError as exc:
                self.out.add(path + ("condition",), str(exc))
            else:
                self.filter_check.condition(entity, tree, path + ("condition",))

    def hooks(self, entity: Entity, base: tuple) -> None:
        hooks = entity.spec.get("hooks") or {}
        for key, ref in hooks.items():
            if key in ("limits", "privileged"):
                continue
            if key == "actions":
                for i, action in enumerate(ref):
                    self._script(action["script"], base + ("hooks", "actions", i, "script"))
            else:
                self._script(ref, base + ("hooks", key))
        self._privileged(entity, base)

    def _privileged(self, entity: Entity, base: tuple) -> None:
        """A ``privileged`` flag must raise the rights of a script that is there."""
        hooks = entity.spec.get("hooks") or {}
        for j, name in enumerate(hooks.get("privileged", [])):
            if name not in hooks:
                self.out.add(base + ("hooks", "privileged", j), f"{name!r} is privileged, but {entity.name} has no "
                                                                f"{name} hook; add hooks.{name}: file.py:function")
        for name, spec in entity.spec.get("fields", {}).items():
            if spec.get("privileged") and not (spec.get("validator") or spec.get("script") or spec.get("filter_script")):
                self.out.add(base + ("fields", name, "privileged"),
                             "privileged applies to a field's validator, script or filter_script, and this field "
                             "has none of them")
        for i, tr in enumerate(entity.spec.get("transitions", [])):
            runs = any("run" in action for action in tr.get("actions", []))
            if tr.get("privileged") and not (tr.get("before") or tr.get("after") or runs):
                self.out.add(base + ("transitions", i, "privileged"),
                             "privileged applies to a transition's before, after and run scripts, "
                             "and this transition has none")

    def _script(self, ref: str, path: tuple) -> None:
        filename = ref.split(":")[0]
        filename = filename if filename.endswith(".py") else filename + ".py"
        if filename not in self.app.scripts:
            self.out.add(path, f"no script scripts/{filename}" +
                         (f"; scripts are: {', '.join(sorted(self.app.scripts))}" if self.app.scripts else ""))

    def _expression(self, source: str, path: tuple, names: set, entity: Entity | None = None,
                    target: Field | None = None, system: bool = True, person: bool = False) -> None:
        """Check an expression: it parses, its names exist, and (given the ``entity`` it reads) its
        paths follow links and table columns that exist; with ``target``, the field it is assigned to
        can take a clock value it gives. ``person``: a person acts where it is evaluated, so it may
        read ``$user``."""
        try:
            expr = parse(source)
        except ExpressionError as exc:
            self.out.add(path, str(exc))
            return
        if expr.reads_user and not person:
            self.out.add(path, f"{CURRENT_USER} is the person acting, and nobody acts here; it is known in the "
                               f"condition and set of a transition a person fires, and in what its actions create")
        known = names | set(SYSTEM_COLUMNS) if system else names
        for name in sorted(expr.names - known):
            self.out.add(path, self._unknown("field", name, names))
        if entity is not None:
            for dotted in expr.paths:
                self._expression_path(entity, expr, dotted, path)
            self._compared_literals(entity, source, path)
            problem = type_problem(entity, expr, self.resolve)
            if problem:
                self.out.add(path, problem)
        if target is not None:
            self._clock_value(source, target, path)

    def _compared_literals(self, entity: Entity, source: str, path: tuple) -> None:
        """``priority == 1`` where priority's values are texts, or ``status == 'opne'``: the
        comparison is never true and the rule silently never applies; say so at publish."""
        try:
            tree = ast.parse(source.replace(CURRENT_USER, "_current_user").strip(), mode="eval")
        except SyntaxError:
            return  # reported by the parser
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left, *node.comparators]
            for left, right in zip(operands, operands[1:]):
                for name_node, other in ((left, right), (right, left)):
                    if isinstance(name_node, ast.Name):
                        self._literal_of(entity, name_node.id, other, path)

    def _literal_of(self, entity: Entity, name: str, node, path: tuple) -> None:
        if name == "status":
            values, what = [s["name"] for s in entity.statuses], "status"
        else:
            f = entity.fields.get(name)
            if f is None or f.value_type != "choice" or not f.choices:
                return
            values, what = [c.value for c in f.choices], f"value of {name}"
        items = node.elts if isinstance(node, (ast.List, ast.Tuple, ast.Set)) else [node]
        for item in items:
            if not isinstance(item, ast.Constant) or item.value is None:
                continue
            if isinstance(item.value, str) and item.value in values:
                continue
            if not isinstance(item.value, str) and str(item.value) in values:
                self.out.add(path, f"{name} holds texts: write {name} == '{item.value}', not {item.value!r}, "
                                   f"or the comparison is never true")
            else:
                self.out.add(path, self._unknown(what, item.value, set(values))
                             + f"; {name} is one of {', '.join(values)}")

    def set_value(self, entity: Entity, value: str, path: tuple, names: set, target: Field | None) -> None:
        """A value of ``set:`` assigned to ``target``: ``$user`` (the person who fires it), which
        only a user field holds, or an expression over ``entity``."""
        owner = target.entity if target is not None else None
        users = sorted(n for n, f in (owner.fields if owner is not None else {}).items()
                       if f.value_type == "user" and f.storage == "column")
        hint = f" ({'user fields here: ' + ', '.join(users)})" if users else ""
        if value == CURRENT_USER:
            if target is not None and (target.value_type != "user" or target.storage != "column"):
                self.out.add(path, f"{CURRENT_USER} is the person who fires it, and {target.name!r} is a "
                                   f"{target.type} field; {CURRENT_USER} goes into a user field{hint}")
            return
        if (target is not None and target.value_type == "user" and target.storage == "column"
                and value.strip().removesuffix("()").strip() == "user"):
            self.out.add(path, f"'user' is the login name of the person (a text), and {target.name!r} is a user "
                               f"field; write {CURRENT_USER} to set the person who fires it")
            return
        self._expression(value, path, names, entity, target=target, person=True)

    def _expression_path(self, entity: Entity, expr, dotted: str, path: tuple) -> None:
        """``link.field`` (up to two links) or ``table.column`` (inside sum/count/min/max/avg)."""
        head, *rest = dotted.split(".")
        f = entity.fields.get(head)
        if f is None:
            return  # reported as an unknown name
        aggregates = {fn for fn, p in expr.aggregated if p == dotted}
        if f.storage == "child":
            if len(rest) != 1 or rest[0] not in f.children:
                self.out.add(path, f"{dotted!r}: a table is read by its columns, table.column; "
                             + self._unknown(f"column of {head}", rest[0], set(f.children)))
            elif not aggregates:
                self.out.add(path, f"{dotted!r} is a column of every row of the table {head!r}; aggregate it: "
                                   f"sum({dotted}), count({dotted}), min, max or avg")
            else:
                self._aggregate_type(f.children[rest[0]], dotted, aggregates, path)
            return
        current, name = f, head
        for part in rest:
            target = self.resolve(current.target) if current is not None and current.value_type == "link" \
                and current.target else None
            if target is None:
                kind = current.type if current is not None else "system"
                self.out.add(path, f"{name!r} is a {kind} field, so {dotted!r} cannot follow it; a path follows "
                                   f"links (link.field) and table columns (table.column)")
                return
            current, name = target.fields.get(part), part
            if current is None and part not in SYSTEM_COLUMNS:
                self.out.add(path, self._unknown(f"field of {target.name}", part, set(target.fields)))
                return
        if aggregates and current is not None:
            self._aggregate_type(current, dotted, aggregates, path)

    def _aggregate_type(self, f: Field, dotted: str, aggregates: set, path: tuple) -> None:
        for fn in sorted(aggregates & {"sum", "avg"}):
            if f.value_type not in self._NUMBERS:
                self.out.add(path, f"{fn}({dotted}) needs numbers; {dotted!r} is a {f.value_type} field")

    def _clock_value(self, source: str, target: Field, path: tuple) -> None:
        """``set: {x: now}``: the clock gives a date and time (``today``: a date), which only a date,
        datetime or text field can take; say so at publish rather than fail when the transition fires."""
        bare = source.strip().removesuffix("()").strip()
        if bare not in ("now", "today") or target.value_type in ("date", "datetime", "string", "text"):
            return
        gives = "a date and time" if bare == "now" else "a date"
        self.out.add(path, f"{source.strip()!r} gives {gives}, and {target.name!r} is a {target.type} field; "
                           f"assign it to a date, datetime or text field")

    def navigation(self) -> None:
        for i, item in enumerate(self.app.document["app"].get("navigation", [])):
            entries = [(("app", "navigation", i), item)] + [
                (("app", "navigation", i, "items", j), sub) for j, sub in enumerate(item.get("items", []))]
            for path, entry in entries:
                if "entity" in entry and entry["entity"] not in self.app.entities:
                    self.out.add(path + ("entity",), self._unknown("entity", entry["entity"], set(self.app.entities)))

    def sections(self) -> None:
        doc = self.app.document
        for kind, key in (("schedules", "schedules"), ("portal", "pages"), ("reports", "reports")):
            for i, item in enumerate((doc.get(kind) or {}).get(key, [])):
                ref = item.get("entity")
                if ref and self.resolve(ref) is None:
                    self.out.add((kind, key, i, "entity"), self._unknown("entity", ref, set(self.app.entities)))
                for ref_key in ("script", "when_script"):
                    if item.get(ref_key):
                        self._script(item[ref_key], (kind, key, i, ref_key))
                for j, action in enumerate(item.get("actions", [])):
                    self._script(action["script"], (kind, key, i, "actions", j, "script"))
        for i, item in enumerate((doc.get("schedules") or {}).get("schedules", [])):
            self._schedule(item, ("schedules", "schedules", i))
        self.reports()
        self.portal()

    def _schedule(self, item: dict, path: tuple) -> None:
        """A cron the scheduler can read, in a zone that exists: otherwise the schedule would
        never run, and only the server log would say why."""
        if not croniter.is_valid(item["cron"]):
            self.out.add(path + ("cron",), f"{item['cron']!r} is not a cron expression: five fields, minute hour "
                                           f"day-of-month month day-of-week, e.g. '0 6 * * mon-fri'")
        zone = item.get("timezone")
        try:
            if zone:
                ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.out.add(path + ("timezone",), f"unknown time zone {zone!r}; use an IANA name like Europe/Moscow")

    # ------------------------------------------------------------------ portal.yaml
    def portal(self) -> None:
        """Every entity, field and filter name a portal page mentions is real."""
        portal = self.app.document.get("portal") or {}
        org = portal.get("organisation_entity")
        if org and self.resolve(org) is None:
            self.out.add(("portal", "organisation_entity"), self._unknown("entity", org, set(self.app.entities)))
        pages = {p["name"] for p in portal.get("pages", [])}
        roles = {r["name"] for r in self.app.document["app"].get("roles", [])}
        for key in ("inviters", "roles"):
            for j, role in enumerate(portal.get(key, [])):
                if role not in roles:
                    self.out.add(("portal", key, j), self._unknown("role", role, roles))
        for j, name in enumerate(portal.get("menu", [])):
            if name not in pages:
                self.out.add(("portal", "menu", j), self._unknown("page", name, pages))
        seen = set()
        for i, page in enumerate(portal.get("pages", [])):
            path = ("portal", "pages", i)
            if page["name"] in seen:
                self.out.add(path + ("name",), f"page {page['name']!r} is defined twice")
            seen.add(page["name"])
            entity = self.resolve(page["entity"])
            if entity is None:
                continue  # reported by sections()
            form = page.get("kind") == "form"
            known = set(entity.fields) | (set() if form else set(SYSTEM_COLUMNS))
            for j, name in enumerate(page.get("fields", [])):
                f = entity.fields.get(name)
                if name not in known:
                    hint = "; a form page shows fields the user fills in" if form and name in SYSTEM_COLUMNS else ""
                    self.out.add(path + ("fields", j), self._unknown(f"field of {entity.name}", name, known) + hint)
                elif form and f.type == "computed":
                    self.out.add(path + ("fields", j), f"{name!r} is computed; a form page shows fields the "
                                                       f"user fills in")
            self._portal_page(portal, page, entity, path)
            if "filter" in page:
                try:
                    tree = row_condition(entity, page["filter"])
                except ExpressionError as exc:
                    self.out.add(path + ("filter",), str(exc))
                else:
                    self.filter_check.condition(entity, tree, path + ("filter",))

    def _portal_page(self, portal: dict, page: dict, entity, path: tuple) -> None:
        """A page's references: other pages, transitions, roles, filters and ``set`` fields."""
        pages = {p["name"]: p for p in portal.get("pages", [])}
        kind = page.get("kind", "list")
        for key, want in (("record_page", ("record",)), ("suggest", ("search",))):
            target = page.get(key)
            if target and (target not in pages or pages[target].get("kind", "list") not in want):
                self.out.add(path + (key,), f"{target!r} is no {want[0]} page of portal.yaml; "
                                            f"{want[0]} pages: {', '.join(n for n, p in pages.items() if p.get('kind', 'list') in want) or 'none'}")
        names = {tr["name"] for tr in entity.spec.get("transitions", [])}
        for j, name in enumerate(page.get("transitions", [])):
            if name not in names:
                self.out.add(path + ("transitions", j), self._unknown(f"transition of {entity.name}", name, names))
        for j, name in enumerate(page.get("filters", [])):
            if name not in entity.fields and name != "status":
                self.out.add(path + ("filters", j), self._unknown(f"field of {entity.name}", name, set(entity.fields)))
        for name, value in page.get("set", {}).items():
            if name not in entity.fields:
                self.out.add(path + ("set", name), self._unknown(f"field of {entity.name}", name, set(entity.fields)))
            elif value == CURRENT_USER:
                self.set_value(entity, value, path + ("set", name), set(), entity.fields[name])
            elif value not in PORTAL_SET_PARAMS:
                # a literal: checked as a view filter's value is, or every submit of the form fails
                problem = self.filter_check.value_problem(entity.fields[name], entity, value)
                if problem:
                    self.out.add(path + ("set", name), problem)
        if page.get("anonymous") and kind != "form" and not page.get("filter"):
            self.out.add(path + ("anonymous",), "an anonymous list, search or record page needs a filter "
                                                "saying which records anyone may see (e.g. published == true)")
        if kind == "search" and not entity.search_fields:
            self.out.add(path + ("kind",), f"{entity.name} declares no search fields for a search page")
        if page.get("helpful"):
            for name in ("helpful_yes", "helpful_no"):
                if name not in entity.fields:
                    self.out.add(path + ("helpful",), f"'did this help?' counts in {entity.name}.{name}, "
                                                      f"an integer field it lacks")
        confirmation = page.get("confirmation") or {}
        if confirmation.get("email_field") and confirmation["email_field"] not in page.get("fields", []):
            self.out.add(path + ("confirmation", "email_field"),
                         f"{confirmation['email_field']!r} is not among the page's fields")
        if kind == "record" and not page.get("fields"):
            self.out.add(path + ("fields",), "a record page lists the fields it shows")

    # ------------------------------------------------------------------ reports.yaml
    _NUMBERS = ("integer", "decimal", "money")
    _DATES = ("date", "datetime")

    def reports(self) -> None:
        """Every field a report names exists, is a column and has a type the aggregate can use."""
        seen = set()
        for i, report in enumerate((self.app.document.get("reports") or {}).get("reports", [])):
            path = ("reports", "reports", i)
            if report["name"] in seen:
                self.out.add(path + ("name",), f"report {report['name']!r} is defined twice")
            seen.add(report["name"])
            entity = self.resolve(report["entity"])
            if entity is None:
                continue  # reported by sections()
            kind = report.get("kind", "group")
            for j, flt in enumerate(report.get("filters", [])):
                self._report_field(entity, flt["field"], path + ("filters", j, "field"))
            self.filter_check.filters(entity, report.get("filters", []), path + ("filters",), storage=False,
                                      person=True)
            if kind == "list":
                self._list_report(entity, report, path)
                continue
            for key in ("columns", "sort"):
                if key in report:
                    self.out.add(path + (key,), f"{key} belong to list reports only")
            group_by = report.get("group_by", [])
            types = [self._report_field(entity, name, path + ("group_by", j))
                     for j, name in enumerate(group_by)]
            if kind in ("group", "table") and not group_by:
                self.out.add(path + ("kind",), f"a {kind} report needs group_by: one or two fields")
            if kind != "stats" and len(group_by) > 2:
                self.out.add(path + ("group_by",), f"a {kind} report groups by one or two fields; "
                                                   f"three are for stats reports")
            if kind in ("count", "kpi") and group_by:
                self.out.add(path + ("group_by",), f"a {kind} report takes no group_by")
            if "period" in report and not any(tp in self._DATES for tp in types):
                self.out.add(path + ("period",), "period buckets a date or datetime group_by field, "
                                                 "and this report groups by none")
            if report.get("chart") == "pie" and (len(group_by) != 1 or kind != "group"):
                self.out.add(path + ("chart",), "a pie chart shows one group_by field of a group report")
            measure = report.get("measure")
            if measure:
                mpath = path + ("measure",)
                if measure["fn"] in ("sum", "avg"):
                    if not measure.get("field"):
                        self.out.add(mpath, f"measure {measure['fn']} needs a field")
                    elif self._report_field(entity, measure["field"], mpath + ("field",)) not in \
                            (None,) + self._NUMBERS:
                        self.out.add(mpath + ("field",), f"{measure['field']!r} is not a number field, "
                                                         f"so it cannot be summed or averaged")
                elif measure.get("field"):
                    self._report_field(entity, measure["field"], mpath + ("field",))
                if kind == "kpi":
                    self.out.add(mpath, "a kpi report counts records per user; it takes no measure")
                if kind == "sla":
                    self.out.add(mpath, "an sla report counts SLA targets; it takes no measure")
            if kind == "kpi":
                tp = self._report_field(entity, report.get("user_field", "assignee"), path + ("user_field",))
                if tp not in (None, "user"):
                    self.out.add(path + ("user_field",), f"{report.get('user_field', 'assignee')!r} is not a "
                                                         f"user field")
                for key in ("due_field", "done_field"):
                    if key in report:
                        tp = self._report_field(entity, report[key], path + (key,))
                        if tp not in (None,) + self._DATES:
                            self.out.add(path + (key,), f"{report[key]!r} is not a date or datetime field")
                if "done_field" in report and "due_field" not in report:
                    self.out.add(path + ("done_field",), "done_field needs a due_field to compare with")
            else:
                for key in ("user_field", "due_field", "done_field"):
                    if key in report:
                        self.out.add(path + (key,), f"{key} belongs to kpi reports only")
            if kind == "sla":
                self._sla_report(entity, report, path)
            elif "targets" in report:
                self.out.add(path + ("targets",), "targets belong to sla reports only")
            if kind == "stats":
                self._stats_report(entity, report, path)
            elif "measures" in report:
                self.out.add(path + ("measures",), "measures belong to stats reports; others take one measure")
            if kind == "time_in_status":
                self._time_in_status_report(entity, report, path)
            else:
                for key in ("statuses", "calendar"):
                    if key in report:
                        self.out.add(path + (key,), f"{key} belongs to time_in_status reports only")

    def _time_in_status_report(self, entity: Entity, report: dict, path: tuple) -> None:
        """The entity has statuses and the report names some of them; the calendar is one of sla.yaml's."""
        if "measure" in report:
            self.out.add(path + ("measure",), "a time_in_status report measures hours in each status; it takes "
                                              "no measure")
        known = [s["name"] for s in entity.statuses]
        if not known:
            self.out.add(path + ("entity",), f"{entity.name!r} has no statuses, so there is no time in them to "
                                             f"report")
        for j, name in enumerate(report.get("statuses", [])):
            if known and name not in known:
                self.out.add(path + ("statuses", j), self._unknown(f"status of {entity.name}", name, set(known)))
        if "calendar" in report and entity is self.app.entities.get(entity.name):
            calendars = (self.app.document.get("sla") or {}).get("calendars") or {}
            if report["calendar"] not in calendars:
                self.out.add(path + ("calendar",), self._unknown("calendar of sla.yaml", report["calendar"],
                                                                 set(calendars)))

    def _stats_report(self, entity: Entity, report: dict, path: tuple) -> None:
        """Each measure has a unique name, a number field where its function needs one, a
        percentile where it asks for one, and filters the entity can evaluate."""
        if "measure" in report:
            self.out.add(path + ("measure",), "a stats report lists its figures under measures:")
        names = set()
        for j, m in enumerate(report.get("measures", [])):
            mpath = path + ("measures", j)
            if m["name"] in names:
                self.out.add(mpath + ("name",), f"measure {m['name']!r} is named twice")
            names.add(m["name"])
            if m["fn"] != "count" and not m.get("field"):
                self.out.add(mpath, f"measure {m['fn']} needs a number field")
            elif m.get("field"):
                tp = self._report_field(entity, m["field"], mpath + ("field",))
                if m["fn"] != "count" and tp not in (None,) + self._NUMBERS:
                    self.out.add(mpath + ("field",), f"{m['field']!r} is not a number field")
            if ("p" in m) != (m["fn"] == "percentile"):
                self.out.add(mpath + ("p",), "p (which percentile) belongs to fn: percentile, which needs it")
            for k, flt in enumerate(m.get("where", [])):
                self._report_field(entity, flt["field"], mpath + ("where", k, "field"))
            self.filter_check.filters(entity, m.get("where", []), mpath + ("where",), storage=False)

    _NOT_FOR_LISTS = ("group_by", "period", "measure", "chart", "targets", "user_field", "due_field", "done_field")

    def _list_report(self, entity: Entity, report: dict, path: tuple) -> None:
        """A record list: its columns are fields of the entity (a link shows its record's title)."""
        for key in self._NOT_FOR_LISTS:
            if key in report:
                self.out.add(path + (key,), f"a list report shows records; {key} does not apply to it "
                                            f"(it takes columns, filters, sort and limit)")
        for j, name in enumerate(report.get("columns", [])):
            self._report_field(entity, name, path + ("columns", j))
        for j, name in enumerate(report.get("sort", [])):
            self._report_field(entity, name.lstrip("-"), path + ("sort", j))

    def _sla_report(self, entity: Entity, report: dict, path: tuple) -> None:
        """An sla report's entity has SLA policies here and its targets are theirs."""
        if entity is not self.app.entities.get(entity.name):
            return  # another app's entity: its policies are in that app's sla.yaml
        policies = [p for p in (self.app.document.get("sla") or {}).get("policies") or []
                    if self.resolve(p.get("entity", "")) is entity]
        if not policies:
            self.out.add(path + ("entity",), f"{entity.name!r} has no SLA policy in sla.yaml, "
                                             f"so an sla report has nothing to count")
            return
        known = {t["name"] for p in policies for t in p.get("targets") or []}
        for j, name in enumerate(report.get("targets", [])):
            if name not in known:
                self.out.add(path + ("targets", j), self._unknown(f"SLA target of {entity.name}", name, known))

    _SYSTEM_TYPES = (("id", "integer"), ("number", "string"), ("status", "string"), ("created_at", "datetime"),
                     ("updated_at", "datetime"), ("created_by", "user"), ("updated_by", "user"))

    def _report_field(self, entity: Entity, dotted_name: str, path: tuple) -> str | None:
        """The value type of ``field`` or ``link.field`` for a report, or None after reporting a problem."""
        system = dict(self._SYSTEM_TYPES)
        parts = dotted_name.split(".")
        if len(parts) > 2:
            self.out.add(path, f"{dotted_name!r}: a report follows at most one link (link.field)")
            return None
        current = entity
        for k, part in enumerate(parts):
            last = k == len(parts) - 1
            f = current.fields.get(part)
            if f is None and part in system:
                if last:
                    return system[part]
                self.out.add(path, f"{part!r} is not a link, so {dotted_name!r} cannot follow it")
                return None
            if f is None:
                known = set(current.fields) | set(system)
                self.out.add(path, self._unknown(f"field of {current.name}", part, known))
                return None
            if f.storage != "column":
                self.out.add(path, f"{dotted_name!r} is a {f.type} field; reports use single-value fields")
                return None
            if last:
                return f.value_type
            target = self.resolve(f.target) if f.value_type == "link" and f.target else None
            if target is None:
                self.out.add(path, f"{part!r} is not a link, so {dotted_name!r} cannot follow it")
                return None
            current = target
        return None

    def fixtures(self) -> None:
        for name, records in self.app.fixtures.items():
            if name == ACCOUNTS:
                self.accounts(records)
                continue
            entity = self.app.entities.get(name)
            if entity is None:
                self.out.add(("fixtures", name), self._unknown("entity", name, set(self.app.entities)))
                continue
            allowed = set(entity.fields) | {"number", "status", "id"}
            for i, record in enumerate(records):
                for key in record:
                    if key not in allowed:
                        self.out.add(("fixtures", name, i, key), self._unknown("field", key, set(entity.fields)))

    def accounts(self, spec: dict) -> None:
        """``fixtures/_accounts.yaml``: each role is one of this app's, each group and lead is named."""
        groups = {g.get("name") for g in spec.get("groups", [])}
        users = {u.get("username") for u in spec.get("users", [])}
        for i, group in enumerate(spec.get("groups", [])):
            if group.get("lead") and group["lead"] not in users:
                self.out.add(("fixtures", ACCOUNTS, "groups", i, "lead"),
                             self._unknown("user", group["lead"], users))
        for i, account in enumerate(spec.get("users", [])):
            for j, role in enumerate(account.get("roles", [])):
                if role not in self.app.roles:
                    self.out.add(("fixtures", ACCOUNTS, "users", i, "roles", j),
                                 self._unknown("role", role, set(self.app.roles)))
            for j, group in enumerate(account.get("groups", [])):
                if group not in groups:
                    self.out.add(("fixtures", ACCOUNTS, "users", i, "groups", j),
                                 self._unknown("group", group, groups) + " (declare it under groups:)")
            if account.get("organization") and not (self.app.document.get("portal") or {}).get("organisation_entity"):
                self.out.add(("fixtures", ACCOUNTS, "users", i, "organization"),
                             "an external contact needs portal.yaml's organisation_entity to say which "
                             "records are organisations")

    @staticmethod
    def _unknown(kind: str, name: str, known: set) -> str:
        close = difflib.get_close_matches(str(name), sorted(map(str, known)), n=1)
        return f"unknown {kind} {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
