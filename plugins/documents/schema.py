"""``extensions/documents.yaml``: an app's printable documents, and its checks at publish.

```yaml
templates:
  act:                                  # the template's name
    entity: request                     # whose records it prints
    title: {ru: Акт выполненных работ, en: Act of completed works}
    html: |                             # HTML + jinja, printed as PDF ...
      <h1>Акт по заявке {{ record.number }}</h1>
    # docx: <base64 of a .docx with docxtpl tags>   ... or a Word template, printed as DOCX
    filename: "Акт {{ record.number }}" # optional, jinja; the suffix is added
    attach_to: attachments              # optional: a file field that keeps printed copies
    roles: [agent]                      # optional: who gets the button (readers of the record by default)
    list: true                          # optional (HTML only): print the selected records of a list
    related:                            # optional: records of other entities, as related.<name>
      lines:
        entity: accrual_line
        match: {account: account, period: period}   # their field: this record's field (or id)
        sort: [service]
```
"""
from __future__ import annotations

import difflib

from runtime.plugin_api import titled

from .render import TemplateProblem, check_docx, check_html, decode_docx, record_paths

KIND = "documents"
FILE = f"extensions/{KIND}.yaml"

_TITLE = {"oneOf": [{"type": "string", "minLength": 1},
                    {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"},
                     "propertyNames": {"enum": ["ru", "en"]}}]}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Printable documents",
    "description": "Templates that print an entity's records as PDF (HTML) or DOCX (Word).",
    "x-description": {"ru": "Шаблоны, которые печатают записи сущности в PDF (HTML) или DOCX (Word).",
                      "en": "Templates that print an entity's records as PDF (HTML) or DOCX (Word)."},
    "type": "object",
    "additionalProperties": False,
    "required": ["templates"],
    "properties": {
        "templates": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,39}$"},
            "additionalProperties": {"$ref": "#/$defs/template"},
            **titled("Шаблоны", "Templates"),
        },
    },
    "$defs": {
        "template": {
            "type": "object",
            "additionalProperties": False,
            "required": ["entity", "title"],
            "properties": {
                "entity": {"type": "string", **titled("Сущность", "Entity", "сущность, записи которой печатает шаблон",
                                                      "the entity whose records it prints")},
                "title": {**_TITLE, **titled("Название", "Title")},
                "html": {"type": "string", "minLength": 1, **titled("Шаблон HTML", "HTML template",
                                                                    "HTML с jinja, печатается в PDF",
                                                                    "HTML with jinja, printed as PDF")},
                "docx": {"type": "string", "minLength": 1,
                         **titled("Шаблон Word", "Word template", "файл Word с тегами docxtpl в base64; печатается в DOCX",
                                  "a Word file with docxtpl tags, base64; printed as DOCX")},
                "filename": {"type": "string", "minLength": 1, "maxLength": 200, **titled("Имя файла", "File name")},
                "attach_to": {"type": "string", **titled("Сохранять копии в поле", "Attach to field",
                                                         "файловое поле, где хранятся напечатанные копии",
                                                         "a file field that keeps printed copies")},
                "roles": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, **titled("Роли", "Roles")},
                "list": {"type": "boolean", **titled("Печать из списка", "Print from lists",
                                                     "предлагается в списках для выбранных записей",
                                                     "offered on lists for the selected records")},
                "related": {
                    "type": "object",
                    **titled("Связанные записи", "Related records",
                             "записи другой сущности, которые шаблон читает как related.<код>",
                             "records of another entity the template reads as related.<name>"),
                    "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,39}$"},
                    "additionalProperties": {
                        "type": "object", "additionalProperties": False, "required": ["entity", "match"],
                        "properties": {
                            "entity": {"type": "string", **titled("Сущность", "Entity")},
                            "match": {"type": "object", "minProperties": 1,
                                      "additionalProperties": {"type": "string"},
                                      **titled("Совпадение полей", "Match on fields",
                                               "их поле: поле этой записи (или id), которому оно равно",
                                               "their field: this record's field (or id) it equals")},
                            "sort": {"type": "array", "items": {"type": "string"}, **titled("Сортировка", "Sort")},
                        },
                    },
                },
            },
            "oneOf": [{"required": ["html"]}, {"required": ["docx"]}],
        },
    },
}


def where(name: str, part: str) -> str:
    """How errors name a template's part: ``extensions/documents.yaml templates.act.html``."""
    return f"{FILE} templates.{name}.{part}"


def check(section: dict, doc: dict):
    """What the schema cannot say: the entity, its file field and the app's roles exist, and
    every template compiles. Yields ``(path, message, line offset)``; a template's own line is
    the offset from its key (an HTML block starts on the line after ``html: |``)."""
    entities = doc.get("entities") or {}
    roles = {r.get("name") for r in (doc.get("app") or {}).get("roles") or [] if isinstance(r, dict)}
    for name, spec in (section.get("templates") or {}).items():
        entity = entities.get(spec["entity"])
        if entity is None:
            yield (("templates", name, "entity"),
                   f"no entity {spec['entity']!r} in this app; entities: {', '.join(sorted(entities)) or 'none'}", None)
        elif spec.get("attach_to"):
            field = (entity.get("fields") or {}).get(spec["attach_to"])
            if not isinstance(field, dict) or field.get("type") != "file":
                files = sorted(n for n, f in (entity.get("fields") or {}).items()
                               if isinstance(f, dict) and f.get("type") == "file")
                yield (("templates", name, "attach_to"),
                       f"{spec['entity']} has no file field {spec['attach_to']!r}; its file fields: "
                       f"{', '.join(files) or 'none (add a field of type file)'}", None)
        for rel, rspec in (spec.get("related") or {}).items():
            yield from _check_related(entities, entity, name, rel, rspec)
        for i, role in enumerate(spec.get("roles") or []):
            if role not in roles:
                yield (("templates", name, "roles", i),
                       f"no role {role!r} in app.yaml; roles: {', '.join(sorted(roles)) or 'none'}", None)
        if "docx" in spec and spec.get("list"):
            yield (("templates", name, "list"), "only HTML templates print a list into one PDF", None)
        for part, test in (("html", check_html), ("filename", check_html)):
            if part in spec:
                try:
                    test(spec[part], where(name, part))
                except TemplateProblem as exc:
                    yield (("templates", name, part), f"template line {exc.line}: {exc.message}",
                           exc.line if "\n" in spec[part] else None)
                    continue
                if entity is not None:
                    yield from _unknown_paths(entities, entity, spec[part], ("templates", name, part))
        if "docx" in spec:
            try:
                check_docx(decode_docx(spec["docx"], where(name, "docx")), where(name, "docx"))
            except TemplateProblem as exc:
                line = f"line {exc.line} of " if exc.line else ""
                yield (("templates", name, "docx"), f"{line}the Word file: {exc.message}", None)


_SYSTEM = {"id", "number", "status", "created_at", "created_by", "updated_at", "updated_by", "row_version",
           "meta_version", "deleted_at"}


def _unknown_paths(entities: dict, entity: dict, source: str, path: tuple):
    """``record.x`` and ``record.link.y`` name fields that exist: a typo would print an error
    instead of the document, found only when someone prints it."""
    fields = entity.get("fields") or {}
    for line, parts in dict.fromkeys(record_paths(source)):  # a name twice on a line is said once
        head = parts[0]
        if head not in fields and head not in _SYSTEM:
            yield path, f"template line {line}: record.{head}: {_no_field(head, fields)}", \
                line if "\n" in source else None
        elif len(parts) == 2 and isinstance(fields.get(head), dict) and fields[head].get("type") == "link":
            target = entities.get(str(fields[head].get("entity", "")).rpartition(".")[2]) or {}
            inner = target.get("fields") or {}
            if target and parts[1] not in inner and parts[1] not in _SYSTEM:
                yield path, f"template line {line}: record.{head}.{parts[1]}: {_no_field(parts[1], inner)}", \
                    line if "\n" in source else None


def _no_field(name: str, fields: dict) -> str:
    close = difflib.get_close_matches(name, sorted(fields), n=1)
    return f"no field {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")


def _check_related(entities: dict, entity, name: str, rel: str, spec: dict):
    """``related.<rel>``: its entity exists, and each match pairs a field of it with one of ours."""
    path = ("templates", name, "related", rel)
    other = entities.get(spec["entity"])
    if other is None:
        yield (path + ("entity",), f"no entity {spec['entity']!r} in this app; entities: "
                                   f"{', '.join(sorted(entities)) or 'none'}", None)
        return
    theirs = set(other.get("fields") or {}) | {"id", "status"}
    ours = set((entity or {}).get("fields") or {}) | {"id", "status", "number"}
    for their, our in spec["match"].items():
        if their not in theirs:
            yield (path + ("match", their), f"{spec['entity']} has no field {their!r}; its fields: "
                                            f"{', '.join(sorted(theirs))}", None)
        if entity is not None and our not in ours:
            yield (path + ("match", their), f"the printed record has no field {our!r}; its fields: "
                                            f"{', '.join(sorted(ours))}", None)
    for i, key in enumerate(spec.get("sort") or []):
        if key.lstrip("-") not in theirs | {"number", "created_at"}:
            yield (path + ("sort", i), f"{spec['entity']} has no field {key.lstrip('-')!r} to sort by", None)
