"""Who may do what: one place for the API, list queries, counts, search, import and scripts.

Roles belong to apps (:mod:`runtime.data.roles`): inside an app a user holds
only that app's roles, plus the built-in ``user`` (whoever holds any role of
the app) and ``authenticated`` (every signed-in user). A user with no role in
an app therefore sees nothing of it unless the app opens something to
``authenticated`` explicitly.

Everything else comes from an entity's ``permissions`` block in metadata:

* ``read/create/update/delete: [roles]`` - who may do the operation at all;
  an operation without a list is granted to nobody (but administrators and
  the system): access is declared, never assumed.
* ``fields: {name: {hidden: [roles], readonly: [roles]}}`` - a hidden field
  is cut from every answer and may not be written, filtered, sorted or
  searched by those roles; a readonly field may not be set or changed.

Read-only is one rule, whoever declares it (a field's ``readonly: true`` for
everyone, ``permissions.fields`` for some roles): a field read-only to a person
may not be set by them, on create, update or a transition, through the API, the
UI or an import. The system and the app's own metadata and hooks - ``default``,
``before_save``, a transition's ``set`` and ``before``, buttons, computed fields -
write it: they run after the person's values were checked (:meth:`check_write`).
* ``rows: [{roles, own, group_field, organisation_field, condition}]`` -
  which records a role sees. The rules whose roles the user has are OR-ed;
  the parts of one rule are AND-ed; a rule with no parts means "all rows".
  A user whose roles match no rule sees every row (the entity's read roles
  still apply). Rules are SQL conditions, so a list, its count and a single
  fetch agree; see docs/decisions/0005-permissions-and-audit.md and
  docs/decisions/0013-app-scoped-roles.md.

Administrators and trusted platform code (``actor.system``, or no actor at
all) pass every check.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import and_, exists, false, not_, or_, select, true

from metamodel import Field
from metamodel.ui_check import row_condition
from runtime.data.roles import (  # noqa: F401  (re-exported: callers in higher rooms ask permissions)
    ANALYST,
    AUTHENTICATED,
    MEMBER,
    PLATFORM_ROLES,
    app_role,
    holds,
    is_analyst,
    privileged,
    role_error,
    roles_of,
)
from metamodel.reltime import RelativeTimeError
from runtime import clock
from runtime.data.values import FieldError, coerce
from runtime.errors import Forbidden, LoomError

OPERATIONS = ("read", "create", "update", "delete")


@dataclass(frozen=True)
class RowRule:
    roles: frozenset
    own: bool
    group_field: str | None
    organisation_field: str | None
    condition: tuple | None  # a metamodel.predicates tree


class Permissions:
    tables = None  # (app, entity) -> EntityTables: what a row rule's path through links reads (set by Loom)

    # ------------------------------------------------------------------ operations
    def allowed(self, actor, entity, op: str) -> bool:
        if privileged(actor):
            return True
        roles = _spec(entity).get(op)
        return bool(roles) and bool(roles_of(actor, entity.app).intersection(roles))

    def readable(self, actor, app) -> list:
        """The entities of ``app`` (a metamodel App) that ``actor`` may read; empty for a user who
        has nothing in the app, whose navigation, home page and API listing then leave it out."""
        return [e for e in app.entities.values() if self.allowed(actor, e, "read")]

    def require(self, actor, entity, op: str) -> None:
        if not self.allowed(actor, entity, op):
            roles = _spec(entity).get(op)
            raise Forbidden(f"you may not {op} {entity.name} records: " + (
                f"that needs one of the roles {', '.join(roles)} of {entity.app}" if roles else
                f"its permissions.{op} names no role, so only administrators may"))

    # ------------------------------------------------------------------ fields
    def hidden(self, actor, entity) -> frozenset:
        """Fields of ``entity`` that ``actor`` may neither see nor touch."""
        return frozenset() if privileged(actor) else _field_rule(entity, "hidden", roles_of(actor, entity.app))

    def readonly(self, actor, entity) -> frozenset:
        """Fields ``actor`` may not set: ``readonly: true`` ones (for every person, administrators
        too) and those their roles in the entity's app get read-only. Only the system writes them (and hooks)."""
        if actor is None or actor.system:
            return frozenset()
        fixed = _readonly_fields(entity)
        return fixed if actor.is_admin else fixed | _field_rule(entity, "readonly", frozenset(roles_of(actor, entity.app)))

    def mask(self, record: dict, entity, actor) -> None:
        """Remove the fields hidden from ``actor`` from an outgoing record."""
        for name in self.hidden(actor, entity):
            record.pop(name, None)

    def check_write(self, actor, entity, data: dict, current=None, readonly: bool = True) -> None:
        """Refuse (403, naming each field) values ``actor`` may not write.

        Sending a read-only field's current value back is not a change, so a
        form may post every field it shows. ``readonly=False``: the values come
        from the app's own script, which may write read-only fields (not hidden ones).
        """
        hidden = self.hidden(actor, entity)
        readonly = self.readonly(actor, entity) if readonly else frozenset()
        if not hidden and not readonly:
            return
        fixed = _readonly_fields(entity)
        errors = []
        for name, value in data.items():
            if name in hidden:
                errors.append(FieldError(name, "you may not set this field"))
            elif name in readonly and _changes(entity.fields[name], value, current):
                errors.append(FieldError(name, "is read-only: the app sets it" if name in fixed
                                         else "is read-only for your role"))
        if errors:
            raise Forbidden("; ".join(f"{e.field}: {e.message}" for e in errors),
                            errors=[{"field": e.field, "message": e.message} for e in errors])

    def check_field_use(self, actor, entity, name: str, path: str | None = None) -> None:
        """Refuse filtering or sorting on a hidden field, whatever the value (so nothing leaks)."""
        if name in self.hidden(actor, entity):
            raise Forbidden(f"you may not filter or sort by {path or name!r}", field=path or name)

    def search_fields(self, actor, entity) -> list[str]:
        """The full-text fields ``actor`` may search (hidden ones are left out of matching)."""
        hidden = self.hidden(actor, entity)
        return [f for f in entity.search_fields if f not in hidden]

    # ------------------------------------------------------------------ rows
    def row_filter(self, entity, table, actor):
        """The SQL condition on ``table`` (the entity's table or an alias of it) for rows
        ``actor`` may see, or ``None`` when nothing is restricted."""
        if privileged(actor):
            return None
        roles = roles_of(actor, entity.app)
        rules = [r for r in _row_rules(entity) if r.roles & roles]
        if not rules:
            return None
        alternatives = []
        for rule in rules:
            parts = []
            if rule.own:
                parts.append(table.c.created_by == actor.id if actor.id is not None else false())
            if rule.group_field:
                groups = list(getattr(actor, "groups", ()) or ())
                parts.append(table.c[rule.group_field].in_(groups) if groups else false())
            if rule.organisation_field:
                parts.append(_organisation(entity, table, rule.organisation_field, actor))
            if rule.condition is not None:
                parts.append(_sql(rule.condition, entity, table, actor, tables=self.tables))
            if not parts:
                return None  # a rule without conditions opens every row to its roles
            alternatives.append(and_(*parts))
        return or_(*alternatives)

    # ------------------------------------------------------------------ what a role is given
    def grants(self, entity, role: str) -> dict:
        """What a user holding ``role`` of ``entity``'s app (and so the built-in ``user`` and
        ``authenticated``) may do with ``entity``: the operations, which rows (``None``: all of
        them; else one phrase per rule, any of which opens a row), hidden and read-only fields,
        and the transitions that name the role."""
        roles = {role, AUTHENTICATED} | ({MEMBER} if role != AUTHENTICATED else set())
        spec = _spec(entity)
        ops = [op for op in OPERATIONS if roles & set(spec.get(op) or ())]
        rules = [r for r in _row_rules(entity) if r.roles & roles]
        rows = None
        if rules and all(r.own or r.group_field or r.organisation_field or r.condition is not None for r in rules):
            rows = [rule for rule in (spec.get("rows") or []) if roles & set(rule["roles"])]
        hidden, readonly = _field_rule(entity, "hidden", frozenset(roles)), _field_rule(entity, "readonly", frozenset(roles))
        return {"operations": ops, "rows": rows,
                "hidden": [f for f in entity.fields if f in hidden],  # in the entity's field order
                "readonly": [f for f in entity.fields if f in readonly],
                "transitions": [tr for tr in entity.spec.get("transitions", []) if roles & set(tr.get("roles") or ())]}

    def condition(self, entity, table, source: str, actor):
        """SQL for a row condition written like ``permissions.rows[].condition`` (a portal
        page's ``filter``), over ``table`` and with ``actor``'s parameters."""
        return _sql(_parsed_condition(entity, source), entity, table, actor, tables=self.tables)

    def restrict(self, query, et, actor, table=None):
        """Narrow a select over ``et`` to the rows ``actor`` may read."""
        condition = self.row_filter(et.entity, table if table is not None else et.main, actor)
        return query if condition is None else query.where(condition)


# ---------------------------------------------------------------------- metadata, parsed once per entity

def _spec(entity) -> dict:
    return entity.spec.get("permissions") or {}


@lru_cache(maxsize=4096)
def _field_rule(entity, key: str, roles: frozenset) -> frozenset:
    return frozenset(name for name, rule in (_spec(entity).get("fields") or {}).items()
                     if set(rule.get(key, ())) & roles)


@lru_cache(maxsize=1024)
def _readonly_fields(entity) -> frozenset:
    """Fields declared ``readonly: true``: read-only to every person."""
    return frozenset(f.name for f in entity.fields.values() if f.spec.get("readonly") or f.type == "rollup")


@lru_cache(maxsize=1024)
def _parsed_condition(entity, source: str):
    return row_condition(entity, source)


@lru_cache(maxsize=1024)
def _row_rules(entity) -> tuple[RowRule, ...]:
    out = []
    for rule in _spec(entity).get("rows") or []:
        condition = row_condition(entity, rule["condition"]) if rule.get("condition") else None
        out.append(RowRule(frozenset(rule["roles"]), bool(rule.get("own")), rule.get("group_field"),
                           rule.get("organisation_field"), condition))
    return tuple(out)


def _changes(f, value, current) -> bool:
    if current is None:  # a new record: only its default value is no change
        if value in (None, "", []):
            return False
        try:
            return f.storage != "column" or "default" not in f.spec or coerce(f, value) != coerce(f, f.spec["default"])
        except (FieldError, ValueError):
            return True
    if f.storage != "column":
        return True
    try:
        return coerce(f, value) != current[f.name]
    except (FieldError, ValueError):
        return True


# ---------------------------------------------------------------------- row conditions to SQL

def organisation_of(actor) -> tuple[str, int] | None:
    """``("app.entity", id)`` from the user's ``organization`` (``"app.entity:id"``), if any."""
    raw = getattr(actor, "organization", None)
    if not raw or ":" not in raw:
        return None
    ref, _, rid = raw.rpartition(":")
    try:
        return ref, int(rid)
    except ValueError:
        return None


def _organisation(entity, table, field_name: str, actor):
    org = organisation_of(actor)
    if org is None:
        return false()
    if field_name == "id":
        return table.c.id == org[1] if entity.ref == org[0] else false()
    target = entity.fields[field_name].target
    ref = target if "." in target else f"{entity.app}.{target}"
    return table.c[field_name] == org[1] if ref == org[0] else false()


def _param(name: str, actor):
    if name == "user_id":
        return actor.id
    if name == "user_groups":
        return list(getattr(actor, "groups", ()) or ())
    org = organisation_of(actor)
    return org[1] if org else None


def _sql(node: tuple, entity, table, actor, record: dict | None = None, tables=None):
    """Translate a predicate tree to SQL with two-valued logic: a comparison with an empty
    value is false (``!=`` and ``not in`` true), never SQL NULL, so ``not`` means what it says.
    ``record``: the values ``$name`` stands for (a link field's filter); a comparison with an
    empty one matches nothing, whatever its operator, so nothing is offered until it is filled.
    ``tables(app, entity)``: the tables a path through links (``vacancy.department.head``) reads."""
    kind = node[0]
    if kind == "and":
        return and_(*[_sql(n, entity, table, actor, record, tables) for n in node[1]])
    if kind == "or":
        return or_(*[_sql(n, entity, table, actor, record, tables) for n in node[1]])
    if kind == "not":
        return not_(_sql(node[1], entity, table, actor, record, tables))
    name = node[1] if kind == "true" else node[2]
    if "." in name:
        return _path_sql(node, name, entity, table, actor, record, tables)
    col = table.c[name]
    if kind == "true":
        return col.is_(True) if _value_type(entity, node[1]) == "boolean" else col.is_not(None)
    _, op, name, (vkind, value) = node
    if vkind == "ref":
        value = (record or {}).get(value)
        if value in (None, "", []):
            return false()
        if isinstance(value, (list, tuple)) and op not in ("in", "not_in"):
            return false()
        if op in ("in", "not_in") and not isinstance(value, (list, tuple)):
            value = [value]
    elif vkind == "param":
        value = _param(value, actor)
        if value is None:  # the user lacks the fact (no organisation): it matches nothing
            return col.is_not(None) if op == "ne" else false()
    elif vkind == "rel":  # ``due < today``: the day or instant it means at this query
        try:
            value = clock.relative(value, _value_type(entity, name), entity.timezone)
        except RelativeTimeError as exc:
            raise LoomError(f"the row rule of {entity.name} compares {name} with {exc}; fix the rule's condition") \
                from None
    if op in ("in", "not_in"):
        values = [_literal(entity, name, v) for v in value if v is not None]
        if not values:
            return false() if op == "in" else true()
        return and_(col.is_not(None), col.in_(values)) if op == "in" else or_(col.is_(None), col.not_in(values))
    if value is None:
        return col.is_(None) if op == "eq" else col.is_not(None)
    value = _literal(entity, name, value)
    if op == "ne":
        return or_(col.is_(None), col != value)
    compare = {"eq": col.__eq__, "lt": col.__lt__, "le": col.__le__, "gt": col.__gt__, "ge": col.__ge__}[op]
    return and_(col.is_not(None), compare(value))


def _path_sql(node: tuple, name: str, entity, table, actor, record, tables):
    """``link.rest OP value``: the link holds one of the linked records for which ``rest OP value``
    holds, read as the system (a rule says which rows, whoever may read the records it passes
    through); no linked record, no match. Through a table or a multi-link (``co_executors.executor
    == $user``) it holds when any row or linked record matches."""
    if tables is None:
        raise LoomError(f"{name!r}: a path through links is not read here; compare a field of {entity.name}")
    head, _, rest = name.partition(".")
    f = entity.fields[head]
    inner = (node[0], rest) if node[0] == "true" else (node[0], node[1], rest, node[3])
    if f.storage == "child":
        rows = tables(entity.app, entity.name).children[head]
        return exists().where(rows.c.parent_id == table.c.id, _sql(inner, f.row_entity, rows, actor, record, tables))
    app, _, target = f.target.rpartition(".")
    other = tables(app or entity.app, target)
    matching = select(other.main.c.id).where(other.main.c.deleted_at.is_(None),
                                             _sql(inner, other.entity, other.main, actor, record, tables))
    if f.storage == "assoc":
        pairs = tables(entity.app, entity.name).assoc[head]
        return exists().where(pairs.c.parent_id == table.c.id, pairs.c.target_id.in_(matching))
    return and_(table.c[head].is_not(None), table.c[head].in_(matching))


def _value_type(entity, name: str) -> str:
    f = entity.fields.get(name)
    return f.value_type if f is not None else _SYSTEM_TYPES.get(name, "string")


_SYSTEM_TYPES = {"id": "integer", "row_version": "integer", "meta_version": "integer", "created_by": "user",
                 "updated_by": "user", "created_at": "datetime", "updated_at": "datetime", "deleted_at": "datetime"}


def _literal(entity, name: str, value):
    f = entity.fields.get(name) or Field(name, _value_type(entity, name), {"type": _value_type(entity, name)})
    try:
        return coerce(f, value)
    except FieldError as exc:
        raise LoomError(f"the row rule of {entity.name} compares {name} with {value!r}: {exc.message}; "
                        f"fix the rule's condition") from None


def condition_sql(tree: tuple, entity, table, actor, record: dict | None = None, tables=None):
    """The SQL of a row condition's ``tree`` over ``table`` (``entity``'s table or an alias);
    ``record`` gives the values of ``$name`` references (a link field's filter); ``tables``
    the entity tables a path through links reads."""
    return _sql(tree, entity, table, actor, record, tables)
