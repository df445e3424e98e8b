"""Migration plans: what publishing a new version must do to storage.

A plan is pure data computed from two apps; ``runtime.data.migrate`` carries it
out with Alembic operations. The rule that shapes it: data is never dropped
implicitly. A removed field or entity is *retired* (kept, out of use) until
an explicit purge; a type change that could lose data is marked ``check``,
and the runtime refuses it if any stored value would not survive.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field

from .model import App, Entity, Field

# How a stored value of one type converts to another:
# "safe" (always lossless), "check" (lossless only for some values: the runtime
# looks at the data), or missing (never allowed: refuse).
_CONVERSIONS = {
    ("string", "text"): "safe", ("text", "string"): "check", ("string", "string"): "check",
    ("email", "string"): "safe", ("phone", "string"): "safe", ("choice", "string"): "safe",
    ("email", "text"): "safe", ("phone", "text"): "safe", ("choice", "text"): "safe",
    ("string", "email"): "check", ("string", "phone"): "check", ("string", "choice"): "check",
    ("text", "choice"): "check", ("choice", "choice"): "check", ("text", "text"): "safe",
    ("integer", "decimal"): "check", ("integer", "money"): "check", ("decimal", "money"): "check",
    ("money", "decimal"): "check", ("decimal", "decimal"): "check", ("money", "money"): "check",
    ("decimal", "integer"): "check", ("money", "integer"): "check",
    ("integer", "string"): "safe", ("decimal", "string"): "safe", ("money", "string"): "safe",
    ("integer", "text"): "safe", ("decimal", "text"): "safe", ("money", "text"): "safe",
    ("string", "integer"): "check", ("string", "decimal"): "check", ("text", "integer"): "check",
    ("text", "decimal"): "check", ("boolean", "integer"): "safe", ("boolean", "string"): "safe",
    ("integer", "boolean"): "check", ("string", "boolean"): "check",
    ("date", "datetime"): "safe", ("datetime", "date"): "check", ("date", "string"): "safe",
    ("datetime", "string"): "safe", ("string", "date"): "check", ("string", "datetime"): "check",
    ("integer", "integer"): "safe", ("boolean", "boolean"): "safe", ("date", "date"): "safe",
    ("datetime", "datetime"): "safe", ("link", "link"): "check",
    ("user", "user"): "safe", ("group", "group"): "safe",
}


def conversion(old: Field, new: Field) -> str:
    """``safe``, ``check`` or ``refuse`` for changing ``old``'s column into ``new``'s."""
    if old.storage != "column" or new.storage != "column":
        return "safe" if old.storage == new.storage and old.storage_signature() == new.storage_signature() else "refuse"
    if old.value_type == "link" and new.value_type == "link" and old.target != new.target:
        return "refuse"
    kind = _CONVERSIONS.get((old.value_type, new.value_type), "refuse")
    if kind == "check" and old.value_type == new.value_type:
        # Same type: only a narrower length, precision or choice list can lose anything.
        if old.value_type in ("string", "email", "phone", "text") and (new.max_length or 10**9) >= (old.max_length or 10**9):
            return "safe"
        if old.value_type in ("decimal", "money") and new.scale >= old.scale and \
                new.precision - new.scale >= old.precision - old.scale:
            return "safe"
        if old.value_type == "choice" and {c.value for c in old.choices} <= {c.value for c in new.choices}:
            return "safe"
        if old.value_type == "link":
            return "safe"
    return kind


class Refusal(str):
    """A change publishing cannot make. It reads ``entity.field: why`` (the plan shows it so) and
    knows where it comes from: ``entities/<entity>.yaml`` and the path inside (``fields.code``)."""

    entity: str
    path: tuple
    message: str

    def __new__(cls, entity: str, field: str | None, message: str, path: tuple | None = None):
        self = super().__new__(cls, f"{entity}.{field}: {message}" if field else f"{entity}: {message}")
        self.entity, self.message = entity, message
        self.path = tuple(path) if path is not None else field_path(field)
        return self


def field_path(field: str | None) -> tuple:
    """The path of a field inside its entity file: ``code`` -> fields.code, ``lines.n`` ->
    fields.lines.fields.n (a column of a table field)."""
    if not field:
        return ()
    out: tuple = ()
    for part in field.split("."):
        out += ("fields", part)
    return out


def computed_by_script(f: Field | None) -> bool:
    """A computed field whose value a script returns: it is computed when a record is saved."""
    return f is not None and f.type == "computed" and "script" in f.spec


def _rollup_spec(f: Field) -> tuple:
    """What a rollup's stored values depend on: a change of it recomputes them."""
    return (f.type,) + tuple(f.spec.get(k) for k in ("entity", "link", "function", "of", "where"))


@dataclass(frozen=True)
class Step:
    """One storage operation. ``kind`` is one of the names listed in :data:`STEP_KINDS`."""

    kind: str
    entity: str
    field: str | None = None
    old: Field | None = dc_field(default=None, compare=False)
    new: Field | None = dc_field(default=None, compare=False)
    detail: dict = dc_field(default_factory=dict, compare=False)

    def describe(self) -> str:
        f = f".{self.field}" if self.field else ""
        if self.kind == "add_field" and computed_by_script(self.new):
            return f"add {self.entity}{f} (its script computes it when a record is saved; existing records " \
                   f"get it at their next save)"
        if self.kind == "compute_on_save":
            return f"compute {self.entity}{f} by its script when a record is saved (existing records keep " \
                   f"their values until their next save)"
        text = {
            "create_entity": "create table for",
            "retire_entity": "retire (keep, stop using) table of",
            "restore_entity": "bring back retired table of",
            "add_field": "add",
            "retire_field": "retire (keep the data of)",
            "rename_field": f"rename {self.detail.get('from')} to",
            "change_field": f"change type ({self.detail.get('conversion')}) of",
            "recompute_field": "recompute",
            "add_index": f"add {'unique ' if self.detail.get('unique') else ''}index {self.detail.get('columns')} on",
            "drop_index": f"drop index {self.detail.get('columns')} on",
            "rebuild_search": "rebuild full-text search of",
        }[self.kind]
        return f"{text} {self.entity}{f}"


STEP_KINDS = ("create_entity", "retire_entity", "add_field", "retire_field", "rename_field", "change_field",
              "recompute_field", "compute_on_save", "add_index", "drop_index", "rebuild_search")


@dataclass
class Plan:
    steps: list[Step]
    refused: list[Refusal]  # changes that can never be applied, with the reason

    def __bool__(self) -> bool:
        return bool(self.steps)

    def describe(self) -> list[str]:
        return [s.describe() for s in self.steps] + [f"REFUSED: {r}" for r in self.refused]


def plan(old: App | None, new: App) -> Plan:
    """The storage steps that take ``old``'s tables to ``new``'s."""
    steps: list[Step] = []
    refused: list[str] = []
    old_entities = old.entities if old else {}
    for name, entity in new.entities.items():
        if name not in old_entities:
            steps.append(Step("create_entity", name, new=None, detail={"entity": entity}))
            continue
        _plan_entity(old_entities[name], entity, steps, refused)
    for name in old_entities:
        if name not in new.entities:
            steps.append(Step("retire_entity", name))
    return Plan(steps, refused)


def _plan_entity(old: Entity, new: Entity, steps: list[Step], refused: list[str]) -> None:
    old_fields = dict(old.fields)
    matched: dict[str, Field] = {}
    for name, f in new.fields.items():
        if name in old_fields:
            matched[name] = old_fields.pop(name)
            continue
        previous = next((p for p in f.spec.get("previous_names", []) if p in old_fields), None)
        if previous:
            prior = old_fields.pop(previous)
            steps.append(Step("rename_field", new.name, name, prior, f, {"from": previous}))
            matched[name] = prior
        else:
            steps.append(Step("add_field", new.name, name, None, f))
    for name, f in old_fields.items():
        steps.append(Step("retire_field", new.name, name, f, None))
    for name, prior in matched.items():
        f = new.fields[name]
        if prior.type == "table" and f.type == "table":
            _plan_children(new.name, prior, f, steps, refused)
            continue
        if prior.storage_signature() == f.storage_signature():
            if computed_by_script(f) and not computed_by_script(prior):
                steps.append(Step("compute_on_save", new.name, name, prior, f))
            elif f.type == "computed" and not computed_by_script(f) and \
                    prior.spec.get("expression") != f.spec.get("expression"):
                steps.append(Step("recompute_field", new.name, name, prior, f))
            elif f.type == "rollup" and _rollup_spec(prior) != _rollup_spec(f):
                steps.append(Step("recompute_field", new.name, name, prior, f))
            continue
        if f.type == "computed" and prior.type == "computed":
            # Derived data: the old column is retired and the new one recomputed.
            steps.append(Step("retire_field", new.name, name, prior, None))
            steps.append(Step("add_field", new.name, name, None, f))
            continue
        kind = conversion(prior, f)
        if kind == "refuse":
            refused.append(Refusal(new.name, name, f"cannot change a {prior.type} field into a {f.type} field "
                                                   f"without losing data; add a new field instead and retire this one"))
        else:
            steps.append(Step("change_field", new.name, name, prior, f, {"conversion": kind}))
    old_idx, new_idx = set(old.indexes), set(new.indexes)
    for cols, unique in sorted(old_idx - new_idx):
        steps.append(Step("drop_index", new.name, detail={"columns": list(cols), "unique": unique}))
    for cols, unique in sorted(new_idx - old_idx):
        steps.append(Step("add_index", new.name, detail={"columns": list(cols), "unique": unique}))
    if old.search_fields != new.search_fields:
        steps.append(Step("rebuild_search", new.name, detail={"fields": new.search_fields}))


def _plan_children(entity: str, old: Field, new: Field, steps: list[Step], refused: list[str]) -> None:
    """Table fields: their child columns follow the same rules as entity fields."""
    olds = old.children
    for name, child in new.children.items():
        if name not in olds:
            steps.append(Step("add_field", entity, f"{new.name}.{name}", None, child, {"table": new.name}))
        elif olds[name].storage_signature() != child.storage_signature():
            kind = conversion(olds[name], child)
            if kind == "refuse":
                refused.append(Refusal(entity, f"{new.name}.{name}", f"cannot change {olds[name].type} into "
                                                                     f"{child.type}"))
            else:
                steps.append(Step("change_field", entity, f"{new.name}.{name}", olds[name], child,
                                  {"conversion": kind, "table": new.name}))
    for name, child in olds.items():
        if name not in new.children:
            steps.append(Step("retire_field", entity, f"{new.name}.{name}", child, None, {"table": new.name}))
