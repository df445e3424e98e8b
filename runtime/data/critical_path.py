"""The critical path of a plan: the chain of tasks whose delay delays the end of the whole plan.

Pure: tasks in, ids out, no database. A task has a start, an end and the ids of its predecessors
(finish-to-start). The forward pass gives each task its earliest start, no earlier than its own
planned start and the latest finish of its predecessors; the backward pass gives its latest
finish, no later than the plan's end and the earliest latest-start of its successors. A task
with no slack between the two is critical.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class Task:
    id: int
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    after: list[int] = field(default_factory=list)  # predecessors' ids


class Cycle(ValueError):
    """The dependencies loop: no task of the loop can start first."""


def _order(tasks: dict[int, Task], successors: dict[int, list[int]]) -> list[int]:
    """Predecessors before successors (Kahn)."""
    left = {i: len(set(_preds(t, tasks))) for i, t in tasks.items()}
    ready = sorted(i for i, n in left.items() if n == 0)
    out = []
    while ready:
        i = ready.pop()
        out.append(i)
        for j in successors[i]:
            left[j] -= 1
            if left[j] == 0:
                ready.append(j)
    if len(out) != len(tasks):
        raise Cycle(f"the dependencies loop through {sorted(set(tasks) - set(out))}")
    return out


def _preds(t: Task, tasks: dict) -> list[int]:
    """A task's predecessors within the plan (others, and itself, are ignored)."""
    return [p for p in dict.fromkeys(t.after) if p in tasks and p != t.id]


def critical_path(items: list[Task]) -> set[int]:
    """Ids of the tasks with no slack. Raises :class:`Cycle` when the dependencies loop."""
    tasks = {t.id: t for t in items if t.start is not None and t.end is not None}
    if not tasks:
        return set()
    successors: dict[int, list[int]] = {i: [] for i in tasks}
    for i, t in tasks.items():
        for p in _preds(t, tasks):
            successors[p].append(i)
    order = _order(tasks, successors)
    duration = {i: t.end - t.start for i, t in tasks.items()}
    early_start, early_finish = {}, {}
    for i in order:
        t = tasks[i]
        early_start[i] = max([t.start] + [early_finish[p] for p in _preds(t, tasks)])
        early_finish[i] = early_start[i] + duration[i]
    plan_end = max(early_finish.values())
    late_start = {}
    for i in reversed(order):
        late_finish = min([plan_end] + [late_start[s] for s in successors[i]])
        late_start[i] = late_finish - duration[i]
    return {i for i in tasks if late_start[i] <= early_start[i]}
