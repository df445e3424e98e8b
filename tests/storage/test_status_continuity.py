"""No record is stranded in a status that a newly published (or rolled-back) version lacks."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from metamodel import MetadataError
from runtime.core.statuses import StatusesStranded
from runtime.data import tables as platform
from runtime.data.records import SYSTEM
from tests.ui.conftest import seed
from tests.ui.test_pages import make_request


def with_on_hold(loom) -> int:
    """Publish version 2 of the service desk: a status ``on_hold`` and a transition into it."""
    doc = copy.deepcopy(loom.store.document("service_desk", 1))
    request = doc["entities"]["request"]
    request["statuses"].append({"name": "on_hold", "title": {"ru": "Отложена", "en": "On hold"},
                                "category": "waiting"})
    request["transitions"].append({"name": "hold", "from": "in_work", "to": "on_hold"})
    return loom.store.publish(doc, author="tester", comment="on hold").number


@pytest.fixture
def held(service_desk):
    """Version 2 live, and two of three requests on hold."""
    assert with_on_hold(service_desk) == 2
    reqs = make_request(service_desk, seed(service_desk), 3)
    for r in reqs[:2]:
        service_desk.workflow.transition("service_desk", "request", r["id"], "take", actor=SYSTEM)
        service_desk.workflow.transition("service_desk", "request", r["id"], "hold", actor=SYSTEM)
    return service_desk, reqs


def status_of(loom, record_id):
    return loom.records.get("service_desk", "request", record_id)["status"]


def test_a_rollback_that_would_strand_records_is_refused_naming_them(held):
    loom, reqs = held
    with pytest.raises(StatusesStranded) as info:
        loom.store.rollback("service_desk", 1, author="tester")
    [problem] = info.value.problems
    assert problem.file == "entities/request.yaml" and problem.path == "statuses"
    assert "'on_hold'" in problem.message and "2 record(s)" in problem.message
    assert reqs[0]["number"] in problem.message and reqs[1]["number"] in problem.message
    assert "map it to one of: registered, in_work" in problem.message
    [stranded] = info.value.stranded
    assert (stranded.entity, stranded.status, stranded.count) == ("request", "on_hold", 2)
    assert loom.live_version("service_desk") == 2  # nothing was published
    assert status_of(loom, reqs[0]["id"]) == "on_hold"


def test_a_mapping_to_a_status_the_version_lacks_is_refused(held):
    loom, _ = held
    with pytest.raises(MetadataError, match="mapped to 'frozen', which this version does not have"):
        loom.store.rollback("service_desk", 1, author="tester", status_map={"request": {"on_hold": "frozen"}})
    assert loom.live_version("service_desk") == 2


def test_a_mapped_rollback_moves_the_records_with_history_and_audit(held):
    loom, reqs = held
    published = loom.store.rollback("service_desk", 1, author="ann", status_map={"request": {"on_hold": "in_work"}})
    assert published.number == 3 and loom.live_version("service_desk") == 3
    assert [status_of(loom, r["id"]) for r in reqs] == ["in_work", "in_work", "registered"]
    h = platform.status_history
    with loom.reader.connect() as c:
        moved = c.execute(select(h.c.record_id, h.c.from_status, h.c.to_status).where(
            h.c.transition == "publish:map").order_by(h.c.record_id)).all()
        audit = c.execute(select(platform.audit.c.username, platform.audit.c.after).where(
            platform.audit.c.action == "status.map")).one()
    assert [tuple(m) for m in moved] == [(reqs[0]["id"], "on_hold", "in_work"), (reqs[1]["id"], "on_hold", "in_work")]
    assert audit.username == "ann" and audit.after == {"status": "in_work", "records": 2}
    # the moved records work under the old version: its transitions fire from their new status
    loom.workflow.transition("service_desk", "request", reqs[0]["id"], "ask", actor=SYSTEM)
    assert status_of(loom, reqs[0]["id"]) == "waiting"


def test_publishing_a_draft_that_drops_a_used_status_is_refused_too(held):
    loom, _ = held
    doc = copy.deepcopy(loom.store.document("service_desk", 2))
    doc["entities"]["request"]["statuses"] = [s for s in doc["entities"]["request"]["statuses"]
                                              if s["name"] != "on_hold"]
    doc["entities"]["request"]["transitions"] = [t for t in doc["entities"]["request"]["transitions"]
                                                 if t["name"] != "hold"]
    with pytest.raises(StatusesStranded):
        loom.store.publish(doc, author="tester")


def test_a_dropped_status_nobody_is_in_needs_no_mapping(service_desk):
    with_on_hold(service_desk)
    assert service_desk.store.rollback("service_desk", 1, author="tester").number == 3
