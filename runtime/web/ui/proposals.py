"""Improvement proposals in the end-user UI (:mod:`runtime.behaviour.proposals`): the record
page's "Suggest an improvement" dialog posts here, and "My proposals" lists the signed-in
user's own proposals with their status, the analyst's answer and the version that made the
change. An analyst opening a proposal's page (a notification, a link) sees it too; the
designer is where they answer it.

The routes hang on the ``ui`` blueprint (``ui.propose``, ``ui.my_proposals``, ``ui.proposal``).
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from runtime.behaviour.proposals import STATUSES
from runtime.errors import ValidationFailed

from .base import actor, bp, loom
from .i18n import N_, fmt_datetime, message, t, tc, tt

STATUS_BADGES = {"new": "", "in_review": "in_work", "done": "done", "rejected": "cancelled"}
FIELD_TITLES = {"what": N_("What to improve"), "why": N_("Why"), "comment": N_("Comment"),
                "status": N_("Status"), "version": N_("Version")}
SERVICE_MESSAGES = (N_("must be text"), N_("must not contain NUL characters"))


def status_text(status: str) -> str:
    """A proposal's status in the session's language (here and in the designer)."""
    return {"new": tc("proposal", "New"), "in_review": tc("proposal", "In review"),
            "done": tc("proposal", "Accepted, done"), "rejected": tc("proposal", "Rejected")}.get(status, status)


def shown(p: dict) -> dict:
    """A proposal as the pages show it: dates, the status's title and badge, the record's link."""
    live = loom().live.get(p["app"])
    entity = live.app.entities.get(p["entity"]) if live is not None else None
    return {**p, "created": fmt_datetime(p["created_at"]),
            "status_title": status_text(p["status"]), "badge": STATUS_BADGES.get(p["status"], ""),
            "app_title": tt(live.app.title) if live is not None else p["app"],
            "entity_title": tt(entity.title) if entity is not None else p["entity"],
            "record_url": url_for("ui.record_view", app=p["app"], entity=p["entity"], record_id=p["record_id"])
            if entity is not None else None,
            "url": url_for("ui.proposal", proposal_id=p["id"])}


def problems(exc: ValidationFailed) -> str:
    return "; ".join(f"{t(FIELD_TITLES.get(e.field, e.field))}: {message(e.message)}" for e in exc.errors)


@bp.post("/<app>/<entity>/<int:record_id>/proposals")
def propose(app: str, entity: str, record_id: int):
    """File the dialog's proposal and go back to the record."""
    try:
        made = loom().proposals.file(app, entity, record_id, request.form.get("what", ""),
                                     request.form.get("why", ""), actor())
    except ValidationFailed as exc:
        flash(t("The proposal was not sent.") + " " + problems(exc), "error")
    else:
        flash(t("Thank you! Proposal #{id} was sent to the analysts of the app; you will be notified "
                "when they answer.", id=made["id"]), "ok")
    return redirect(url_for("ui.record_view", app=app, entity=entity, record_id=record_id))


@bp.get("/proposals")
def my_proposals():
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    items, more = loom().proposals.mine(actor(), status=status, before=request.args.get("before", type=int))
    keep = {"status": status} if status else {}
    filters = [{"title": t("All"), "url": url_for("ui.my_proposals"), "active": status is None, "status": ""}]
    filters += [{"title": status_text(s), "url": url_for("ui.my_proposals", status=s), "active": s == status,
                 "status": s} for s in STATUSES]
    return render_template("ui/proposals.html", title=t("My proposals"), items=[shown(p) for p in items],
                           filters=filters, next_url=url_for("ui.my_proposals", before=more, **keep) if more else None)


@bp.get("/proposals/<int:proposal_id>")
def proposal(proposal_id: int):
    p = shown(loom().proposals.get(proposal_id, actor()))
    version = None
    if p["version"] is not None:
        version = next((v for v in loom().proposals.versions(p["app"]) if v["number"] == p["version"]), None)
    return render_template("ui/proposal.html", title=t("Proposal #{id}", id=p["id"]), p=p, version=version,
                           version_at=fmt_datetime(version["created_at"]) if version else "")
