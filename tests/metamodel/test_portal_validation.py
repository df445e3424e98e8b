"""portal.yaml is cross-checked: every entity, field and filter name a page mentions must exist.

Before, only the pages' entities and action scripts were checked, so an unknown field or a filter
on a missing name published silently. Each case writes a portal into a copy of the shipped
service desk; the last test publishes through the app store on SQLite and PostgreSQL.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metamodel import MetadataError, load_app, read_folder

SERVICE_DESK = Path(__file__).resolve().parents[2] / "apps_config" / "service_desk"
GOOD = """title: {ru: Портал клиента, en: Client portal}
organisation_entity: organization
pages:
  - name: my_requests
    title: {ru: Мои заявки, en: My requests}
    entity: request
    kind: list
    fields: [number, subject, status, created_at]
    filter: "organization == user_organisation and status != 'cancelled' and created_at >= start_of_year - 1y"
  - name: new_request
    entity: request
    kind: form
    fields: [subject, description, module]
"""


@pytest.fixture
def app_dir(tmp_path) -> Path:
    folder = tmp_path / "service_desk"
    shutil.copytree(SERVICE_DESK, folder)
    return folder


def write(folder: Path, old: str | None = None, new: str | None = None) -> int:
    """Write the good portal with ``old`` replaced by ``new``; return the line of ``new``."""
    text = GOOD if old is None else GOOD.replace(old, new, 1)
    assert old is None or old in GOOD
    (folder / "portal.yaml").write_text(text, encoding="utf-8")
    return GOOD[:GOOD.index(old)].count("\n") + 1 if old else 0


def test_a_good_portal_loads(app_dir):
    write(app_dir)
    pages = load_app(app_dir).section("portal")["pages"]
    assert [p["name"] for p in pages] == ["my_requests", "new_request"]


@pytest.mark.parametrize("old, new, path, message", [
    ("organisation_entity: organization", "organisation_entity: organisation", "organisation_entity",
     "unknown entity 'organisation'; did you mean 'organization'?"),
    ("fields: [number, subject, status", "fields: [number, subjct, status", "pages[0].fields[1]",
     "unknown field of request 'subjct'; did you mean 'subject'?"),
    ("fields: [subject, description, module]", "fields: [subject, description, number]", "pages[1].fields[2]",
     "a form page shows fields the user fills in"),
    ("fields: [subject, description, module]", "fields: [subject, labor_cost]", "pages[1].fields[1]",
     "'labor_cost' is computed"),
    ('filter: "organization ==', 'filter: "organisation ==', "pages[0].filter",
     "unknown field 'organisation' in"),
    ("status != 'cancelled'", "status != 'canceled'", "pages[0].filter",
     "unknown status of request 'canceled'; did you mean 'cancelled'?"),
    ("start_of_year - 1y", "start_of_yaer - 1y", "pages[0].filter", "did you mean 'start_of_year'?"),
    ("  - name: new_request", "  - name: my_requests", "pages[1].name", "page 'my_requests' is defined twice"),
    ("    entity: request\n    kind: form", "    entity: reqest\n    kind: form", "pages[1].entity",
     "unknown entity 'reqest'; did you mean 'request'?"),
])
def test_a_wrong_name_is_refused_with_file_line_and_path(app_dir, old, new, path, message):
    line = write(app_dir, old, new)
    with pytest.raises(MetadataError) as info:
        load_app(app_dir)
    found = info.value.problems
    assert len(found) == 1, "\n".join(map(str, found))
    p = found[0]
    assert (p.file, p.path, p.line) == ("portal.yaml", path, line)
    assert message in p.message
    if message.startswith("unknown field 'organisation'"):
        assert p.message.endswith("did you mean 'organization'?")


def test_publishing_refuses_a_portal_with_a_missing_name(loom, app_dir):
    write(app_dir, "fields: [number, subject, status", "fields: [number, topic, status")
    doc, source = read_folder(app_dir)
    with pytest.raises(MetadataError) as info:
        loom.store.publish(doc, author="ann")
    assert [(p.file, p.path) for p in info.value.problems] == [("portal.yaml", "pages[0].fields[1]")]
    assert "service_desk" not in loom.live
    write(app_dir)
    loom.store.publish(read_folder(app_dir)[0], author="ann")
    assert loom.live["service_desk"].app.section("portal")["pages"][0]["name"] == "my_requests"


@pytest.mark.parametrize("value, message", [
    ("portl", "unknown choice of channel 'portl'; did you mean 'portal'?"),
    ("true", "True is true/false; 'channel' is a choice field"),
])
def test_a_forms_set_literal_must_be_one_of_the_fields_choices(app_dir, value, message):
    """Before, a wrong literal published and every submit of the form then failed."""
    line = write(app_dir, "    fields: [subject, description, module]\n",
                 f"    fields: [subject, description, module]\n    set: {{channel: {value}, requester_email: user_email}}\n")
    with pytest.raises(MetadataError) as info:
        load_app(app_dir)
    found = info.value.problems
    assert [(p.file, p.path, p.line) for p in found] == [("portal.yaml", "pages[1].set.channel", line + 1)]
    assert found[0].message == message


def test_publishing_refuses_a_forms_set_literal_outside_the_choices(loom, app_dir):
    write(app_dir, "    fields: [subject, description, module]\n",
          "    fields: [subject, description, module]\n    set: {channel: portl}\n")
    with pytest.raises(MetadataError) as info:
        loom.store.publish(read_folder(app_dir)[0], author="ann")
    assert [(p.file, p.path) for p in info.value.problems] == [("portal.yaml", "pages[1].set.channel")]
    assert "did you mean 'portal'?" in info.value.problems[0].message
    write(app_dir, "    fields: [subject, description, module]\n",
          "    fields: [subject, description, module]\n    set: {channel: portal, organization: user_organisation}\n")
    loom.store.publish(read_folder(app_dir)[0], author="ann")
