"""The draft of an app: what analysts edit before they publish.

A draft is a whole app document (see :mod:`metamodel.document`) stored with
the app (``loom_app.draft``) under a revision number. Every save names the
revision it was read at; a save over a newer revision is refused with
:class:`runtime.errors.Conflict` naming who saved and which revision, so two
analysts never silently overwrite each other. Without a saved draft, opening
an app gives a copy of its live document at the stored revision, and the
first save creates the draft.

Items are exactly the files of an app folder: ``app.yaml``,
``entities/<name>.yaml``, ``routing.yaml`` ... ``reports.yaml``,
``scripts/<file>.py``, ``fixtures/<entity>.yaml``.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from jsonschema import Draft202012Validator

from metamodel import MetadataError, Problem, normalize
from metamodel.document import SECTIONS, SourceMap
from metamodel.errors import dotted
from metamodel.model import title_text
from metamodel.schemas import validator
from metamodel.validate import explain_schema_error as explain  # the wording of whole-app validation
from metamodel.yamlio import dump_yaml, load_yaml
from runtime.errors import LoomError, NotFound

from .links import editor_url

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
SCRIPT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,60}\.py")


@dataclass
class Draft:
    app: str
    doc: dict              # the whole app document
    revision: int          # the draft revision the doc was read at
    live_version: int | None


class BadItem(LoomError):
    """An item name that is not a file of an app folder."""


def empty_document(name: str, title: dict) -> dict:
    return {"app": {"name": name, "title": title}, "entities": {}, "scripts": {}, "fixtures": {}}


def minimal_entity(title: dict) -> dict:
    """The smallest valid entity: a title and one required name field shown as its title."""
    return {"title": title,
            "title_field": "name",
            "fields": {"name": {"type": "string", "title": {"ru": "Название", "en": "Name"},
                                "required": True, "max_length": 200}}}


def parse_item(item: str) -> tuple:
    """``entities/request.yaml`` -> ``("entities", "request")``; ``app.yaml`` -> ``("app",)``."""
    if item == "app.yaml":
        return ("app",)
    stem = item[:-5] if item.endswith(".yaml") else None
    if stem in SECTIONS:
        return (stem,)
    for folder in ("entities", "fixtures", "extensions"):
        if stem and stem.startswith(folder + "/") and NAME.fullmatch(stem[len(folder) + 1:]):
            return (folder, stem[len(folder) + 1:])
    if item.startswith("scripts/") and SCRIPT.fullmatch(item[len("scripts/"):]):
        return ("scripts", item[len("scripts/"):])
    raise BadItem(f"{item!r} is not a file of an app folder (app.yaml, entities/<name>.yaml, "
                  f"{', '.join(s + '.yaml' for s in SECTIONS)}, scripts/<file>.py, fixtures/<name>.yaml, "
                  f"extensions/<kind>.yaml)")


def item_kind(item: str) -> str:
    """The JSON Schema kind of an item (``metamodel.schemas.validator(kind)``), ``script``, or
    ``extension`` (a plugin's kind, whose schema the plugin gives)."""
    path = parse_item(item)
    return {"app": "app", "entities": "entity", "fixtures": "fixture", "scripts": "script",
            "extensions": "extension"}.get(path[0], path[0])


class Drafts:
    def __init__(self, loom):
        self.loom = loom

    # ------------------------------------------------------------------ storage
    def open(self, app: str) -> Draft:
        """The saved draft, or a copy of the live document; NotFound if the app is unknown."""
        state = self.loom.store.draft(app)
        doc = state["draft"]
        if doc is None:
            if state["current_version"] is None:
                raise NotFound(f"app {app!r} has neither a draft nor a published version")
            doc = self.loom.store.document(app, state["current_version"])
        return Draft(app, normalize(copy.deepcopy(doc)), state["draft_revision"], state["current_version"])

    def save(self, app: str, doc: dict, revision: int, author: str) -> int:
        """Store ``doc`` as the draft read at ``revision``; the new revision (Conflict if stale)."""
        return self.loom.store.save_draft(app, doc, author, revision)

    def create(self, name: str, title: dict, author: str) -> Draft:
        """A new app that exists only as a draft (no published version yet)."""
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise LoomError(f"app name {name!r} must be lower_snake_case: a letter, then letters, digits "
                            f"or _, at most 40 characters")
        title = {lang: text.strip() for lang, text in (title or {}).items() if text and text.strip()}
        if not title:
            raise LoomError("an app needs a title")
        doc = empty_document(name, title)
        revision = self.loom.store.create_draft(name, doc, author)
        return Draft(name, normalize(doc), revision, None)

    def discard(self, app: str, author: str, revision: int | None = None) -> None:
        self.loom.store.discard_draft(app, author, revision)

    # ------------------------------------------------------------------ items
    def items(self, doc: dict) -> list[dict]:
        out = [{"item": "app.yaml", "kind": "app", "title": title_text((doc.get("app") or {}).get("title"))}]
        for name, spec in (doc.get("entities") or {}).items():
            title = title_text(spec.get("title")) if isinstance(spec, dict) else ""
            out.append({"item": f"entities/{name}.yaml", "kind": "entity", "title": title or name})
        for kind in SECTIONS:
            if doc.get(kind) is not None:
                out.append({"item": f"{kind}.yaml", "kind": kind, "title": kind})
        for name in (doc.get("scripts") or {}):
            out.append({"item": f"scripts/{name}", "kind": "script", "title": name})
        for name in (doc.get("fixtures") or {}):
            out.append({"item": f"fixtures/{name}.yaml", "kind": "fixture", "title": name})
        for name in (doc.get("extensions") or {}):
            out.append({"item": f"extensions/{name}.yaml", "kind": "extension", "title": name})
        return out

    def get_item(self, doc: dict, item: str):
        """The value of one item (a dict, a list for fixtures, the source text for scripts);
        None when the document does not have it."""
        path = parse_item(item)
        value = doc.get(path[0])
        if len(path) == 2:
            value = (value or {}).get(path[1])
        return value

    def set_item(self, doc: dict, item: str, value) -> dict:
        """A new document with ``item`` replaced by ``value`` (None removes it)."""
        path = parse_item(item)
        new = copy.deepcopy(doc)
        if len(path) == 1:
            if value is None:
                if path[0] == "app":
                    raise BadItem("app.yaml cannot be removed")
                new.pop(path[0], None)
            else:
                new[path[0]] = value
        else:
            folder = dict(new.get(path[0]) or {})
            if value is None:
                folder.pop(path[1], None)
            else:
                folder[path[1]] = value
            new[path[0]] = folder
        return normalize(new)

    # ------------------------------------------------------------------ problems
    def problems(self, app: str, doc: dict) -> list[dict]:
        """Every problem, each with its file, line (in the YAML the raw view shows), path,
        message and the URL of the editor that fixes it."""
        found: list[Problem] = []
        name = (doc.get("app") or {}).get("name") if isinstance(doc.get("app"), dict) else None
        if name != app:
            found.append(Problem("app.yaml", "name", f"the app name must stay {app!r} (it is {name!r})"))
        try:
            self.loom.store.validate(doc, source_map(doc))
        except MetadataError as exc:
            found.extend(exc.problems)
        return [{**p.as_dict(), "editor": editor_url(app, p.file, p.path)} for p in found]


def item_text(item: str, value) -> str:
    """What the raw view shows: the source of a script, the YAML of anything else."""
    if value is None:
        return ""
    return value if item_kind(item) == "script" else dump_yaml(value)


def check_text(app: str, item: str, text: str, kinds=None) -> tuple[object, list[Problem]]:
    """Parse the raw text of ``item`` and check it against the JSON Schema of its kind
    (for ``extensions/<kind>.yaml``, the schema in ``kinds``, the plugins' metadata kinds).

    Returns ``(value, problems)``; problems name the item, the line and the path. Only the
    item itself is checked: references to other items are the whole app's validation.
    """
    kind = item_kind(item)
    if kind == "script":
        try:
            compile(text, item, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return text, [Problem(item, "", f"Python syntax error: {exc.msg}", exc.lineno)]
        return text, []
    try:
        value, lines = load_yaml(text, item)
    except MetadataError as exc:
        return None, exc.problems

    def line(path: tuple) -> int | None:
        while path not in lines and path:
            path = path[:-1]
        return lines.get(path)

    path = parse_item(item)
    if kind == "extension":
        schema = (kinds or {}).get(path[1])
        if schema is None:
            return value, [Problem(item, "", f"no installed plugin defines the metadata kind {path[1]!r}", 1)]
        check = Draft202012Validator(schema)
    else:
        check = validator(kind)
    problems = [Problem(item, dotted(err.absolute_path), explain(err), line(tuple(err.absolute_path)))
                for err in sorted(check.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))]
    if kind == "app" and isinstance(value, dict) and value.get("name") != app:
        problems.append(Problem(item, "name", f"the app name must stay {app!r}", line(("name",))))
    if kind == "entity" and isinstance(value, dict) and value.get("name", path[1]) != path[1]:
        problems.append(Problem(item, "name", f"name {value['name']!r} differs from the file name {path[1]!r}",
                                line(("name",))))
    return value, problems


def source_map(doc: dict) -> SourceMap:
    """Line numbers of every item as the raw YAML view shows it (``dump_yaml`` of the item)."""
    source = SourceMap()

    def add(filename: str, value) -> None:
        try:
            _, lines = load_yaml(dump_yaml(value), filename)
        except MetadataError:  # pragma: no cover - dump_yaml output always loads
            return
        source.add(filename, lines)

    add("app.yaml", doc.get("app"))
    for kind in SECTIONS:
        if doc.get(kind) is not None:
            add(f"{kind}.yaml", doc[kind])
    for folder in ("entities", "fixtures", "extensions"):
        for name, value in (doc.get(folder) or {}).items():
            add(f"{folder}/{name}.yaml", value)
    return source
