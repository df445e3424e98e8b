"""What the designer says about statuses at publish and rollback: a new status that a view's
status list leaves out is a warning; a rollback that would strand records asks for a mapping."""
from __future__ import annotations

import copy

import pytest

from metamodel import App
from metamodel.warnings import publish_warnings
from tests.conftest import APPS
from tests.designer.test_editors import page, payload, save
from tests.storage.test_status_continuity import status_of, with_on_hold
from tests.ui.conftest import seed
from tests.ui.test_pages import make_request

from .test_pages import html

DESK = "/designer/apps/service_desk"


@pytest.fixture
def desk(designer_loom):
    designer_loom.store.install(APPS / "service_desk", author="tester")
    return designer_loom


def test_a_new_status_left_out_of_a_views_status_list_is_a_warning(desk):
    old = desk.live["service_desk"].app
    doc = copy.deepcopy(old.document)
    request = doc["entities"]["request"]
    request["statuses"].append({"name": "on_hold", "title": {"ru": "Отложена", "en": "On hold"}})
    request["views"].append({"name": "active", "filters": [{"field": "status", "op": "in",
                                                             "value": ["registered", "in_work"]}]})
    where = f"views[{len(request['views']) - 1}].filters[0]"
    [warning] = [w for w in publish_warnings(old, App(doc)) if w.path == where]
    assert warning.file == "entities/request.yaml"
    assert "the new status 'on_hold' is not in this status list" in warning.message and "'active'" in warning.message
    request["views"][-1]["filters"][0]["value"].append("on_hold")
    assert where not in [w.path for w in publish_warnings(old, App(doc))]  # listed: no warning
    # the shipped views and reports with status lists are named too
    assert {(w.file, w.path) for w in publish_warnings(old, App(doc))} >= {("entities/request.yaml", "views[0].filters[0]"),
                                                                        ("reports.yaml", "reports[9].filters[0]")}
    assert publish_warnings(None, App(doc)) == []  # a first version has no new statuses


def test_the_publish_page_shows_the_warning_with_a_link_to_its_editor(desk, ann):
    url = f"{DESK}/entities/request/workflow"
    workflow = payload(page(ann.get(url)))
    workflow["statuses"].append({"name": "on_hold", "title": {"ru": "Отложена", "en": "On hold"}})
    assert save(ann, url, workflow).status_code == 302
    text = html(ann.get(f"{DESK}/publish"))
    assert 'id="publish-warnings"' in text and "the new status &#39;on_hold&#39; is not in this status list" in text
    assert 'href="/designer/apps/service_desk/entities/request/views' in text
    assert 'id="publish-button"' in text and 'id="publish-button" disabled' not in text  # a warning never blocks


def test_a_refused_rollback_asks_for_a_status_mapping_and_applies_it(desk, ann):
    with_on_hold(desk)
    [req] = make_request(desk, seed(desk), 1)
    desk.workflow.transition("service_desk", "request", req["id"], "take")
    desk.workflow.transition("service_desk", "request", req["id"], "hold")
    refused = ann.post(f"{DESK}/history/1/rollback", {}, token_from=f"{DESK}/history")
    text = html(refused)
    assert refused.status_code == 409 and 'id="status-mapping"' in text and req["number"] in text
    assert 'name="map:request:on_hold"' in text and '<option value="in_work"' in text
    assert desk.live_version("service_desk") == 2
    done = ann.post(f"{DESK}/history/1/rollback", {"map:request:on_hold": "waiting"}, token_from=f"{DESK}/history")
    assert done.status_code == 302
    assert desk.live_version("service_desk") == 3 and status_of(desk, req["id"]) == "waiting"
