"""A literal compared with a choice field or ``status`` must be one of its values: ``priority == 1``
(the values are texts) or ``status == 'opne'`` is never true, so the rule holding it would silently
never apply. Publishing refuses it with the file, line and path, in every app and every kind of
expression that reads a record."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metamodel import MetadataError, load_app

APPS = Path(__file__).resolve().parents[2] / "apps_config"


def refused(tmp_path, app: str, file: str, old: str, new: str) -> list[str]:
    folder = tmp_path / app
    shutil.copytree(APPS / app, folder)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MetadataError) as info:
        load_app(folder)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("app, file, old, new, expected", [
    ("municipal", "schedules.yaml", "status in ['in_work', 'rework']", "status in ['in_work', 'rewrok']",
     "schedules.yaml:11 schedules[0].notify_before.when: unknown status 'rewrok'; did you mean 'rework'?"),
    ("service_desk", "sla.yaml", "when: \"priority == '2'\"", "when: \"'2' == priority\"", None),
    ("service_desk", "sla.yaml", "when: \"priority == '2'\"", "when: \"priority == 2\"",
     "sla.yaml:33 policies[1].when: priority holds texts: write priority == '2', not 2"),
    ("it_support", "sla.yaml", "priority == '1' and", "priority == '9' and",
     "sla.yaml:20 policies[0].when: unknown value of priority '9'"),
])
def test_a_literal_no_value_can_equal_is_refused(tmp_path, app, file, old, new, expected):
    if expected is None:  # the literal on the left reads the same
        folder = tmp_path / app
        shutil.copytree(APPS / app, folder)
        (folder / file).write_text((folder / file).read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
        assert load_app(folder).name == app
        return
    problems = refused(tmp_path, app, file, old, new)
    assert any(p.startswith(expected) for p in problems), problems
