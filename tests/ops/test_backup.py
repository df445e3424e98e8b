"""Backup -> restore into a fresh instance -> the same records, files, versions and audit chain."""
from __future__ import annotations

import io
import json
import tarfile
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text

from runtime.cli import main
from runtime.core.backup import BackupError, backup, check, restore
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.security.audit import verify

from ..conftest import PG_URL

APP = "service_desk"


@pytest.fixture
def filled(service_desk):
    """The desk with records, an edit and a stored file."""
    loom = service_desk
    dep = loom.records.create(APP, "department", {"name": "Отдел сопровождения"})
    org = loom.records.create(APP, "organization", {"short_name": "Минздрав", "inn": "6658000001"})
    loom.records.update(APP, "organization", org["id"], {"full_name": "Министерство здравоохранения"}, 1)
    contract = loom.records.create(APP, "contract", {"code": "Д-1", "organization": org["id"],
                                                     "department": dep["id"], "valid_from": "2026-01-01",
                                                     "valid_to": "2026-12-31"})
    loom.files.attach(APP, "contract", contract["id"], "scan", "договор.pdf", "application/pdf",
                      io.BytesIO("%PDF-1.4 скан договора".encode()), actor=_system())
    return {"department": dep, "organization": org, "contract": contract}


def _system():
    from runtime.data.records import SYSTEM
    return SYSTEM


@pytest.fixture
def fresh(db_url, tmp_path):
    """Settings of an empty instance on the same backend: a new SQLite file, or a new database."""
    home = tmp_path / "restored"
    if db_url.startswith("sqlite"):
        yield Settings(home, f"sqlite:///{home / 'loom.db'}")
        return
    name = f"restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    base, _, query = db_url.partition("?")
    yield Settings(home, f"{base.rsplit('/', 1)[0]}/{name}?{query}")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def _snapshot(loom):
    with loom.reader.connect() as c:
        versions = c.execute(select(platform.app_version.c.app, platform.app_version.c.number)
                             .order_by(platform.app_version.c.app, platform.app_version.c.number)).all()
        audit = c.execute(select(platform.audit.c.seq, platform.audit.c.hash).order_by(platform.audit.c.seq)).all()
    return {"versions": [tuple(v) for v in versions], "audit": [tuple(a) for a in audit]}


def test_backup_then_restore_gives_the_same_instance(filled, loom, fresh, tmp_path):
    archive = tmp_path / "site.tar.gz"
    manifest = backup(loom, archive)
    assert manifest["apps"] == {APP: 1} and manifest["tables"]["loom_attachment"] == 1
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "manifest.json" in names and any(n.startswith("files/") for n in names)

    result = restore(archive, fresh)
    assert result.ok, result.problems
    assert result.tables == manifest["tables"]

    again = fresh.make_loom()
    try:
        org = again.records.get(APP, "organization", filled["organization"]["id"])
        assert org["full_name"] == "Министерство здравоохранения" and org["row_version"] == 2
        scan = again.records.get(APP, "contract", filled["contract"]["id"])["scan"]
        scan = scan[0] if isinstance(scan, list) else scan
        meta, path = again.files.open(scan["id"], _system())
        assert path.read_bytes() == "%PDF-1.4 скан договора".encode()
        assert _snapshot(again) == _snapshot(loom)
        with again.reader.connect() as c:
            assert verify(c).ok
        # the restored instance keeps working and keeps the chain
        again.records.create(APP, "department", {"name": "После восстановления"})
        with again.reader.connect() as c:
            assert verify(c).ok
    finally:
        again.engine.dispose()


def test_restore_refuses_a_non_empty_target_and_changes_nothing(filled, loom, fresh, tmp_path):
    archive = tmp_path / "site.tar.gz"
    backup(loom, archive)
    assert restore(archive, fresh).ok
    with pytest.raises(BackupError, match="restore into a fresh instance|already holds a Loom instance|not empty"):
        restore(archive, fresh)


def test_a_restore_that_lost_rows_says_so(filled, loom, fresh, tmp_path):
    archive = tmp_path / "site.tar.gz"
    manifest = backup(loom, archive)
    assert restore(archive, fresh).ok
    claimed = {**manifest, "tables": {**manifest["tables"], "loom_comment": manifest["tables"]["loom_comment"] + 3}}
    result = check(fresh, claimed)
    assert not result.ok and any("table loom_comment" in p for p in result.problems)


def test_not_a_backup_or_the_wrong_backend_is_refused(loom, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    with tarfile.open(junk, "w:gz") as tar:
        info = tarfile.TarInfo("readme.txt")
        tar.addfile(info, io.BytesIO(b""))
    target = Settings(tmp_path / "t", f"sqlite:///{tmp_path / 't' / 'loom.db'}")
    with pytest.raises(BackupError, match="not a Loom backup"):
        restore(junk, target)
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        data = json.dumps({"format": 1, "backend": "postgresql"}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BackupError, match="holds a postgresql database"):
        restore(other, target)
    assert not (tmp_path / "t" / "loom.db").exists()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_backup_and_restore(filled, loom, db_url, tmp_path, monkeypatch):
    archive = tmp_path / "cli.tar.gz"
    monkeypatch.setenv("LOOM_HOME", str(tmp_path))  # the ``loom`` fixture's files live in tmp_path/files
    monkeypatch.setenv("LOOM_DATABASE_URL", db_url)
    made = CliRunner().invoke(main, ["backup", str(archive)])
    assert made.exit_code == 0, made.output
    assert "backed up 1 app(s)" in made.output
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "second"))
    monkeypatch.setenv("LOOM_DATABASE_URL", f"sqlite:///{tmp_path / 'second' / 'loom.db'}")
    put = CliRunner().invoke(main, ["restore", str(archive)])
    assert put.exit_code == 0, put.output
    assert "every table matches the backup and the audit chain verifies" in put.output
    again = CliRunner().invoke(main, ["restore", str(archive)])
    assert again.exit_code == 1 and "fresh instance" in again.output
