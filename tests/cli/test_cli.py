"""The ``loom`` command line, run in-process with a throwaway instance folder."""
import shutil

import pytest
from click.testing import CliRunner

from runtime.cli import main
from tests.conftest import APPS


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "instance"))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return invoke


def test_validate_reports_file_line_and_path(cli, tmp_path):
    app = tmp_path / "sd"
    shutil.copytree(APPS / "service_desk", app)
    text = (app / "entities" / "request.yaml").read_text()
    (app / "entities" / "request.yaml").write_text(text.replace("type: text\n", "type: txt\n", 1))
    result = cli("apps", "validate", app)
    assert result.exit_code == 1
    line = next(l for l in result.output.splitlines() if "txt" in l)
    assert "entities/request.yaml:" in line and "fields.description.type" in line
    assert "did you mean 'text'" in line
    assert cli("apps", "validate", APPS / "service_desk").exit_code == 0


def test_install_diff_publish_export_rollback(cli, tmp_path):
    first = cli("apps", "install", APPS / "service_desk", "--fixtures")
    assert first.exit_code == 0, first.output
    assert "published version 1" in first.output and "fixture records" in first.output
    again = cli("apps", "install", APPS / "service_desk")
    assert "unchanged, still version 1" in again.output

    changed = tmp_path / "sd2"
    shutil.copytree(APPS / "service_desk", changed)
    path = changed / "entities" / "organization.yaml"
    path.write_text(path.read_text().replace("search: [short_name, full_name]",
                                             "  kpp:\n    type: string\n    max_length: 9\nsearch: [short_name, full_name]"))
    diff = cli("apps", "diff", changed)
    assert "+ entities.organization.fields.kpp" in diff.output
    assert "storage: add organization.kpp" in diff.output
    published = cli("apps", "publish", changed, "--comment", "КПП организации")
    assert "published version 2" in published.output, published.output

    versions = cli("apps", "versions", "service_desk")
    assert "КПП организации" in versions.output

    out1, out2 = tmp_path / "export1", tmp_path / "export2"
    assert cli("apps", "export", "service_desk", out1).exit_code == 0
    reinstall = cli("apps", "install", out1)
    assert "unchanged" in reinstall.output  # the export is the same app, hash and all
    cli("apps", "export", "service_desk", out2)
    for f in out1.rglob("*"):
        if f.is_file():
            assert f.read_bytes() == (out2 / f.relative_to(out1)).read_bytes()

    rolled = cli("apps", "rollback", "service_desk", "1")
    assert "published version 3" in rolled.output
    assert "retire" in rolled.output  # kpp is retired, not dropped
    purge = cli("apps", "purge", "service_desk", input="n\n")
    assert "kpp" in purge.output and purge.exit_code != 0  # declined: nothing deleted
    purge = cli("apps", "purge", "service_desk", "--yes")
    assert "purged 1 items" in purge.output


def test_import_csv_streams_batches_and_names_bad_line(cli, tmp_path):
    cli("apps", "install", APPS / "service_desk")
    good = tmp_path / "orgs.csv"
    rows = ["short_name,inn,email"] + [f"Организация {i},{6600000000 + i},org{i}@example.ru" for i in range(2500)]
    good.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = cli("import", "service_desk.organization", good, "--batch", "1000")
    assert result.exit_code == 0, result.output
    assert "imported 2500 rows in 3 batches" in result.output

    bad = tmp_path / "bad.csv"
    bad.write_text("short_name,inn\nХорошая,7700000001\nПлохая,12ab\n", encoding="utf-8")
    result = cli("import", "service_desk.organization", bad)
    assert result.exit_code == 1
    assert "line 3: inn" in result.output and "does not match" in result.output


def test_init_prints_a_generated_admin_password(cli):
    first = cli("init")
    assert "Created user admin with password:" in first.output
    password = first.output.split("password: ")[1].split()[0]
    assert len(password) >= 12
    assert "Created user" not in cli("init").output  # only once


def _break(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_validate_finds_what_publishing_and_loading_would_refuse(cli, tmp_path):
    """`loom apps validate` runs the checks publishing and `--fixtures` run, each named by file and line."""
    app = tmp_path / "sd"
    shutil.copytree(APPS / "service_desk", app)
    _break(app / "scripts" / "plans.py", "def ", "def broken(:\n    pass\n\n\ndef ")
    _break(app / "entities" / "request.yaml", "validate: requests.py:check_classification",
           "validate: requests.py:check_clasification")
    _break(app / "fixtures" / "calendar_plan.yaml", "department: Отдел инфраструктуры",
           "department: Отдел инфраструктуpы")  # a Latin p

    def line(fragment: str) -> str:
        result = cli("apps", "validate", app)
        assert result.exit_code == 1
        found = [l for l in result.output.splitlines() if fragment in l]
        assert found, (fragment, result.output)
        return found[0]

    assert "scripts/plans.py:" in line("plans.py")
    assert "entities/request.yaml:142 hooks.validate" in line("check_clasification")
    assert "fixtures/calendar_plan.yaml:15 [1].department" in line("no department titled")
    # The metadata's own problems come first (the scripts are checked against valid metadata).
    _break(app / "schedules.yaml", 'cron: "0 6 * * *"', 'cron: "0 25 * * *"')
    _break(app / "sla.yaml", "when: \"priority == '1'\"", 'when: "priority == 1"')
    assert "schedules.yaml:6 schedules[0].cron" in line("is not a cron expression")
    assert "sla.yaml:20 policies[0].when" in line("priority holds texts")


def test_install_with_fixtures_that_cannot_load_changes_nothing(cli, tmp_path):
    app = tmp_path / "sd"
    shutil.copytree(APPS / "service_desk", app)
    _break(app / "fixtures" / "calendar_plan.yaml", "department: Отдел инфраструктуры",
           "department: Отдел инфраструктуpы")
    result = cli("apps", "install", app, "--fixtures")
    assert result.exit_code == 1
    assert "fixtures/calendar_plan.yaml:15" in result.output and "nothing was changed" in result.output
    listed = cli("apps", "list")
    assert "service_desk" not in listed.output  # not published, no accounts made
    assert cli("apps", "install", APPS / "service_desk", "--fixtures").exit_code == 0


def test_a_group_nobody_made_is_a_warning_at_install_and_diff(cli, tmp_path):
    app = tmp_path / "its"
    shutil.copytree(APPS / "it_support", app)
    _break(app / "routing.yaml", "group: line2\n", "group: line_2\n")
    diff = cli("apps", "diff", app)
    assert "warning: routing.yaml entities.ticket.rules[0].group: no group 'line_2' exists or is declared" \
        in diff.output, diff.output
    installed = cli("apps", "install", app)
    assert installed.exit_code == 0 and "no group 'line_2'" in installed.output
    assert "no group 'line1'" not in installed.output  # declared by the app, made at install


def test_no_api_token_for_an_external_contact(cli):
    from runtime.core.config import Settings
    loom = Settings.from_env().make_loom()
    loom.accounts.create_user("partner", "pass-word-123", external=True)
    loom.accounts.create_user("staff", "pass-word-123")
    refused = cli("users", "token", "partner")
    assert refused.exit_code == 1 and "external contact" in refused.output
    assert len(cli("users", "token", "staff").output.strip()) > 20


def test_run_links_to_the_address_it_listens_on_unless_told(cli, monkeypatch):
    """Without LOOM_BASE_URL, links in e-mails point where `loom run` listens, not to a fixed port."""
    import flask

    import runtime.behaviour.scheduler as scheduler
    seen = {}
    monkeypatch.setattr(flask.Flask, "run", lambda self, **kw: seen.update(kw, base=self.extensions["loom"].base_url))
    monkeypatch.setattr(scheduler, "start_embedded_thread", lambda loom: None)
    monkeypatch.delenv("LOOM_BASE_URL", raising=False)
    monkeypatch.delenv("LOOM_REDIS_URL", raising=False)
    assert cli("run", "--no-demo", "--port", "5171").exit_code == 0
    assert seen["base"] == "http://127.0.0.1:5171" and seen["port"] == 5171
    monkeypatch.setenv("LOOM_BASE_URL", "https://loom.example.org")
    assert cli("run", "--no-demo", "--host", "0.0.0.0", "--port", "8000").exit_code == 0
    assert seen["base"] == "https://loom.example.org"


def test_a_failed_scheduled_script_names_its_line_and_reason(cli, tmp_path):
    app = tmp_path / "its"
    shutil.copytree(APPS / "it_support", app)
    _break(app / "scripts" / "planned_works.py", "    count = 0\n", "    count = 0 + 'none'\n")
    assert cli("apps", "install", app).exit_code == 0
    line = (app / "scripts" / "planned_works.py").read_text(encoding="utf-8").splitlines().index("    count = 0 + 'none'") + 1
    result = cli("scripts", "run", "it_support", "planned_works.py:remind_responsible")
    assert result.exit_code == 1
    assert f"it_support/scripts/planned_works.py, line {line}: TypeError" in result.output, result.output
