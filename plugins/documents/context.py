"""What a template sees: the record, its table rows and its linked records, read as the
printing user (so a linked record they may not read is ``None``, and hidden fields are
absent, exactly as in the record's page).

```
record      the record's fields (``record.number``, ``record.subject``, ``record.works`` rows);
            a link field holds the linked record (``record.organization.name``) or None
titles      display text per field: a choice's title, a linked record's title, the status title
entity      {name, title}; app: the app's name
user        the printing user's name; today, now: the platform's clock
related     per ``related:`` entry of the template, the matching records of another entity
            (links resolved as in ``record``), e.g. a receipt's lines
```
"""
from __future__ import annotations

from runtime.plugin_api import Forbidden, NotFound, lang, now


def title_text(title, language: str | None = None) -> str:
    """A ``{ru, en}`` title in ``language`` (Russian, then any, when missing)."""
    if isinstance(title, dict):
        language = language or lang()
        return title.get(language) or title.get("ru") or next(iter(title.values()), "")
    return "" if title is None else str(title)


class Linked:
    """Linked records read once per print job (a list of records shares them)."""

    def __init__(self, platform, records, app: str):
        self.platform, self.records, self.app, self._seen = platform, records, app, {}

    def get(self, target: str, record_id):
        app, _, entity = target.rpartition(".")
        app = app or self.app
        key = (app, entity, record_id)
        if key not in self._seen:
            try:
                self._seen[key] = self.records.get(app, entity, int(record_id))
            except (NotFound, Forbidden, LookupError, ValueError):
                self._seen[key] = None  # not readable for this user: the template sees nothing
        return self._seen[key]

    def title(self, target: str, record) -> str:
        if record is None:
            return ""
        app, _, entity = target.rpartition(".")
        spec = self.platform.entity(app or self.app, entity) or {}
        value = record.get(spec.get("title_field") or "", record.get("number"))
        return "" if value is None else str(value)


def _resolve(fields: dict, values: dict, linked: Linked, language: str) -> tuple[dict, dict]:
    """``(values with links replaced by the linked records, display titles)``."""
    out, titles = dict(values), {}
    for name, spec in fields.items():
        if name not in values or not isinstance(spec, dict):
            continue
        value, kind = values[name], spec.get("type")
        if kind == "link" and value is not None:
            out[name] = linked.get(spec["entity"], value)
            titles[name] = linked.title(spec["entity"], out[name])
        elif kind == "multilink" and value:
            out[name] = [r for r in (linked.get(spec["entity"], v) for v in value) if r is not None]
            titles[name] = ", ".join(linked.title(spec["entity"], r) for r in out[name])
        elif kind == "choice" and value is not None:
            for choice in spec.get("choices") or []:
                if isinstance(choice, dict) and choice.get("value") == value:
                    titles[name] = title_text(choice.get("title") or value, language)
            titles.setdefault(name, str(value))
        elif kind == "table" and isinstance(value, list):
            rows = [_resolve(spec.get("fields") or {}, row, linked, language) for row in value]
            out[name] = [dict(row, titles=row_titles) for row, row_titles in rows]
    return out, titles


def record_context(platform, records, app: str, entity: str, record_id: int, linked: Linked | None = None,
                   language: str | None = None, related: dict | None = None) -> dict:
    """The context of one record; NotFound when the user may not read it."""
    language = language or lang()
    spec = platform.entity(app, entity)
    if spec is None:
        raise NotFound(f"no entity {app}.{entity}")
    try:
        record = records.get(app, entity, record_id)
    except Forbidden:  # a record one may not read is not there for them, like in the UI
        raise NotFound(f"no {entity} {record_id}") from None
    linked = linked or Linked(platform, records, app)
    values, titles = _resolve(spec.get("fields") or {}, record, linked, language)
    for status in spec.get("statuses") or []:
        if isinstance(status, dict) and status.get("name") == record.get("status"):
            titles["status"] = title_text(status.get("title") or status["name"], language)
    moment = now()
    rel = {name: _related(platform, records, app, spec, record, linked, language)
           for name, spec in (related or {}).items()}
    return {"record": values, "titles": titles, "app": app, "related": rel,
            "entity": {"name": entity, "title": title_text(spec.get("title"), language)},
            "user": records.actor.username, "today": moment.date(), "now": moment, "lang": language}


#: Records one ``related:`` entry reads at most (a receipt has a line per service).
MAX_RELATED = 200


def _related(platform, records, app: str, spec: dict, record: dict, linked: Linked, language: str) -> list[dict]:
    """The records of ``spec['entity']`` whose fields equal the printed record's, as the user may read them."""
    where = {}
    for their, our in spec["match"].items():
        value = record.get(our)
        if value is None:
            return []
        where[their] = value
    fields = (platform.entity(app, spec["entity"]) or {}).get("fields") or {}
    found = records.find(app, spec["entity"], where=where, sort=spec.get("sort") or ["id"], limit=MAX_RELATED)
    out = []
    for row in found:
        values, titles = _resolve(fields, row, linked, language)
        out.append(dict(values, titles=titles))
    return out
