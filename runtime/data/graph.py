"""The relation graph of a record (an entity's ``graph:``, docs/metadata.md "Record graph").

Edges are records of a relation entity with two links to the entity (``from``, ``to``) and an
optional ``label`` field. Starting at one record, the graph takes the records related to it,
then theirs, up to ``depth`` steps, reading everything as the viewer may: a relation or a
record they may not read is not there, and the walk does not pass through it, so the graph
never tells that a hidden record exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from .query import Filter, ListQuery

DEFAULT_DEPTH = 2
MAX_NODES = 60  # a page shows a neighbourhood, not the whole CMDB
MAX_EDGES = 200


@dataclass
class Graph:
    center: int
    depth: int
    nodes: dict = field(default_factory=dict)   # id -> {"row": record row, "depth": steps from the centre}
    edges: list = field(default_factory=list)   # {"id", "from", "to", "label"}
    truncated: bool = False


def record_graph(loom, app: str, entity: str, record_id: int, actor, depth: int | None = None) -> Graph:
    """The graph around record ``record_id``; ``NotFound`` when the viewer may not read it."""
    et = loom.entity_tables(app, entity)
    spec = et.entity.spec["graph"]
    depth = max(1, min(int(depth or spec.get("depth", DEFAULT_DEPTH)), 4))
    rel = loom.entity_tables(app, spec["relation"])
    src, dst = rel.main.c[spec["from"]], rel.main.c[spec["to"]]
    label = spec.get("label")
    hidden = loom.permissions.hidden(actor, rel.entity)
    graph = Graph(record_id, depth)
    with loom.reader.connect() as c:
        graph.nodes[record_id] = {"row": loom.records._fetch(c, et, record_id, actor=actor), "depth": 0}
        if not loom.permissions.allowed(actor, rel.entity, "read"):
            return graph
        frontier = {record_id}
        for step in range(1, depth + 1):
            query = select(src, dst).where(or_(src.in_(frontier), dst.in_(frontier)), rel.main.c.deleted_at.is_(None))
            query = loom.permissions.restrict(query, rel, actor).limit(MAX_EDGES + 1)
            ends = {end for row in c.execute(query) for end in row if end is not None} - set(graph.nodes)
            room = MAX_NODES - len(graph.nodes)
            if len(ends) > room:
                graph.truncated = True
                ends = set(sorted(ends)[:room])
            frontier = set()
            for row in _visible(loom, c, et, ends, actor):
                graph.nodes[row["id"]] = {"row": row, "depth": step}
                frontier.add(row["id"])
            if not frontier:
                break
        ids = list(graph.nodes)
        columns = [rel.main.c.id, src, dst] + ([rel.main.c[label]] if label and label not in hidden else [])
        query = select(*columns).where(src.in_(ids), dst.in_(ids), rel.main.c.deleted_at.is_(None))
        query = loom.permissions.restrict(query, rel, actor).order_by(rel.main.c.id).limit(MAX_EDGES + 1)
        rows = c.execute(query).mappings().all()
        graph.truncated = graph.truncated or len(rows) > MAX_EDGES
        graph.edges = [{"id": r["id"], "from": r[spec["from"]], "to": r[spec["to"]],
                        "label": r.get(label) if label else None} for r in rows[:MAX_EDGES]]
    return graph


def _visible(loom, conn, et, ids: set, actor) -> list:
    """The records among ``ids`` the viewer may read (row rules apply), not deleted."""
    if not ids:
        return []
    page = ListQuery(loom, et).run(conn, [], ["id"], limit=MAX_NODES, actor=actor,
                                   view_filters=[Filter("id", "in", sorted(ids))])
    return [dict(row) for row in page.items]
