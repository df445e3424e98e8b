"""Links across apps: a declared dependency, a real foreign key, refused otherwise."""
import pytest

from metamodel import MetadataError


def billing_doc(depends=True):
    return {
        "app": {"name": "billing", "title": {"ru": "Биллинг", "en": "Billing"},
                **({"depends_on": ["service_desk"]} if depends else {})},
        "entities": {"invoice": {
            "title": "Счёт", "number": "INV-{0000}",
            "fields": {"organization": {"type": "link", "entity": "service_desk.organization", "required": True},
                       "amount": {"type": "money", "min": 0}}}},
    }


def test_link_to_another_app(service_desk):
    org = service_desk.records.create("service_desk", "organization", {"short_name": "Минздрав", "inn": "6658000001"})
    service_desk.store.publish(billing_doc(), author="tester")
    invoice = service_desk.records.create("billing", "invoice", {"organization": org["id"], "amount": "100.50"})
    assert invoice["number"] == "INV-0001" and invoice["amount"] == "100.50"
    with pytest.raises(Exception) as err:
        service_desk.records.create("billing", "invoice", {"organization": 424242, "amount": "1"})
    assert "no service_desk.organization with id 424242" in str(err.value)


def test_link_needs_declared_dependency(service_desk):
    with pytest.raises(MetadataError) as err:
        service_desk.store.publish(billing_doc(depends=False), author="tester")
    assert "add it to depends_on" in str(err.value)


def test_dependency_must_be_installed(sqlite_loom):
    with pytest.raises(MetadataError) as err:
        sqlite_loom.store.publish(billing_doc(), author="tester")
    assert "depends on app 'service_desk', which is not installed" in str(err.value)
