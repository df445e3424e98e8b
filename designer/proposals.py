"""An app's improvement proposals in the designer (:mod:`runtime.behaviour.proposals`): the
list by status, and the answer to each one - a status, a comment for its author and the
published version that made the change. Saving an answer notifies the author of a new status
or a newly linked version."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user

from runtime.behaviour.proposals import STATUSES
from runtime.errors import ValidationFailed
from runtime.web.ui.i18n import fmt_datetime, t
from runtime.web.ui.proposals import problems, shown, status_text

from .base import bp, loom
from .views import draft_state, drafts, render


@bp.get("/apps/<app>/proposals")
def proposals(app: str):
    draft = drafts().open(app)  # NotFound for an unknown app
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    items, more = loom().proposals.of_app(app, current_user.actor, status=status,
                                          before=request.args.get("before", type=int))
    counts = loom().proposals.counts(app)
    filters = [{"status": "", "title": t("All"), "count": sum(counts.values()), "active": status is None,
                "url": url_for("designer.proposals", app=app)}]
    filters += [{"status": s, "title": status_text(s), "count": counts[s], "active": s == status,
                 "url": url_for("designer.proposals", app=app, status=s)} for s in STATUSES]
    versions = [{**v, "created": fmt_datetime(v["created_at"])} for v in loom().proposals.versions(app)]
    keep = {"status": status} if status else {}
    return render("designer/proposals.html", app=app, doc=draft.doc, items=[shown(p) for p in items],
                  filters=filters, shown_status=status, versions=versions,
                  statuses=[{"value": s, "title": status_text(s)} for s in STATUSES],
                  title=t("Proposals"), app_title=draft_state(app)["title"],
                  next_url=url_for("designer.proposals", app=app, before=more, **keep) if more else None)


@bp.post("/apps/<app>/proposals/<int:proposal_id>")
def answer_proposal(app: str, proposal_id: int):
    version = request.form.get("version", "")
    try:
        loom().proposals.answer(app, proposal_id, current_user.actor, status=request.form.get("status") or None,
                                comment=request.form.get("comment", ""),
                                version=int(version) if version.isdecimal() else None)
    except ValidationFailed as exc:
        flash(t("The answer was not saved.") + " " + problems(exc), "error")
    else:
        flash(t("The answer to proposal #{id} is saved.", id=proposal_id), "info")
    back = request.form.get("back")
    return redirect(url_for("designer.proposals", app=app, **({"status": back} if back in STATUSES else {}))
                    + f"#proposal-{proposal_id}")
