"""Attachments: metadata rows in ``loom_attachment``, content on disk by SHA-256.

Deleting a file marks its row deleted (the content stays: another row may
share it); the audit log records who removed which file.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import insert, select, update

from runtime.errors import Forbidden, LoomError, NotFound, ValidationFailed

from . import tables as platform
from .storage import utcnow
from .values import FieldError

CHUNK = 1 << 16


class FileStore:
    def __init__(self, loom):
        self.loom = loom
        if loom.files_dir is None:
            raise LoomError("this instance has no file store configured")
        self.root = Path(loom.files_dir)

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    def attach(self, app: str, entity: str, record_id: int, field: str, filename: str, content_type: str | None,
               stream, actor) -> dict:
        et = self.loom.entity_tables(app, entity)
        f = et.entity.fields.get(field)
        if f is None or f.storage != "attachments":
            raise ValidationFailed([FieldError(field, f"{entity} has no file field {field!r}")])
        self.loom.permissions.require(actor, et.entity, "update")
        self.loom.permissions.check_write(actor, et.entity, {field: filename})
        self.loom.records.get(app, entity, record_id, actor)  # exists and readable
        accept = [a.lower().lstrip(".") for a in f.spec.get("accept", [])]
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if accept and ext not in accept:
            raise ValidationFailed([FieldError(field, f"{filename}: only {', '.join(accept)} files are accepted")])
        limit = int(f.spec.get("max_size_mb", 50) * 1024 * 1024)
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise ValidationFailed([FieldError(field, f"{filename} is larger than "
                                                                  f"{f.spec.get('max_size_mb', 50)} MB")])
                    digest.update(chunk)
                    out.write(chunk)
            final = self._path(digest.hexdigest())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        with self.loom.engine.begin() as c:
            if not f.spec.get("multiple", False):  # a single-file field: the new file replaces the old
                c.execute(update(platform.attachment).where(
                    platform.attachment.c.app == app, platform.attachment.c.entity == entity,
                    platform.attachment.c.record_id == record_id, platform.attachment.c.field == field,
                    platform.attachment.c.deleted_at.is_(None)).values(deleted_at=utcnow()))
            new_id = c.execute(insert(platform.attachment).values(
                app=app, entity=entity, record_id=record_id, field=field, filename=filename,
                content_type=content_type, size=size, sha256=digest.hexdigest(), created_at=utcnow(),
                created_by=actor.id).returning(platform.attachment.c.id)).scalar_one()
            self.loom.audit.record(c, actor, "attach", et.entity, record_id, None,
                                   {"field": field, "filename": filename, "size": size})
        return {"id": new_id, "filename": filename, "size": size, "content_type": content_type,
                "sha256": digest.hexdigest()}

    def open(self, attachment_id: int, actor) -> tuple[dict, Path]:
        a = platform.attachment
        with self.loom.reader.connect() as c:
            row = c.execute(select(a).where(a.c.id == attachment_id, a.c.deleted_at.is_(None))).mappings().first()
        if row is None:
            raise NotFound(f"no file {attachment_id}")
        self.loom.records.get(row["app"], row["entity"], row["record_id"], actor)  # may the actor read it?
        entity = self.loom.entity_tables(row["app"], row["entity"]).entity
        if row["field"] in self.loom.permissions.hidden(actor, entity):
            raise NotFound(f"no file {attachment_id}")
        return dict(row), self._path(row["sha256"])

    def detach(self, attachment_id: int, actor) -> dict:
        """Delete a file: whoever uploaded it, or an administrator, if they may update its record
        and its field is not read-only for them."""
        info, _ = self.open(attachment_id, actor)  # exists, the record and the field are visible
        entity = self.loom.entity_tables(info["app"], info["entity"]).entity
        self.loom.permissions.require(actor, entity, "update")
        if info["field"] in self.loom.permissions.readonly(actor, entity):
            raise Forbidden(f"{info['field']} is read-only for your role", field=info["field"])
        if info["created_by"] != actor.id and not actor.is_admin:
            raise Forbidden("only the user who uploaded a file or an administrator may delete it")
        a = platform.attachment
        with self.loom.engine.begin() as c:
            done = c.execute(update(a).where(a.c.id == attachment_id, a.c.deleted_at.is_(None))
                             .values(deleted_at=utcnow())).rowcount
            if not done:
                raise NotFound(f"no file {attachment_id}")
            self.loom.audit.record(c, actor, "detach", entity, info["record_id"],
                                   {"field": info["field"], "filename": info["filename"], "size": info["size"]}, None)
        return info
