"""An entity's ``timeline:`` is cross-checked at publish — each source an entity of the app with a
link to this entity, ordered by one of its dates, showing single values — and gives every source
the index its read needs. Each case edits a copy of the shipped housing app's account timeline.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metamodel import MetadataError, load_app

HOUSING = Path(__file__).resolve().parents[2] / "apps_config" / "housing"
PAYMENTS = "- {entity: payment, link: account, date: paid_on, channel: channel, summary: amount}"


@pytest.fixture
def app_dir(tmp_path) -> Path:
    folder = tmp_path / "housing"
    shutil.copytree(HOUSING, folder)
    return folder


def edit(folder: Path, new: str) -> int:
    path = folder / "entities" / "account.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(PAYMENTS, new, 1), encoding="utf-8")
    return text[:text.index(PAYMENTS)].count("\n") + 1


def test_the_shipped_timeline_loads_and_indexes_every_source():
    app = load_app(HOUSING)
    assert [s["entity"] for s in app.entities["account"].spec["timeline"]["sources"]] == [
        "payment", "reading", "recalculation", "receipt"]
    # the payment's declared (account, paid_on) already serves its read; the others get one
    assert [cols for cols, _ in app.entities["payment"].indexes].count(("account", "paid_on", "id")) == 0
    assert (("account", "created_at", "id"), False) in app.entities["reading"].indexes
    assert (("account", "created_at", "id"), False) in app.entities["receipt"].indexes


@pytest.mark.parametrize("new, path, message", [
    ("- {entity: paymnt, link: account}", "sources[0].entity", "unknown entity 'paymnt'; did you mean 'payment'?"),
    ("- {entity: payment, link: acount}", "sources[0].link", "did you mean 'account'?"),
    ("- {entity: payment, link: channel}", "sources[0].link",
     "payment.channel is not a link to account; an entry is a record that links here (links to it: account)"),
    ("- {entity: tariff, link: service}", "sources[0].link",
     "tariff.service is not a link to account; an entry is a record that links here; tariff has no link to account"),
    ("- {entity: payment, link: account, date: paid}", "sources[0].date", "did you mean 'paid_on'?"),
    ("- {entity: payment, link: account, date: amount}", "sources[0].date",
     "payment.amount is a money field; entries are ordered by a date or datetime field (paid_on, created_at, "
     "updated_at)"),
    ("- {entity: payment, link: account, channel: chanel}", "sources[0].channel", "did you mean 'channel'?"),
    ("- {entity: reading, link: account}", "sources[1]",
     "reading by 'account' is already the source sources[0]"),
])
def test_a_wrong_source_is_refused_with_file_line_and_path(app_dir, new, path, message):
    line = edit(app_dir, new)
    with pytest.raises(MetadataError) as info:
        load_app(app_dir)
    found = [p for p in info.value.problems]
    assert len(found) == 1, "\n".join(map(str, found))
    p = found[0]
    assert (p.file, p.path) == ("entities/account.yaml", f"timeline.{path}")
    assert message in p.message
    if path.startswith("sources[0]"):
        assert p.line == line


def test_a_table_field_is_no_summary(app_dir):
    edit(app_dir, "- {entity: payment, link: account, summary: amount}")
    path = app_dir / "entities" / "account.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "- {entity: reading, link: account, summary: value}",
        "- {entity: account_note, link: account, summary: rows}"), encoding="utf-8")
    (app_dir / "entities" / "account_note.yaml").write_text(
        "title: Заметка\nfields:\n  account: {type: link, entity: account}\n"
        "  rows: {type: table, fields: {text: {type: string}}}\npermissions: {read: [accountant]}\n", encoding="utf-8")
    with pytest.raises(MetadataError) as info:
        load_app(app_dir)
    [p] = info.value.problems
    assert p.path == "timeline.sources[1].summary"
    assert p.message == "account_note.rows is a table field; an entry shows a single value"


def test_the_schema_names_the_keys_a_source_takes(app_dir):
    edit(app_dir, "- {entity: payment, link: account, when: paid_on}")
    with pytest.raises(MetadataError) as info:
        load_app(app_dir)
    [p] = info.value.problems
    assert p.path == "timeline.sources[0]"
    assert "unknown key 'when'" in p.message and "date" in p.message
