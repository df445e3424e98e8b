"""Pages of an import: upload, map columns, dry run, progress, rejected rows.

Every page and endpoint needs a signed-in user who may create records of the entity,
and a run belongs to the user who uploaded it; forms carry the CSRF token.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from runtime.plugin_api import (Forbidden, LoomError, NotFound, RecordButton, current_actor, current_platform,
                                lang, login_required, now, render_page, t)

from . import engine
from .mapping import clean, importable, suggest
from .reading import FileProblem, read

bp = Blueprint("importer", __name__, url_prefix="/import", template_folder="templates")
STALE = dt.timedelta(minutes=3)  # a running import whose job wrote nothing for this long is queued again
PREVIEW_ROWS = 3


@bp.before_request
@login_required
def _signed_in():
    pass


@bp.app_context_processor
def _states():
    if request.blueprint != "importer":
        return {}
    return {"states": {"new": t("Uploaded"), "checked": t("Checked"), "queued": t("Queued"),
                       "running": t("Importing"), "done": t("Done"), "failed": t("Failed"),
                       "cancelled": t("Cancelled")}}


@bp.errorhandler(LoomError)
def _problem(exc):
    return render_page("importer/problem.html", message=exc.detail), exc.status


def list_buttons(app: str, entity: str, record_id, actor) -> list[RecordButton]:
    """The list page's "Import" button, for those who may create records of the entity."""
    if record_id is not None or actor is None or actor.external:
        return []
    if not current_platform().records(actor).may(app, entity, "create"):
        return []
    return [RecordButton("import", t("Import"), url_for("importer.upload", app=app, entity=entity), "get")]


def _entity(app: str, entity: str):
    platform = current_platform()
    if entity not in platform.entities(app):
        raise NotFound(t("No entity {entity} in {app}.", app=app, entity=entity))
    if not platform.records(current_actor()).may(app, entity, "create"):
        raise Forbidden(t("You may not create records of {entity}.", entity=entity))
    return platform, platform.entity_model(app, entity)


def _run(app: str, entity: str, run_id: int):
    platform, model = _entity(app, entity)
    try:
        run = platform.file_run(run_id)
    except NotFound:
        raise NotFound(t("No import {run}.", run=run_id)) from None
    actor = current_actor()
    if (run["kind"], run["app"], run["entity"]) != (engine.KIND, app, entity) or \
            (run["user_id"] != actor.id and not actor.is_admin):
        raise NotFound(t("No import {run}.", run=run_id))
    return platform, model, run


def _key(app: str, entity: str) -> str:
    return f"importer.mapping:{app}.{entity}"


def _title(model) -> str:
    title = model.spec.get("plural") or model.spec.get("title") or model.name
    return title.get(lang(), title.get("ru", model.name)) if isinstance(title, dict) else title


def _field_title(f) -> str:
    return f.title_text(lang())


@bp.route("/<app>/<entity>", methods=["GET", "POST"])
def upload(app: str, entity: str):
    platform, model = _entity(app, entity)
    actor = current_actor()
    error, status = None, 200
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            error, status = t("Choose a file."), 400
        else:
            content = file.read()
            try:
                sheet = read(file.filename, content)
            except FileProblem as exc:
                error, status = str(exc), 400
            else:
                remembered = platform.recall(_key(app, entity), actor) or {}
                mapping = clean(remembered, sheet.header, model) or suggest(sheet.header, model)
                params = {"filename": file.filename, "username": actor.username, "lang": lang(),
                          "header": sheet.header, "mapping": mapping, "remembered": bool(clean(remembered,
                                                                                             sheet.header, model)),
                          "format": sheet.kind, "encoding": sheet.encoding, "delimiter": sheet.delimiter}
                run_id = platform.start_file_run(engine.KIND, app, entity, actor, params, content, len(sheet.rows))
                return redirect(url_for("importer.mapping", app=app, entity=entity, run_id=run_id))
    runs = platform.file_runs(engine.KIND, app, entity, actor, limit=10)
    return render_page("importer/upload.html", app=app, entity=entity, title=_title(model), error=error,
                       runs=runs), status


@bp.route("/<app>/<entity>/<int:run_id>/map", methods=["GET", "POST"])
def mapping(app: str, entity: str, run_id: int):
    platform, model, run = _run(app, entity, run_id)
    params = dict(run["params"])
    if run["state"] not in ("new", "checked"):
        return redirect(url_for("importer.progress", app=app, entity=entity, run_id=run_id))
    header = params["header"]
    sheet = read(params["filename"], platform.file_run_content(run_id))
    if request.method == "POST":
        chosen = {column: request.form.get(f"col{i}", "") for i, column in enumerate(header)}
        params["mapping"] = clean(chosen, header, model)
        platform.remember(_key(app, entity), params["mapping"], current_actor())
        params["check"] = engine.dry_run(platform, current_actor(), app, entity, sheet, params["mapping"])
        platform.set_file_run_params(run_id, params, only_from=("new", "checked"))
        platform.set_file_run_state(run_id, "checked", only_from=("new", "checked"))
        return redirect(url_for("importer.check", app=app, entity=entity, run_id=run_id))
    fields = [(name, _field_title(f), f.required) for name, f in importable(model).items()]
    columns = [(i, column, params["mapping"].get(column, ""),
                [cells[i] for _, cells in sheet.rows[:PREVIEW_ROWS]]) for i, column in enumerate(header)]
    return render_page("importer/map.html", app=app, entity=entity, title=_title(model), run=run, params=params,
                       fields=fields, columns=columns)


@bp.get("/<app>/<entity>/<int:run_id>/check")
def check(app: str, entity: str, run_id: int):
    platform, model, run = _run(app, entity, run_id)
    if "check" not in run["params"]:
        return redirect(url_for("importer.mapping", app=app, entity=entity, run_id=run_id))
    titles = {name: _field_title(f) for name, f in model.fields.items()}
    return render_page("importer/check.html", app=app, entity=entity, title=_title(model), run=run,
                       result=run["params"]["check"], titles=titles)


@bp.post("/<app>/<entity>/<int:run_id>/start")
def start(app: str, entity: str, run_id: int):
    platform, _model, run = _run(app, entity, run_id)
    if platform.set_file_run_state(run_id, "queued", only_from=("checked",), user=current_actor()):
        engine.start_job(platform, run_id)
    return redirect(url_for("importer.progress", app=app, entity=entity, run_id=run_id))


@bp.get("/<app>/<entity>/<int:run_id>")
def progress(app: str, entity: str, run_id: int):
    platform, model, run = _run(app, entity, run_id)
    return render_page("importer/progress.html", app=app, entity=entity, title=_title(model), run=run,
                       status=_status(run))


def _status(run) -> dict:
    total = run["total"] or 0
    return {"state": run["state"], "total": total, "done": run["done"], "written": run["written"],
            "rejected": run["rejected"], "error": run["error"],
            "percent": 100 if run["state"] == "done" else int(100 * run["done"] / total) if total else 0}


@bp.get("/<app>/<entity>/<int:run_id>/status.json")
def status(app: str, entity: str, run_id: int):
    platform, _model, run = _run(app, entity, run_id)
    if run["state"] in ("queued", "running") and now() - run["updated_at"] > STALE:
        engine.start_job(platform, run_id)  # its worker died: a new job continues after the last committed row
    return jsonify(_status(run))


@bp.get("/<app>/<entity>/<int:run_id>/rejected.csv")
def rejected(app: str, entity: str, run_id: int):
    platform, _model, run = _run(app, entity, run_id)
    body = engine.rejected_csv(platform, run_id, run["params"]["header"], t("Error"))
    name = f"{run['params']['filename'].rsplit('.', 1)[0]}-rejected.csv"
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=\"rejected.csv\"; filename*=UTF-8''{quote(name)}"})
