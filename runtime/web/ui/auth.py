"""Signing in and out with a session cookie, and choosing the language."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from runtime.security import throttle
from runtime.web.safe_next import safe_next

from .i18n import LANGS, t

bp = Blueprint("auth", __name__)


class User(UserMixin):
    """The signed-in user: Flask-Login's view of a :class:`runtime.records.Actor`."""

    def __init__(self, actor):
        self.actor = actor
        self.id = str(actor.id)

    @property
    def username(self) -> str:
        return self.actor.username


def load_user(user_id: str):
    try:
        actor = current_app.extensions["loom"].accounts.actor_for_id(int(user_id))
    except (TypeError, ValueError):
        return None
    if actor is None:
        return None
    actor.ip = request.remote_addr
    return User(actor)


def _safe_next(target: str | None) -> str:
    return safe_next(target, url_for("ui.home"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, username = None, ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:150]
        password = request.form.get("password", "")
        limits, address = throttle.for_app(current_app), request.remote_addr
        if limits.blocked(username, address):
            error = t("Too many failed attempts. Try again in a few minutes.")
            return render_template("ui/login.html", error=error, username=username), 429
        actor = current_app.extensions["loom"].accounts.authenticate(username, password, ip=request.remote_addr)
        if actor is None:
            limits.failed(username, address)
            error = t("Wrong username or password.")
            return render_template("ui/login.html", error=error, username=username), 401
        limits.succeeded(username, address)
        lang = session.get("lang")
        session.clear()  # no fixation: the signed-in session starts fresh (keeping the language)
        if lang in LANGS:
            session["lang"] = lang
        session.permanent = True  # PERMANENT_SESSION_LIFETIME, renewed by each request, is the idle timeout
        login_user(User(actor))
        return redirect(_safe_next(request.args.get("next")))
    if current_user.is_authenticated:
        return redirect(url_for("ui.home"))
    return render_template("ui/login.html", error=error, username=username)


@bp.post("/logout")
@login_required
def logout():
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_lang(code: str):
    if code in LANGS:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))
