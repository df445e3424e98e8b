"""The record graph on the record page: JSON for clients and an inline SVG drawn here, on the
server, with no script (docs/metadata.md, "Record graph").

Layout: the record in the middle, the records one step away on an ellipse around it, two steps
away on a wider one, each ring ordered by the angle of the node that reached it, so edges
rarely cross. Every node is a link to its record.
"""
from __future__ import annotations

import math

from flask import Response, jsonify, request, url_for
from markupsafe import Markup, escape

from runtime.data.graph import record_graph

from . import meta
from .base import actor, bp, loom
from .i18n import t, tt

NODE_W, NODE_H = 168, 44
RING_X, RING_Y = 215, 135  # the radii of the first ring; ring n is n times as wide
MARGIN = 16
TEXT_CHARS = 22


def graph_json(app: str, entity: str, record_id: int, who, depth=None) -> dict:
    """The graph as JSON: nodes (id, number, title, status, depth, url) and edges (from, to, label)."""
    et = loom().entity_tables(app, entity)
    ent = et.entity
    graph = record_graph(loom(), app, entity, record_id, who, depth)
    hidden = loom().permissions.hidden(who, ent)
    rel = loom().entity_tables(app, ent.spec["graph"]["relation"]).entity
    label_field = rel.fields.get(ent.spec["graph"].get("label") or "")
    titles = meta.Titles(loom(), who)
    if label_field is not None:
        for e in graph.edges:
            titles.want(label_field, e["label"])
    titles.load()
    nodes = []
    for node_id, node in graph.nodes.items():
        row = node["row"]
        title = row.get(ent.title_field) if ent.title_field not in hidden else None
        nodes.append({"id": node_id, "number": row.get("number"), "title": str(title or row.get("number") or node_id),
                      "status": meta.status_title(ent, row.get("status")) if row.get("status") else None,
                      "depth": node["depth"],
                      "url": url_for("ui.record_view", app=app, entity=entity, record_id=node_id)})
    edges = [{"id": e["id"], "from": e["from"], "to": e["to"], "label": e["label"],
              "label_text": meta.display(label_field, e["label"], titles).text if label_field is not None
              and e["label"] is not None else None} for e in graph.edges]
    return {"app": app, "entity": entity, "center": record_id, "depth": graph.depth,
            "title": tt(ent.spec["graph"].get("title")) or t("Relations"),
            "nodes": nodes, "edges": edges, "truncated": graph.truncated}


def layout(data: dict) -> dict[int, tuple[float, float]]:
    """Centre points of the nodes, in rings by depth."""
    by_depth: dict[int, list] = {}
    for n in data["nodes"]:
        by_depth.setdefault(n["depth"], []).append(n["id"])
    neighbours: dict[int, set] = {}
    for e in data["edges"]:
        neighbours.setdefault(e["from"], set()).add(e["to"])
        neighbours.setdefault(e["to"], set()).add(e["from"])
    angle = {data["center"]: 0.0}
    pos = {data["center"]: (0.0, 0.0)}
    for depth in sorted(d for d in by_depth if d > 0):
        def parent_angle(node_id):
            known = [angle[p] for p in neighbours.get(node_id, ()) if p in angle]
            return (min(known) if known else 0.0, node_id)
        ring = sorted(by_depth[depth], key=parent_angle)
        for i, node_id in enumerate(ring):
            a = -math.pi / 2 + 2 * math.pi * i / len(ring) + (depth - 1) * math.pi / max(len(ring), 1) / 2
            angle[node_id] = a % (2 * math.pi)
            pos[node_id] = (RING_X * depth * math.cos(a), RING_Y * depth * math.sin(a))
    return pos


def svg(data: dict) -> Markup:
    """The graph as an inline ``<svg>``: edges with arrows and labels, nodes as links."""
    pos = layout(data)
    xs = [x for x, _ in pos.values()] or [0]
    ys = [y for _, y in pos.values()] or [0]
    left, top = min(xs) - NODE_W / 2 - MARGIN, min(ys) - NODE_H / 2 - MARGIN
    width = max(xs) - min(xs) + NODE_W + 2 * MARGIN
    height = max(ys) - min(ys) + NODE_H + 2 * MARGIN
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="record-graph" role="img" '
           f'viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
           f'aria-label="{escape(data["title"])}">',
           '<defs><marker id="graph-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="graph-arrow"/></marker></defs>']
    for e in data["edges"]:
        if e["from"] not in pos or e["to"] not in pos:
            continue
        (x1, y1), (x2, y2) = _clip(pos[e["from"]], pos[e["to"]]), _clip(pos[e["to"]], pos[e["from"]])
        out.append(f'<g class="graph-edge" data-edge="{e["id"]}" data-from="{e["from"]}" data-to="{e["to"]}">'
                   f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" marker-end="url(#graph-arrow)"/>')
        if e.get("label_text"):
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2
            out.append(f'<text x="{mx:.1f}" y="{my - 4:.1f}" text-anchor="middle">{escape(e["label_text"])}</text>')
        out.append("</g>")
    for n in data["nodes"]:
        x, y = pos[n["id"]]
        kind = "center" if n["depth"] == 0 else f"depth-{n['depth']}"
        title = n["title"] if len(n["title"]) <= TEXT_CHARS else n["title"][:TEXT_CHARS - 1] + "…"
        out.append(f'<a href="{escape(n["url"])}" class="graph-node {kind}" data-node="{n["id"]}">'
                   f'<title>{escape(n["title"])}{" · " + escape(n["status"]) if n["status"] else ""}</title>'
                   f'<rect x="{x - NODE_W / 2:.1f}" y="{y - NODE_H / 2:.1f}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
                   f'<text x="{x:.1f}" y="{y - 4:.1f}" text-anchor="middle" class="graph-number">'
                   f'{escape(n["number"] or "")}</text>'
                   f'<text x="{x:.1f}" y="{y + 13:.1f}" text-anchor="middle">{escape(title)}</text></a>')
    out.append("</svg>")
    return Markup("".join(out))


def _clip(a: tuple, b: tuple) -> tuple[float, float]:
    """Where the line from ``a`` to ``b`` leaves the box of the node at ``a``."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == 0 and dy == 0:
        return a
    scale = min((NODE_W / 2 + 3) / abs(dx) if dx else math.inf, (NODE_H / 2 + 3) / abs(dy) if dy else math.inf)
    return a[0] + dx * scale, a[1] + dy * scale


def for_record(ent, record_id: int) -> dict | None:
    """What the record page shows of the graph: its title, the SVG and the JSON's address."""
    if "graph" not in ent.spec:
        return None
    data = graph_json(ent.app, ent.name, record_id, actor())
    return {"title": data["title"], "svg": svg(data), "count": len(data["nodes"]) - 1,
            "truncated": data["truncated"],
            "url": url_for("ui.record_graph", app=ent.app, entity=ent.name, record_id=record_id)}


@bp.get("/<app>/<entity>/<int:record_id>/graph", endpoint="record_graph")
def record_graph_view(app: str, entity: str, record_id: int):
    """The graph as JSON, or as an SVG image with ``?format=svg``."""
    ent = loom().entity_tables(app, entity).entity
    if "graph" not in ent.spec:
        return jsonify({"detail": f"{entity} declares no graph"}), 404
    data = graph_json(app, entity, record_id, actor(), request.args.get("depth", type=int))
    if request.args.get("format") == "svg":
        return Response(str(svg(data)), mimetype="image/svg+xml")
    return jsonify(data)

