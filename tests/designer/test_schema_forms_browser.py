"""Issue 19, item 1: the forms the designer generates from JSON Schemas speak the user's language.
In real headless Chromium, schema-driven editors of the shipped utility app (app.yaml, batch runs,
an entity's permissions, the master data and queue kinds plugins register) are opened in Russian
and in English: every label of an input and every "+ add" button is the property's title in that
language, never a property name (``title_field``, ``source_id_field``) or its humanized form."""
from __future__ import annotations

import re

import pytest

from .conftest import analyst_page, live_designer

BASE = "/designer/apps/utility"
PAGES = [f"{BASE}/sections/app", f"{BASE}/sections/batches", f"{BASE}/entities/appeal/section/permissions",
         f"{BASE}/extensions/masterdata", f"{BASE}/extensions/queue", f"{BASE}/entities/appeal/section/hooks"]
CYRILLIC = re.compile("[а-яА-ЯёЁ]")

# the labels the form shows, and every property name of the schema it was generated from
LABELS = """() => {
  const text = n => n.textContent.replace(/^\\+\\s*/, '').replace(/\\s*\\*$/, '').trim();
  const names = new Set();
  const walk = s => {
    if (Array.isArray(s)) { s.forEach(walk); return; }
    if (!s || typeof s !== 'object') return;
    Object.entries(s).forEach(([k, v]) => {
      if (k === 'properties' && v && typeof v === 'object') Object.keys(v).forEach(p => names.add(p));
      walk(v);
    });
  };
  walk(window.LoomEd.DATA.schema);
  return {
    labels: [...document.querySelectorAll('#schema-editor .sf-label, #schema-editor .sf-add-prop')].map(text),
    names: [...names],
  };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_designer(tmp_path_factory.mktemp("schema-forms"), "utility") as (base, _):
        yield base


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_schema_forms_label_inputs_by_title_in_the_users_language(server, chromium, lang):
    from playwright.sync_api import expect
    bad = []
    with analyst_page(chromium, server, lang) as page:
        for url in PAGES:
            page.goto(f"{server}{url}")
            expect(page.locator("#schema-editor .sf-label").first).to_be_visible()
            found = page.evaluate(LABELS)
            labels, names = found["labels"], set(found["names"])
            assert len(labels) >= 3, url
            raw = names | {n.replace("_", " ") for n in names if "_" in n}
            bad += [(url, s, "a property name") for s in labels if s in raw and ("_" in s or " " in s or lang == "ru")]
            if lang == "ru":
                bad += [(url, s, "not Russian") for s in labels if not CYRILLIC.search(s)]
            else:
                bad += [(url, s, "not English") for s in labels if CYRILLIC.search(s)]
        print(f"\n{lang}: {len(PAGES)} schema forms, labels left untranslated: {len(bad)}")
        assert bad == []
        # a hint is the description in the same language
        page.goto(f"{server}{BASE}/extensions/masterdata")
        hint = page.locator('#schema-editor .sf-prop[data-key="timestamp_field"] .hint').first
        expect(hint).to_have_text("когда запись последний раз менялась в своей системе: по нему выбирает most_recent"
                                  if lang == "ru" else "when a record last changed in its system: most_recent goes by it")
