"""BPMN 2.0 export and import (plugins/bpmn) on SQLite and PostgreSQL.

Exports are validated against the OMG BPMN 2.0 XSD vendored in plugins/bpmn/xsd; imports
go through the web app with a signed-in analyst and CSRF, into the app's draft.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from lxml import etree

from plugins.bpmn.export import to_bpmn
from plugins.bpmn.importer import BpmnError, read
from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import APPS, make_loom
from tests.ui.conftest import Browser

XSD = Path(__file__).resolve().parents[2] / "plugins" / "bpmn" / "xsd" / "BPMN20.xsd"
PASSWORD = "bpmn-pass-1"
BPMN_KEYS = ("name", "title", "from", "to", "roles", "groups", "condition", "timer")


@pytest.fixture(scope="module")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def entity_yaml(app: str, entity: str) -> dict:
    return yaml.safe_load((APPS / app / "entities" / f"{entity}.yaml").read_text(encoding="utf-8"))


def workflow(spec: dict) -> tuple[list, list]:
    """Statuses without positions, transitions with only what BPMN carries."""
    statuses = [{k: v for k, v in s.items() if k != "layout"} for s in spec["statuses"]]
    transitions = [{k: t[k] for k in BPMN_KEYS if k in t} for t in spec["transitions"]]
    return statuses, transitions


@pytest.fixture
def desk(db_url, tmp_path):
    loom = make_loom(db_url, tmp_path / "files")
    loom.store.install(APPS / "service_desk", author="tester")
    loom.store.install(APPS / "it_support", author="tester")
    loom.accounts.create_user("ann", PASSWORD, roles=["analyst"])
    loom.accounts.create_user("carl", PASSWORD, roles=["service_desk:agent", "service_desk:dispatcher"])
    yield loom
    loom.engine.dispose()


def browser_for(loom, tmp_path, username: str) -> Browser:
    app = create_app(Settings(tmp_path, loom.database_url, secret="bpmn-tests"), loom)
    app.config["TESTING"] = True
    browser = Browser(app.test_client())
    assert browser.login(username, PASSWORD).status_code == 302
    browser.get("/lang/en")
    return browser


def upload(browser: Browser, app: str, entity: str, content: bytes, revision: int | None = None):
    form_url = f"/designer/apps/{app}/bpmn/import?entity={entity}"
    page = browser.get(form_url).get_data(as_text=True)
    if revision is None:
        revision = int(page.split('name="revision" value="')[1].split('"')[0])
    return browser.post(f"/designer/apps/{app}/bpmn/import",
                        {"entity": entity, "revision": str(revision), "file": (io.BytesIO(content), "flow.bpmn")},
                        token_from=form_url, content_type="multipart/form-data")


# ---------------------------------------------------------------------- export
@pytest.mark.parametrize("entity", ["request", "change"])
def test_service_desk_workflows_export_as_valid_bpmn(entity, schema):
    xml = to_bpmn("service_desk", entity, entity_yaml("service_desk", entity))
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    spec = entity_yaml("service_desk", entity)
    tasks = doc.findall(".//bpmn:task", ns)
    assert [t.get("id") for t in tasks] == [f"Task_{s['name']}" for s in spec["statuses"]]
    initial = next(s["name"] for s in spec["statuses"] if s.get("initial"))
    start_flow = doc.find(".//bpmn:sequenceFlow[@sourceRef='StartEvent']", ns)
    assert start_flow.get("targetRef") == f"Task_{initial}"
    ends = {e.get("id") for e in doc.findall(".//bpmn:endEvent", ns)}
    assert ends == {f"EndEvent_{s['name']}" for s in spec["statuses"] if s["category"] in ("done", "cancelled")}
    lanes = {lane.get("name") for lane in doc.findall(".//bpmn:lane", ns)}
    assert lanes == {r for t in spec["transitions"] for r in t.get("roles") or []}
    # every flow node and flow is drawn
    drawn = {s.get("bpmnElement") for s in doc.iterfind(".//bpmndi:BPMNShape", ns)}
    drawn |= {s.get("bpmnElement") for s in doc.iterfind(".//bpmndi:BPMNEdge", ns)}
    elements = {el.get("id") for el in doc.find("bpmn:process", ns)
                if etree.QName(el).localname in ("task", "startEvent", "endEvent", "boundaryEvent", "sequenceFlow")}
    assert elements <= drawn


def test_the_xsd_does_reject_what_bpmn_does_not_allow(schema):
    doc = etree.fromstring(to_bpmn("service_desk", "request", entity_yaml("service_desk", "request")))
    flow = doc.find(".//{http://www.omg.org/spec/BPMN/20100524/MODEL}sequenceFlow")
    del flow.attrib["targetRef"]  # required by the XSD
    assert not schema.validate(doc)
    assert "targetRef" in str(schema.error_log)


def test_conditions_timers_and_stored_positions_are_exported(schema):
    spec = entity_yaml("it_support", "ticket")
    spec["statuses"][0]["layout"] = {"x": 400, "y": 321}
    spec["transitions"][0]["condition"] = "priority == 'high'"
    doc = etree.fromstring(to_bpmn("it_support", "ticket", spec))
    assert schema.validate(doc), schema.error_log
    b = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    timer = doc.find(f".//{b}boundaryEvent")
    assert timer.get("attachedToRef") == "Task_waiting_user"
    assert timer.find(f"{b}timerEventDefinition/{b}timeDuration").text == "P5D"
    first = spec["transitions"][0]
    flow = doc.find(f".//{b}sequenceFlow[@id='Flow_{first['name']}_{(first['from'] if isinstance(first['from'], str) else first['from'][0])}']")
    assert flow.find(f"{b}conditionExpression").text == "priority == 'high'"
    bounds = doc.find(".//{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape[@bpmnElement='Task_registered']/"
                      "{http://www.omg.org/spec/DD/20100524/DC}Bounds")
    assert (bounds.get("x"), bounds.get("y")) == ("400", "321")


# ---------------------------------------------------------------------- round trip
@pytest.mark.parametrize("app, entity", [("service_desk", "request"), ("service_desk", "change"),
                                         ("it_support", "ticket")])
def test_export_then_import_gives_the_same_workflow(app, entity):
    spec = entity_yaml(app, entity)
    assert workflow(read(to_bpmn(app, entity, spec))) == workflow(spec)


def test_round_trip_through_the_designer_draft(desk, tmp_path, schema):
    ann = browser_for(desk, tmp_path, "ann")
    live_before = desk.store.draft("it_support")["current_version"]
    exported = ann.get("/designer/apps/it_support/bpmn/ticket.bpmn")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    assert schema.validate(etree.fromstring(exported.data)), schema.error_log

    response = upload(ann, "it_support", "ticket_copy", exported.data)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/designer/apps/it_support/entities/ticket_copy/workflow")
    state = desk.store.draft("it_support")
    assert state["current_version"] == live_before  # the draft only, nothing published
    copy = state["draft"]["entities"]["ticket_copy"]
    assert workflow(copy) == workflow(entity_yaml("it_support", "ticket"))
    assert next(t for t in copy["transitions"] if t.get("timer"))["timer"] == {"after": "5 business days"}
    # positions came back from the diagram
    assert all(set(s["layout"]) == {"x", "y"} for s in copy["statuses"])


def test_import_into_an_existing_entity_keeps_what_bpmn_does_not_carry(desk, tmp_path):
    ann = browser_for(desk, tmp_path, "ann")
    spec = entity_yaml("service_desk", "request")
    spec["transitions"] = [t for t in spec["transitions"] if t["name"] != "confirm"]  # the file drops one
    response = upload(ann, "service_desk", "request", to_bpmn("service_desk", "request", spec))
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = desk.store.draft("service_desk")["draft"]["entities"]["request"]
    assert [t["name"] for t in saved["transitions"]] == ["take", "ask", "resolve", "close", "cancel"]
    resolve = next(t for t in saved["transitions"] if t["name"] == "resolve")
    assert resolve["required"] == ["solution"] and "resolution_hours" in resolve["set"]
    assert "subject" in saved["fields"] and saved["form"]  # the rest of the entity is untouched


def test_a_stale_revision_is_a_conflict(desk, tmp_path):
    ann = browser_for(desk, tmp_path, "ann")
    content = to_bpmn("service_desk", "change", entity_yaml("service_desk", "change"))
    assert upload(ann, "service_desk", "change", content).status_code == 302
    assert upload(ann, "service_desk", "change", content, revision=0).status_code == 409


# ---------------------------------------------------------------------- refusals
GATEWAY = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <process id="p">
    <startEvent id="s"/>
    <task id="a" name="A"/>
    <parallelGateway id="g"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
  </process>
</definitions>
"""


def test_an_unsupported_element_is_refused_naming_element_and_line(desk, tmp_path):
    with pytest.raises(BpmnError) as caught:
        read(GATEWAY)
    assert caught.value.line == 6 and "parallelGateway" in str(caught.value)
    ann = browser_for(desk, tmp_path, "ann")
    revision = desk.store.draft("service_desk")["draft_revision"]
    response = upload(ann, "service_desk", "request", GATEWAY)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "line 6" in text and "parallelGateway" in text and "flow.bpmn" in text
    assert desk.store.draft("service_desk")["draft_revision"] == revision  # nothing saved


@pytest.mark.parametrize("element, line", [
    ('<intermediateCatchEvent id="i"><timerEventDefinition/></intermediateCatchEvent>', 4),
    ('<subProcess id="sp"/>', 4),
    ('<endEvent id="e"><messageEventDefinition/></endEvent>', 4),
])
def test_other_unsupported_elements(element, line):
    doc = ('<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">\n'
           '<process id="p">\n<task id="a"/>\n' + element + '\n</process></definitions>').encode()
    with pytest.raises(BpmnError) as caught:
        read(doc)
    assert caught.value.line == line
    assert element[1:].split()[0] in str(caught.value)


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <process id="p">
    <task id="a" name="a"><documentation>&secret;</documentation></task>
  </process>
</definitions>
"""


def test_an_external_entity_is_not_resolved(desk, tmp_path):
    with pytest.raises(BpmnError) as caught:
        read(XXE)
    assert "DOCTYPE" in str(caught.value) and "root:" not in str(caught.value)
    ann = browser_for(desk, tmp_path, "ann")
    response = upload(ann, "service_desk", "xxe", XXE)
    assert response.status_code == 400
    assert "root:" not in response.get_data(as_text=True)
    assert "xxe" not in (desk.store.draft("service_desk")["draft"] or {}).get("entities", {})


def test_a_file_drawn_elsewhere_imports_with_lanes_as_roles():
    doc = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="Agent"><bpmn:flowNodeRef>new</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="new" name="Nowy"/>
    <bpmn:userTask id="done" name="Done"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="new"/>
    <bpmn:sequenceFlow id="finish" name="Finish" sourceRef="new" targetRef="done">
      <bpmn:conditionExpression>amount &gt; 10</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f2" sourceRef="done" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""
    got = read(doc)
    assert got["statuses"] == [{"name": "new", "title": {"ru": "Nowy"}, "initial": True, "category": "open"},
                               {"name": "done", "title": {"ru": "Done"}, "category": "done"}]
    assert got["transitions"] == [{"name": "finish", "title": {"ru": "Finish"}, "from": "new", "to": "done",
                                   "roles": ["agent"], "condition": "amount > 10"}]


# ---------------------------------------------------------------------- permissions
def test_only_analysts_export_and_import(desk, tmp_path):
    carl = browser_for(desk, tmp_path, "carl")
    assert carl.get("/designer/apps/service_desk/bpmn/request.bpmn").status_code == 403
    assert carl.get("/designer/apps/service_desk/bpmn/import?entity=request").status_code == 403
    content = to_bpmn("service_desk", "request", entity_yaml("service_desk", "request"))
    response = carl.http.post("/designer/apps/service_desk/bpmn/import",
                              data={"entity": "request", "revision": "0", "file": (io.BytesIO(content), "f.bpmn")},
                              content_type="multipart/form-data")
    assert response.status_code in (400, 403)  # no CSRF token, and no right either way
    assert desk.store.draft("service_desk")["draft"] is None
    app = create_app(Settings(tmp_path, desk.database_url, secret="bpmn-tests"), desk)
    anonymous = app.test_client().get("/designer/apps/service_desk/bpmn/request.bpmn")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_unknown_app_or_entity_is_404(desk, tmp_path):
    ann = browser_for(desk, tmp_path, "ann")
    assert ann.get("/designer/apps/nope/bpmn/request.bpmn").status_code == 404
    assert ann.get("/designer/apps/service_desk/bpmn/nope.bpmn").status_code == 404


def test_the_workflow_page_links_to_export_and_import(desk, tmp_path):
    ann = browser_for(desk, tmp_path, "ann")
    page = ann.get("/designer/apps/service_desk/entities/request/workflow").get_data(as_text=True)
    assert 'href="/designer/apps/service_desk/bpmn/request.bpmn"' in page
    assert "/designer/apps/service_desk/bpmn/import?entity=request" in page


def test_loom_plugins_list_shows_the_bpmn_plugin(tmp_path):
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", "import sys; from runtime.cli import main; sys.exit(main())",
                           "plugins", "list"], capture_output=True, text=True, cwd=root, timeout=120,
                          env={**os.environ, "LOOM_HOME": str(tmp_path / "cli-home")})
    assert done.returncode == 0, done.stderr
    line = next(row.split() for row in done.stdout.splitlines() if row.startswith("bpmn "))
    assert line[3] == "enabled" and "web_app" in " ".join(line[4:])


def test_the_import_page_speaks_russian_by_default(desk, tmp_path):
    app = create_app(Settings(tmp_path, desk.database_url, secret="bpmn-tests"), desk)
    app.config["TESTING"] = True
    ann = Browser(app.test_client())
    assert ann.login("ann", PASSWORD).status_code == 302
    page = ann.get("/designer/apps/service_desk/bpmn/import?entity=request").get_data(as_text=True)
    assert "Загрузка процесса BPMN" in page and "Загрузить в черновик" in page
    workflow_page = ann.get("/designer/apps/service_desk/entities/request/workflow").get_data(as_text=True)
    assert "Скачать в BPMN 2.0" in workflow_page


def test_a_workflow_the_entity_schema_refuses_is_not_saved(desk, tmp_path):
    ann = browser_for(desk, tmp_path, "ann")
    content = to_bpmn("service_desk", "change", entity_yaml("service_desk", "change")).replace(
        b'loom:category="waiting"', b'loom:category="sleeping"')
    response = upload(ann, "service_desk", "change", content)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "entities/change.yaml" in text and "statuses.1.category" in text and "sleeping" in text
    assert desk.store.draft("service_desk")["draft"] is None


def test_a_timer_without_a_duration_is_refused_with_its_line():
    doc = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<process id="p">
<task id="a"/><task id="b"/>
<boundaryEvent id="t" attachedToRef="a"><timerEventDefinition><timeDate>2026-01-01</timeDate></timerEventDefinition></boundaryEvent>
<sequenceFlow id="go" sourceRef="t" targetRef="b"/>
</process></definitions>"""
    with pytest.raises(BpmnError) as caught:
        read(doc)
    assert caught.value.line == 4 and "timeDate" in str(caught.value)


def test_any_source_and_back_to_previous_survive_a_round_trip(schema):
    spec = {"title": {"ru": "Пропуск"},
            "statuses": [{"name": "new", "category": "open", "initial": True},
                         {"name": "hold", "category": "waiting"},
                         {"name": "gone", "category": "cancelled"}],
            "transitions": [{"name": "hold", "from": "new", "to": "hold", "groups": ["desk"]},
                            {"name": "resume", "from": "hold", "to": "$previous"},
                            {"name": "drop", "from": "*", "to": "gone", "timer": {"after": "2 hours"}}]}
    xml = to_bpmn("demo", "pass", spec)
    assert schema.validate(etree.fromstring(xml)), schema.error_log
    assert workflow(read(xml)) == workflow(spec)
