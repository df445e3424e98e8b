"""An entity's workflow as a BPMN 2.0 document (see :mod:`.model` for the mapping)."""
from __future__ import annotations

from lxml import etree

from .model import BPMN, BPMNDI, DC, DI, END_CATEGORIES, EVENT, H, LOOM, NSMAP, W, XSI, froms, iso_duration, layout


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _text(title, fallback: str) -> str:
    if isinstance(title, dict):
        return title.get("ru") or title.get("en") or next(iter(title.values()), fallback)
    return title or fallback


def _titles(element, title) -> None:
    """Every language of a title as ``loom:title-<lang>`` (BPMN's ``name`` holds one)."""
    if isinstance(title, dict):
        for lang_, text in title.items():
            element.set(_q(LOOM, f"title-{lang_}"), text)


def to_bpmn(app: str, entity: str, spec: dict) -> bytes:
    """The BPMN 2.0 XML of ``entity``'s statuses, transitions, timers and roles."""
    statuses = [s for s in spec.get("statuses") or [] if isinstance(s, dict)]
    transitions = [tr for tr in spec.get("transitions") or [] if isinstance(tr, dict)]
    names = [s["name"] for s in statuses]
    root = etree.Element(_q(BPMN, "definitions"), nsmap=NSMAP)
    root.set("id", f"Definitions_{app}_{entity}")
    root.set("targetNamespace", f"https://loom.dev/apps/{app}")
    root.set("exporter", "Loom")
    root.set("exporterVersion", "1")
    process = etree.SubElement(root, _q(BPMN, "process"), id=f"Process_{entity}", isExecutable="false",
                               name=_text(spec.get("title"), entity))
    process.set(_q(LOOM, "entity"), entity)

    # lanes: a status sits in the lane of the first role that may move a record out of it
    roles = list(dict.fromkeys(r for tr in transitions for r in tr.get("roles") or []))
    lane_of = {}
    for tr in transitions:
        for source in froms(tr):
            if tr.get("roles") and source not in lane_of:
                lane_of[source] = tr["roles"][0]
    if roles:
        lane_set = etree.SubElement(process, _q(BPMN, "laneSet"), id=f"LaneSet_{entity}")
        for role in roles:
            lane = etree.SubElement(lane_set, _q(BPMN, "lane"), id=f"Lane_{role}", name=role)
            for name in names:
                if lane_of.get(name) == role:
                    etree.SubElement(lane, _q(BPMN, "flowNodeRef")).text = f"Task_{name}"

    nodes, flows = [], []  # (id, kind) for shapes; (id, source, target) for edges
    initial = next((s["name"] for s in statuses if s.get("initial")), names[0] if names else None)
    if initial:
        etree.SubElement(process, _q(BPMN, "startEvent"), id="StartEvent", name="")
        nodes.append(("StartEvent", "start"))
    for s in statuses:
        task = etree.SubElement(process, _q(BPMN, "task"), id=f"Task_{s['name']}", name=_text(s.get("title"), s["name"]))
        task.set(_q(LOOM, "name"), s["name"])
        if s.get("category"):
            task.set(_q(LOOM, "category"), s["category"])
        if s.get("color"):
            task.set(_q(LOOM, "color"), s["color"])
        _titles(task, s.get("title"))
        nodes.append((task.get("id"), "task"))
    for s in statuses:
        if s.get("category") in END_CATEGORIES:
            etree.SubElement(process, _q(BPMN, "endEvent"), id=f"EndEvent_{s['name']}")
            nodes.append((f"EndEvent_{s['name']}", "end"))
    if initial:
        flows.append(("Flow_start", "StartEvent", f"Task_{initial}", None))

    for tr in transitions:
        any_from = tr.get("from") == "*"
        sources = [n for n in names if n != tr["to"]] if any_from else froms(tr)
        target = tr["to"]
        if target not in names:  # $previous: back to where the record came from, one flow per source
            target = None
        for source in sources:
            flow_id = f"Flow_{tr['name']}_{source}"
            start = f"Task_{source}"
            if tr.get("timer"):
                start = f"Timer_{tr['name']}_{source}"
                event = etree.SubElement(process, _q(BPMN, "boundaryEvent"), id=start, attachedToRef=f"Task_{source}",
                                         cancelActivity="true", name=_text(tr.get("title"), tr["name"]))
                event.set(_q(LOOM, "after"), tr["timer"]["after"])
                if tr["timer"].get("calendar"):
                    event.set(_q(LOOM, "calendar"), tr["timer"]["calendar"])
                definition = etree.SubElement(event, _q(BPMN, "timerEventDefinition"), id=f"TimerDef_{tr['name']}_{source}")
                duration = etree.SubElement(definition, _q(BPMN, "timeDuration"))
                duration.set(_q(XSI, "type"), "bpmn:tFormalExpression")
                duration.text = iso_duration(tr["timer"]["after"])
                nodes.append((start, "boundary"))
            flows.append((flow_id, start, f"Task_{target or source}", tr | {"_any": any_from, "_previous": target is None}))
    for s in statuses:
        if s.get("category") in END_CATEGORIES:
            flows.append((f"Flow_end_{s['name']}", f"Task_{s['name']}", f"EndEvent_{s['name']}", None))

    for flow_id, source, target, tr in flows:
        flow = etree.SubElement(process, _q(BPMN, "sequenceFlow"), id=flow_id, sourceRef=source, targetRef=target)
        if tr is None:
            continue
        flow.set("name", _text(tr.get("title"), tr["name"]))
        flow.set(_q(LOOM, "name"), tr["name"])
        _titles(flow, tr.get("title"))
        for key in ("roles", "groups"):
            if tr.get(key):
                flow.set(_q(LOOM, key), " ".join(tr[key]))
        if tr["_any"]:
            flow.set(_q(LOOM, "from"), "*")
        if tr["_previous"]:
            flow.set(_q(LOOM, "to"), tr["to"])
        if tr.get("condition"):
            condition = etree.SubElement(flow, _q(BPMN, "conditionExpression"))
            condition.set(_q(XSI, "type"), "bpmn:tFormalExpression")
            condition.set("language", "https://loom.dev/expressions")
            condition.text = tr["condition"]
    _order_incoming_outgoing(process)
    _diagram(root, process, entity, statuses, transitions, nodes, flows)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _order_incoming_outgoing(process) -> None:
    """The ``incoming``/``outgoing`` refs of every flow node, which BPMN tools read; they come
    first in a node (it has no documentation), before a timer's event definition."""
    refs: dict[str, list] = {}
    for flow in process.findall(_q(BPMN, "sequenceFlow")):
        refs.setdefault(flow.get("targetRef"), [[], []])[0].append(flow.get("id"))
        refs.setdefault(flow.get("sourceRef"), [[], []])[1].append(flow.get("id"))
    for node in process:
        if node.get("id") not in refs:
            continue
        incoming, outgoing = refs[node.get("id")]
        for i, (tag, flow_id) in enumerate([("incoming", f) for f in incoming] + [("outgoing", f) for f in outgoing]):
            ref = etree.Element(_q(BPMN, tag))
            ref.text = flow_id
            node.insert(i, ref)


def _diagram(root, process, entity, statuses, transitions, nodes, flows) -> None:
    boxes = {f"Task_{name}": (x, y, W, H) for name, (x, y) in layout(statuses, transitions).items()}
    initial = next((s["name"] for s in statuses if s.get("initial")), statuses[0]["name"] if statuses else None)
    if initial:
        x, y, _, _ = boxes[f"Task_{initial}"]
        boxes["StartEvent"] = (x - 70, y + (H - EVENT) / 2, EVENT, EVENT)
    for s in statuses:
        if s.get("category") in END_CATEGORIES:
            x, y, _, _ = boxes[f"Task_{s['name']}"]
            boxes[f"EndEvent_{s['name']}"] = (x + W + 20, y + (H - EVENT) / 2, EVENT, EVENT)
    timers_on: dict[str, int] = {}
    for node_id, kind in nodes:
        if kind == "boundary":
            task = process.find(f"{{{BPMN}}}boundaryEvent[@id='{node_id}']").get("attachedToRef")
            x, y, w, h = boxes[task]
            n = timers_on.get(task, 0)
            timers_on[task] = n + 1
            boxes[node_id] = (x + w - EVENT - 4 - n * (EVENT + 4), y + h - EVENT / 2, EVENT, EVENT)

    diagram = etree.SubElement(root, _q(BPMNDI, "BPMNDiagram"), id=f"Diagram_{entity}")
    plane = etree.SubElement(diagram, _q(BPMNDI, "BPMNPlane"), id=f"Plane_{entity}", bpmnElement=process.get("id"))
    for node_id, _kind in nodes:
        shape = etree.SubElement(plane, _q(BPMNDI, "BPMNShape"), id=f"{node_id}_di", bpmnElement=node_id)
        x, y, w, h = boxes[node_id]
        etree.SubElement(shape, _q(DC, "Bounds"), x=_num(x), y=_num(y), width=_num(w), height=_num(h))
    for flow_id, source, target, _t in flows:
        edge = etree.SubElement(plane, _q(BPMNDI, "BPMNEdge"), id=f"{flow_id}_di", bpmnElement=flow_id)
        for x, y in _waypoints(boxes[source], boxes[target]):
            etree.SubElement(edge, _q(DI, "waypoint"), x=_num(x), y=_num(y))


def _waypoints(a, b) -> list[tuple[float, float]]:
    """From the side of box ``a`` facing ``b`` to the side of ``b`` facing ``a``."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    (acx, acy), (bcx, bcy) = (ax + aw / 2, ay + ah / 2), (bx + bw / 2, by + bh / 2)
    if a == b:  # a flow back to its own status (``$previous``): a small loop above it
        return [(acx - 20, ay), (acx - 20, ay - 30), (acx + 20, ay - 30), (acx + 20, ay)]
    if abs(bcx - acx) >= abs(bcy - acy):
        sign = 1 if bcx > acx else -1
        return [(acx + sign * aw / 2, acy), (bcx - sign * bw / 2, bcy)]
    sign = 1 if bcy > acy else -1
    return [(acx, acy + sign * ah / 2), (bcx, bcy - sign * bh / 2)]


def _num(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):.1f}"
