"""Batch run pages: the app's batches with a start form each, and a run's progress page.

A run starts as a background job (:mod:`runtime.behaviour.batches`); the progress page
polls itself with htmx while the run is queued or running, and offers to resume a run
that failed or whose worker died. Only the roles a batch names see and start it.
"""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from runtime.behaviour.batches import run_json
from runtime.errors import Forbidden, NotFound, ValidationFailed

from .base import actor, bp, loom
from .i18n import N_, fmt_datetime, t, tt

STATES = {"queued": N_("Queued"), "running": N_("Running"), "done": N_("Done"), "failed": N_("Failed")}


def _mine(app: str) -> list[dict]:
    live = loom().live.get(app)
    if live is None:
        raise NotFound(f"app {app!r}")
    return [b for b in loom().batches.specs(app) if loom().batches.may_run(actor(), app, b)]


@bp.app_template_global("batch_count")
def batch_count(app: str) -> int:
    """How many of the app's batches the user may run (the top bar links them when any)."""
    try:
        return len(_mine(app))
    except NotFound:
        return 0


def _run_view(run: dict) -> dict:
    out = run_json(run)
    out["state_title"] = t(STATES.get(run["state"], run["state"]))
    out["started"] = fmt_datetime(run["started_at"]) if run["started_at"] else ""
    out["finished"] = fmt_datetime(run["finished_at"]) if run["finished_at"] else ""
    out["url"] = url_for("ui.batch_run", app=run["app"], run_id=run["id"])
    return out


def _batch_view(app: str, spec: dict, values: dict | None = None, errors: dict | None = None) -> dict:
    params = []
    for name, p in (spec.get("params") or {}).items():
        params.append({"name": name, "title": tt(p.get("title")) or name, "type": p["type"],
                       "required": p.get("required", False),
                       "value": (values or {}).get(name, p.get("default", "")),
                       "choices": [(c["value"], tt(c.get("title")) or c["value"]) for c in p.get("choices", [])],
                       "error": (errors or {}).get(name)})
    return {"name": spec["name"], "title": tt(spec.get("title")) or spec["name"],
            "description": tt(spec.get("description")), "params": params,
            "runs": [_run_view(r) for r in loom().batches.runs(app, spec["name"], limit=10)]}


@bp.get("/<app>/batches")
def batches(app: str):
    items = [_batch_view(app, b) for b in _mine(app)]
    if not items and not loom().batches.specs(app):
        raise NotFound(f"{app} has no batch runs")
    if not items:
        raise Forbidden(t("You may not run the batches of this app."))
    return render_template("ui/batches.html", app=app, title=t("Batch runs"), items=items)


@bp.post("/<app>/batches/<name>")
def batch_start(app: str, name: str):
    spec = loom().batches.spec(app, name)
    values = {k: v for k, v in request.form.items() if k != "csrf_token" and k in (spec.get("params") or {})}
    for k, p in (spec.get("params") or {}).items():
        if p["type"] == "boolean":
            values[k] = k in request.form
    try:
        run = loom().batches.start(app, name, values, actor=actor())
    except ValidationFailed as exc:
        errors = {e.field: e.message for e in exc.errors}
        items = [_batch_view(app, b, values if b["name"] == name else None, errors if b["name"] == name else None)
                 for b in _mine(app)]
        return render_template("ui/batches.html", app=app, title=t("Batch runs"), items=items), 400
    return redirect(url_for("ui.batch_run", app=app, run_id=run["id"]))


@bp.get("/<app>/batches/runs/<int:run_id>")
def batch_run(app: str, run_id: int):
    run = loom().batches.view(run_id, actor(), app)
    spec = loom().batches.spec(app, run["batch"])
    view = _run_view(run)
    template = "ui/_batch_progress.html" if request.headers.get("HX-Request") else "ui/batch_run.html"
    return render_template(template, app=app, title=tt(spec.get("title")) or spec["name"], run=view,
                           params=[(tt((spec.get("params") or {}).get(k, {}).get("title")) or k, v)
                                   for k, v in (run["params"] or {}).items()])


@bp.post("/<app>/batches/runs/<int:run_id>/resume")
def batch_resume(app: str, run_id: int):
    loom().batches.view(run_id, actor(), app)
    loom().batches.resume(run_id, actor())
    return redirect(url_for("ui.batch_run", app=app, run_id=run_id))
