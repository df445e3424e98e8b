"""A generator or an approval naming something that does not exist is refused at publish,
with the file, the line and the path of the wrong name and what would be right."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metamodel import MetadataError, load_app, read_folder

SERVICE_DESK = Path(__file__).resolve().parents[2] / "apps_config" / "service_desk"
SCHEDULES = (SERVICE_DESK / "schedules.yaml").read_text(encoding="utf-8")
APPROVALS = (SERVICE_DESK / "approvals.yaml").read_text(encoding="utf-8")


@pytest.fixture
def app_dir(tmp_path) -> Path:
    folder = tmp_path / "service_desk"
    shutil.copytree(SERVICE_DESK, folder)
    return folder


def write(folder: Path, name: str, good: str, old: str, new: str) -> int:
    """Write ``name`` with ``old`` replaced by ``new``; return the line of ``new``, or for an unknown
    key, of the mapping that holds it (where the schema reports it)."""
    assert old in good, old
    (folder / name).write_text(good.replace(old, new, 1), encoding="utf-8")
    at = good.index(old)
    if "unknown key" in new:
        at = good.index(UNKNOWN_KEY_HOLDER[name])
    return good[:at].count("\n") + 1


UNKNOWN_KEY_HOLDER = {"schedules.yaml": "    generate:", "approvals.yaml": "  - name: cab"}


def refused(folder: Path):
    with pytest.raises(MetadataError) as info:
        load_app(folder)
    return info.value.problems


def test_the_shipped_generator_and_approval_load(app_dir):
    app = load_app(app_dir)
    assert app.section("schedules")["schedules"][0]["generate"]["target"] == "planned_work"
    assert app.section("approvals")["approvals"][0]["rule"] == {"n_of_m": 2}


@pytest.mark.parametrize("old, new, path, message", [
    ("source: calendar_plan", "source: calendar_plna", "schedules[0].generate.source",
     "unknown entity 'calendar_plna'; did you mean 'calendar_plan'?"),
    ("target: planned_work", "target: planed_work", "schedules[0].generate.target",
     "unknown entity 'planed_work'; did you mean 'planned_work'?"),
    ("rows: items", "rows: itmes", "schedules[0].generate.rows",
     "unknown table field of calendar_plan 'itmes'; did you mean 'items'?"),
    ("rows: items", "rows: service", "schedules[0].generate.rows", "'service' is a link field"),
    ("{field: row.periodicity}", "{field: row.periodicty}", "schedules[0].generate.every.field",
     "unknown column of items 'periodicty'; did you mean 'periodicity'?"),
    ("{field: row.periodicity}", "{field: row.work}", "schedules[0].generate.every.field",
     "'row.work' is a string field; the periodicity is read from a choice field"),
    ("{field: row.periodicity}", "fortnightly", "schedules[0].generate.every",
     "'fortnightly' is not valid: expected daily, weekly, monthly"),
    ("when: \"status == 'active'\"", "when: \"stauts == 'active'\"", "schedules[0].generate.when",
     "did you mean 'status'?"),
    ("max(valid_from, contract.valid_from)", "max(valid_from, contract.valid_frm)",
     "schedules[0].generate.valid_from", "unknown field of contract 'valid_frm'; did you mean 'valid_from'?"),
    ("        work: row.work", "        wrk: row.work", "schedules[0].generate.set.wrk",
     "unknown field of planned_work 'wrk'; did you mean 'work'?"),
    ("        work: row.work", "        work: row.wrok", "schedules[0].generate.set.work",
     "unknown column of items 'wrok'; did you mean 'work'?"),
    ("        period_end: period_end", "        period_end: period_ned", "schedules[0].generate.set.period_end",
     "did you mean 'period_end'?"),
    ("      target: planned_work", "      target: planned_work\n      ahaed: 7 days  # unknown key", "schedules[0].generate",
     "unknown key 'ahaed' (did you mean 'ahead'?)"),
])
def test_a_wrong_generator_name_is_refused_with_file_line_and_path(app_dir, old, new, path, message):
    line = write(app_dir, "schedules.yaml", SCHEDULES, old, new)
    [p] = refused(app_dir)
    assert (p.file, p.path, p.line) == ("schedules.yaml", path, line), p
    assert message in p.message, p.message


@pytest.mark.parametrize("old, new, path, message", [
    ("entity: change", "entity: chnage", "approvals[0].entity", "unknown entity 'chnage'; did you mean 'change'?"),
    ("start: approval", "start: aproval", "approvals[0].start", "unknown status 'aproval'; did you mean 'approval'?"),
    ("{roles: [cab]}", "{roles: [cabb]}", "approvals[0].approvers.roles[0]", "unknown role 'cabb'; did you mean 'cab'?"),
    ("{roles: [cab]}", "{fields: [titel]}", "approvals[0].approvers.fields[0]",
     "unknown field 'titel'; did you mean 'title'?"),
    ("{roles: [cab]}", "{fields: [title]}", "approvals[0].approvers.fields[0]",
     "'title' is a string field; approvers come from a user or group field"),
    ("on_approved: approve", "on_approved: aprove", "approvals[0].on_approved",
     "unknown transition 'aprove'; did you mean 'approve'?"),
    ("on_rejected: reject", "on_rejected: submit", "approvals[0].on_rejected",
     "transition 'submit' goes from draft, not from 'approval'"),
    ("rule: {n_of_m: 2}", "rule: most", "approvals[0].rule", "'most' is not valid: expected all, any, or {n_of_m: N}"),
    ("deadline: 3 business days", "deadline: 3 bussiness days", "approvals[0].deadline", "does not fit"),
    ("    on_timeout: reject", "    on_timout: reject  # unknown key", "approvals[0]",
     "unknown key 'on_timout' (did you mean 'on_timeout'?)"),
])
def test_a_wrong_approval_name_is_refused_with_file_line_and_path(app_dir, old, new, path, message):
    line = write(app_dir, "approvals.yaml", APPROVALS, old, new)
    [p] = refused(app_dir)
    assert (p.file, p.path, p.line) == ("approvals.yaml", path, line), p
    assert message in p.message, p.message


def test_publishing_refuses_a_wrong_approval_on_both_backends(loom, app_dir):
    write(app_dir, "approvals.yaml", APPROVALS, "start: approval", "start: approvd")
    doc, _ = read_folder(app_dir)
    with pytest.raises(MetadataError) as info:
        loom.store.publish(doc, author="ann")
    assert [(p.file, p.path) for p in info.value.problems] == [("approvals.yaml", "approvals[0].start")]
    assert "service_desk" not in loom.live
