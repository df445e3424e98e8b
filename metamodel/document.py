"""An app as one document, and its mapping to and from a folder of files.

A document is ``{"app": {...}, "entities": {name: {...}}, "routing": {...},
"sla": {...}, "schedules": {...}, "portal": {...}, "reports": {...}, "approvals": {...},
"batches": {...}, "scripts": {file: source}, "fixtures": {entity: [records]},
"extensions": {kind: {...}}}``. The folder layout mirrors it: ``app.yaml``,
``entities/<name>.yaml``, ``routing.yaml``, ..., ``scripts/<file>.py``,
``fixtures/<entity>.yaml``, ``extensions/<kind>.yaml`` (metadata kinds that
plugins define).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import MetadataError, Problem
from .yamlio import dump_yaml, load_yaml

SECTIONS = ("routing", "sla", "schedules", "notifications", "portal", "reports", "approvals", "batches")


def file_of(path: tuple) -> tuple[str, tuple]:
    """Map a document path to ``(file name, path inside that file)``."""
    if not path:
        return "app.yaml", ()
    head = path[0]
    if head == "app":
        return "app.yaml", path[1:]
    if head == "entities" and len(path) > 1:
        return f"entities/{path[1]}.yaml", path[2:]
    if head == "fixtures" and len(path) > 1:
        return f"fixtures/{path[1]}.yaml", path[2:]
    if head == "extensions" and len(path) > 1:
        return f"extensions/{path[1]}.yaml", path[2:]
    if head == "scripts" and len(path) > 1:
        return f"scripts/{path[1]}", path[2:]
    if head in SECTIONS:
        return f"{head}.yaml", path[1:]
    return "app.yaml", path


class SourceMap:
    """Line numbers of document paths, for errors that point into files."""

    def __init__(self):
        self._lines: dict[str, dict[tuple, int]] = {}

    def add(self, filename: str, lines: dict[tuple, int]) -> None:
        self._lines[filename] = lines

    def line(self, filename: str, inner: tuple) -> int | None:
        lines = self._lines.get(filename)
        if not lines:
            return None
        inner = tuple(inner)
        while inner not in lines and inner:
            inner = inner[:-1]  # fall back to the nearest enclosing node
        return lines.get(inner)


def read_folder(folder: str | Path) -> tuple[dict, SourceMap]:
    """Read an app folder into a document, collecting every syntax problem."""
    folder = Path(folder)
    doc: dict = {"entities": {}, "scripts": {}, "fixtures": {}}
    source = SourceMap()
    problems: list[Problem] = []

    def read(path: Path, rel: str):
        try:
            data, lines = load_yaml(path.read_text(encoding="utf-8"), rel)
        except MetadataError as exc:
            problems.extend(exc.problems)
            return None
        except UnicodeDecodeError as exc:
            problems.append(Problem(rel, "", f"not UTF-8 text: {exc.reason}"))
            return None
        source.add(rel, lines)
        return data

    if not (folder / "app.yaml").is_file():
        raise MetadataError([Problem(str(folder), "", "no app.yaml: an app folder must have one")])
    doc["app"] = read(folder / "app.yaml", "app.yaml")
    for kind in SECTIONS:
        path = folder / f"{kind}.yaml"
        if path.is_file():
            doc[kind] = read(path, f"{kind}.yaml")
    for sub in ("entities", "fixtures", "extensions"):
        for path in sorted((folder / sub).glob("*.y*ml")):
            doc.setdefault(sub, {})[path.stem] = read(path, f"{sub}/{path.name}")
    for path in sorted((folder / "scripts").glob("*.py")):
        doc["scripts"][path.name] = path.read_text(encoding="utf-8")
    if problems:
        raise MetadataError(problems)
    return doc, source


def write_folder(doc: dict, folder: str | Path) -> list[Path]:
    """Write ``doc`` as an app folder; the same document always gives the same bytes."""
    folder = Path(folder)
    written = []

    def put(rel: str, text: str):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written.append(path)

    put("app.yaml", dump_yaml(doc["app"]))
    for kind in SECTIONS:
        if doc.get(kind):
            put(f"{kind}.yaml", dump_yaml(doc[kind]))
    for name, spec in doc.get("entities", {}).items():
        put(f"entities/{name}.yaml", dump_yaml(spec))
    for name, records in doc.get("fixtures", {}).items():
        put(f"fixtures/{name}.yaml", dump_yaml(records))
    for kind, data in doc.get("extensions", {}).items():
        put(f"extensions/{kind}.yaml", dump_yaml(data))
    for name, text in doc.get("scripts", {}).items():
        put(f"scripts/{name}", text)
    return written


def normalize(doc: dict) -> dict:
    """Drop empty optional parts so that equal apps give equal documents."""
    out = {"app": doc.get("app")}
    for key in ("entities", "scripts", "fixtures"):
        out[key] = dict(doc.get(key) or {})
    for kind in SECTIONS:
        if doc.get(kind):
            out[kind] = doc[kind]
    if doc.get("extensions"):  # absent when empty: apps without plugin kinds keep their hashes
        out["extensions"] = dict(doc["extensions"])
    return out


def _canonical(value, key=None):
    """Sorted keys, except where order means something: the order of ``fields``
    is the default order of forms and columns, so it is kept."""
    if isinstance(value, dict):
        if key == "fields":
            return [[k, _canonical(v, k)] for k, v in value.items()]
        return {k: _canonical(value[k], k) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def content_hash(doc: dict) -> str:
    """SHA-256 of the canonical JSON of the normalized document (reformatting does not change it)."""
    canonical = json.dumps(_canonical(normalize(doc)), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
