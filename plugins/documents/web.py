"""Pages: print a record (download or attach), print a list's selected records into
one PDF, and the analysts' template editor with a preview on a chosen record.

Printing acts as the signed-in user: a record they may not read is 404, a template
whose ``roles`` they lack is 404 too, attaching needs the right to update the record.
"""
from __future__ import annotations

import base64
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, request, url_for

from runtime.plugin_api import (Conflict, Forbidden, LoomError, NotFound, RecordButton, current_actor,
                                current_platform, is_analyst, login_required, render_page, t)

from . import service
from .render import decode_docx
from .schema import KIND, SCHEMA

bp = Blueprint("documents", __name__, url_prefix="/documents", template_folder="templates")


def _records():
    return current_platform().records(current_actor())


def _download(name: str, content: bytes, media_type: str) -> Response:
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return Response(content, mimetype=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


@bp.errorhandler(NotFound)
def _not_found(exc):
    return render_page("documents/problem.html", message=t("Not found.") + " " + exc.detail), 404


@bp.errorhandler(Forbidden)
def _forbidden(exc):
    return render_page("documents/problem.html", message=t("You may not do this.") + " " + exc.detail), 403


@bp.errorhandler(LoomError)
def _problem(exc):
    return render_page("documents/problem.html", message=exc.detail), exc.status


# ---------------------------------------------------------------------- printing
@bp.get("/<app>/<name>/<int:record_id>")
@login_required
def print_record(app: str, name: str, record_id: int):
    tpl = service.template(current_platform(), app, name)
    filename, content = service.print_record(current_platform(), _records(), tpl, record_id)
    return _download(filename, content, tpl.media_type)


@bp.post("/<app>/<name>/<int:record_id>/attach")
@login_required
def attach(app: str, name: str, record_id: int):
    tpl = service.template(current_platform(), app, name)
    info = service.attach(current_platform(), _records(), tpl, record_id)
    flash(t("The document {name} is attached.", name=info["filename"]))
    return redirect(url_for("ui.record_view", app=app, entity=tpl.entity, record_id=record_id))


@bp.post("/<app>/<name>/list")
@login_required
def print_list(app: str, name: str):
    tpl = service.template(current_platform(), app, name)
    ids = [int(i) for i in request.form.getlist("id") if i.isdigit()]
    filename, content = service.print_list(current_platform(), _records(), tpl, ids)
    return _download(filename, content, tpl.media_type)


def buttons(app: str, entity: str, record_id: int | None, actor) -> list[RecordButton]:
    """The record page's print buttons (and attach, where the template keeps copies), or a
    list's buttons for its HTML templates marked ``list``; only for users who may read."""
    platform = current_platform()
    records = platform.records(actor)
    if not records.may(app, entity, "read"):
        return []
    out = []
    for tpl in service.templates(platform.app_section(app, KIND), app, entity):
        if not tpl.allowed(actor):
            continue
        label = t("Print: {title}", title=tpl.title())
        if record_id is None:
            if tpl.spec.get("list") and not tpl.is_docx:
                out.append(RecordButton(f"print-{tpl.name}", label, url_for("documents.print_list", app=app,
                                                                             name=tpl.name), "post"))
            continue
        out.append(RecordButton(f"print-{tpl.name}", label,
                                url_for("documents.print_record", app=app, name=tpl.name, record_id=record_id)))
        if tpl.spec.get("attach_to") and records.may(app, entity, "update"):
            out.append(RecordButton(f"attach-{tpl.name}", t("Attach: {title}", title=tpl.title()),
                                    url_for("documents.attach", app=app, name=tpl.name, record_id=record_id),
                                    "post"))
    return out


# ---------------------------------------------------------------------- the analysts' editor
def _analyst():
    if not is_analyst(current_actor()):
        raise Forbidden(t("Only analysts edit document templates."))


@bp.get("/design")
@login_required
def design_index():
    _analyst()
    platform = current_platform()
    apps = [(app, service.templates(platform.draft_section(app, KIND)[0], app)) for app in platform.apps()]
    return render_page("documents/design_index.html", apps=apps)


@bp.route("/design/<app>", methods=["GET", "POST"])
@login_required
def design(app: str):
    """Edit a draft template: HTML as text, a DOCX uploaded; saved into the app's draft
    (``extensions/documents.yaml``), published with the app by the designer."""
    _analyst()
    platform = current_platform()
    section, revision = platform.draft_section(app, KIND)
    section = dict(section or {"templates": {}})
    chosen = request.values.get("template") or next(iter(section.get("templates") or {}), "")
    error = None
    if request.method == "POST":
        name = request.form.get("template", "").strip()
        spec = {k: v for k, v in (section["templates"].get(name) or {}).items()}
        spec["entity"] = request.form.get("entity", spec.get("entity", "")).strip()
        spec["title"] = {"ru": request.form.get("title_ru", "").strip() or name,
                         "en": request.form.get("title_en", "").strip() or name}
        upload = request.files.get("docx")
        if upload and upload.filename:
            spec.pop("html", None)
            spec["docx"] = base64.b64encode(upload.read()).decode()
        elif request.form.get("html", "").strip():
            spec.pop("docx", None)
            spec["html"] = request.form["html"].replace("\r\n", "\n")
        for key in ("attach_to", "filename"):
            value = request.form.get(key, "").strip()
            if value:
                spec[key] = value
            else:
                spec.pop(key, None)
        spec["list"] = bool(request.form.get("list"))
        if not spec["list"]:
            spec.pop("list")
        templates = dict(section["templates"], **{name: spec})
        try:
            if not service.NAME.fullmatch(name):
                raise LoomError(t("A template name is lower_snake_case: a letter, then letters, digits or _."))
            if request.form.get("action") == "preview":
                return _preview(platform, app, name, spec, request.form.get("record_id", ""))
            platform.save_draft_section(app, KIND, dict(section, templates=templates), int(request.form["revision"]),
                                        current_actor().username)
            flash(t("Saved in the draft; publish the app in the designer to use it."))
            return redirect(url_for("documents.design", app=app, template=name))
        except (LoomError, Conflict) as exc:
            error, chosen = exc.detail, name
            section = dict(section, templates=templates)
    spec = (section.get("templates") or {}).get(chosen, {})
    entities = platform.entities(app)
    return render_page("documents/design.html", app=app, templates=section.get("templates") or {}, chosen=chosen,
                       spec=spec, revision=revision, entities=entities, error=error, schema=SCHEMA)


def _preview(platform, app: str, name: str, spec: dict, record_id: str) -> Response:
    """The template as edited (not yet saved) printed for a live record the analyst picks."""
    if not record_id.strip().isdigit():
        raise LoomError(t("Enter the number (id) of a record to preview the template on."))
    if "docx" in spec:
        decode_docx(spec["docx"], f"{name}.docx")
    tpl = service.Template(app, name, spec)
    filename, content = service.print_record(platform, _records(), tpl, int(record_id))
    return Response(content, mimetype=tpl.media_type, headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}"})
