"""Link filters: which records a link field may hold, given the rest of the record.

A link field's ``filter`` is a row condition over the linked entity whose values may be
``$name``, a field of the record being edited (``organization == $organization``); its
``filter_script`` (``file.py:function``) answers what a condition cannot say: called with the
record, it returns a list of allowed ids, a ``{field__op: value}`` mapping of filters over the
linked entity, or ``None`` (no narrowing). Both narrow the same way everywhere: the options a
form or the API offers, and every save and transition (a value outside is refused, naming the
field). See docs/metadata.md, "Link filters".
"""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import false, select

from runtime.data import tables as platform
from runtime.data.query import BadQuery, ListQuery, parse_args
from runtime.data.values import FieldError, coerce
from runtime.errors import LoomError

from metamodel.ui_check import references, row_condition

from .permissions import condition_sql

REFERENCE_STORAGES = ("column", "assoc")  # fields of the edited record a filter may refer to


def filtered(f) -> bool:
    """Does ``f`` narrow the records it may hold?"""
    return bool(f.spec.get("filter") or f.spec.get("filter_script"))


@lru_cache(maxsize=1024)
def _tree(f, target) -> tuple:
    return row_condition(target, f.spec["filter"], references(f.entity))


class LinkFilters:
    def __init__(self, loom):
        self.loom = loom

    def target(self, f):
        """The table the field's ids point into, and its entity tables (None for users and groups)."""
        if f.value_type == "user":
            return platform.user, None
        if f.value_type == "group":
            return platform.group, None
        app, _, name = f.target.rpartition(".")
        et = self.loom.entity_tables(app or f.entity.app, name)
        return et.main, et

    def narrowing(self, conn, f, record: dict, actor, table=None) -> list:
        """The SQL conditions on the linked table (or ``table``, an alias of it) that the field's
        filter and filter script make, for ``record`` (the values of the record being edited)."""
        if not filtered(f):
            return []
        main, et = self.target(f)
        table = main if table is None else table
        out = []
        if f.spec.get("filter") and et is not None:
            out.append(condition_sql(_tree(f, et.entity), et.entity, table, actor, record, self.loom.entity_tables))
        if f.spec.get("filter_script"):
            out.extend(self._scripted(conn, f, record, actor, table, et))
        return out

    def _scripted(self, conn, f, record: dict, actor, table, et) -> list:
        ref = f.spec["filter_script"]
        live = self.loom.live[f.entity.app]
        hook = f"field:{f.name}.filter"
        result, _ = self.loom.hooks.run(conn, live.app, ref, hook, actor=actor, record=dict(record),
                                        entity=f.entity, record_id=record.get("id"),
                                        privileged=hook in f.entity.privileged_hooks)
        if result is None:
            return []
        if isinstance(result, dict):
            if et is None:
                raise LoomError(f"{ref} narrows {f.entity.name}.{f.name}, a {f.type} field: return a list of ids")
            filters, _, _ = parse_args({k: v for k, v in result.items()})
            joins: list = []
            query = ListQuery(self.loom, et)
            query.t = table
            try:
                conditions = [query.condition(flt, joins, None, checked=False) for flt in filters]
            except (BadQuery, KeyError) as exc:
                raise LoomError(f"{ref} returned a filter of {f.entity.name}.{f.name} that cannot run: {exc}") \
                    from None
            if joins:
                raise LoomError(f"{ref} returned a filter through a link ({', '.join(result)}); filter the "
                                f"linked entity's own fields, or return a list of ids")
            return conditions
        if isinstance(result, (list, tuple, set, frozenset)):
            ids = []
            for item in result:
                value = item.get("id") if isinstance(item, dict) else item
                if isinstance(value, int) and not isinstance(value, bool):
                    ids.append(value)
                else:
                    raise LoomError(f"{ref} must return record ids; it returned {item!r} among them")
            return [table.c.id.in_(ids)] if ids else [false()]
        raise LoomError(f"{ref} must return a list of ids, a {{field__op: value}} mapping or None, "
                        f"not {type(result).__name__}")

    def check(self, conn, f, ids: list[int], record: dict, actor) -> None:
        """Refuse ids the field's filter does not allow for ``record``."""
        ids = [i for i in ids if i is not None]
        if not ids or not filtered(f):
            return
        table, _ = self.target(f)
        allowed = set(conn.execute(select(table.c.id).where(table.c.id.in_(ids),
                                                            *self.narrowing(conn, f, record, actor))).scalars())
        refused = [i for i in ids if i not in allowed]
        if refused:
            what = ", ".join(map(str, refused))
            raise FieldError(f.name, f"{what} is not one of the records this field offers here" +
                             (f" ({f.spec['filter']})" if f.spec.get("filter") else ""))

    def record_from_args(self, conn, et, args, actor) -> dict:
        """The record being edited, as the options endpoint is told it: ``id=`` reads a stored one
        (as ``actor`` may), each ``<field>=`` argument sets a value (a multilink's repeated)."""
        record: dict = {}
        if args.get("id"):
            try:
                record_id = int(args.get("id"))
            except ValueError:
                raise BadQuery("id must be a record id") from None
            row = self.loom.records._fetch(conn, et, record_id, actor=actor)
            record = self.loom.records.full(conn, et, row)
        for name, f in et.entity.fields.items():
            if name not in args or f.storage not in REFERENCE_STORAGES:
                continue
            raw = args.getlist(name) if hasattr(args, "getlist") else [args[name]]
            try:
                if f.storage == "assoc":
                    record[name] = [coerce(_single(f), v) for v in raw if v not in ("", None)]
                else:
                    record[name] = coerce(f, raw[-1]) if raw and raw[-1] not in ("", None) else None
            except FieldError as exc:
                raise BadQuery(f"{name}: {exc.message}", field=name) from None
        return record


def _single(f):
    from metamodel import Field
    return Field(f.name, "link", {"type": "link", "entity": f.target}, f.entity)

