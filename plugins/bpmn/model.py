"""What BPMN and Loom share: namespaces, sizes of the diagram, durations, the layout.

An entity's workflow maps to one BPMN process: each status is a task, the initial status
follows a start event, a done or cancelled status also flows to an end event, a transition
is a sequence flow per source status (a timer transition leaves from a timer boundary event
on its source task), and each role of the transitions is a lane. Whatever BPMN has no
element for (a status's category, a transition's roles, its Loom name and titles) travels
in attributes of the ``loom:`` namespace, which BPMN allows on every element.
"""
from __future__ import annotations

import re

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
LOOM = "https://loom.dev/schema/bpmn"
NSMAP = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI, "xsi": XSI, "loom": LOOM}

W, H = 150, 50             # a status box, as the designer's workflow editor draws it
EVENT = 36                 # a start, end or boundary event's circle
END_CATEGORIES = ("done", "cancelled")

_LOOM_DURATION = re.compile(r"^(\d+(?:\.\d+)?) ?(business )?(minutes?|hours?|days?|weeks?|m|h|d|w)$")
_ISO_DURATION = re.compile(r"^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?)?$")


def froms(transition: dict) -> list[str]:
    value = transition.get("from")
    return list(value) if isinstance(value, list) else ([value] if value else [])


def iso_duration(after: str) -> str:
    """``"5 business days"`` -> ``"P5D"`` (BPMN's timeDuration is ISO 8601; working time
    is kept apart, in ``loom:after``)."""
    match = _LOOM_DURATION.match(after.strip())
    if not match:
        raise ValueError(f"{after!r} is not a duration such as '4 hours' or '5 business days'")
    number, unit = match.group(1), match.group(3)[0]
    return {"m": f"PT{number}M", "h": f"PT{number}H", "d": f"P{number}D", "w": f"P{number}W"}[unit]


def loom_duration(iso: str) -> str:
    """``"PT4H"`` -> ``"4 hours"``: one unit only, as Loom's timers take."""
    match = _ISO_DURATION.match(iso.strip())
    parts = [(v, u) for v, u in zip(match.groups(), ("weeks", "days", "hours", "minutes")) if v] if match else []
    if len(parts) != 1:
        raise ValueError(f"{iso!r} is not an ISO 8601 duration of one unit (P5D, PT4H, PT30M, P2W)")
    return f"{parts[0][0]} {parts[0][1]}"


def layout(statuses: list[dict], transitions: list[dict]) -> dict[str, tuple[float, float]]:
    """Top-left corners of the status boxes: a status's stored ``layout`` where it has one,
    else columns by distance from the initial status, as the designer's editor places them."""
    names = [s["name"] for s in statuses]
    depth, queue = {}, [s["name"] for s in statuses if s.get("initial")][:1] or names[:1]
    for name in queue:
        depth[name] = 0
    while queue:
        current = queue.pop(0)
        for tr in transitions:
            if current in froms(tr) and tr.get("to") in names and tr["to"] not in depth:
                depth[tr["to"]] = depth[current] + 1
                queue.append(tr["to"])
    deepest = max(depth.values(), default=0)
    rows: dict[int, int] = {}
    out = {}
    for s in statuses:
        d = depth.get(s["name"], deepest + 1)
        row = rows.get(d, 0)
        rows[d] = row + 1
        where = s.get("layout")
        out[s["name"]] = (where["x"], where["y"]) if where else (110 + d * 210, 60 + row * 110)
    return out
