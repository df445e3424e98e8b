"""The review page of a match: the newest run's progress, a button that starts a run, and the
pairs between the "review" and "same" thresholds side by side, each with "same" and "different".

Reading the page needs read permission on the source entity; starting a run or deciding a
pair needs update permission on it. Forms carry the CSRF token.
"""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from runtime.plugin_api import (
    Forbidden,
    LoomError,
    NotFound,
    ValidationFailed,
    current_actor,
    current_platform,
    lang,
    login_required,
    render_page,
    t,
)

from . import runs, service, state

bp = Blueprint("masterdata", __name__, url_prefix="/masterdata", template_folder="templates")
PAGE = 30


@bp.before_request
@login_required
def _signed_in():
    pass


@bp.errorhandler(LoomError)
def _problem(exc):
    return render_page("masterdata/problem.html", message=exc.detail), exc.status


def _match(app: str, entity: str, action: str):
    platform = current_platform()
    try:
        name, spec = service.find_match(platform, app, entity)
    except LookupError:
        raise NotFound(t("No master data match over {app}.{entity}.", app=app, entity=entity)) from None
    if not platform.records(current_actor()).may(app, entity, action):
        raise Forbidden(t("You may not work with the master data of {entity}.", entity=entity))
    return platform, name, spec


def _title(f) -> str:
    return f.title_text(lang()) if f is not None else ""


@bp.route("/<app>/<entity>")
def review(app: str, entity: str):
    platform, name, spec = _match(app, entity, "read")
    records = platform.records(current_actor())
    model = platform.entity_model(app, entity)
    src = spec["sources"]
    shown = [src["source_field"], src["source_id_field"], *spec["fields"]]
    queue = state.review(platform, app, entity)
    pairs = []
    for a, b, p in sorted(queue["pairs"], key=lambda x: -x[2])[:PAGE]:
        try:
            left, right = records.get(app, entity, a), records.get(app, entity, b)
        except (NotFound, Forbidden):
            continue   # deleted since, or hidden from this user
        rows = [(f, _title(model.fields.get(f)), left.get(f), right.get(f),
                 (left.get(f) or "") != (right.get(f) or "")) for f in shown]
        pairs.append({"a": a, "b": b, "p": p, "rows": rows})
    latest = platform.file_runs(runs.KIND, app, entity, limit=1)
    may_update = records.may(app, entity, "update")
    return render_page("masterdata/review.html", app=app, entity=entity, name=name, pairs=pairs,
                       waiting=len(queue["pairs"]), run=latest[0] if latest else None, may_update=may_update,
                       stages=runs.STAGES, title=_title_of(model))


def _title_of(model) -> str:
    title = model.spec.get("plural") or model.spec.get("title") or model.name
    return title.get(lang(), title.get("ru", model.name)) if isinstance(title, dict) else title


@bp.route("/<app>/<entity>/decide", methods=["POST"])
def decide(app: str, entity: str):
    platform, _, _ = _match(app, entity, "update")
    try:
        a, b = int(request.form["a"]), int(request.form["b"])
    except (KeyError, ValueError):
        raise ValidationFailed([_Problem("a", t("Choose a pair of records."))]) from None
    service.decide_pair(platform, app, entity, a, b, request.form.get("verdict", ""), current_actor(),
                        request.form.get("reason", ""))
    return redirect(url_for("masterdata.review", app=app, entity=entity))


@bp.route("/<app>/<entity>/run", methods=["POST"])
def start(app: str, entity: str):
    platform, _, _ = _match(app, entity, "update")
    run_id = runs.start(platform, app, entity, current_actor().username,
                        incremental=request.form.get("incremental") == "1")
    runs.start_job(platform, run_id)
    return redirect(url_for("masterdata.review", app=app, entity=entity))


class _Problem:
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
