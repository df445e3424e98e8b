"""Issue 19: the designer speaks the analyst's language. Every designer page of a shipped app is
rendered in Russian and in English, and no interface string may be left in the other language.

An interface string is untranslated in ``ru`` when a text node, a button, a label, a placeholder,
a title or an aria-label of the page (or a string the editors' JavaScript receives) is exactly an
English message id of the catalogs whose Russian translation differs; in ``en`` when it is
exactly a Russian translation of such a message; and in ``ru`` every string sent to the editors'
JavaScript must come back translated. Codes (field names, file names) are no message
ids, so they do not count.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from .conftest import sign_in
from .test_editors import APPS

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = [ROOT / "designer/translations/ru/LC_MESSAGES/messages.po",
            ROOT / "runtime/web/translations/ru/LC_MESSAGES/messages.po"]
ATTRIBUTES = ("placeholder", "title", "aria-label")
SAME_IN_BOTH = {"SLA"}


def messages() -> dict[str, str]:
    """English message id -> Russian, for messages whose translation differs."""
    out = {}
    for path in CATALOGS:
        with path.open("rb") as f:
            for m in read_po(f):
                if m.id and isinstance(m.id, str) and m.string and m.string != m.id and "{" not in m.id:
                    out.setdefault(m.id, m.string)
    return out


class Strings(HTMLParser):
    """The interface strings of a page: text outside scripts and styles, and the attributes a user reads."""

    def __init__(self):
        super().__init__()
        self.found, self.skip, self.data = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code", "pre", "textarea"):
            self.skip += 1
            if tag == "script" and dict(attrs).get("id") == "editor-data":
                self.data.append("")
        for key, value in attrs:
            if key in ATTRIBUTES and value:
                self.found.append(value.strip())

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code", "pre", "textarea"):
            self.skip -= 1

    def handle_data(self, data):
        if self.data and self.data[-1] == "" and self.skip:
            self.data[-1] = data
        if not self.skip and data.strip():
            self.found.append(data.strip())


def page_strings(text: str) -> list[str]:
    parser = Strings()
    parser.feed(text)
    found = list(parser.found)
    for data in parser.data:
        found.extend(json.loads(data).get("i18n", {}).values())
    return found


def untranslated_js(text: str) -> list[str]:
    """The editors' JavaScript strings a Russian page receives untranslated (the same as the English)."""
    parser = Strings()
    parser.feed(text)
    out = []
    for data in parser.data:
        out += [k for k, v in json.loads(data).get("i18n", {}).items() if k == v and k not in SAME_IN_BOTH]
    return out


def designer_pages(client) -> list[str]:
    """Every page of the designer for it_support: lists, overview, checks, publish, history, proposals
    and each editor."""
    base = "/designer/apps/it_support"
    urls = ["/designer/", f"{base}/", f"{base}/validate", f"{base}/publish", f"{base}/history",
            f"{base}/proposals", f"{base}/raw/sla.yaml", f"{base}/raw/entities/ticket.yaml"]
    overview = client.get(f"{base}/").get_data(as_text=True)
    urls += sorted(set(re.findall(r'href="(/designer/apps/it_support/(?:entities|sections|scripts|extensions)/[^"#?]+)"',
                                  overview)))
    for entity_url in [u for u in urls if re.search(r"/entities/[^/]+/fields$", u)]:
        text = client.get(entity_url).get_data(as_text=True)
        urls += re.findall(r'href="(/designer/apps/it_support/[^"#]+)" class="[^"]*" id="tab-', text)
    return list(dict.fromkeys(urls))


@pytest.fixture
def it_support(designer_loom, users):
    designer_loom.store.install(APPS / "it_support", author="tester")
    return designer_loom


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_no_designer_page_shows_an_untranslated_interface_string(designer_web, it_support, lang):
    catalog = messages()
    russian = {ru: en for en, ru in catalog.items()}
    client = sign_in(designer_web, "ann", lang=lang)
    pages = designer_pages(client)
    assert len(pages) > 20  # the crawl reached the editors
    leaks = []
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        if lang == "ru":
            leaks += [(url, s) for s in untranslated_js(response.get_data(as_text=True))]
        for s in page_strings(response.get_data(as_text=True)):
            s = s.rstrip(":").strip()
            if (lang == "ru" and s in catalog) or (lang == "en" and s in russian and re.search("[а-яА-ЯёЁ]", s)):
                leaks.append((url, s))
    print(f"\nuntranslated interface strings in {lang}: {len(leaks)} on {len(pages)} pages")
    assert leaks == []


def test_every_string_the_editors_script_translates_is_sent_with_the_page():
    """A ``T("...")`` in an editor's JavaScript that JS_STRINGS lacks shows in English on a Russian
    page (the crawl above reads what a page receives, so it cannot see what was never sent)."""
    from designer.editors import JS_STRINGS
    catalog = set()
    for path in CATALOGS:
        with path.open("rb") as f:
            catalog |= {m.id for m in read_po(f) if isinstance(m.id, str) and m.string}
    scripts = sorted((Path(__file__).parents[2] / "designer" / "static" / "designer").glob("*.js"))
    assert scripts
    called = {(p.name, m.group(1)) for p in scripts
              for m in re.finditer(r'\bT\(\s*"((?:[^"\\]|\\.)*)"', p.read_text(encoding="utf-8"))}
    assert len(called) > 100
    assert sorted((f, s) for f, s in called if s not in JS_STRINGS) == []
    assert sorted(s for _, s in called if s not in catalog and s not in SAME_IN_BOTH) == []
