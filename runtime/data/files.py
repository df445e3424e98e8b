"""Attachments: metadata rows in ``loom_attachment``, content on disk by SHA-256.

A file arrives in two steps. :meth:`FileStore.stage` checks it against its field
(accepted types, size) and writes its content to disk; :meth:`FileStore.bind`
records it for a record inside the change's transaction. So a record and its
files are saved together or not at all: when the change fails, the caller
:meth:`~FileStore.discard`\\ s what it staged (content no other row uses).

A file field of an entity holds a list of files (one, unless ``multiple``); a
``file`` column of a table field holds one file per row, stored in the child row
as the attachment's id (the attachment's ``field`` is the table's name).

Deleting a file marks its row deleted (the content stays: another row may
share it); the audit log records who removed which file.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass, field as dc_field
from pathlib import Path

from sqlalchemy import insert, select, update

from runtime.errors import Forbidden, LoomError, NotFound, ValidationFailed

from . import tables as platform
from .storage import utcnow
from .values import FieldError

CHUNK = 1 << 16
DEFAULT_MAX_MB = 50


@dataclass
class Upload:
    """A file as it came in: its name, content type and a readable binary stream."""

    filename: str
    content_type: str | None
    stream: object


@dataclass(eq=False)
class StagedFile:
    """A file whose content is on disk and whose attachment row is not written yet."""

    filename: str
    content_type: str | None
    size: int
    sha256: str
    id: int | None = None  # the attachment id, once bound to a record
    _fresh: bool = dc_field(default=False, repr=False)  # its content was not on disk before

    def as_json(self) -> dict:
        return {"id": self.id, "filename": self.filename, "size": self.size, "content_type": self.content_type}


def file_field(entity, path: str):
    """The field a file part names: ``photo`` (a file field) or ``items[0].photo`` (a file column
    of a table row); returns ``(field, table, index)``, table and index ``None`` for a file field."""
    head, _, rest = path.partition("[")
    if not rest:
        f = entity.fields.get(path)
        if f is None or f.storage != "attachments":
            raise FieldError(path, f"{entity.name} has no file field {path!r}")
        return f, None, None
    index, _, column = rest.partition("].")
    table = entity.fields.get(head)
    if table is None or table.storage != "child" or not index.isdigit():
        raise FieldError(path, f"{path!r} names no table row; a row's file is sent as table[index].column")
    f = table.children.get(column)
    if f is None or f.type != "file":
        raise FieldError(path, f"the table {head!r} has no file column {column!r}")
    return f, head, int(index)


class FileStore:
    def __init__(self, loom):
        self.loom = loom
        if loom.files_dir is None:
            raise LoomError("this instance has no file store configured")
        self.root = Path(loom.files_dir)

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    # ------------------------------------------------------------------ staging and binding
    def stage(self, f, upload: Upload, label: str | None = None) -> StagedFile:
        """Check ``upload`` against file field ``f`` and write its content to disk."""
        label = label or f.name
        filename = upload.filename or "file"
        accept = [a.lower().lstrip(".") for a in f.spec.get("accept", [])]
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if accept and ext not in accept:
            raise ValidationFailed([FieldError(label, f"{filename}: only {', '.join(accept)} files are accepted")])
        limit = int(f.spec.get("max_size_mb", DEFAULT_MAX_MB) * 1024 * 1024)
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := upload.stream.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise ValidationFailed([FieldError(label, f"{filename} is larger than "
                                                                  f"{f.spec.get('max_size_mb', DEFAULT_MAX_MB)} MB")])
                    digest.update(chunk)
                    out.write(chunk)
            final = self._path(digest.hexdigest())
            fresh = not final.exists()
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return StagedFile(filename, upload.content_type, size, digest.hexdigest(), _fresh=fresh)

    def stage_all(self, entity, files: dict) -> dict[str, list[StagedFile]]:
        """Stage the file parts of a request (``{"photo": [Upload], "items[0].photo": [Upload]}``);
        on a failure, what was staged already is discarded."""
        staged: dict[str, list[StagedFile]] = {}
        try:
            for path, uploads in files.items():
                f, table, _ = file_field(entity, path)
                if table is not None and len(uploads) > 1:
                    raise FieldError(path, "a table row holds one file per column")
                staged[path] = [self.stage(f, u, path) for u in uploads]
        except FieldError as exc:
            self.discard(staged)
            raise ValidationFailed([exc]) from None
        except BaseException:
            self.discard(staged)
            raise
        return staged

    def bind(self, conn, entity, record_id: int, field: str, staged: StagedFile, actor, label: str | None = None) -> int:
        """Write the attachment row of a staged file for a record (in ``conn``'s transaction)."""
        a = platform.attachment
        staged.id = conn.execute(insert(a).values(
            app=entity.app, entity=entity.name, record_id=record_id, field=field, filename=staged.filename,
            content_type=staged.content_type, size=staged.size, sha256=staged.sha256, created_at=utcnow(),
            created_by=actor.id).returning(a.c.id)).scalar_one()
        self.loom.audit.record(conn, actor, "attach", entity, record_id, None,
                               {"field": label or field, "filename": staged.filename, "size": staged.size})
        return staged.id

    def retire(self, conn, entity, record_id: int, ids, actor, field: str | None = None) -> None:
        """Mark files deleted that a record no longer holds (a replaced one), with an audit entry each."""
        a = platform.attachment
        ids = list(ids)
        if not ids:
            return
        rows = conn.execute(select(a.c.id, a.c.field, a.c.filename, a.c.size)
                            .where(a.c.id.in_(ids), a.c.deleted_at.is_(None))).all()
        conn.execute(update(a).where(a.c.id.in_([r.id for r in rows])).values(deleted_at=utcnow()))
        for r in rows:
            self.loom.audit.record(conn, actor, "detach", entity, record_id,
                                   {"field": field or r.field, "filename": r.filename, "size": r.size}, None)

    def discard(self, staged) -> None:
        """Remove the content of staged files that never became an attachment (the change failed)."""
        files = [s for group in (staged.values() if isinstance(staged, dict) else [staged]) for s in group]
        fresh = [s for s in files if s._fresh]
        if not fresh:
            return
        a = platform.attachment
        with self.loom.reader.connect() as c:
            used = set(c.execute(select(a.c.sha256).where(a.c.sha256.in_([s.sha256 for s in fresh]))).scalars())
        for s in fresh:
            if s.sha256 not in used:
                self._path(s.sha256).unlink(missing_ok=True)

    # ------------------------------------------------------------------ one file at a time
    def attach(self, app: str, entity: str, record_id: int, field: str, filename: str, content_type: str | None,
               stream, actor, conn=None) -> dict:
        """Add a file to a file field of a stored record (a single-file field: replace its file);
        with ``conn``, inside that transaction (a script's)."""
        et = self.loom.entity_tables(app, entity)
        f = et.entity.fields.get(field)
        if f is None or f.storage != "attachments":
            raise ValidationFailed([FieldError(field, f"{entity} has no file field {field!r}")])
        self.loom.permissions.require(actor, et.entity, "update")
        self.loom.permissions.check_write(actor, et.entity, {field: filename})
        self.loom.records.get(app, entity, record_id, actor, conn=conn)  # exists and readable
        staged = self.stage(f, Upload(filename, content_type, stream))
        try:
            with (contextlib.nullcontext(conn) if conn is not None else self.loom.engine.begin()) as c:
                if not f.spec.get("multiple", False):  # a single-file field: the new file replaces the old
                    a = platform.attachment
                    old = c.execute(select(a.c.id).where(
                        a.c.app == app, a.c.entity == entity, a.c.record_id == record_id, a.c.field == field,
                        a.c.deleted_at.is_(None))).scalars().all()
                    c.execute(update(a).where(a.c.id.in_(old)).values(deleted_at=utcnow()))
                self.bind(c, et.entity, record_id, field, staged, actor)
        except BaseException:
            self.discard([staged])
            raise
        return {**staged.as_json(), "sha256": staged.sha256}

    def attach_to_row(self, app: str, entity: str, record_id: int, table: str, row_id: int, column: str,
                      upload: Upload, actor) -> dict:
        """Put a file into the file column of one table row (replacing the row's file): a change of
        the record, through the record service (hooks, audit, a new row_version)."""
        records = self.loom.records
        et = self.loom.entity_tables(app, entity)
        f = et.entity.fields.get(table)
        if f is None or f.storage != "child":
            raise NotFound(f"{entity} has no table {table!r}")
        current = records.get(app, entity, record_id, actor)
        rows = current.get(table) or []
        index = next((i for i, r in enumerate(rows) if r.get("id") == row_id), None)
        if index is None:
            raise NotFound(f"{entity} {record_id} has no row {row_id} in {table}")
        record = records.update(app, entity, record_id, {table: rows}, current["row_version"], actor,
                                files={f"{table}[{index}].{column}": [upload]})
        row = next(r for r in record[table] if r.get("id") == row_id)
        return {"record": record, "file": row.get(column)}

    def open(self, attachment_id: int, actor) -> tuple[dict, Path]:
        a = platform.attachment
        with self.loom.reader.connect() as c:
            row = c.execute(select(a).where(a.c.id == attachment_id, a.c.deleted_at.is_(None))).mappings().first()
        if row is None:
            raise NotFound(f"no file {attachment_id}")
        try:  # may the actor read the record? An outsider learns nothing, not even which record
            self.loom.records.get(row["app"], row["entity"], row["record_id"], actor)
        except (NotFound, Forbidden):
            raise NotFound(f"no file {attachment_id}") from None
        entity = self.loom.entity_tables(row["app"], row["entity"]).entity
        if row["field"] in self.loom.permissions.hidden(actor, entity):
            raise NotFound(f"no file {attachment_id}")
        return dict(row), self._path(row["sha256"])

    def detach(self, attachment_id: int, actor) -> dict:
        """Delete a file: whoever uploaded it, or an administrator, if they may update its record
        and its field is not read-only for them. The last file of a required field stays until
        another one is uploaded."""
        info, _ = self.open(attachment_id, actor)  # exists, the record and the field are visible
        entity = self.loom.entity_tables(info["app"], info["entity"]).entity
        self.loom.permissions.require(actor, entity, "update")
        if info["field"] in self.loom.permissions.readonly(actor, entity):
            raise Forbidden(f"{info['field']} is read-only for your role", field=info["field"])
        if info["created_by"] != actor.id and not actor.is_admin:
            raise Forbidden("only the user who uploaded a file or an administrator may delete it")
        f = entity.fields.get(info["field"])
        if f is not None and f.storage != "attachments":
            raise Forbidden(f"this file belongs to a row of {info['field']}; change the row to remove it",
                            field=info["field"])
        a = platform.attachment
        with self.loom.engine.begin() as c:
            if f is not None and f.required:
                left = c.execute(select(a.c.id).where(
                    a.c.app == info["app"], a.c.entity == info["entity"], a.c.record_id == info["record_id"],
                    a.c.field == info["field"], a.c.deleted_at.is_(None), a.c.id != attachment_id).limit(1)).first()
                if left is None:
                    raise ValidationFailed([FieldError(info["field"], "is required: upload another file before "
                                                                      "deleting the last one")])
            done = c.execute(update(a).where(a.c.id == attachment_id, a.c.deleted_at.is_(None))
                             .values(deleted_at=utcnow())).rowcount
            if not done:
                raise NotFound(f"no file {attachment_id}")
            self.loom.audit.record(c, actor, "detach", entity, info["record_id"],
                                   {"field": info["field"], "filename": info["filename"], "size": info["size"]}, None)
        return info


def merge_uploads(data: dict, staged: dict) -> dict:
    """``data`` with its staged files in place: a file field's list gets them added, a table row's
    file column (``items[0].photo``) holds its file; the row must be in ``data``."""
    if not staged:
        return data
    data = dict(data)
    for path, files in staged.items():
        head, _, rest = path.partition("[")
        if not rest:
            current = data.get(head)
            current = current if isinstance(current, list) else [] if current is None else [current]
            data[head] = [*current, *files]
            continue
        index, column = int(rest.partition("]")[0]), path.rpartition(".")[2]
        rows = data.get(head)
        if not isinstance(rows, list) or index >= len(rows) or not isinstance(rows[index], dict):
            raise ValidationFailed([FieldError(path, f"the record data has no row {index} of {head} for this file; "
                                                     f"send the table's rows with it")])
        data[head] = rows = [dict(r) if isinstance(r, dict) else r for r in rows]
        rows[index][column] = files[0]
    return data
