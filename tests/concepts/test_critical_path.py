"""The critical path of a Gantt chart: a pure function over start, end and predecessors."""
import datetime as dt

import pytest

from runtime.data.critical_path import Cycle, Task, critical_path


def d(day: int) -> dt.date:
    return dt.date(2026, 3, 1) + dt.timedelta(days=day)


def test_the_longest_chain_is_critical_and_a_parallel_short_task_is_not():
    # design 0-10 -> build 10-30 -> hand over 30-35; paperwork 10-15 runs beside build
    tasks = [Task(1, d(0), d(10)), Task(2, d(10), d(30), [1]), Task(3, d(10), d(15), [1]),
             Task(4, d(30), d(35), [2, 3])]
    assert critical_path(tasks) == {1, 2, 4}


def test_a_predecessor_that_runs_late_pushes_its_successor_onto_the_path():
    # survey ends on day 12 though the works were planned from day 10: the chain via survey decides
    tasks = [Task(1, d(0), d(12)), Task(2, d(0), d(10)), Task(3, d(10), d(20), [1, 2])]
    assert critical_path(tasks) == {1, 3}


def test_independent_tasks_the_latest_end_is_critical():
    assert critical_path([Task(1, d(0), d(5)), Task(2, d(3), d(9))]) == {2}


def test_datetimes_unknown_predecessors_and_missing_dates_are_tolerated():
    at = dt.datetime(2026, 3, 1, 9, 0)
    tasks = [Task(1, at, at + dt.timedelta(hours=4), [99]), Task(2, at + dt.timedelta(hours=4), at + dt.timedelta(hours=6), [1]),
             Task(3, None, None, [1])]
    assert critical_path(tasks) == {1, 2}
    assert critical_path([]) == set()


def test_a_loop_is_refused():
    with pytest.raises(Cycle, match=r"\[1, 2\]"):
        critical_path([Task(1, d(0), d(1), [2]), Task(2, d(1), d(2), [1]), Task(3, d(0), d(1))])
