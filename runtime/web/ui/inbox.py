"""The signed-in user's in-app notifications: the ``loom_notification`` rows that mentions,
escalations and notification templates write. A page lists them newest first; each can be
marked read, or all at once; the top bar shows how many are unread.

The routes hang on the ``ui`` blueprint (``ui.notifications``, ``ui.read_notification``,
``ui.read_all_notifications``); a user only ever sees and changes their own rows.
"""
from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select, update

from runtime.data import tables as platform
from runtime.data.storage import utcnow

from .base import actor, bp, loom
from .i18n import N_, fmt_datetime, t

PAGE_SIZE = 30
BADGE_CAP = 99


def unread_count(user_id: int) -> int:
    """Unread notifications of a user, counted up to ``BADGE_CAP + 1``."""
    n = platform.notification
    unread = select(n.c.id).where(n.c.user_id == user_id, n.c.read_at.is_(None)).limit(BADGE_CAP + 1).subquery()
    with loom().reader.connect() as c:
        return c.execute(select(func.count()).select_from(unread)).scalar_one()


def _badge_text(count: int) -> str:
    return "" if not count else f"{BADGE_CAP}+" if count > BADGE_CAP else str(count)


@bp.app_template_global("unread_notifications")
def _badge() -> str:
    """The top bar's badge text: "" when nothing is unread, "99+" past the cap."""
    if not current_user.is_authenticated or "loom" not in current_app.extensions:
        return ""
    return _badge_text(unread_count(current_user.actor.id))


@bp.get("/notifications/count")
def unread_notifications_count():
    """The badge for a page that polls (loom.js): ``{"count": n, "text": "n"}``, the signed-in user's own."""
    count = unread_count(actor().id)
    return jsonify({"count": min(count, BADGE_CAP + 1), "text": _badge_text(count)})


def _record_url(row) -> str | None:
    if row.link:  # a notification about something other than a record: a path under the site
        return request.script_root + row.link
    live = loom().live.get(row.app) if row.app else None
    if live is None or row.entity not in live.app.entities or row.record_id is None:
        return None
    return url_for("ui.record_view", app=row.app, entity=row.entity, record_id=row.record_id)


@bp.get("/notifications")
def notifications():
    n = platform.notification
    query = select(n).where(n.c.user_id == actor().id)
    if request.args.get("unread"):
        query = query.where(n.c.read_at.is_(None))
    before = request.args.get("before", type=int)
    if before:
        query = query.where(n.c.id < before)
    with loom().reader.connect() as c:
        rows = c.execute(query.order_by(n.c.id.desc()).limit(PAGE_SIZE + 1)).all()
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    items = [{"id": r.id, "title": r.title, "body": r.body or "", "at": fmt_datetime(r.created_at),
              "unread": r.read_at is None, "url": _record_url(r),
              "read_url": url_for("ui.read_notification", notification_id=r.id)} for r in rows]
    keep = {"unread": "1"} if request.args.get("unread") else {}
    return render_template(
        "ui/notifications.html", title=t("Notifications"), items=items, unread_only=bool(keep),
        next_url=url_for("ui.notifications", before=rows[-1].id, **keep) if more else None,
        first_url=url_for("ui.notifications", **keep) if before else None,
        all_url=url_for("ui.notifications"), unread_url=url_for("ui.notifications", unread="1"),
        read_all_url=url_for("ui.read_all_notifications"))


def _mark_read(*conditions) -> int:
    n = platform.notification
    with loom().engine.begin() as c:
        return c.execute(update(n).where(n.c.user_id == actor().id, n.c.read_at.is_(None), *conditions)
                         .values(read_at=utcnow())).rowcount


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int):
    _mark_read(platform.notification.c.id == notification_id)
    return redirect(url_for("ui.notifications", **({"unread": "1"} if request.form.get("unread") else {})))


@bp.post("/notifications/read-all")
def read_all_notifications():
    flash(t("Marked as read: {n}", n=_mark_read()), "ok")
    return redirect(url_for("ui.notifications"))



# ---------------------------------------------------------------------- preferences
KIND_TITLES = {"assignment": N_("Assigned to me"), "mention": N_("Mentioned in a comment"),
               "proposal": N_("An answer to my improvement proposal")}
CHOICE_TITLES = {"inapp": N_("In Loom only"), "email": N_("E-mail at once"), "digest": N_("Daily digest")}


@bp.route("/notifications/settings", methods=["GET", "POST"])
def notification_settings():
    """Each kind of personal notification: in Loom only, also by e-mail, or in the daily digest."""
    from runtime.behaviour.personal import CHOICES, KINDS, PreferenceError

    who = actor()
    personal = loom().personal
    if request.method == "POST":
        wanted = {k: request.form[k] for k in KINDS if k in request.form}
        try:
            personal.set_preferences(who.id, wanted)
        except PreferenceError as exc:
            flash(t("Could not save: {field}", field=exc.field), "error")
            return render_settings(personal.preferences(who.id), status=400)
        flash(t("Settings saved."), "ok")
        return redirect(url_for("ui.notification_settings"))
    return render_settings(personal.preferences(who.id))


def render_settings(prefs: dict, status: int = 200):
    u = platform.user
    with loom().reader.connect() as c:
        email = c.execute(select(u.c.email).where(u.c.id == actor().id)).scalar()
    kinds = [{"name": k, "title": t(KIND_TITLES[k]), "value": v} for k, v in prefs.items()]
    choices = [{"name": c, "title": t(title)} for c, title in CHOICE_TITLES.items()]
    return render_template("ui/notification_settings.html", title=t("Notification settings"), kinds=kinds,
                           choices=choices, email=email), status
