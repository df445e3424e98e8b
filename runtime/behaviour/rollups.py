"""Rollup fields: a count, sum, minimum or maximum over the records that link to a record,
stored in the record's own column (docs/metadata.md, "Rollup fields").

The value is recomputed by one aggregate query, in the transaction of the change that moved
it: a linked record created, changed (its link moved to another parent: both parents),
deleted or restored. It counts every linked record, whoever changed it, so it is the same
for every reader (permission-neutral); the parent's row version does not move, so nobody
editing the parent gets a conflict because a child changed. After a rollup changes, the
parent's automatic transitions get their chance (:meth:`Behaviour.auto_transitions`).
"""
from __future__ import annotations

from sqlalchemy import bindparam, case, func, select, update

from metamodel import Field
from runtime.data.records import SYSTEM

BATCH = 500  # parents recomputed per statement by :meth:`Rollups.recompute`
MAX_CHAIN = 4  # rollups over rollups followed this many links up (a self-link, tasks of tasks, stops here)


class Rollups:
    def __init__(self, loom):
        self.loom = loom

    def over(self, entity) -> list[Field]:
        """The rollup fields that aggregate ``entity``'s records (none: the common case)."""
        live = self.loom.live.get(entity.app)
        return live.app.rollups_over.get(entity.name, []) if live is not None else []

    def changed(self, conn, et, record_id: int, old, depth: int = 0) -> None:
        """A record of ``et`` was written, deleted or restored (``old``: its row before, or None
        for a new one): recompute the rollups of the parents it linked to before and links to now,
        every rollup first, then the automatic transitions of the parents whose values moved.
        A parent whose rollup moved may itself be rolled up (a stage's forecast into its
        project's): its own parents follow, up to :data:`MAX_CHAIN` links up."""
        fields = self.over(et.entity)
        if not fields or depth > MAX_CHAIN:
            return
        t = et.main
        links = sorted({f.spec["link"] for f in fields})
        now = conn.execute(select(*[t.c[n] for n in links]).where(t.c.id == record_id)).mappings().first() or {}
        self._follow(conn, {f: {now.get(f.spec["link"]), (old or {}).get(f.spec["link"])} - {None} for f in fields},
                     depth)

    def imported(self, conn, et, rows: list[dict]) -> None:
        """Records of ``et`` were inserted in bulk (``loom import``): the parents they link to move."""
        fields = self.over(et.entity)
        if fields:
            self._follow(conn, {f: {r.get(f.spec["link"]) for r in rows} - {None} for f in fields}, 0)

    def _follow(self, conn, parents: dict, depth: int) -> None:
        """Recompute each rollup for its parent ids, then follow the parents whose values moved.
        The rollups one link feeds are computed together: one query, one read, one write."""
        groups: dict = {}  # (parent, child, link) -> ([fields], parent ids)
        for f, ids in parents.items():
            if ids:
                fields, all_ids = groups.setdefault((f.entity.ref, f.spec["entity"], f.spec["link"]), ([], set()))
                fields.append(f)
                all_ids |= ids
        moved: dict = {}  # (app, entity) -> parent ids, in the order they moved
        for fields, ids in groups.values():
            for pid in self.refresh(conn, fields, sorted(ids)):
                moved.setdefault((fields[0].entity.app, fields[0].entity.name), []).append(pid)
        for (app, entity), ids in moved.items():
            parent = self.loom.entity_tables(app, entity)
            for pid in dict.fromkeys(ids):
                self.changed(conn, parent, pid, None, depth + 1)
                self.loom.behaviour.auto_transitions(conn, parent, pid)

    def refresh(self, conn, fields: list[Field], parent_ids: list[int]) -> list[int]:
        """Store these rollups (of one parent entity, over one link) for these parent records;
        return the parents whose values moved."""
        values = self.compute(conn, fields, parent_ids)
        f0 = fields[0]
        p = self.loom.entity_tables(f0.entity.app, f0.entity.name).main
        rows = conn.execute(select(p.c.id, *[p.c[f.name] for f in fields]).where(p.c.id.in_(parent_ids))).mappings()
        moved = []
        for row in rows:
            changes = {f.name: values[row["id"]][f.name] for f in fields if row[f.name] != values[row["id"]][f.name]}
            if changes:
                conn.execute(update(p).where(p.c.id == row["id"]).values(changes))
                moved.append(row["id"])
        return moved

    def compute(self, conn, fields: list[Field], parent_ids: list[int]) -> dict:
        """``{parent id: {field: value}}`` of rollups that aggregate the same link: one grouped
        query over the linked records, each rollup's ``where`` applied inside its aggregate."""
        f0 = fields[0]
        child = self.loom.entity_tables(f0.entity.app, f0.spec["entity"])
        c = child.main
        link = c.c[f0.spec["link"]]
        measures = []
        for f in fields:
            function = f.spec.get("function", "count")
            cond = (self.loom.permissions.condition(child.entity, c, f.spec["where"], SYSTEM)
                    if f.spec.get("where") else None)
            if function == "count":
                measure = func.count() if cond is None else func.coalesce(func.sum(case((cond, 1), else_=0)), 0)
            else:
                column = c.c[f.spec["of"]]
                measure = {"sum": func.sum, "min": func.min, "max": func.max}[function](
                    column if cond is None else case((cond, column)))
            measures.append(measure.label(f"_{f.name}"))
        query = select(link, *measures).where(link.in_(parent_ids), c.c.deleted_at.is_(None)).group_by(link)
        found = {row[0]: row for row in conn.execute(query).all()}
        out = {}
        for pid in parent_ids:
            row = found.get(pid)
            out[pid] = {}
            for i, f in enumerate(fields):
                value = row[i + 1] if row is not None else None
                if value is None and f.spec.get("function", "count") in ("count", "sum"):
                    value = 0
                out[pid][f.name] = _typed(f, value)
        return out

    def recompute(self, app: str, entity: str | None = None, field: str | None = None, conn=None) -> dict:
        """Recompute every stored value of the app's rollups (of one entity, or one field): for
        data that existed before the rollup did. Returns ``{"entity.field": records changed}``."""
        live = self.loom.live[app].app
        out = {}
        with (self.loom.engine.begin() if conn is None else _same(conn)) as c:
            for ent in live.entities.values():
                if entity is not None and ent.name != entity:
                    continue
                for f in ent.rollups:
                    if field is not None and f.name != field:
                        continue
                    out[f"{ent.name}.{f.name}"] = self._recompute_field(c, f)
        return out

    def _recompute_field(self, conn, f: Field) -> int:
        p = self.loom.entity_tables(f.entity.app, f.entity.name).main
        last, changed = 0, 0
        while True:
            rows = conn.execute(select(p.c.id, p.c[f.name]).where(p.c.id > last).order_by(p.c.id)
                                .limit(BATCH)).all()
            if not rows:
                return changed
            values = self.compute(conn, [f], [r.id for r in rows])
            moved = [{"_id": r.id, "_v": values[r.id][f.name]} for r in rows if r[1] != values[r.id][f.name]]
            if moved:
                conn.execute(update(p).where(p.c.id == bindparam("_id")).values({f.name: bindparam("_v")}), moved)
            changed += len(moved)
            last = rows[-1].id


def _typed(f: Field, value):
    """The aggregate as the column stores it (SQLite sums money as a float)."""
    if value is None:
        return None
    if f.value_type == "integer":
        return int(value)
    if f.value_type in ("decimal", "money"):
        import decimal
        return decimal.Decimal(str(value)).quantize(decimal.Decimal(1).scaleb(-f.scale))
    return value


class _same:
    """A context manager that hands back a connection its caller owns."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        return False
