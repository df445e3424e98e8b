def test_install_and_create_on_both_backends(service_desk):
    dep = service_desk.records.create("service_desk", "department", {"name": "Отдел 1"})
    assert dep["number"] == "DEP-001"
    rec = service_desk.records.get("service_desk", "department", dep["id"])
    assert rec["name"] == "Отдел 1"
