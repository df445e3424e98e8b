"""An app folder as a zip file, both ways.

Export writes the document with :func:`metamodel.write_folder` under one top
folder named after the app (the layout of ``apps_config/<app>/``), with fixed
timestamps so the same document always gives the same bytes. Import accepts
that layout or the files at the top of the archive, and reads them with
:func:`metamodel.read_folder`, so every syntax error names its file and line.
"""
from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from metamodel import MetadataError, Problem, read_folder, write_folder
from metamodel.document import SourceMap

MAX_UNPACKED = 50 * 1024 * 1024  # an app folder is text; refuse zip bombs
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def export_zip(doc: dict, top: str) -> bytes:
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        written = write_folder(doc, tmp)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(written):
                info = zipfile.ZipInfo(f"{top}/{path.relative_to(tmp).as_posix()}", FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _problem(message: str) -> MetadataError:
    return MetadataError([Problem("(zip)", "", message)])


def _app_folder(names: list[str]) -> str:
    """The prefix of the folder that holds ``app.yaml``: ``""`` or ``"<folder>/"``."""
    if "app.yaml" in names:
        return ""
    tops = [n[: -len("app.yaml")] for n in names
            if n.endswith("/app.yaml") and n.count("/") == 1 and not n.startswith("__MACOSX/")]
    if len(tops) == 1:
        return tops[0]
    if not tops:
        raise _problem("no app.yaml at the top of the archive or in one folder under it")
    raise _problem(f"more than one app folder in the archive: {', '.join(sorted(t.rstrip('/') for t in tops))}")


def read_zip(data: bytes) -> tuple[dict, SourceMap]:
    """The document and source map of the app folder in a zip; MetadataError naming file:line."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _problem("this is not a zip file") from None
    with zf, tempfile.TemporaryDirectory() as tmp:
        entries = [i for i in zf.infolist() if not i.is_dir()]
        if sum(i.file_size for i in entries) > MAX_UNPACKED:
            raise _problem(f"the archive unpacks to more than {MAX_UNPACKED // (1024 * 1024)} MB")
        prefix = _app_folder([i.filename for i in entries])
        for info in entries:
            if not info.filename.startswith(prefix):
                continue
            rel = PurePosixPath(info.filename[len(prefix):])
            if rel.is_absolute() or ".." in rel.parts:
                raise _problem(f"unsafe path in the archive: {info.filename}")
            target = Path(tmp, *rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
        try:
            return read_folder(tmp)
        except UnicodeDecodeError as exc:  # a script that is not UTF-8 text
            raise _problem(f"a script is not UTF-8 text: {exc.reason}") from None
