"""Pages: download an entity's workflow as BPMN, and import a BPMN file into the draft.

Analysts only (others get 403); both work on the app's draft, as the designer does, and
an import is saved with the draft revision the form was read at (409 when somebody saved
since). Publishing stays the designer's.
"""
from __future__ import annotations

import re
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, request, url_for

from runtime.plugin_api import (Forbidden, LoomError, NotFound, current_actor, current_platform,
                                is_analyst, login_required, render_page, t)

from .export import to_bpmn
from .importer import BpmnError, read

bp = Blueprint("bpmn", __name__, url_prefix="/designer/apps", template_folder="templates")
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_BYTES = 2 * 1024 * 1024
# what BPMN carries of a transition; the rest (set, required, hooks, actions) stays as the draft has it
BPMN_KEYS = ("name", "title", "from", "to", "roles", "groups", "condition", "timer")


@bp.before_request
@login_required
def _analysts_only():
    if not is_analyst(current_actor()):
        raise Forbidden(t("Only analysts may export and import workflows."))


@bp.errorhandler(LoomError)
def _problem(exc):
    return render_page("bpmn/problem.html", message=exc.detail), exc.status


def workflow_links(app: str, entity: str) -> list[dict]:
    """Download and import links for the designer's workflow page, for analysts."""
    if not is_analyst(current_actor()):
        return []
    return [{"id": "bpmn-export", "label": t("Download as BPMN 2.0"),
             "url": url_for("bpmn.export", app=app, entity=entity)},
            {"id": "bpmn-import", "label": t("Import from BPMN"),
             "url": url_for("bpmn.import_", app=app, entity=entity)}]


def _entity(app: str, entity: str) -> tuple[dict | None, int]:
    try:
        return current_platform().draft_entity(app, entity)
    except LookupError:
        raise NotFound(t("No app {app}.", app=app)) from None


@bp.get("/<app>/bpmn/<entity>.bpmn")
def export(app: str, entity: str):
    spec, _revision = _entity(app, entity)
    if spec is None:
        raise NotFound(t("The app {app} has no entity {entity}.", app=app, entity=entity))
    if not spec.get("statuses"):
        raise LoomError(t("The entity {entity} has no statuses to export.", entity=entity))
    name = f"{app}-{entity}.bpmn"
    return Response(to_bpmn(app, entity, spec), mimetype="application/xml", headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


def merged(spec: dict | None, entity: str, imported: dict) -> dict:
    """The entity with the imported statuses and transitions; a transition the draft already
    has keeps what BPMN does not carry (``set``, ``required``, hooks, actions)."""
    if spec is None:
        spec = {"title": imported["title"] or {"ru": entity},
                "title_field": "name",
                "fields": {"name": {"type": "string", "title": {"ru": "Название", "en": "Name"},
                                    "required": True, "max_length": 200}}}
    old = {tr.get("name"): tr for tr in spec.get("transitions") or [] if isinstance(tr, dict)}
    transitions = []
    for tr in imported["transitions"]:
        kept = {k: v for k, v in old.get(tr["name"], {}).items() if k not in BPMN_KEYS}
        transitions.append({**tr, **kept})
    return {**spec, "statuses": imported["statuses"], "transitions": transitions}


@bp.route("/<app>/bpmn/import", methods=["GET", "POST"])
def import_(app: str):
    platform = current_platform()
    entity = (request.values.get("entity") or "").strip()
    _spec, revision = _entity(app, entity or "-")
    if request.method == "GET":
        return render_page("bpmn/import.html", app=app, entity=entity, revision=revision,
                           entities=platform.entities(app))
    if not NAME.fullmatch(entity):
        raise LoomError(t("Name the entity: lower_snake_case, at most 40 characters."))
    upload = request.files.get("file")
    data = upload.read(MAX_BYTES + 1) if upload else b""
    if not data:
        raise LoomError(t("Choose a BPMN file to import."))
    if len(data) > MAX_BYTES:
        raise LoomError(t("The file is larger than 2 MB."))
    try:
        imported = read(data)
    except BpmnError as exc:
        name = upload.filename or "file"
        raise LoomError(f"{name}: {exc}") from None
    spec, _ = _entity(app, entity)
    try:
        posted = int(request.form.get("revision", ""))
    except ValueError:
        raise LoomError(t("The form has no draft revision; reload the page.")) from None
    try:
        platform.save_draft_entity(app, entity, merged(spec, entity, imported), posted, current_actor().username)
    except ValueError as exc:  # the imported workflow does not fit the entity schema
        raise LoomError(str(exc)) from None
    flash(t("Imported {n} statuses and {m} transitions into the draft of {entity}; publish the app in the "
            "designer to use them.", n=len(imported["statuses"]), m=len(imported["transitions"]), entity=entity))
    return redirect(url_for("designer.workflow", app=app, entity=entity))
