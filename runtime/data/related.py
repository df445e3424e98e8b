"""The parts of a record that live outside its row: child-table rows, multi-link ids, files.

Values are typed as the columns store them (``Decimal`` money, ``date``), so scripts and
expressions compare them as what they are; the API turns them into JSON. Reading many
records at once (``find()`` in a script) costs one query per table field, per multi-link and
one for the files, whatever the number of records.
"""
from __future__ import annotations

from sqlalchemy import select

from . import tables as platform
from .storage import EntityTables

FILE_COLUMNS = ("id", "filename", "size", "content_type")


def file_columns(f) -> list[str]:
    """The columns of table field ``f`` that hold a file (an attachment id)."""
    return [c.name for c in f.children.values() if c.type == "file"]


def load(conn, et: EntityTables, ids) -> dict[int, dict]:
    """``{record id: {field: value}}`` for every table, multi-link and file field of ``et``.

    A child row is a dict of its ``id`` and columns (a file column holds its file's
    ``{id, filename, size, content_type}``); a multi-link is a list of ids; a file field a
    list of files.
    """
    ids = list(ids)
    out: dict[int, dict] = {i: {} for i in ids}
    if not ids:
        return out
    entity = et.entity
    row_files: set = set()
    for name, child in et.children.items():
        for i in ids:
            out[i][name] = []
        rows = conn.execute(select(child).where(child.c.parent_id.in_(ids))
                            .order_by(child.c.parent_id, child.c.position)).mappings()
        for r in rows:
            out[r["parent_id"]][name].append({k: v for k, v in r.items() if k not in ("parent_id", "position")})
        for column in file_columns(entity.fields[name]):
            row_files.update(row[column] for i in ids for row in out[i][name] if row.get(column) is not None)
    for name, assoc in et.assoc.items():
        for i in ids:
            out[i][name] = []
        for parent, target in conn.execute(select(assoc.c.parent_id, assoc.c.target_id)
                                           .where(assoc.c.parent_id.in_(ids))
                                           .order_by(assoc.c.parent_id, assoc.c.position)):
            out[parent][name].append(target)
    file_fields = [f.name for f in entity.fields.values() if f.storage == "attachments"]
    if file_fields or row_files:
        a = platform.attachment
        cols = [a.c.id, a.c.record_id, a.c.field, a.c.filename, a.c.size, a.c.content_type]
        where = [a.c.app == entity.app, a.c.entity == entity.name, a.c.record_id.in_(ids), a.c.deleted_at.is_(None)]
        files = conn.execute(select(*cols).where(*where).order_by(a.c.id)).all()
        for i in ids:
            out[i].update({name: [] for name in file_fields})
        by_id = {}
        for r in files:
            meta = {"id": r.id, "filename": r.filename, "size": r.size, "content_type": r.content_type}
            by_id[r.id] = meta
            if r.field in file_fields:
                out[r.record_id][r.field].append(meta)
        for name in et.children:
            for column in file_columns(entity.fields[name]):
                for i in ids:
                    for row in out[i][name]:
                        if row.get(column) is not None:
                            row[column] = by_id.get(row[column])
    return out


def row_file_ids(conn, et: EntityTables, name: str, record_id: int) -> set[int]:
    """The attachment ids the rows of table ``name`` of a record hold now."""
    child = et.children[name]
    columns = file_columns(et.entity.fields[name])
    if not columns:
        return set()
    found = set()
    for row in conn.execute(select(*[child.c[c] for c in columns]).where(child.c.parent_id == record_id)):
        found.update(v for v in row if v is not None)
    return found
