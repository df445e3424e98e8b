"""The documents plugin's catalog: every string it shows has Russian, and the compiled file is current."""
from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from tests.conftest import ROOT
from tests.ui.test_i18n import _extracted

CATALOG = ROOT / "plugins" / "documents" / "translations"
PO = CATALOG / "ru" / "LC_MESSAGES" / "messages.po"


def test_every_documents_string_has_a_russian_translation():
    found = _extracted(CATALOG / "babel.cfg")
    assert (None, "Print: {title}") in found and (None, "Documents") in found
    with PO.open("rb") as f:
        ru = read_po(f)
    missing = [msgid for (context, msgid) in found
               if not ((entry := ru.get(msgid, context=context)) and entry.string and not entry.fuzzy)]
    assert not missing, "no Russian for: " + "; ".join(missing)


def test_the_compiled_catalog_matches_its_po():
    with PO.open("rb") as f:
        catalog = read_po(f)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    with Path(PO.with_suffix(".mo")).open("rb") as f:
        current = {m.id: m.string for m in read_mo(f) if m.id}
    assert current == {m.id: m.string for m in read_mo(compiled) if m.id}, "run `make translations`"
