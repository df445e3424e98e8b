"""The designer's interactive editors: each edits one part of an app's draft.

=========================================================  ======================  ====================
URL (under ``/designer/apps/<app>/``)                      endpoint                edits
=========================================================  ======================  ====================
``entities/<entity>/fields``                               ``designer.fields``     title, number, fields
``entities/<entity>/form``                                 ``designer.form``       form layout (DnD)
``entities/<entity>/workflow``                             ``designer.workflow``   statuses/transitions
``entities/<entity>/views``                                ``designer.views``      list views
``entities/<entity>/section/<key>``                        ``designer.entity_section``  any other key
``sections/<kind>``                                        ``designer.section``    app.yaml, routing ...
``scripts/<file>`` (+ ``/check``, ``/dry-run``)            ``designer.script``     a script file
=========================================================  ======================  ====================

Every page works the same way: the widget (vanilla JS in ``static/designer``)
keeps a hidden ``<textarea name="json">`` in sync with what the analyst
sees; the form posts it with the draft ``revision`` it was read at. The
server parses the JSON, checks the edited part against the JSON Schema of
its kind (errors carry their dotted path, which the page highlights), puts
it into the current draft and saves it with the revision check: a
:class:`runtime.errors.Conflict` re-renders the page with the analyst's
edit kept and a clear message. After a save the page shows the problems
the whole draft now has in that file (a renamed field that a view still
names, ...), each linking to the editor that fixes it.

The schema-driven editors (``section``, ``entity_section``) render a form
from the JSON Schema itself (``schemaform.js``), so a new metadata kind or
key gets an editor without new code. The schema goes to the browser with
its ``$ref``\\ s inlined by :func:`inline_refs`; recursive references (a
table field's child fields are fields) stay as ``{"$recursive": key}``
markers resolved from ``$recursive_defs``. We render forms ourselves rather
than with @json-editor/json-editor: Loom's schemas lean on maps keyed by
name (``additionalProperties`` schemas: routing entities, calendars,
templates) and on ``{ru, en}`` titles, and the same small renderer is reused
inside the field, workflow and view editors.
"""
from __future__ import annotations

import ast
import json
import re
from functools import lru_cache

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_login import current_user
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from markupsafe import Markup

from metamodel.errors import dotted
from metamodel.model import BUILTIN_ROLES, SYSTEM_COLUMNS, App, title_text
from metamodel.schemas import schema as raw_schema
from metamodel.schemas import validator
from metamodel.validate import explain_schema_error
from runtime import sandbox
from runtime.behaviour.hooks import forbidden_imports, parse_ref, runs_privileged, script_refs
from runtime.errors import Conflict, LoomError, NotFound
from runtime.web.ui.i18n import N_, lang, t

from . import links
from .base import bp, loom
from .drafts import NAME, SCRIPT, BadItem, Drafts
from .views import publish_context
from .views import render as render_page

SECTION_KINDS = ("app", "routing", "sla", "schedules", "notifications", "portal", "reports", "approvals", "batches")
ENTITY_TABS = (("fields", "Fields"), ("form", "Form"), ("workflow", "Workflow"), ("views", "Views"))

# Which field options the fields editor offers for each type (the schema lists them all; it does not
# say which type uses which). Options a field already has are always shown, so nothing is hidden.
_TEXT = ["min_length", "max_length", "pattern", "pattern_message"]
TYPE_OPTIONS = {
    "string": _TEXT + ["format"], "text": _TEXT + ["format"], "email": _TEXT, "phone": _TEXT,
    "integer": ["min", "max"], "decimal": ["min", "max", "precision", "scale"],
    "money": ["min", "max", "precision", "scale", "currency"], "boolean": [],
    "date": ["min", "max"], "datetime": ["min", "max"],
    "choice": ["choices", "dictionary"], "link": ["entity"], "multilink": ["entity"],
    "user": [], "group": [], "geo": [], "file": ["multiple", "accept", "max_size_mb"],
    "table": ["fields"], "computed": ["expression", "result", "script"],
    "rollup": ["entity", "link", "function", "of", "where", "result"],
}
TYPE_TITLES = {
    "string": N_("Line of text"), "text": N_("Long text"), "integer": N_("Whole number"), "decimal": N_("Decimal number"),
    "money": N_("Money"), "boolean": N_("Yes / no"), "date": N_("Date"), "datetime": N_("Date and time"),
    "choice": N_("Choice from a list"), "link": N_("Link to a record"), "multilink": N_("Links to records"),
    "user": N_("User"), "group": N_("Group"), "email": N_("E-mail"), "phone": N_("Phone"), "geo": N_("Point on a map"),
    "file": N_("File"), "table": N_("Table"), "computed": N_("Computed"), "rollup": N_("Rollup over links"),
}
COMMON_OPTIONS = ["help", "default", "unique", "index", "readonly", "validator", "privileged", "previous_names"]
MAIN_FIELD_KEYS = ("type", "title", "required")

# UI strings the editors' JavaScript shows: sent translated with each page's data.
JS_STRINGS = (
    N_("Add"), N_("Add field"), N_("Remove"), N_("Move up"), N_("Move down"), N_("Options"), N_("Name"), N_("Type"),
    N_("Title"), N_("Required"), N_("Value"), N_("Choices"), N_("Add choice"), N_("Child fields"), N_("Search"),
    N_("Full-text search"), N_("Indexes"), N_("Add index"), N_("Unique"), N_("Fields (comma-separated)"),
    N_("Section"), N_("Add section"), N_("Tab"), N_("Add tab"), N_("Use tabs"), N_("Columns"), N_("Collapsed"),
    N_("Visible if"), N_("Rules"), N_("Fields of the entity"), N_("Add to"), N_("Drop fields here"), N_("placed"),
    N_("not placed"), N_("Status"), N_("Add status"), N_("Transition"), N_("Add transition"), N_("Connect"),
    N_("Click the source status, then the target status."), N_("Category"), N_("Initial status"), N_("Color"),
    N_("From status"), N_("To status"), N_("Roles"), N_("Groups"), N_("Condition"), N_("Required fields"), N_("Timer: after"),
    N_("Calendar"), N_("Script before"), N_("Script after"), N_("Set fields"), N_("Actions"), N_("Delete"),
    N_("Select a status or a transition to edit it, drag statuses to move them, drag from the dot on the right of a status to another status to draw a transition."),
    N_("View"), N_("Add view"), N_("Default view"), N_("Page size"), N_("Columns of the list"), N_("Add column"),
    N_("Filters"), N_("Add filter"), N_("Field"), N_("Operator"), N_("Sort"), N_("Add sort"), N_("ascending"),
    N_("descending"), N_("Checking…"), N_("No problems found."), N_("Line {line}"), N_("Result"), N_("Changes"),
    N_("Log"), N_("Error"), N_("remove"), N_("(any JSON value)"), N_("key"), N_("Add entry"), N_("yes"), N_("Entity"),
    N_("Running…"), N_("as text"), N_("per language"), N_("list"), N_("object"), N_("Position"),
    N_("Renamed from {name}"), N_("previous status"), N_("Runs with system rights"), N_("Values, comma-separated"),
    N_("Add a field of type"), N_("Add a field of type…"), N_("Transition here from"), N_("Tidy the layout"),
    N_("— choose a status —"), N_("Rows by the field"),
    N_("The entity has no choice field to set targets by (a priority)."), N_("For every row"),
    N_("Fill a cell of the matrix: the calendar and statuses below then apply to every row."), N_("start"),
    N_("pause"), N_("stop"), N_("Escalation levels"), N_("Level"), N_("Share of the time, percent"), N_("Template"),
    N_("Recipients"), N_("Copy to"), N_("Add level"), N_("Other policies (their conditions are not one priority): "),
    N_("Business calendars"), N_("day off"), N_("Time zone"), N_("Date"), N_("Hours"), N_("Add exception"),
    N_("Exceptions"), N_("any “{category}”"), N_("for example {examples}"), N_("Plural title"), N_("Number pattern"),
    N_("Title field"), N_("Dictionary: other entities choose from its records"), N_("Record number"),
    N_("Strategy"), N_("Drag to reorder"), N_("more"), N_("Otherwise: group"), N_("Otherwise: strategy"),
    N_("Otherwise (no rule matched)"), N_("Add rule"), N_("Route an entity"), N_("Route an entity…"),
    N_("Kind of view"), N_("List"), N_("Kanban board"), N_("Gantt chart"), N_("Map"), N_("Columns by"),
    N_("Swimlanes by"), N_("Starts"), N_("Ends"), N_("Progress, percent"), N_("Predecessors"), N_("Point on a map"),
    N_("— none —"), N_("Longest record, days"), N_("Tile address"), N_("Attribution"), N_("Fields on the card"),
    N_("Add a field to the card"), N_("Group"), N_("Fields"),
    N_("from the record: {path}"), N_("person: {user}"), N_("person from the record: {path}"),
)


def drafts() -> Drafts:
    return Drafts(loom())


# ---------------------------------------------------------------------- schema helpers (pure)
def _pointer(document: dict, fragment: str):
    node = document
    for part in [p for p in fragment.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def inline_refs(kind: str, pointer: str = "", load=raw_schema) -> dict:
    """The schema of ``kind`` (or the node at JSON ``pointer`` inside it) with every ``$ref`` inlined.

    Cross-file refs (``loom:common#/$defs/title``) are followed; a ref met again while it is being
    expanded (recursion) becomes ``{"$recursive": "<doc>#<pointer>"}`` and its expansion is put,
    once, in ``$recursive_defs`` of the result. Siblings of a ``$ref`` (a ``description``) win over
    the referenced schema's. ``load(kind)`` returns a raw schema (injectable for tests).
    """
    recursive: dict[str, dict | None] = {}

    def document(doc_id: str) -> dict:
        return load(doc_id.split(":", 1)[1] if doc_id.startswith("loom:") else doc_id)

    def walk(node, base: str, stack: frozenset):
        if isinstance(node, list):
            return [walk(item, base, stack) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            doc_id, _, fragment = node["$ref"].partition("#")
            doc_id = doc_id or base
            key = f"{doc_id}#{fragment}"
            extra = {k: walk(v, base, stack) for k, v in node.items() if k != "$ref"}
            if key in stack:
                recursive.setdefault(key, None)
                return {"$recursive": key, **extra}
            target = walk(_pointer(document(doc_id), fragment), doc_id, stack | {key})
            return {**target, **extra}
        return {k: walk(v, base, stack) for k, v in node.items() if k not in ("$defs", "$schema", "$id")}

    base = f"loom:{kind}"
    out = walk(_pointer(load(kind), pointer), base, frozenset())
    while any(v is None for v in recursive.values()):
        for key in [k for k, v in recursive.items() if v is None]:
            doc_id, _, fragment = key.partition("#")
            recursive[key] = walk(_pointer(document(doc_id), fragment), doc_id, frozenset({key}))
    if recursive:
        out["$recursive_defs"] = recursive
    return out


@lru_cache(maxsize=None)
def _resolved_json(kind: str, pointer: str = "") -> str:
    return json.dumps(inline_refs(kind, pointer))


def resolved(kind: str, pointer: str = "") -> dict:
    return json.loads(_resolved_json(kind, pointer))


def _explain_error(err) -> str:
    if err.validator in ("oneOf", "anyOf") and err.context:
        inner = best_match(err.context)
        where = dotted(list(inner.relative_path))
        return explain_schema_error(inner) + (f" (at {where})" if where else "")
    return explain_schema_error(err)


def schema_errors(kind: str, value, keys=None, prefix: tuple = (), check=None) -> list[dict]:
    """Errors of ``value`` against the schema of ``kind`` (or the validator ``check``):
    ``[{path, message}]`` with dotted paths.

    With ``keys``, only errors inside those top-level keys count (and a missing required one), so
    an editor is not blocked by a problem in a part it does not edit.
    """
    out = []
    check = check or validator(kind)
    for err in sorted(check.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(err.absolute_path)
        if keys is not None:
            if path and path[0] not in keys:
                continue
            if not path:
                missing = [k for k in keys if err.validator == "required" and repr(k) in err.message]
                if err.validator == "required" and not missing:
                    continue
                path = missing[:1]
        out.append({"path": dotted(list(prefix) + path), "message": _explain_error(err)})
    return out


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _clean_title(value):
    """``{ru: "", en: "x"}`` -> ``{en: "x"}``; nothing left -> None."""
    if isinstance(value, dict):
        value = {k: v.strip() for k, v in value.items() if isinstance(v, str) and v.strip()}
        return value or None
    if isinstance(value, str):
        return value.strip() or None
    return value


# ---------------------------------------------------------------------- page plumbing
def _open(app: str):
    try:
        return drafts().open(app)
    except NotFound:
        abort(404)


def _entity(draft, entity: str) -> dict:
    spec = (draft.doc.get("entities") or {}).get(entity)
    if not isinstance(spec, dict):
        abort(404)
    return spec


def _revision() -> int | None:
    try:
        return int(request.form.get("revision", ""))
    except ValueError:
        return None


def _item_problems(app: str, doc: dict, item: str) -> list[dict]:
    try:
        return [p for p in drafts().problems(app, doc) if p["file"] == item]
    except LoomError as exc:  # pragma: no cover - problems() collects, it should not raise
        return [{"file": item, "path": "", "line": None, "message": str(exc), "editor": ""}]


def _hints(doc: dict, entity: str | None = None) -> dict:
    """Suggestions for inputs by property name (datalists in the browser)."""
    app_doc = doc.get("app") or {}
    entities = sorted(doc.get("entities") or {})
    for other in app_doc.get("depends_on") or []:
        live = loom().live.get(other)
        if live:
            entities += [f"{other}.{name}" for name in live.app.entities]
    roles = [r.get("name") for r in app_doc.get("roles") or [] if isinstance(r, dict)] + list(BUILTIN_ROLES)
    groups = [g.get("name") for g in app_doc.get("groups") or [] if isinstance(g, dict)]
    templates = sorted(((doc.get("notifications") or {}).get("templates") or {}))
    calendars = sorted(((doc.get("sla") or {}).get("calendars") or {}))
    refs = script_functions(doc)
    specs = doc.get("entities") or {}
    if entity:
        fields = list((specs.get(entity) or {}).get("fields") or {})
    else:
        fields = sorted({f for spec in specs.values() if isinstance(spec, dict) for f in spec.get("fields") or {}})
    statuses = sorted({s.get("name") for spec in specs.values() if isinstance(spec, dict)
                       for s in spec.get("statuses") or [] if isinstance(s, dict) and s.get("name")})
    recipients = (["assignee"] + [f"role:{r}" for r in roles] + [f"group:{g}" for g in groups]
                  + [f"group:{g}.lead" for g in groups] + fields)
    return {
        "entity": entities, "dictionary": entities, "keys:entities": entities, "group": groups, "groups": groups,
        "roles": roles, "read": roles, "create": roles, "update": roles, "delete": roles, "hidden": roles,
        "readonly": roles, "template": templates, "notify_moved": templates, "calendar": calendars,
        "script": refs, "when_script": refs, "validator": refs, "before": refs, "run": refs, "default": refs,
        "before_save": refs, "after_save": refs, "before_delete": refs,
        "group_field": fields, "assignee_field": fields, "requester_field": fields, "skill_field": fields,
        "organisation_field": fields, "link_field": fields, "field": fields, "match": fields, "distinct": fields,
        "keys:fields": fields, "copy": fields, "fields": fields, "columns": fields, "group_by": fields,
        "user_field": fields, "due_field": fields, "done_field": fields, "keys:set": fields,
        "to": recipients, "cc": recipients, "targets": recipients, "start": statuses, "stop": statuses,
        "pause": statuses, "reset": statuses, "timezone": ["Europe/Moscow", "Europe/Minsk", "Asia/Yekaterinburg"],
    }


def hint_titles(doc: dict) -> dict:
    """Code -> title (in the page's language) for what pickers offer: roles, groups, entities, fields,
    statuses, calendars and templates of the draft; a picker shows the title with the code small beside it."""
    out = {}

    def add(code, title):
        if isinstance(code, str) and title and code not in out:
            text = title_text(title, lang()) if not isinstance(title, str) else title
            if text and text != code:
                out[code] = text

    app_doc = doc.get("app") or {}
    for key in ("roles", "groups"):
        for item in app_doc.get(key) or []:
            if isinstance(item, dict):
                add(item.get("name"), item.get("title"))
                add(f"{'role' if key == 'roles' else 'group'}:{item.get('name')}", item.get("title"))
    for name, spec in (doc.get("entities") or {}).items():
        if not isinstance(spec, dict):
            continue
        add(name, spec.get("title"))
        for fname, f in (spec.get("fields") or {}).items():
            if isinstance(f, dict):
                add(fname, f.get("title"))
        for st in spec.get("statuses") or []:
            if isinstance(st, dict):
                add(st.get("name"), st.get("title"))
    for name, cal in ((doc.get("sla") or {}).get("calendars") or {}).items():
        add(name, (cal or {}).get("title") if isinstance(cal, dict) else None)
    for name, tpl in ((doc.get("notifications") or {}).get("templates") or {}).items():
        add(name, (tpl or {}).get("title") if isinstance(tpl, dict) else None)
    return out


def script_functions(doc: dict) -> list[str]:
    """``file.py:function`` for every top-level function of every script of the draft."""
    out = []
    for name, source in sorted((doc.get("scripts") or {}).items()):
        out.extend(f"{name}:{f}" for f in _functions(source))
    return out


def _functions(source: str) -> list[str]:
    try:
        tree = ast.parse(source or "")
    except SyntaxError:
        return re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", source or "", re.M)
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]


def _tabs(app: str, entity: str) -> list[dict]:
    tabs = [{"key": key, "title": t(title), "url": url_for(f"designer.{key}", app=app, entity=entity)}
            for key, title in ENTITY_TABS]
    tabs.append({"key": "sla", "title": t("SLA"), "url": url_for("designer.section", app=app, kind="sla", entity=entity)})
    props = raw_schema("entity")["properties"]
    for key in entity_section_keys():
        if props[key].get("type") == "boolean":
            continue  # a flag (dictionary) is on the fields page; its section editor still exists for links
        tabs.append({"key": f"section:{key}", "title": _key_title(key),
                     "url": url_for("designer.entity_section", app=app, entity=entity, key=key)})
    return tabs


def _key_title(key: str) -> str:
    """An entity key as the designer names it: the schema's x-title in the page's language."""
    return (title_text(raw_schema("entity")["properties"][key].get("x-title"), lang())
            or t(key.replace("_", " ").capitalize()))


def entity_section_keys() -> list[str]:
    """Entity keys without an editor of their own: the schema-driven section editor edits them."""
    return [k for k in raw_schema("entity")["properties"] if k not in links.ENTITY_EDITORS]


def _render(template: str, *, draft, item: str, editor: str, page_title: str, data: dict, json_text: str,
            entity: str | None = None, errors=(), conflict: str | None = None, status: int = 200,
            revision: int | None = None, **extra):
    app = draft.app
    data = {**data, "lang": lang(), "i18n": {s: t(s) for s in JS_STRINGS}, "errors": list(errors),
            "hintTitles": hint_titles(draft.doc), "freeHints": ["timezone"]}
    ctx = dict(
        app=app, app_title=title_text((draft.doc.get("app") or {}).get("title"), lang()) or app,
        entity=entity, entity_title=title_text(((draft.doc.get("entities") or {}).get(entity) or {}).get("title"),
                                               lang()) if entity else None,
        editor=editor, item=item, page_title=page_title, data=data, data_json=script_json(data), json_text=json_text,
        errors=list(errors),
        conflict=conflict, revision=draft.revision if revision is None else revision,
        live_version=draft.live_version, raw_url=links.raw_url(app, item), app_url=links.app_url(app),
        tabs=_tabs(app, entity) if entity else [], problems=_item_problems(app, draft.doc, item),
        publish_dialog=publish_dialog(draft) if request.method == "GET" and request.args.get("publish") else None,
        published=published_banner(app, entity), **extra)
    return render_page(template, status, doc=draft.doc, **ctx)


def publish_dialog(draft) -> dict:
    """What the publish dialog of an editor shows: the diff, the plan, the problems and a comment
    drafted from the diff (the analyst may rewrite it)."""
    context = publish_context(draft.app, draft)
    context["comment"] = summary_comment(context["changes"])
    context["back"] = request.path + _kept_query()
    return context


def summary_comment(changes: list[dict]) -> str:
    """A first draft of the publish comment: what changed, by file and path."""
    if not changes:
        return ""
    parts = [" ".join(p for p in (c["file"], c["path"]) if p) for c in changes[:6]]
    more = len(changes) - len(parts)
    text = "; ".join(parts) + (t(" and {n} more", n=more) if more else "")
    return t("Changed: {what}", what=text)


def published_banner(app: str, entity: str | None) -> dict | None:
    """After a publish from an editor: the version and a link to the live list (or the app)."""
    try:
        number = int(request.args.get("published", ""))
    except ValueError:
        return None
    live = loom().live.get(app)
    if live is None:
        return None
    entity = entity or request.args.get("entity")
    if entity and entity in live.app.entities:
        url = url_for("ui.list_view", app=app, entity=entity)
    else:
        url = url_for("ui.app_home", app=app)
    return {"number": number, "url": url}


def script_json(value) -> Markup:
    """JSON for a ``<script type="application/json">`` block, keeping key order (jinja's ``tojson``
    sorts keys, and the order of schema properties and fields is what the analyst sees)."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("'", "\\u0027")):
        text = text.replace(char, escape)
    return Markup(text)


def _conflict_message(exc: Conflict) -> str:
    return t("Someone else saved this draft while you were editing ({detail}). Your edit is kept below: "
             "saving again puts it over their version of this part; reload the page to see theirs instead.",
             detail=exc.detail)


def _json_page(app: str, item: str, *, editor: str, template: str, page_title: str, load, store, data: dict,
               entity: str | None = None, draft=None, **extra):
    """GET renders ``load(current)`` into the widget; POST parses the widget's JSON, lets
    ``store(current, payload)`` build the new item value (and its errors), saves with the revision check."""
    draft = draft or _open(app)
    current = drafts().get_item(draft.doc, item)
    render = lambda **kw: _render(template, draft=draft, item=item, editor=editor, page_title=page_title,  # noqa
                                  data=data, entity=entity, **extra, **kw)
    if request.method == "GET":
        return render(json_text=json.dumps(load(current), ensure_ascii=False))
    raw = request.form.get("json", "")
    revision = _revision()
    if revision is None:
        return render(json_text=raw, errors=[{"path": "", "message": t("The form has no draft revision; "
                                                                         "reload the page.")}], status=400)
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        return render(json_text=raw, revision=revision, status=422,
                      errors=[{"path": "", "message": t("The editor sent data that is not JSON ({error}).",
                                                        error=str(exc))}])
    value, errors = store(current, payload)
    if errors:
        return render(json_text=raw, errors=errors, revision=revision, status=422)
    try:
        new_revision = drafts().save(app, drafts().set_item(draft.doc, item, value), revision,
                                     current_user.username)
    except Conflict as exc:
        return render(json_text=raw, conflict=_conflict_message(exc), revision=draft.revision, status=409)
    except BadItem as exc:
        return render(json_text=raw, errors=[{"path": "", "message": exc.detail}], revision=revision, status=422)
    flash(t("Saved to the draft (revision {revision}).", revision=new_revision), "ok")
    return redirect(after_save())


def _kept_query() -> str:
    """The query a page keeps across a save: the entity it was opened for and the form fallback."""
    entity, form = request.args.get("entity"), request.args.get("form")
    kept = [f"entity={entity}"] if entity and NAME.fullmatch(entity) else []
    kept += ["form=1"] if form else []
    return "?" + "&".join(kept) if kept else ""


def after_save() -> str:
    """Where a saved editor goes: the same page, the page a tab link named (``next``, saved on the
    way so that no click is lost), or the same page with the publish dialog open (``then=publish``)."""
    same = request.path + _kept_query()
    if request.form.get("then") == "publish":
        return same + ("&" if "?" in same else "?") + "publish=1"
    target = request.form.get("next", "")
    if target.startswith(("/designer/", "/ui/")) and "//" not in target and "\\" not in target:
        return target
    return same


def _with_keys(spec: dict, values: dict) -> dict:
    """``spec`` with ``values`` put in (None or empty removes a key), keeping the order of keys."""
    out = dict(spec)
    for key, value in values.items():
        if _empty(value):
            out.pop(key, None)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------- 1. fields
@bp.route("/apps/<app>/entities/<entity>/fields", methods=["GET", "POST"])
def fields(app: str, entity: str):
    draft = _open(app)
    _entity(draft, entity)
    live = loom().live.get(app)
    live_entity = live.app.entities.get(entity) if live else None
    live_fields = list(live_entity.spec.get("fields") or {}) if live_entity else []
    field_schema = resolved("entity", "/$defs/field")
    types = field_schema["properties"]["type"]["enum"]
    data = {"types": types, "typeTitles": {ty: f"{t(TYPE_TITLES[ty])} · {ty}" if ty in TYPE_TITLES else ty for ty in types},
            "fieldSchema": field_schema,
            "typeOptions": TYPE_OPTIONS, "commonOptions": COMMON_OPTIONS, "liveFields": live_fields,
            "hints": {k: v for k, v in _hints(draft.doc, entity).items() if k != "default"},
            "systemColumns": list(SYSTEM_COLUMNS)}
    keys = ("title", "plural", "description", "number", "title_field", "dictionary", "search", "indexes")

    def load(spec):
        out = {k: spec.get(k) for k in keys if k in spec}
        out["fields"] = [{"name": name, "was": name, "spec": f} for name, f in (spec.get("fields") or {}).items()]
        return out

    def store(spec, payload):
        if not isinstance(payload, dict) or not isinstance(payload.get("fields"), list):
            return None, [{"path": "fields", "message": t("The editor sent no list of fields.")}]
        errors, out = [], {}
        for i, row in enumerate(payload["fields"]):
            name = str((row or {}).get("name") or "").strip()
            f = dict((row or {}).get("spec") or {})
            if not name:
                errors.append({"path": "fields", "message": t("Field {n} has no name.", n=i + 1)})
                continue
            if name in out:
                errors.append({"path": f"fields.{name}", "message": t("Two fields are named {name}.", name=name)})
                continue
            was = (row or {}).get("was")
            if was and was != name and was in live_fields and was not in (f.get("previous_names") or []):
                f["previous_names"] = [*(f.get("previous_names") or []), was]  # publishing renames the column
            if "title" in f:
                f["title"] = _clean_title(f["title"])
                if f["title"] is None:
                    del f["title"]
            out[name] = f
        values = {k: payload.get(k) for k in keys}
        for k in ("title", "plural", "description"):
            values[k] = _clean_title(values[k])
        values["number"] = (values["number"] or "").strip() if isinstance(values["number"], str) else values["number"]
        values["dictionary"] = values["dictionary"] or None
        new = _with_keys(spec, {**values, "fields": out})
        if "fields" not in new:
            new["fields"] = {}
        if new.get("form"):
            renamed = {r.get("was"): str(r.get("name")).strip() for r in payload["fields"]
                       if isinstance(r, dict) and r.get("was") and r.get("was") != r.get("name")}
            new["form"] = place_on_form(new["form"], [n for n in out if n not in (spec.get("fields") or {})],
                                        renamed)
        errors += schema_errors("entity", new, keys=keys + ("fields",))
        return new, errors

    return _json_page(app, f"entities/{entity}.yaml", editor="fields", template="designer/editor_fields.html",
                      page_title=t("Fields"), load=load, store=store, data=data, entity=entity, draft=draft)


def place_on_form(form: dict, names: list[str], renamed: dict | None = None) -> dict:
    """``form`` with renamed fields renamed where they stand, and each of ``names`` that no
    section holds yet at the end of the last section (of the last tab): a new field shows on
    the form until the analyst places it elsewhere."""
    form = json.loads(json.dumps(form))  # a deep copy of plain YAML data
    sections = [sec for tab in form.get("tabs") or [form] for sec in tab.get("sections") or []]
    for sec in sections:
        sec["fields"] = [(renamed or {}).get(n, n) for n in sec.get("fields") or []]
    placed = {n for sec in sections for n in sec.get("fields") or []}
    missing = [n for n in names if n not in placed]
    if not missing:
        return form
    if sections:
        sections[-1]["fields"] = [*(sections[-1].get("fields") or []), *missing]
    elif form.get("tabs"):
        form["tabs"][-1]["sections"] = [{"fields": missing}]
    else:
        form["sections"] = [{"fields": missing}]
    return form


# ---------------------------------------------------------------------- 2. form layout
@bp.route("/apps/<app>/entities/<entity>/form", methods=["GET", "POST"])
def form(app: str, entity: str):
    draft = _open(app)
    spec = _entity(draft, entity)
    entity_schema = resolved("entity")
    form_schema = entity_schema["properties"]["form"]
    data = {"fields": _field_list(spec), "hints": _hints(draft.doc, entity),
            "sectionProps": list(form_schema["properties"]["sections"]["items"]["properties"]),
            "ruleProps": [k for k in form_schema["properties"]["rules"]["items"]["properties"] if k != "field"]}

    def store(spec, payload):
        if not isinstance(payload, dict):
            return None, [{"path": "form", "message": t("The editor sent no form layout.")}]
        layout = {k: v for k, v in payload.items() if not _empty(v)}
        new = _with_keys(spec, {"form": layout})
        return new, schema_errors("entity", new, keys=("form",))

    return _json_page(app, f"entities/{entity}.yaml", editor="form", template="designer/editor_form.html",
                      page_title=t("Form layout"), load=lambda s: s.get("form") or {}, store=store, data=data,
                      entity=entity, draft=draft)


def _field_list(spec: dict) -> list[dict]:
    return [{"name": n, "title": (f or {}).get("title") or n, "type": (f or {}).get("type")}
            for n, f in (spec.get("fields") or {}).items()]


# ---------------------------------------------------------------------- 3. workflow diagram
@bp.route("/apps/<app>/entities/<entity>/workflow", methods=["GET", "POST"])
def workflow(app: str, entity: str):
    draft = _open(app)
    spec = _entity(draft, entity)
    defs = resolved("entity")
    status_schema = defs["properties"]["statuses"]["items"]
    transition_schema = defs["properties"]["transitions"]["items"]
    data = {"fields": _field_list(spec), "hints": _hints(draft.doc, entity),
            "categories": status_schema["properties"]["category"]["enum"],
            "hasLayout": "layout" in status_schema["properties"],
            "actionsSchema": transition_schema["properties"]["actions"],
            "setSchema": transition_schema["properties"]["set"],
            "transitionProps": list(transition_schema["properties"])}

    def load(spec):
        return {"statuses": spec.get("statuses") or [], "transitions": spec.get("transitions") or []}

    def store(spec, payload):
        if not isinstance(payload, dict):
            return None, [{"path": "statuses", "message": t("The editor sent no statuses.")}]
        for element in [*(payload.get("statuses") or []), *(payload.get("transitions") or [])]:
            if isinstance(element, dict) and "title" in element:
                element["title"] = _clean_title(element["title"])
                if element["title"] is None:
                    del element["title"]
        new = _with_keys(spec, {"statuses": payload.get("statuses"), "transitions": payload.get("transitions")})
        return new, schema_errors("entity", new, keys=("statuses", "transitions"))

    return _json_page(app, f"entities/{entity}.yaml", editor="workflow", template="designer/editor_workflow.html",
                      page_title=t("Workflow"), load=load, store=store, data=data, entity=entity, draft=draft)


# ---------------------------------------------------------------------- 4. list views
@bp.route("/apps/<app>/entities/<entity>/views", methods=["GET", "POST"])
def views(app: str, entity: str):
    draft = _open(app)
    spec = _entity(draft, entity)
    view_schema = resolved("entity", "/$defs/view")
    data = {"fields": _field_list(spec), "systemColumns": list(SYSTEM_COLUMNS), "hints": _hints(draft.doc, entity),
            "ops": view_schema["properties"]["filters"]["items"]["properties"]["op"]["enum"]}

    def store(spec, payload):
        views_ = payload.get("views") if isinstance(payload, dict) else payload
        if not isinstance(views_, list):
            return None, [{"path": "views", "message": t("The editor sent no list of views.")}]
        for v in views_:
            if isinstance(v, dict) and "title" in v:
                v["title"] = _clean_title(v["title"])
                if v["title"] is None:
                    del v["title"]
        new = _with_keys(spec, {"views": views_})
        errors = schema_errors("entity", new, keys=("views",))
        names = [v.get("name") for v in views_ if isinstance(v, dict)]
        for i, name in enumerate(names):
            if name in names[:i]:
                errors.append({"path": f"views[{i}].name", "message": t("Two views are named {name}.", name=name)})
        return new, errors

    return _json_page(app, f"entities/{entity}.yaml", editor="views", template="designer/editor_views.html",
                      page_title=t("Views"), load=lambda s: {"views": s.get("views") or []}, store=store,
                      data=data, entity=entity, draft=draft)


# ---------------------------------------------------------------------- 6. schema-driven editors
@bp.route("/apps/<app>/entities/<entity>/section/<key>", methods=["GET", "POST"])
def entity_section(app: str, entity: str, key: str):
    if key not in entity_section_keys():
        abort(404)
    draft = _open(app)
    _entity(draft, entity)
    pointer = f"/properties/{key}"
    data = {"schema": resolved("entity", pointer), "root": key, "hints": _hints(draft.doc, entity)}

    def store(spec, payload):
        new = _with_keys(spec, {key: payload})
        return new, schema_errors("entity", new, keys=(key,))

    return _json_page(app, f"entities/{entity}.yaml", editor=f"section:{key}", template="designer/editor_schema.html",
                      page_title=_key_title(key), load=lambda s: s.get(key),
                      store=store, data=data, entity=entity, draft=draft)


@bp.route("/apps/<app>/extensions/<kind>", methods=["GET", "POST"])
def extension(app: str, kind: str):
    """The form of a metadata kind a plugin adds, generated from the plugin's JSON Schema."""
    found = loom().plugins.metadata_kinds().get(kind)
    if found is None:
        abort(404)
    item = f"extensions/{kind}.yaml"
    data = {"schema": dict(found.schema), "root": "", "hints": _hints(_open(app).doc)}

    def store(current, payload):
        if _empty(payload):
            return None, []
        return payload, schema_errors(kind, payload, check=Draft202012Validator(found.schema))

    return _json_page(app, item, editor=f"extension:{kind}", template="designer/editor_schema.html",
                      page_title=item, load=lambda v: v if v is not None else {}, store=store, data=data,
                      kind=kind, kinds=SECTION_KINDS)


def _with_installed_channels(schema):
    """The schema with each ``channels`` list offering the installed channels as choices
    (the schema itself allows any name, as plugins add channels)."""
    channels = sorted(loom().plugins.capabilities().channels)

    def walk(node):
        if isinstance(node, dict):
            spec = node.get("channels")
            if isinstance(spec, dict) and spec.get("type") == "array":
                node["channels"] = {**spec, "items": {**spec.get("items", {}), "enum": channels}}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


@bp.route("/apps/<app>/sections/<kind>", methods=["GET", "POST"])
def section(app: str, kind: str):
    if kind not in SECTION_KINDS:
        abort(404)
    draft = _open(app)
    item = "app.yaml" if kind == "app" else f"{kind}.yaml"
    data = {"schema": _with_installed_channels(resolved(kind)), "root": "", "hints": _hints(draft.doc)}
    template = "designer/editor_schema.html"
    shaped = SHAPED_EDITORS.get(kind) if not request.args.get("form") else None
    if shaped is not None:
        template, extra_data = shaped(draft.doc)
        data.update(extra_data, formUrl=url_for("designer.section", app=app, kind=kind, form=1))

    def store(current, payload):
        if _empty(payload):
            if kind == "app":
                return None, [{"path": "", "message": t("app.yaml cannot be empty.")}]
            return None, []
        errors = schema_errors(kind, payload)
        if kind == "app" and isinstance(payload, dict) and payload.get("name") != app:
            errors.append({"path": "name", "message": t("The app name must stay {name}.", name=app)})
        return payload, errors

    return _json_page(app, item, editor=f"kind:{kind}", template=template,
                      page_title=item, load=lambda v: v if v is not None else {}, store=store, data=data,
                      draft=draft, kind=kind, kinds=SECTION_KINDS, form_url=data.get("formUrl"))


# ---------------------------------------------------------------------- 7. editors shaped like the thing
CATEGORY_TITLES = {"open": N_("Open"), "in_work": N_("In work"), "waiting": N_("Waiting"), "done": N_("Done"),
                   "cancelled": N_("Cancelled")}
DAY_TITLES = {"mon": N_("Mon"), "tue": N_("Tue"), "wed": N_("Wed"), "thu": N_("Thu"), "fri": N_("Fri"),
              "sat": N_("Sat"), "sun": N_("Sun")}
DURATIONS = ("30 business minutes", "1 business hour", "2 business hours", "4 business hours", "8 business hours",
             "24 business hours", "1 business day", "2 business days", "3 business days", "5 business days")


def _title(value, fallback: str) -> str:
    return title_text(value, lang()) or fallback


def entity_pickers(doc: dict) -> dict:
    """Per entity of the draft: its title, choice fields (with their values' titles) and statuses,
    so that editors offer titles to pick from instead of codes."""
    out = {}
    for name, spec in (doc.get("entities") or {}).items():
        if not isinstance(spec, dict):
            continue
        fields = {}
        for fname, f in (spec.get("fields") or {}).items():
            if isinstance(f, dict) and f.get("type") == "choice" and f.get("choices"):
                choices = [{"value": str(c), "title": str(c)} if not isinstance(c, dict) else
                           {"value": str(c.get("value")), "title": _title(c.get("title"), str(c.get("value")))}
                           for c in f["choices"]]
                fields[fname] = {"title": _title(f.get("title"), fname), "choices": choices}
        statuses = [{"name": st["name"], "title": _title(st.get("title"), st["name"])}
                    for st in spec.get("statuses") or [] if isinstance(st, dict) and st.get("name")]
        out[name] = {"title": _title(spec.get("title"), name), "fields": fields, "statuses": statuses}
    return out


def sla_editor(doc: dict) -> tuple[str, dict]:
    """The SLA matrix, escalation rows and calendar week grids (``sla-editor.js``)."""
    templates = (doc.get("notifications") or {}).get("templates") or {}
    entity = request.args.get("entity")
    return "designer/editor_sla.html", {
        "entities": entity_pickers(doc), "entity": entity,
        "targetTitles": {"reaction": t("Reaction"), "resolution": t("Resolution")},
        "categories": [{"name": k, "title": t(v)} for k, v in CATEGORY_TITLES.items()],
        "templates": [{"name": k, "title": _title((v or {}).get("title") if isinstance(v, dict) else None, k)}
                      for k, v in sorted(templates.items())],
        "recipients": _hints(doc)["to"], "durations": list(DURATIONS),
        "days": {k: t(v) for k, v in DAY_TITLES.items()},
        "timezones": ["Europe/Moscow", "Europe/Minsk", "Europe/Kaliningrad", "Europe/Samara", "Asia/Yekaterinburg",
                      "Asia/Novosibirsk", "Asia/Vladivostok"],
    }


STRATEGY_TITLES = {"least_loaded": N_("Least loaded"), "round_robin": N_("In turn"), "by_skill": N_("By skill"),
                   "manual": N_("Manually")}


def routing_editor(doc: dict) -> tuple[str, dict]:
    """The ordered rule table per entity (``routing-editor.js``)."""
    groups = [g.get("name") for g in (doc.get("app") or {}).get("groups") or [] if isinstance(g, dict)]
    return "designer/editor_routing.html", {
        "groups": groups, "entityTitles": {n: e["title"] for n, e in entity_pickers(doc).items()},
        "strategies": [{"name": k, "title": f"{t(v)} · {k}"} for k, v in STRATEGY_TITLES.items()],
    }


SHAPED_EDITORS = {"sla": sla_editor, "routing": routing_editor}


# ---------------------------------------------------------------------- 5. scripts
STARTER = '''"""{file}: hook functions for this app (see docs/scripts.md)."""


def validate(record):
    """Return an error message, or None when the record is fine."""
    return None
'''


def _script_file(file: str) -> str:
    if not SCRIPT.fullmatch(file):
        abort(404)
    return file


@bp.get("/apps/<app>/scripts/new")
def script_new(app: str):
    """The editor of a new script file named by ``?name=`` (``.py`` is added when missing)."""
    name = (request.args.get("name") or "").strip()
    if name and not name.endswith(".py"):
        name += ".py"
    if not SCRIPT.fullmatch(name):
        flash(t("A script file name is letters, digits and _, ending in .py."), "error")
        return redirect(links.app_url(app))
    return redirect(url_for("designer.script", app=app, file=name))


@bp.route("/apps/<app>/scripts/<file>", methods=["GET", "POST"])
def script(app: str, file: str):
    file = _script_file(file)
    draft = _open(app)
    item = f"scripts/{file}"
    current = drafts().get_item(draft.doc, item)
    live = loom().live.get(app)
    live_entities = [{"name": n, "title": e.spec.get("title") or n} for n, e in (live.app.entities.items()
                                                                                if live else [])]
    data = {"file": file, "checkUrl": url_for("designer.script_check", app=app, file=file),
            "dryRunUrl": url_for("designer.script_dry_run", app=app, file=file),
            "entities": live_entities, "refs": [r for r in _refs_to(draft.doc, file)]}
    extra = {"is_new": current is None, "scripts": sorted(draft.doc.get("scripts") or {})}
    render = lambda **kw: _render("designer/editor_script.html", draft=draft, item=item, editor="script",  # noqa
                                  page_title=file, data=data, **extra, **kw)
    if request.method == "GET":
        return render(json_text="", source=current if current is not None else STARTER.format(file=file))
    source = request.form.get("source", "").replace("\r\n", "\n")
    revision = _revision()
    if revision is None:
        return render(json_text="", source=source, status=400,
                      errors=[{"path": "", "message": t("The form has no draft revision; reload the page.")}])
    problems = check_source(app, file, source, draft.doc)
    errors = [{"path": f"line {p['line']}" if p["line"] else "", "message": p["message"], "line": p["line"]}
              for p in problems if p["severity"] == "error"]
    if errors:
        return render(json_text="", source=source, errors=errors, revision=revision, status=422)
    try:
        new_revision = drafts().save(app, drafts().set_item(draft.doc, item, source), revision,
                                     current_user.username)
    except Conflict as exc:
        return render(json_text="", source=source, conflict=_conflict_message(exc), revision=draft.revision,
                      status=409)
    flash(t("Saved to the draft (revision {revision}).", revision=new_revision), "ok")
    return redirect(after_save())


def _refs_to(doc: dict, file: str) -> list[dict]:
    """Where the draft's metadata names a function of ``file``: ``[{where, function}]``."""
    try:
        app = App(doc)
        refs = list(script_refs(app))
    except Exception:  # a draft that does not even have the document's shape names nothing reliably
        return []
    out = []
    for (filename, path), ref in refs:
        name, function = parse_ref(ref)
        if name == file:
            out.append({"where": f"{filename} {path}", "function": function,
                        "privileged": runs_privileged(app, (filename, path))})
    return out


def check_source(app: str, file: str, source: str, doc: dict) -> list[dict]:
    """Compile ``source`` as the sandbox will: ``[{line, message, severity}]`` (errors, then warnings)."""
    out = []
    try:
        compiled = sandbox.compile_script(source, f"{app}/scripts/{file}")
    except sandbox.ScriptCompileError as exc:
        return [{"line": line, "message": message, "severity": "error"} for line, message in exc.errors]
    except sandbox.ScriptError as exc:
        return [{"line": exc.line, "message": exc.message, "severity": "error"}]
    for problem in forbidden_imports(source, f"scripts/{file}"):
        out.append({"line": problem.line, "message": problem.message, "severity": "error"})
    for warning in compiled.warnings:
        m = re.match(r"Line (\d+): (.*)", str(warning))
        out.append({"line": int(m.group(1)) if m else None, "message": m.group(2) if m else str(warning),
                    "severity": "warning"})
    for ref in _refs_to(doc, file):
        if ref["function"] and ref["function"] not in compiled.functions:
            out.append({"line": None, "severity": "warning",
                        "message": t("{where} names {function}, which this file does not define.",
                                     where=ref["where"], function=ref["function"])})
    return out


def _json_body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@bp.post("/apps/<app>/scripts/<file>/check")
def script_check(app: str, file: str):
    """Compile the posted source (``{"source": ...}``); ``{ok, problems: [{line, message, severity}]}``."""
    file = _script_file(file)
    draft = _open(app)
    body = _json_body()
    source = body.get("source", request.form.get("source"))
    if not isinstance(source, str):
        return jsonify({"ok": False, "problems": [{"line": None, "severity": "error",
                                                   "message": t("Send the source to check.")}]}), 400
    problems = check_source(app, file, source, draft.doc)
    return jsonify({"ok": not any(p["severity"] == "error" for p in problems), "problems": problems})


@bp.post("/apps/<app>/scripts/<file>/dry-run")
def script_dry_run(app: str, file: str):
    """Run ``function`` of the posted source against a live record, committing nothing.

    Body: ``{"source", "function", "entity", "record_id", "data"?}``. The draft's (or the posted)
    source stands in for the live file, so an analyst tries a change before publishing it.
    """
    file = _script_file(file)
    draft = _open(app)
    body = _json_body()
    source = body.get("source")
    if not isinstance(source, str):
        source = drafts().get_item(draft.doc, f"scripts/{file}")
    function, entity = body.get("function"), body.get("entity")

    def fail(message, status=422, line=None):
        return jsonify({"ok": False, "error": {"detail": message, "line": line}, "result": None, "changes": {},
                        "logs": [], "report": None}), status

    if source is None:
        return fail(t("There is no script {file} in the draft.", file=file), 404)
    if not function or not isinstance(function, str):
        return fail(t("Choose the function to run."))
    compile_errors = [p for p in check_source(app, file, source, draft.doc) if p["severity"] == "error"]
    if compile_errors:
        first = compile_errors[0]
        return fail(t("Line {line}: {problem}", line=first["line"], problem=first["message"]), line=first["line"])
    live = loom().live.get(app)
    if live is None or entity not in live.app.entities:
        return fail(t("A dry run needs a published entity: publish {entity} first.", entity=entity or "?"))
    record_id = body.get("record_id")
    try:
        record_id = int(record_id) if record_id not in (None, "") else None
    except (TypeError, ValueError):
        return fail(t("The record ID must be a number."))
    data = body.get("data") if isinstance(body.get("data"), dict) else None
    try:
        out = loom().workflow.dry_run(app, entity, f"{file}:{function}", current_user.actor, record_id=record_id,
                                      data=data, scripts={file: source})
    except LoomError as exc:
        return fail(exc.detail, exc.status if exc.status in (403, 404) else 422)
    error = out.get("error")
    if error:
        script_info = error.get("script") or {}
        error = {**error, "line": script_info.get("line") or (out.get("report") or {}).get("line")}
    return jsonify({**out, "error": error})
