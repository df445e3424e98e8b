"""A whole instance in one archive, and back: the database, the file store and a manifest.

``backup`` writes a ``.tar.gz`` holding

- ``manifest.json``: the backend, the platform's migration revision, the apps and their
  versions, the row count of every table and the audit chain's head, all read from
  the same snapshot the database copy is taken from;
- ``database.sqlite`` (SQLite's online backup API: a consistent copy while the
  instance keeps serving) or ``database.dump`` (``pg_dump -Fc`` run on a snapshot
  exported by the transaction that counted the rows);
- ``files/``: the file store. Stored files are content-addressed and never
  rewritten, so copying them after the database snapshot includes every file the
  snapshot refers to.

``restore`` puts an archive into an empty instance (a new SQLite file, an empty
PostgreSQL database or schema, an empty file folder), then opens it and compares
every table's rows with the manifest and verifies the audit chain, so a restore
that lost something says so.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, inspect, select, table, text

from runtime.errors import LoomError

FORMAT = 1


class BackupError(LoomError):
    """A backup or restore that cannot go on; nothing in the target was changed."""


@dataclass
class Restored:
    manifest: dict
    tables: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------------- backup
def backup(loom, out: str | Path) -> dict:
    """Write the instance behind ``loom`` to the archive ``out``; return its manifest."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="loom-backup-") as tmp:
        tmp = Path(tmp)
        if loom.engine.dialect.name == "sqlite":
            database = tmp / "database.sqlite"
            _sqlite_copy(_sqlite_path(loom.database_url), database)
            snapshot = _sqlite_engine(database)
            try:
                with snapshot.connect() as conn:
                    manifest = _manifest(conn, "sqlite")
            finally:
                snapshot.dispose()
        else:
            database = tmp / "database.dump"
            manifest = _pg_dump(loom, database)
        tmp_out = out.with_name(out.name + ".part")
        with tarfile.open(tmp_out, "w:gz") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode())
            tar.add(database, database.name)
            files = Path(loom.files_dir) if loom.files_dir else None
            if files is not None and files.exists():
                tar.add(files, "files")
        tmp_out.replace(out)  # a half-written archive never carries the final name
    return manifest


def _manifest(conn, backend: str) -> dict:
    names = sorted(n for n in inspect(conn).get_table_names() if n != "loom_alembic_version")
    counts = {n: conn.execute(select(func.count()).select_from(table(n))).scalar_one() for n in names}
    revision = conn.execute(text("SELECT version_num FROM loom_alembic_version")).scalar()
    apps = dict(conn.execute(text("SELECT name, current_version FROM loom_app ORDER BY name")).all())
    head = conn.execute(text("SELECT seq, hash FROM loom_audit_head WHERE id = 1")).first()
    return {"format": FORMAT, "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "backend": backend, "revision": revision, "apps": apps, "tables": counts,
            "audit": {"seq": head.seq, "hash": head.hash} if head else None}


def _sqlite_copy(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)  # page by page, consistent even while others write
    finally:
        dst.close()
        src.close()


def _pg_dump(loom, out: Path) -> dict:
    """Count the rows and dump the database from one snapshot."""
    with loom.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            manifest = _manifest(conn, "postgresql")
            url, schema = _libpq(loom.database_url)
            command = [_pg_tool("pg_dump"), "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                       "-f", str(out), "-d", url] + (["-n", schema] if schema else [])
            _call(command, "pg_dump")
    return manifest


# ---------------------------------------------------------------------- restore
def restore(archive: str | Path, settings) -> Restored:
    """Put ``archive`` into the empty instance ``settings`` describes, then check it."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"{archive}: no such archive")
    with tarfile.open(archive, "r:gz") as tar, tempfile.TemporaryDirectory(prefix="loom-restore-") as tmp:
        tmp = Path(tmp)
        manifest = _read_manifest(tar, archive)
        backend = "sqlite" if settings.database_url.startswith("sqlite") else "postgresql"
        if manifest["backend"] != backend:
            raise BackupError(f"{archive} holds a {manifest['backend']} database; this instance is on {backend}: "
                              f"restore into a {manifest['backend']} instance")
        _require_empty(settings)
        tar.extractall(tmp, filter="data")  # no absolute paths, links out or devices
        if backend == "sqlite":
            target = _sqlite_path(settings.database_url)
            target.parent.mkdir(parents=True, exist_ok=True)
            _sqlite_copy(tmp / "database.sqlite", target)
        else:
            url, _ = _libpq(settings.database_url)
            _call([_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "-d", url,
                   str(tmp / "database.dump")], "pg_restore")
        if (tmp / "files").is_dir():
            shutil.copytree(tmp / "files", settings.files_dir, dirs_exist_ok=True)
    return check(settings, manifest)


def check(settings, manifest: dict) -> Restored:
    """Compare the restored instance with the manifest and verify its audit chain."""
    from runtime.security.audit import verify
    loom = settings.make_loom()
    try:
        with loom.reader.connect() as conn:
            found = _manifest(conn, manifest["backend"])
            verdict = verify(conn, key=loom.audit.key)
    finally:
        loom.engine.dispose()
    result = Restored(manifest, found["tables"])
    for name, rows in manifest["tables"].items():
        if found["tables"].get(name) != rows:
            result.problems.append(f"table {name}: {found['tables'].get(name)} rows restored, {rows} backed up")
    if found["apps"] != manifest["apps"]:
        result.problems.append(f"apps {found['apps']} restored, {manifest['apps']} backed up")
    if not verdict.ok:
        result.problems.append(f"the audit chain does not verify: {verdict.problem}")
    elif manifest["audit"] and (verdict.head != manifest["audit"]["hash"]):
        result.problems.append("the audit chain's head differs from the one backed up")
    return result


def _read_manifest(tar, archive) -> dict:
    try:
        manifest = json.load(tar.extractfile("manifest.json"))
    except (KeyError, ValueError, AttributeError) as exc:
        raise BackupError(f"{archive}: not a Loom backup (no readable manifest.json: {exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive}: backup format {manifest.get('format')!r}; this Loom reads format {FORMAT}")
    return manifest


def _require_empty(settings) -> None:
    """Refuse a target that already holds an instance: a restore never merges into live data."""
    files = Path(settings.files_dir)
    if files.exists() and any(files.iterdir()):
        raise BackupError(f"the file folder {files} is not empty: restore into a fresh instance")
    if settings.database_url.startswith("sqlite"):
        path = _sqlite_path(settings.database_url)
        if path.exists() and path.stat().st_size:
            raise BackupError(f"the database {path} exists: restore into a fresh instance")
        return
    from runtime.data.db import make_engine
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            if "loom_app" in inspect(conn).get_table_names():
                raise BackupError("the target database already holds a Loom instance: restore into an empty one")
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- helpers
def _sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1].split("?", 1)[0])


def _sqlite_engine(path: Path):
    from sqlalchemy import create_engine
    return create_engine(f"sqlite:///{path}")


def _libpq(url: str) -> tuple[str, str | None]:
    """The URL as libpq takes it, and the schema its ``search_path`` option names (if any)."""
    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    options = unquote(" ".join(parse_qs(urlsplit(url).query).get("options", [])))
    schema = None
    for part in options.split():
        if part.startswith("-csearch_path="):
            schema = part.split("=", 1)[1].split(",")[0].strip() or None
    return url, schema


def _pg_tool(name: str) -> str:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    found = str(candidates[0]) if candidates else shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client tools")
    return found


def _call(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
    if done.returncode:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-800:]}")


def _add_bytes(tar, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), int(dt.datetime.now().timestamp())
    tar.addfile(info, io.BytesIO(data))
