"""A BPMN 2.0 process read back as an entity's statuses and transitions.

Only what an entity's workflow can hold is taken: tasks (``task``, ``userTask``,
``manualTask``), one start event, end events, sequence flows (with a condition), timer
boundary events and lanes; anything else in the process (a gateway, a sub-process, a
message event ...) is refused naming the element and its line, so nothing is silently lost.
The parser resolves no entities, reads no DTD and touches no network (no XXE).
"""
from __future__ import annotations

import re

from lxml import etree

from .model import BPMN, BPMNDI, DC, LOOM, loom_duration

TASKS = ("task", "userTask", "manualTask")
# children of a process, a flow node or a lane that carry nothing a workflow needs, or that we read
TAKEN = {"laneSet", "lane", "flowNodeRef", "childLaneSet", "incoming", "outgoing", "documentation",
         "extensionElements", "conditionExpression", "timerEventDefinition", "timeDuration", "textAnnotation",
         "association"}
TOP = {"process", "collaboration", "participant", "BPMNDiagram", "documentation", "extensionElements"}
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class BpmnError(ValueError):
    """A document we cannot take, with the line it is on."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def _parser():
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def parse(data: bytes):
    """The root element; refuses a DOCTYPE outright (entities are how XXE and billion laughs come)."""
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise BpmnError(f"not well-formed XML: {exc.msg}", exc.lineno) from None
    if tree.docinfo.doctype:
        raise BpmnError("a DOCTYPE is not accepted in a BPMN file (no DTDs, no entities)", 1)
    root = tree.getroot()
    if root.tag != f"{{{BPMN}}}definitions":
        raise BpmnError(f"the root element is {etree.QName(root).localname}, not BPMN 2.0 definitions "
                        f"(namespace {BPMN})", root.sourceline)
    return root


def _local(el) -> str:
    return etree.QName(el).localname


def _slug(text: str | None) -> str | None:
    value = re.sub(r"[^a-z0-9_]+", "_", (text or "").strip().lower()).strip("_")
    value = re.sub(r"^[^a-z]+", "", value)[:40]
    return value if value and NAME.fullmatch(value) else None


def _titles(el) -> dict:
    prefix = f"{{{LOOM}}}title-"
    out = {k[len(prefix):]: v for k, v in el.attrib.items() if k.startswith(prefix)}
    # a Loom export names every element (the status's name when it has no title): only files
    # drawn elsewhere take ``name`` as the title
    if not out and el.get(f"{{{LOOM}}}name") is None and (el.get("name") or "").strip():
        out = {"ru": el.get("name").strip()}
    return out


def read(data: bytes, process_id: str | None = None) -> dict:
    """``{"statuses": [...], "transitions": [...], "title": {...}}`` of the (first, or named)
    process; raises :class:`BpmnError` naming the element and line of anything unsupported."""
    root = parse(data)
    for el in root:
        if isinstance(el.tag, str) and el.getparent() is root and _local(el) not in TOP | {"import"}:
            if el.tag.startswith(f"{{{BPMN}}}"):
                raise BpmnError(f"unsupported element {_local(el)}: a Loom workflow holds one process", el.sourceline)
    processes = root.findall(f"{{{BPMN}}}process")
    if process_id:
        processes = [p for p in processes if p.get("id") == process_id]
    if not processes:
        raise BpmnError("the file has no process" + (f" {process_id!r}" if process_id else ""), root.sourceline)
    process = processes[0]
    for el in process.iter():
        if not isinstance(el.tag, str) or el is process or not el.tag.startswith(f"{{{BPMN}}}"):
            continue
        name = _local(el)
        if name in TAKEN or name in TASKS or name in ("startEvent", "endEvent", "boundaryEvent", "sequenceFlow"):
            if name in ("startEvent", "endEvent") and any(_local(c).endswith("EventDefinition") for c in el
                                                          if isinstance(c.tag, str)):
                raise BpmnError(f"unsupported element {name} with an event definition: only a plain start or end "
                                f"event is taken", el.sourceline)
            if name == "boundaryEvent" and el.find(f"{{{BPMN}}}timerEventDefinition") is None:
                raise BpmnError("unsupported element boundaryEvent without a timerEventDefinition: only timers "
                                "become transitions", el.sourceline)
            continue
        raise BpmnError(f"unsupported element {name}: Loom statuses and transitions have no {name}", el.sourceline)

    nodes = {el.get("id"): el for el in process.iter() if isinstance(el.tag, str) and el.get("id")}
    tasks = [el for el in process if isinstance(el.tag, str) and _local(el) in TASKS]
    status_of, statuses = {}, []
    for el in tasks:
        name = el.get(f"{{{LOOM}}}name") or _slug(el.get("id")) or _slug(el.get("name"))
        if not name or not NAME.fullmatch(name):
            raise BpmnError(f"task {el.get('id')!r} gives no status name (lower_snake_case, at most 40 characters)",
                            el.sourceline)
        if name in status_of.values():
            raise BpmnError(f"two tasks give the status {name!r}", el.sourceline)
        status_of[el.get("id")] = name
        status = {"name": name}
        if _titles(el):
            status["title"] = _titles(el)
        for key in ("category", "color"):
            if el.get(f"{{{LOOM}}}{key}"):
                status[key] = el.get(f"{{{LOOM}}}{key}")
        statuses.append(status)
    by_name = {s["name"]: s for s in statuses}

    roles_of_lane = {}  # task id -> the lane's name as a role, for files drawn elsewhere
    for lane in process.iter(f"{{{BPMN}}}lane"):
        role = _slug(lane.get("name"))
        for ref in lane.findall(f"{{{BPMN}}}flowNodeRef"):
            if role:
                roles_of_lane.setdefault((ref.text or "").strip(), role)

    transitions: dict[str, dict] = {}
    start_targets, end_sources = [], []
    for flow in process.findall(f"{{{BPMN}}}sequenceFlow"):
        source, target = nodes.get(flow.get("sourceRef")), nodes.get(flow.get("targetRef"))
        if source is None or target is None:
            raise BpmnError(f"sequenceFlow {flow.get('id')!r} joins an element the process does not have",
                            flow.sourceline)
        if _local(source) == "startEvent":
            start_targets.append((flow, target))
            continue
        if _local(target) == "endEvent":
            end_sources.append(source)
            continue
        timer = None
        if _local(source) == "boundaryEvent":
            timer = source
            source = nodes.get(source.get("attachedToRef"))
            if source is None or _local(source) not in TASKS:
                raise BpmnError(f"boundaryEvent {timer.get('id')!r} is not attached to a task", timer.sourceline)
        if _local(source) not in TASKS or _local(target) not in TASKS:
            raise BpmnError(f"sequenceFlow {flow.get('id')!r} must go from a task to a task, a start event to a task "
                            f"or a task to an end event", flow.sourceline)
        name = flow.get(f"{{{LOOM}}}name") or _slug(flow.get("name")) or _slug(flow.get("id"))
        if not name:
            raise BpmnError(f"sequenceFlow {flow.get('id')!r} gives no transition name", flow.sourceline)
        transition = {"name": name}
        if _titles(flow):
            transition["title"] = _titles(flow)
        transition["to"] = flow.get(f"{{{LOOM}}}to") or status_of[target.get("id")]
        roles = (flow.get(f"{{{LOOM}}}roles") or "").split() or (
            # a file drawn in another tool: the lane of the source task says who moves records on
            [roles_of_lane[source.get("id")]] if source.get("id") in roles_of_lane and
            flow.get(f"{{{LOOM}}}name") is None else [])
        if roles:
            transition["roles"] = roles
        if flow.get(f"{{{LOOM}}}groups"):
            transition["groups"] = flow.get(f"{{{LOOM}}}groups").split()
        condition = flow.find(f"{{{BPMN}}}conditionExpression")
        if condition is not None and (condition.text or "").strip():
            transition["condition"] = condition.text.strip()
        if timer is not None:
            transition["timer"] = _timer(timer)
        same = transitions.get(name)
        if same is None:
            transition["from"] = [status_of[source.get("id")]]
            if flow.get(f"{{{LOOM}}}from") == "*":
                transition["_any"] = True
            transitions[name] = transition
        elif {k: v for k, v in same.items() if k not in ("from", "_any")} == transition:
            same["from"].append(status_of[source.get("id")])
        else:
            raise BpmnError(f"sequenceFlow {flow.get('id')!r} is transition {name!r} again, with another target, "
                            f"roles, condition or timer", flow.sourceline)

    if len(start_targets) > 1 or len(process.findall(f"{{{BPMN}}}startEvent")) > 1:
        raise BpmnError("a workflow has one start: one start event with one flow to the initial task",
                        (start_targets[1][0] if len(start_targets) > 1 else process).sourceline)
    if start_targets:
        initial = by_name[status_of[start_targets[0][1].get("id")]]
        initial["initial"] = True
        initial.setdefault("category", "open")
    for el in end_sources:
        if _local(el) in TASKS:
            by_name[status_of[el.get("id")]].setdefault("category", "done")
    _positions(root, process, statuses, status_of)

    out = []
    for tr in transitions.values():
        sources = tr.pop("from")
        tr = {"name": tr["name"], **({"title": tr["title"]} if "title" in tr else {}),
             "from": "*" if tr.pop("_any", False) else (sources[0] if len(sources) == 1 else sources),
             **{k: v for k, v in tr.items() if k not in ("name", "title")}}
        out.append(tr)
    return {"title": _titles(process), "statuses": statuses, "transitions": out}


def _timer(event) -> dict:
    definition = event.find(f"{{{BPMN}}}timerEventDefinition")
    after = event.get(f"{{{LOOM}}}after")
    if not after:
        duration = definition.find(f"{{{BPMN}}}timeDuration")
        if duration is None or not (duration.text or "").strip():
            raise BpmnError("a timer boundary event needs a timeDuration (timeDate and timeCycle are not taken)",
                            definition.sourceline)
        try:
            after = loom_duration(duration.text)
        except ValueError as exc:
            raise BpmnError(str(exc), duration.sourceline) from None
    timer = {"after": after}
    if event.get(f"{{{LOOM}}}calendar"):
        timer["calendar"] = event.get(f"{{{LOOM}}}calendar")
    return timer


def _positions(root, process, statuses, status_of) -> None:
    """Each status's ``layout`` from its shape's bounds in the diagram of this process."""
    by_name = {s["name"]: s for s in statuses}
    for plane in root.iter(f"{{{BPMNDI}}}BPMNPlane"):
        for shape in plane.iter(f"{{{BPMNDI}}}BPMNShape"):
            name = status_of.get(shape.get("bpmnElement"))
            bounds = shape.find(f"{{{DC}}}Bounds")
            if name and bounds is not None:
                try:
                    by_name[name]["layout"] = {"x": _number(bounds.get("x")), "y": _number(bounds.get("y"))}
                except (TypeError, ValueError):
                    raise BpmnError("a BPMNShape's Bounds need numbers x and y", bounds.sourceline) from None


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value
