"""Versions of an app: content hashes, byte-stable export, diffs and migration plans."""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metamodel import content_hash, read_folder, validate_document, write_folder
from metamodel.diff import diff
from metamodel.migration import conversion, plan
from metamodel.yamlio import dump_yaml, load_yaml

SERVICE_DESK = Path(__file__).resolve().parents[2] / "apps_config" / "service_desk"


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sd_doc() -> dict:
    doc, _ = read_folder(SERVICE_DESK)
    return doc


# ---------------------------------------------------------------- content hash

def test_hash_is_stable_across_reformatting_and_comments(tmp_path, sd_doc):
    folder = tmp_path / "sd"
    shutil.copytree(SERVICE_DESK, folder)
    for path in folder.rglob("*.yaml"):
        data, _ = load_yaml(path.read_text(encoding="utf-8"), path.name)
        # Block style instead of flow style, different quoting, comments everywhere.
        # Re-quote only whole scalars: a quote inside text ("status == 'done'") is content.
        text = re.sub(r"(?m)(: |- )'([^'\"\\]*)'$", r'\1"\2"', dump_yaml(data))
        commented = "# reformatted by a test\n" + "\n".join(_with_comments(text.splitlines())) + "\n\n# the end\n"
        path.write_text(commented, encoding="utf-8")
    changed = (folder / "entities/request.yaml").read_text(encoding="utf-8")
    assert changed != (SERVICE_DESK / "entities/request.yaml").read_text(encoding="utf-8")
    doc, _ = read_folder(folder)
    assert doc == sd_doc
    assert content_hash(doc) == content_hash(sd_doc)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _with_comments(lines: list[str]):
    """A trailing comment on each line that ends a ``key: value``: not inside a block scalar,
    nor on a long value the dumper wrapped onto the next, deeper line (a comment would split it)."""
    block = None  # the indentation of the line that opened a block scalar
    for i, line in enumerate(lines):
        if block is not None and (not line.strip() or _indent(line) > block):
            yield line
            continue
        block = None
        following = lines[i + 1] if i + 1 < len(lines) else ""
        wrapped = following.strip() and _indent(following) > _indent(line) and \
            not re.match(r"\s*(- |[\w.-]+:( |$))", following)
        if line.rstrip().endswith(("|", "|-")):
            block = _indent(line)
            yield line
        elif line.strip() and ":" in line and not wrapped:
            yield line + "  # trailing comment"
        else:
            yield line


def test_hash_ignores_key_order_and_empty_optional_parts(sd_doc):
    base = copy.deepcopy(sd_doc)
    base.pop("routing", None), base.pop("sla", None)  # an app without these sections ...
    doc = copy.deepcopy(base)
    subject = doc["entities"]["request"]["fields"]["subject"]
    doc["entities"]["request"]["fields"]["subject"] = dict(reversed(list(subject.items())))
    doc["routing"] = {}
    doc["sla"] = {}  # ... and with them empty is no change
    assert content_hash(doc) == content_hash(base)


@pytest.mark.parametrize("change", [
    lambda d: d["entities"]["request"]["fields"]["priority"].__setitem__("default", 3),  # "3" -> 3
    lambda d: d["entities"]["request"]["fields"]["subject"].__setitem__("max_length", 201),
    lambda d: d["app"]["title"].__setitem__("ru", "Служба поддержки "),
    lambda d: d["entities"]["request"]["statuses"].reverse(),
    lambda d: d["scripts"].__setitem__("hook.py", "x = 1\n"),
])
def test_hash_changes_with_any_real_change(sd_doc, change):
    doc = copy.deepcopy(sd_doc)
    change(doc)
    assert content_hash(doc) != content_hash(sd_doc)


def test_hash_is_hex_sha256(sd_doc):
    digest = content_hash(sd_doc)
    assert len(digest) == 64 and int(digest, 16) >= 0


# ---------------------------------------------------------------- export

def test_write_read_gives_the_same_hash_and_rewrite_is_byte_identical(tmp_path, sd_doc):
    first, second = tmp_path / "first", tmp_path / "second"
    write_folder(sd_doc, first)
    doc, _ = read_folder(first)
    assert doc == sd_doc
    assert content_hash(doc) == content_hash(sd_doc)
    write_folder(doc, second)
    assert folder_bytes(first) == folder_bytes(second)
    assert "entities/request.yaml" in folder_bytes(first)


def test_exported_folder_validates(tmp_path, sd_doc):
    write_folder(sd_doc, tmp_path / "out")
    doc, source = read_folder(tmp_path / "out")
    app = validate_document(doc, source)
    assert set(app.entities) == set(sd_doc["entities"])


def test_appstore_export_roundtrip(sqlite_loom, tmp_path, sd_doc):
    published = sqlite_loom.store.install(SERVICE_DESK, author="tester")
    assert published.hash == content_hash(sd_doc)
    first, second = tmp_path / "first", tmp_path / "second"
    sqlite_loom.store.export("service_desk", first)
    doc, _ = read_folder(first)
    assert content_hash(doc) == published.hash
    write_folder(doc, second)
    assert folder_bytes(first) == folder_bytes(second)
    # The exported folder installs as "nothing changed".
    again = sqlite_loom.store.install(first, author="tester")
    assert again.unchanged and again.number == published.number


TRICKY = ["yes", "no", "on", "off", "null", "~", "1.0", "007", "0x1F", "1e3", "2026-01-01", "12:30",
          "#not a comment", "a: b", "- item", "'quoted'", '"double"', "trailing space ", " leading",
          "multi\nline\ntext", "multi\nline\n", "line with trailing space \nnext", "", "карточка заявки",
          "tab\there", "{flow}", "[list]", "*alias", "&anchor", "!tag", "%directive", "@at", "`tick`",
          "back\\slash", "\u00a0nbsp", "emoji \U0001F600"]


def test_tricky_strings_roundtrip_and_export_byte_identical(tmp_path, sd_doc):
    doc = copy.deepcopy(sd_doc)
    doc["fixtures"]["organization"] = [{"short_name": s} for s in TRICKY]
    doc["entities"]["organization"]["fields"]["short_name"]["title"] = {"ru": "a\nb", "en": "x: y"}
    write_folder(doc, tmp_path / "a")
    back, _ = read_folder(tmp_path / "a")
    assert back == doc
    write_folder(back, tmp_path / "b")
    assert folder_bytes(tmp_path / "a") == folder_bytes(tmp_path / "b")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(
    # NEL (U+0085) is left to test_next_line_character_roundtrips: a known bug would mask the rest.
    st.none() | st.booleans() | st.integers(-10**12, 10**12)
    | st.text(st.characters(codec="utf-8", exclude_characters="\x85"), max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(st.characters(codec="utf-8", categories=("L", "N", "P")), min_size=1, max_size=10),
        children, max_size=4),
    max_leaves=12))
def test_dump_load_roundtrip_property(data):
    text = dump_yaml({"value": data})
    loaded, _ = load_yaml(text, "x.yaml")
    assert loaded == {"value": data}
    assert dump_yaml(loaded) == text


def test_next_line_character_roundtrips():
    # U+0085 (NEL) is what a cp1252 ellipsis becomes when text is decoded as latin-1.
    text = dump_yaml({"value": "a\x85b"})
    assert load_yaml(text, "x.yaml")[0] == {"value": "a\x85b"}


# ---------------------------------------------------------------- diff

def test_diff_reports_added_removed_and_changed_paths(sd_doc):
    new = copy.deepcopy(sd_doc)
    fields = new["entities"]["request"]["fields"]
    fields["subject"]["max_length"] = 300
    del fields["solution"]
    fields["impact"] = {"type": "integer"}
    del new["entities"]["request"]["form"]["tabs"][1]["sections"][1]["fields"][1]  # solution left the form
    changes = {(c.op, c.path) for c in diff(sd_doc, new)}
    assert changes == {
        ("changed", ("entities", "request", "fields", "subject", "max_length")),
        ("removed", ("entities", "request", "fields", "solution")),
        ("added", ("entities", "request", "fields", "impact")),
        ("changed", ("entities", "request", "form", "tabs")),
    }
    by_path = {c.path: c for c in diff(sd_doc, new)}
    change = by_path[("entities", "request", "fields", "subject", "max_length")]
    assert (change.old, change.new) == (200, 300)
    assert str(change) == "~ entities.request.fields.subject.max_length: 200 -> 300"
    assert change.as_dict()["path"] == "entities.request.fields.subject.max_length"
    assert str(by_path[("entities", "request", "fields", "impact")]).startswith("+ entities.request.fields.impact")
    assert str(by_path[("entities", "request", "fields", "solution")]).startswith("- entities.request.fields.solution")


def test_diff_of_equal_documents_is_empty(sd_doc):
    assert diff(sd_doc, copy.deepcopy(sd_doc)) == []


def test_diff_compares_named_lists_by_name(sd_doc):
    new = copy.deepcopy(sd_doc)
    statuses = new["entities"]["request"]["statuses"]
    statuses[0], statuses[1] = statuses[1], statuses[0]
    statuses[2]["title"]["en"] = "Waiting"
    changes = {(c.op, c.path) for c in diff(sd_doc, new)}
    base = ("entities", "request", "statuses")
    assert changes == {("changed", base + ("waiting", "title", "en")), ("changed", base + ("order",))}


def test_diff_against_nothing_adds_everything(sd_doc):
    changes = diff(None, sd_doc)
    assert {c.op for c in changes} == {"added"}
    assert ("entities",) in {c.path for c in changes}


# ---------------------------------------------------------------- migration plans

def mini(fields: dict, extra: dict | None = None, more_entities: dict | None = None) -> dict:
    return {"app": {"name": "shop", "title": {"ru": "Магазин", "en": "Shop"}},
            "entities": {"item": {"title": "Item", "fields": fields, **(extra or {})},
                         "owner": {"title": "Owner", "fields": {"name": {"type": "string"}}},
                         "vendor": {"title": "Vendor", "fields": {"name": {"type": "string"}}},
                         **(more_entities or {})}}


def steps_of(old_doc, new_doc):
    p = plan(validate_document(old_doc) if old_doc else None, validate_document(new_doc))
    return [(s.kind, s.entity, s.field, s.detail.get("conversion")) for s in p.steps], p.refused, p


BASE = {"name": {"type": "string", "max_length": 100}, "qty": {"type": "integer"},
        "notes": {"type": "text"}, "owner": {"type": "link", "entity": "owner"},
        "kind": {"type": "choice", "choices": ["a", "b"]}, "price": {"type": "decimal", "scale": 2}}


def with_field(name, spec=None, **changes):
    fields = copy.deepcopy(BASE)
    if spec is None:
        fields.pop(name)
    else:
        fields[name] = spec
    for k, v in changes.items():
        fields[k] = v
    return fields


def test_first_version_creates_every_entity():
    steps, refused, _ = steps_of(None, mini(BASE))
    assert sorted(s[:2] for s in steps) == [("create_entity", "item"), ("create_entity", "owner"),
                                            ("create_entity", "vendor")]
    assert refused == []


def test_unchanged_document_needs_no_steps():
    steps, refused, p = steps_of(mini(BASE), mini(copy.deepcopy(BASE)))
    assert steps == [] and refused == [] and not p


def test_add_and_remove_field():
    fields = with_field("notes", None, color={"type": "string"})
    steps, refused, _ = steps_of(mini(BASE), mini(fields))
    assert sorted(steps) == [("add_field", "item", "color", None), ("retire_field", "item", "notes", None)]
    assert refused == []


def test_rename_by_previous_names():
    fields = with_field("name", None, title={"type": "string", "max_length": 100, "previous_names": ["name"]})
    steps, refused, p = steps_of(mini(BASE), mini(fields))
    assert steps == [("rename_field", "item", "title", None)]
    assert p.steps[0].detail == {"from": "name"}
    assert p.describe() == ["rename name to item.title"]


def test_previous_names_of_an_absent_field_means_add():
    fields = with_field("qty", BASE["qty"], title={"type": "string", "previous_names": ["no_such_field"]})
    steps, _, _ = steps_of(mini(BASE), mini(fields))
    assert steps == [("add_field", "item", "title", None)]


@pytest.mark.parametrize("field, new_spec, expected", [
    ("name", {"type": "text"}, "safe"),
    ("name", {"type": "string", "max_length": 300}, "safe"),
    ("name", {"type": "string", "max_length": 50}, "check"),
    ("name", {"type": "integer"}, "check"),
    ("name", {"type": "decimal"}, "check"),
    ("notes", {"type": "string"}, "check"),
    ("qty", {"type": "string"}, "safe"),
    ("qty", {"type": "decimal"}, "check"),
    ("price", {"type": "integer"}, "check"),
    ("price", {"type": "decimal", "scale": 4, "precision": 20}, "safe"),
    ("price", {"type": "decimal", "scale": 4}, "check"),  # same precision: fewer digits before the point
    ("price", {"type": "decimal", "scale": 1}, "check"),
    ("price", {"type": "text"}, "safe"),
    ("kind", {"type": "string"}, "safe"),
])
def test_retype_is_safe_or_checked(field, new_spec, expected):
    steps, refused, _ = steps_of(mini(BASE), mini(with_field(field, new_spec)))
    assert refused == []
    assert steps == [("change_field", "item", field, expected)]


@pytest.mark.parametrize("field, new_spec", [
    ("name", {"type": "table", "fields": {"line": {"type": "string"}}}),
    ("name", {"type": "multilink", "entity": "owner"}),
    ("owner", {"type": "link", "entity": "vendor"}),
    ("qty", {"type": "date"}),
    ("notes", {"type": "boolean", "previous_names": []}),
    ("price", {"type": "link", "entity": "owner"}),
])
def test_lossy_retype_is_refused_with_a_reason(field, new_spec):
    steps, refused, p = steps_of(mini(BASE), mini(with_field(field, new_spec)))
    assert len(refused) == 1
    assert refused[0].startswith(f"item.{field}: ")
    assert "add a new field instead" in refused[0]
    assert f"REFUSED: {refused[0]}" in p.describe()
    assert ("change_field", "item", field) not in [s[:3] for s in steps]


@pytest.mark.parametrize("choices", [["a", "b", "c"], ["a"]])
def test_changing_the_choice_list_needs_no_storage_step(choices):
    # A choice column is text; values outside a narrowed list stay stored (and show as they are).
    steps, refused, _ = steps_of(mini(BASE), mini(with_field("kind", {"type": "choice", "choices": choices})))
    assert (steps, refused) == ([], [])


def test_conversion_table_directly():
    app = validate_document(mini(BASE))
    other = validate_document(mini(with_field("owner", {"type": "link", "entity": "owner", "required": True})))
    f = app.entities["item"].fields
    assert conversion(f["owner"], other.entities["item"].fields["owner"]) == "safe"
    assert conversion(f["qty"], f["qty"]) == "safe"
    assert conversion(f["name"], f["owner"]) == "refuse"


def test_computed_expression_change_recomputes():
    old = with_field("qty", BASE["qty"], total={"type": "computed", "expression": "qty * price"})
    new = with_field("qty", BASE["qty"], total={"type": "computed", "expression": "qty * price * 2"})
    steps, _, _ = steps_of(mini(old), mini(new))
    assert steps == [("recompute_field", "item", "total", None)]


def test_indexes_and_search_changes():
    steps, _, p = steps_of(mini(BASE, {"indexes": [["qty"]]}),
                           mini(BASE, {"indexes": [{"fields": ["name"], "unique": True}], "search": ["name"]}))
    assert sorted(s[0] for s in steps) == ["add_index", "drop_index", "rebuild_search"]
    add = next(s for s in p.steps if s.kind == "add_index")
    assert add.detail == {"columns": ["name"], "unique": True}
    assert "add unique index ['name'] on item" in p.describe()


def test_entity_added_and_removed():
    old = mini(BASE)
    new = copy.deepcopy(old)
    del new["entities"]["vendor"]
    new["entities"]["shelf"] = {"title": "Shelf", "fields": {"label": {"type": "string"}}}
    steps, _, _ = steps_of(old, new)
    assert sorted(s[:2] for s in steps) == [("create_entity", "shelf"), ("retire_entity", "vendor")]


def test_child_table_columns_follow_the_same_rules():
    old = with_field("qty", BASE["qty"], lines={"type": "table", "fields": {
        "sku": {"type": "string"}, "n": {"type": "integer"}, "memo": {"type": "text"}}})
    new = with_field("qty", BASE["qty"], lines={"type": "table", "fields": {
        "sku": {"type": "integer"}, "n": {"type": "date"}, "extra": {"type": "string"}}})
    steps, refused, _ = steps_of(mini(old), mini(new))
    assert sorted(steps) == [("add_field", "item", "lines.extra", None),
                             ("change_field", "item", "lines.sku", "check"),
                             ("retire_field", "item", "lines.memo", None)]
    assert refused == ["item.lines.n: cannot change integer into date"]
