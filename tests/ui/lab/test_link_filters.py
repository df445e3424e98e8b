"""Link filters (docs/metadata.md, "Link filters") on SQLite and PostgreSQL, over real HTTP:
the options the API and the form offer, and every save and transition refusing a value the
filter does not allow, naming the field."""
from __future__ import annotations

from .conftest import APP


def offered(client, field, **record):
    answer = client.get(f"/api/v1/{APP}/ticket/options/{field}", query_string=record)
    assert answer.status_code == 200, answer.get_json()
    return {item["title"] for item in answer.get_json()["items"]}


def test_the_service_list_is_the_organisations_contracted_active_services(api, world):
    eng = api("eng1")
    assert offered(eng, "service", organization=world["o1"]) == {"Почта"}   # Архив is inactive
    assert offered(eng, "service", organization=world["o2"]) == {"СЭД"}
    assert offered(eng, "service") == set()                                 # no organisation chosen yet
    assert offered(eng, "service", organization=world["o1"], q="поч") == {"Почта"}
    assert offered(eng, "service", organization=world["o1"], q="сэд") == set()


def test_items_are_narrowed_by_the_chosen_organisation_and_by_what_the_user_may_read(api, world):
    assert offered(api("eng1"), "ci", organization=world["o1"]) == {"Портал", "Сервер приложений", "База", "Стойка"}
    assert offered(api("eng1"), "ci", organization=world["o2"]) == {"Шлюз"}
    # the clerk may not read confidential items: the filter never offers them
    assert offered(api("clerk"), "ci", organization=world["o1"]) == {"Портал", "Сервер приложений", "Стойка"}


def test_the_assignee_picker_lists_the_departments_team(api, world):
    eng = api("eng1")
    assert offered(eng, "assignee", department=world["ops_dep"]) == {"Инженер Первый"}
    assert offered(eng, "assignee", department=world["bare_dep"]) == set()
    assert offered(eng, "assignee") >= {"Инженер Первый", "Инженер Второй"}  # no department: anyone


def test_options_read_the_stored_record_and_let_arguments_override_it(api, world):
    eng = api("eng1")
    created = eng.post(f"/api/v1/{APP}/ticket", {"subject": "Нет почты", "organization": world["o2"]})
    assert created.status_code == 201, created.get_json()
    tid = created.get_json()["id"]
    assert offered(eng, "service", id=tid) == {"СЭД"}
    assert offered(eng, "service", id=tid, organization=world["o1"]) == {"Почта"}


def test_options_need_the_right_to_edit_and_a_real_link_field(api, world, lab):
    lab.accounts.create_user("nobody", "x-pass-123", roles=[])
    assert api("nobody").get(f"/api/v1/{APP}/ticket/options/service").status_code == 403
    assert api("eng1").get(f"/api/v1/{APP}/ticket/options/subject").status_code == 404
    bad = api("eng1").get(f"/api/v1/{APP}/ticket/options/service", query_string={"organization": "abc"})
    assert bad.status_code == 400 and "organization" in bad.get_json()["detail"]


def test_a_save_outside_the_filter_is_refused_naming_the_field(api, world):
    eng = api("eng1")
    wrong = eng.post(f"/api/v1/{APP}/ticket", {"subject": "Нет почты", "organization": world["o1"],
                                                "service": world["edms"], "ci": world["gate"]})
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.get_json()["errors"]} == {"service", "ci"}
    inactive = eng.post(f"/api/v1/{APP}/ticket", {"subject": "Архив", "organization": world["o1"],
                                                   "service": world["archive"]})
    assert [e["field"] for e in inactive.get_json()["errors"]] == ["service"]
    ok = eng.post(f"/api/v1/{APP}/ticket", {"subject": "Нет почты", "organization": world["o1"],
                                             "service": world["mail"], "ci": world["portal"]})
    assert ok.status_code == 201, ok.get_json()
    record = ok.get_json()
    # changing the organisation alone leaves the service and the item outside their filters
    moved = eng.patch(f"/api/v1/{APP}/ticket/{record['id']}",
                      {"organization": world["o2"], "row_version": record["row_version"]})
    assert moved.status_code == 422
    assert {e["field"] for e in moved.get_json()["errors"]} == {"service", "ci"}
    assert eng.get(f"/api/v1/{APP}/ticket/{record['id']}").get_json()["organization"] == world["o1"]


def test_a_clerk_cannot_link_an_item_they_may_not_read(api, world):
    answer = api("clerk").post(f"/api/v1/{APP}/ticket", {"subject": "База", "organization": world["o1"],
                                                         "ci": world["db"]})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.get_json()["errors"]] == ["ci"]


def test_an_assignee_outside_the_team_is_refused(api, world):
    eng = api("eng1")
    wrong = eng.post(f"/api/v1/{APP}/ticket", {"subject": "Сбой", "department": world["ops_dep"],
                                                "assignee": world["eng2"]})
    assert wrong.status_code == 422 and [e["field"] for e in wrong.get_json()["errors"]] == ["assignee"]
    ok = eng.post(f"/api/v1/{APP}/ticket", {"subject": "Сбой", "department": world["ops_dep"],
                                             "assignee": world["eng1"]})
    assert ok.status_code == 201, ok.get_json()


def test_a_transition_with_a_value_outside_the_filter_is_refused(api, world):
    eng = api("eng1")
    record = eng.post(f"/api/v1/{APP}/ticket", {"subject": "Нет почты", "organization": world["o1"]}).get_json()
    url = f"/api/v1/{APP}/ticket/{record['id']}/transitions/take"
    wrong = eng.post(url, {"service": world["edms"], "row_version": record["row_version"]})
    assert wrong.status_code == 422, wrong.get_json()
    assert [e["field"] for e in wrong.get_json()["errors"]] == ["service"]
    ok = eng.post(url, {"service": world["mail"], "row_version": record["row_version"]})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["status"] == "in_work"


def test_the_forms_picker_narrows_and_the_form_refuses(signed_in, world):
    eng = signed_in("eng1")
    answer = eng.get(f"/ui/{APP}/ticket/options/service",
                     query_string={"format": "json", "organization": world["o2"]})
    assert [row["text"] for row in answer.get_json()] == ["СЭД"]
    form = eng.get(f"/ui/{APP}/ticket/new").get_data(as_text=True)
    assert 'data-depends="*"' in form and 'data-depends="organization"' in form
    refused = eng.post(f"/ui/{APP}/ticket/new", {"subject": "Нет почты", "organization": str(world["o1"]),
                                                 "service": str(world["edms"])}, token_from=f"/ui/{APP}/ticket/new")
    assert refused.status_code == 422
    assert 'id="err-service"' in refused.get_data(as_text=True)


def test_a_privileged_filter_script_reads_what_the_user_may_not(api, world, lab, tmp_path):
    """docs/metadata.md: with ``privileged: true`` the field's filter script reads contracts the
    clerk may not; the options are still only services the clerk may read."""
    import shutil
    from .conftest import LAB
    folder = tmp_path / "cmdb_lab"
    shutil.copytree(LAB, folder)
    contract = folder / "entities" / "contract.yaml"
    contract.write_text(contract.read_text(encoding="utf-8").replace(
        "permissions: {read: [user],", "permissions: {read: [engineer],"), encoding="utf-8")
    clerk = api("clerk")
    lab.store.install(folder, author="tester")
    answer = clerk.get(f"/api/v1/{APP}/ticket/options/service", query_string={"organization": world["o1"]})
    assert answer.get_json()["title"] == "Script failed" and "filters.py" in answer.get_json()["detail"]
    ticket = folder / "entities" / "ticket.yaml"
    ticket.write_text(ticket.read_text(encoding="utf-8").replace(
        "    filter_script: filters.py:contracted_services",
        "    filter_script: filters.py:contracted_services\n    privileged: true"), encoding="utf-8")
    lab.store.install(folder, author="tester")
    assert offered(clerk, "service", organization=world["o1"]) == {"Почта"}
    assert offered(clerk, "service", organization=world["o2"]) == {"СЭД"}
    saved = clerk.post(f"/api/v1/{APP}/ticket", {"subject": "Нет почты", "organization": world["o1"],
                                                  "service": world["edms"]})
    assert saved.status_code == 422 and [e["field"] for e in saved.get_json()["errors"]] == ["service"]
