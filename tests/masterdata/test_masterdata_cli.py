"""``loom masterdata match|export``: masters and source links written through the record service."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime.cli import main
from runtime.plugin_api import cli_platform
from tests.masterdata.synth import generate

APP = Path(__file__).resolve().parent / "consumers_app"
FIELDS = ("source", "source_id", "name", "first_name", "birth_date", "phone", "email", "address", "inn")


@pytest.fixture
def cli(db_url, tmp_path, monkeypatch):
    """``loom`` commands on each backend (``LOOM_DATABASE_URL``)."""
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "instance"))
    monkeypatch.setenv("LOOM_DATABASE_URL", db_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_match_links_every_source_record_and_export_lists_them(cli, tmp_path):
    assert cli("apps", "install", APP).exit_code == 0
    records, truth = generate(600, seed=11)
    service = cli_platform().records()
    id_of = {}
    for row in records:
        created = service.create("consumers", "source_record", {f: row[f] for f in FIELDS if row.get(f)})
        id_of[created["id"]] = row["id"]

    result = cli("masterdata", "match", "consumers.source_record")
    assert result.exit_code == 0, result.output
    assert "600 records" in result.output
    out = tmp_path / "links.csv"
    result = cli("masterdata", "export", "consumers.source_record", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 600 and set(rows[0]) == {"source", "source_id", "master_id"}
    masters = cli_platform().records().page("consumers", "master", limit=1, count=True)["count"]
    assert masters == len({r["master_id"] for r in rows})
    assert abs(masters - len(set(truth.values()))) <= 0.1 * len(set(truth.values()))

    again = cli("masterdata", "match", "consumers.source_record")   # a second run reuses the masters
    assert "(0 new, 0 updated), 0 links written" in again.output, again.output


def test_an_entity_without_a_match_is_refused(cli):
    assert cli("apps", "install", APP).exit_code == 0
    result = cli("masterdata", "match", "consumers.master")
    assert result.exit_code == 1 and "no masterdata match over entity 'master'" in result.output
    assert cli("masterdata", "match", "consumers").exit_code == 2


def test_loom_import_takes_the_issue_s_columns(cli, tmp_path):
    assert cli("apps", "install", APP).exit_code == 0
    data = tmp_path / "sources.csv"
    data.write_text(
        "source,source_id,kind,last_name,first_name,middle_name,birth_date,org_name,inn,phone,email,address,account\n"
        "billing,B-1,person,Иванов,Иван,Петрович,1960-01-02,,500100732259,+7 912 345-67-89,,"
        "\"г. Пермь, ул. Ленина, д. 5\",100200\n"
        "portal,P-9,company,,,,,\"ООО «Ромашка»\",7707083893,,office@corp.ru,\"г. Пермь, ул. Мира, д. 1\",\n",
        encoding="utf-8")
    result = cli("import", "consumers.source_record", data)
    assert result.exit_code == 0 and "imported 2 rows" in result.output, result.output
    rows = cli_platform().records().find("consumers", "source_record", sort=("id",))
    assert [(r["source"], r["last_name"] or None, r["org_name"] or None, r["account"] or None) for r in rows] == [
        ("billing", "Иванов", None, "100200"), ("portal", None, "ООО «Ромашка»", None)]
