"""A plugin's metadata kind gets an editor in the designer, generated from its JSON Schema."""
from __future__ import annotations

import json

import pytest

from designer.drafts import Drafts, check_text
from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import make_loom
from tests.designer.test_editors import editor_data, page, save
from tests.ui.conftest import Browser

from .test_plugin_api import APP, SITE

PASSWORD = "analyst-pass-1"


@pytest.fixture
def analyst(monkeypatch, tmp_path):
    """ann, an analyst, signed in to a Loom with the stamps plugin and the stamps app."""
    monkeypatch.syspath_prepend(str(SITE))
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.install(APP, author="tester")
    loom.accounts.create_user("ann", PASSWORD, roles=["analyst"])
    app = create_app(Settings(tmp_path, loom.database_url, secret="kinds"), loom)
    browser = Browser(app.test_client())
    assert browser.login("ann", PASSWORD).status_code == 302
    browser.get("/lang/en")
    yield browser, loom
    loom.engine.dispose()


def test_the_kind_has_a_schema_form_that_checks_and_saves(analyst):
    browser, loom = analyst
    overview = page(browser.get("/designer/apps/stamps/"))
    assert 'href="/designer/apps/stamps/extensions/stamp_rules"' in overview  # listed among the sections
    url = "/designer/apps/stamps/extensions/stamp_rules"
    data = editor_data(page(browser.get(url)))
    assert data["schema"]["properties"]["prefix"] == {"type": "string", "maxLength": 10}
    refused = save(browser, url, {"prefix": "much too long", "colour": "red"})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "unknown key" in text and "colour" in text and "is too long" in text
    assert save(browser, url, {"prefix": "Z"}).status_code == 302
    assert Drafts(loom).open("stamps").doc["extensions"]["stamp_rules"] == {"prefix": "Z"}


def test_an_installed_kind_the_app_lacks_can_be_added(analyst):
    browser, loom = analyst
    drafts = Drafts(loom)
    draft = drafts.open("stamps")
    drafts.save("stamps", drafts.set_item(draft.doc, "extensions/stamp_rules.yaml", None), draft.revision, "ann")
    overview = page(browser.get("/designer/apps/stamps/"))
    assert '<option value="extensions/stamp_rules">' in overview
    added = browser.post("/designer/apps/stamps/sections",
                         {"kind": "extensions/stamp_rules", "revision": str(drafts.open("stamps").revision)},
                         token_from="/designer/apps/stamps/")
    assert added.status_code == 302 and added.headers["Location"].endswith("/extensions/stamp_rules")
    assert "stamp_rules" in drafts.open("stamps").doc["extensions"]


def test_the_raw_view_checks_a_kind_with_its_plugins_schema():
    kinds = {"stamp_rules": {"type": "object", "properties": {"prefix": {"type": "string"}}}}
    value, problems = check_text("stamps", "extensions/stamp_rules.yaml", "prefix: 5\n", kinds)
    assert value == {"prefix": 5} and [(p.path, p.line) for p in problems] == [("prefix", 1)]
    _, problems = check_text("stamps", "extensions/other.yaml", "a: 1\n", kinds)
    assert "no installed plugin defines the metadata kind 'other'" in problems[0].message
    assert json.dumps(check_text("stamps", "extensions/stamp_rules.yaml", "prefix: N\n", kinds)[1]) == "[]"
