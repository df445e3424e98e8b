"""Demo contacts of client organisations in ``fixtures/_accounts.yaml`` (docs/metadata.md,
"fixtures/"): loaded with the desk's demo data, they are external users of their organisation's
record and reach the portal only."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from metamodel.errors import MetadataError
from metamodel import read_folder, validate_document
from runtime.data import tables as platform
from runtime.data.fixtures import load_fixtures

from .conftest import APP, Client


def test_demo_contacts_are_external_users_of_their_organisation(desk, web):
    load_fixtures(desk, APP)
    with desk.engine.connect() as c:
        row = c.execute(select(platform.user).where(platform.user.c.username == "ivanova")).mappings().one()
    org = desk.records.get(APP, "organization", int(row["organization"].rpartition(":")[2]))
    assert row["external"] is True and row["organization"].startswith(f"{APP}.organization:")
    assert org["short_name"] == "Минздрав области"
    client = Client(web.test_client())
    signed = client.post(f"/portal/{APP}/login", {"username": "ivanova", "password": "demo-pass-1"})
    assert signed.status_code in (302, 303), signed.get_data(as_text=True)[:300]
    assert client.get(f"/portal/{APP}/", follow_redirects=True).status_code == 200
    assert client.get("/ui/organiser").status_code in (403, 404)
    assert client.get(f"/api/v1/{APP}/request").status_code in (401, 403, 404)


def test_a_contact_needs_the_portals_organisation_entity(tmp_path):
    import shutil
    from pathlib import Path
    folder = tmp_path / APP
    shutil.copytree(Path(__file__).resolve().parents[2] / "apps_config" / APP, folder)
    (folder / "portal.yaml").unlink()
    doc, source = read_folder(folder)
    with pytest.raises(MetadataError) as refused:
        validate_document(doc, source)
    problems = [(p.file, p.path) for p in refused.value.problems]
    assert any(f == "fixtures/_accounts.yaml" and path.endswith("organization") for f, path in problems), problems
