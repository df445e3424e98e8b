"""The ``masterdata`` metadata kind: validated at publish with file, line and path."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from metamodel import MetadataError, read_folder

APP = Path(__file__).resolve().parent / "consumers_app"


def test_a_valid_section_publishes(sqlite_loom):
    doc, _ = read_folder(APP)
    sqlite_loom.store.publish(doc, author="tester")
    assert "masterdata" in doc["extensions"]


@pytest.mark.parametrize("change, expected", [
    (lambda m: m["fields"].__setitem__("name", "soundex"), "fields.name"),
    (lambda m: m["fields"].__setitem__("nope", "text"), "entity 'source_record' has no field 'nope'"),
    (lambda m: m["blocking"].append(["inn", "kpp"]), "matches.consumers.blocking[5][1]: 'kpp' is not among fields"),
    (lambda m: m["masters"].__setitem__("entity", "ghost"), "no entity 'ghost' in this app"),
    (lambda m: m["thresholds"].__setitem__("review", 0.99), "review must not be above same"),
    (lambda m: m["masters"]["fields"]["phone"].__setitem__("fill", "newest"), "masters.fields.phone"),
    (lambda m: m["masters"]["fields"].__setitem__("ghost", {}), "entity 'master' has no field 'ghost'"),
    (lambda m: m["masters"]["fields"]["inn"].__setitem__("from", "tax_id"),
     "matches.consumers.masters.fields.inn.from: entity 'source_record' has no field 'tax_id' to take 'inn' from"),
    (lambda m: m["masters"].__setitem__("ids_field", "codes"), "entity 'master' has no field 'codes'"),
    (lambda m: m["sources"].__setitem__("timestamp_field", "seen"), "sources.timestamp_field"),
    (lambda m: m["comparisons"][0].__setitem__("day_month_swap", True),
     "matches.consumers.comparisons[0].day_month_swap: day_month_swap is for kind: date only"),
])
def test_publishing_names_the_path_of_a_bad_section(sqlite_loom, change, expected):
    doc, _ = read_folder(APP)
    doc = copy.deepcopy(doc)
    change(doc["extensions"]["masterdata"]["matches"]["consumers"])
    with pytest.raises(MetadataError) as err:
        sqlite_loom.store.publish(doc, author="tester")
    assert "extensions/masterdata.yaml" in str(err.value) and expected in str(err.value), str(err.value)
