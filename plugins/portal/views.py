"""The portal's pages: ``/portal/<app>/...``, in a layout of their own.

Who acts: a signed-in visitor as themselves (their row rules and hidden fields
apply; an external user sees their organisation's records); an anonymous
visitor only on pages marked ``anonymous``, as the system, held to the page's
``filter`` and ``fields``.
"""
from __future__ import annotations

import datetime as dt
import os

from flask import Blueprint, abort, flash, jsonify, redirect, request, send_file, session, url_for
from flask import render_template as _render

from runtime.plugin_api import (
    Forbidden,
    LinkInvalid,
    LoomError,
    NotFound,
    Upload,
    ValidationFailed,
    current_actor,
    current_platform,
    field_errors,
    lang,
    message,
    password_link,
    rate_limit,
    redeem_link,
    sign_in,
    sign_out,
    t,
    transition_fields,
    tt,
)

from . import pages as P
from .display import Display

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates", static_folder="static")
SUBMISSION_LIMIT = 5  # anonymous submissions per address per hour, unless LOOM_SUBMISSION_LIMIT says otherwise
MIN_PASSWORD = 8


def home_url(actor) -> str:
    """Where an external user lands: the portal of their organisation's app."""
    org = (getattr(actor, "organization", None) or "").partition(".")[0]
    apps = [a for a in current_platform().apps() if portal_of(a)]
    app = org if org in apps else (apps[0] if apps else None)
    return url_for("portal.home", app=app) if app else url_for("portal.index")


def portal_of(app: str) -> P.Portal | None:
    try:
        return P.read(app, current_platform().app_section(app, "portal"))
    except (KeyError, LoomError):
        return None


def _portal(app: str) -> P.Portal:
    found = portal_of(app)
    if found is None:
        raise NotFound(f"no portal for {app!r}")
    return found


def _page(portal: P.Portal, name: str, *kinds) -> P.Page:
    page = portal.pages.get(name)
    if page is None or (kinds and page.kind not in kinds):
        raise NotFound(f"no page {name!r}")
    return page


def _records(page: P.Page):
    """The record service for this visitor on this page, or None when they must sign in."""
    me = current_actor()
    if me is not None:
        return current_platform().records(me.username)
    return current_platform().records(visitor=True) if page.anonymous else None


def render(portal: P.Portal, template: str, **context):
    me = current_actor()
    menu = [(p.name, tt(p.title) or p.name) for p in (portal.pages[n] for n in portal.menu)
            if me is not None or p.anonymous]
    return _render(template, portal=portal, app=portal.app, menu=menu, me=me, title_of=tt, lang=lang(),
                   here_url=request.full_path.rstrip("?"), notices=_notices(portal, me), **context)


def _notices(portal: P.Portal, me) -> list[dict]:
    """The visitor's unread notices about records a record page of the portal shows (answers
    sent through the ``portal`` channel), each with that page's link."""
    if me is None or not me.id:
        return []
    pages = {p.entity: p.name for p in portal.pages.values() if p.kind == "record"}
    return [{**n, "url": url_for("portal.record", app=portal.app, name=pages[n["entity"]], record_id=n["record_id"])}
            for n in current_platform().notices(me.id, portal.app) if n["entity"] in pages and n["record_id"]]


@bp.errorhandler(NotFound)
def _not_found(exc):
    return _render("portal/error.html", message=t("Not found."), lang=lang()), 404


@bp.errorhandler(Forbidden)
def _forbidden(exc):
    return _render("portal/error.html", message=t("You may not do this."), lang=lang()), 403


@bp.get("/")
def index():
    apps = [(a, portal_of(a)) for a in current_platform().apps()]
    apps = [(a, p) for a, p in apps if p]
    if len(apps) == 1:
        return redirect(url_for("portal.home", app=apps[0][0]))
    return _render("portal/index.html", apps=[(a, tt(p.title) or a) for a, p in apps], lang=lang())


@bp.get("/<app>/")
def home(app: str):
    portal = _portal(app)
    page = portal.home()
    if current_actor() is None and not (page and page.anonymous):
        return redirect(url_for("portal.login", app=app))
    return redirect(url_for("portal.page", app=app, name=page.name)) if page else abort(404)


# ---------------------------------------------------------------------- pages
@bp.route("/<app>/p/<name>", methods=["GET", "POST"])
def page(app: str, name: str):
    portal = _portal(app)
    page = _page(portal, name, "list", "search", "form")
    records = _records(page)
    if records is None:
        return redirect(url_for("portal.login", app=app, next=request.full_path))
    if page.kind == "form":
        return _form(portal, page, records)
    display = Display(current_platform(), app, page.entity, portal)
    where = {}
    for f in page.filters:  # the filters the page offers, and nothing else from the query string
        value = request.args.get(f)
        if value:
            where[f] = value
    query = request.args.get("q", "").strip()[:200] if page.kind == "search" else ""
    result = {"items": [], "next": None, "count": 0}
    if page.kind == "list" or query or page.spec.get("browse", True):
        result = records.page(app, page.entity, where=where, sort=page.sort, limit=page.page_size,
                              after=request.args.get("after") or None, search=query or None,
                              condition=page.filter, count=True)
    rows = [P.visible(page, r) for r in result["items"]]
    if request.args.get("format") == "json":
        return jsonify({"items": rows, "next": result["next"], "count": result["count"]})
    return render(portal, "portal/list.html", page=page, rows=rows, display=display, query=query,
                  filters=[(f, display.label(f), display.options(f), request.args.get(f, "")) for f in page.filters],
                  next_url=url_for("portal.page", app=app, name=name, **{**request.args, "after": result["next"]})
                  if result["next"] else None, count=result["count"])


def _form(portal: P.Portal, page: P.Page, records):
    app = portal.app
    me = current_actor()
    display = Display(current_platform(), app, page.entity)
    values, errors = {}, {}
    if request.method == "POST":
        values = {f: request.form.get(f, "") for f in page.fields if display.kind(f) != "file"}
    hidden = _set_values(page, me)
    display = Display(current_platform(), app, page.entity, portal, {**values, **hidden})
    if request.method == "POST":
        files = _uploads(display, page.fields)
        if page.anonymous and me is None:
            limit = int(os.environ.get("LOOM_SUBMISSION_LIMIT") or SUBMISSION_LIMIT)
            if not rate_limit(f"portal:{app}:{page.name}:{request.remote_addr}", limit, 3600):
                return render(portal, "portal/form.html", page=page, display=display, values=values,
                              errors={"": t("Too many requests from your address. Try again later.")}), 429
            # saved as the system, which takes any record: held to what the portal offers anonymous visitors
            errors = {f: t("Choose one of the offered records.") for f, v in values.items()
                      if v and display.kind(f) == "link" and not display.offered(f, v)}
            if errors:
                return render(portal, "portal/form.html", page=page, display=display, values=values,
                              errors=errors), 422
        data = {k: v for k, v in values.items() if v != ""} | hidden
        try:
            saved = records.create(app, page.entity, data, files=files, channel="portal")
        except ValidationFailed as exc:
            # a field not on the form (a set: value, a script's "record") is named above the form
            errors, general = field_errors(app, page.entity, exc.errors, page.fields)
            errors = {k: "; ".join(v) for k, v in errors.items()}
            return render(portal, "portal/form.html", page=page, display=display, values=values, errors=errors,
                          general=general), 422
        if page.confirmation:
            _confirm(portal, page, saved)
        flash(t("Thank you! Your request is registered as {number}.", number=saved.get("number") or saved["id"]),
              "ok")
        target = page.record_page and portal.pages.get(page.record_page)
        if target is not None and me is not None:
            return redirect(url_for("portal.record", app=app, name=target.name, record_id=saved["id"]))
        return redirect(url_for("portal.page", app=app, name=page.name))
    return render(portal, "portal/form.html", page=page, display=display, values=values, errors=errors)


def _set_values(page: P.Page, me) -> dict:
    user = current_platform().accounts.user(user_id=me.id) if me is not None and me.id else None
    return P.set_values(page, me, user)


@bp.get("/<app>/p/<name>/options/<field>")
def options(app: str, name: str, field: str):
    """The records a form's link field offers for what the visitor types (``q``) and the form's
    values so far (the other fields in the query string): ``{"items": [{id, text}], "more"}``."""
    portal = _portal(app)
    page = _page(portal, name, "form")
    if field not in page.fields or _records(page) is None:
        raise NotFound(f"no link field {field!r} here")
    values = {f: request.args.get(f, "") for f in page.fields if f in request.args}
    display = Display(current_platform(), app, page.entity, portal, {**values, **_set_values(page, current_actor())})
    if display.kind(field) != "link":
        raise NotFound(f"no link field {field!r} here")
    found = display.links(field, request.args.get("q", "").strip()[:100])
    return jsonify({"items": [{"id": v, "text": text} for v, text in found], "more": display.more(field)})


def _confirm(portal: P.Portal, page: P.Page, saved: dict) -> None:
    """The confirmation e-mail of a form (``confirmation: {email_field, subject, body}``)."""
    spec = page.confirmation
    address = saved.get(spec.get("email_field", "email"))
    if not address:
        return
    number = saved.get("number") or str(saved["id"])
    current_platform().mail(address, (tt(spec.get("subject")) or t("Your request is registered")).replace(
        "{number}", number), (tt(spec.get("body")) or "").replace("{number}", number))


@bp.get("/<app>/p/<name>/suggest")
def suggest(app: str, name: str):
    """Published matches for what a visitor types into a form (the form's ``suggest`` page)."""
    portal = _portal(app)
    form = _page(portal, name, "form")
    if not form.suggest:
        raise NotFound("this form suggests nothing")
    search = _page(portal, form.suggest, "search")
    records = _records(search) if _records(form) is not None else None
    query = " ".join(request.args.get("q", "").split()[:6])[:200]
    if records is None or len(query) < 3:
        return jsonify([])
    found = records.page(app, search.entity, search=_any_of(query), condition=search.filter, limit=5)["items"]
    display = Display(current_platform(), app, search.entity)
    target = search.record_page
    return jsonify([{"title": display.title_of(r), **({"url": url_for("portal.record", app=app, name=target,
                                                                       record_id=r["id"])} if target else {})}
                    for r in found])


def _any_of(query: str) -> str:
    words = [w for w in query.replace('"', " ").split() if len(w) > 2]
    return " or ".join(words) if words else query


# ---------------------------------------------------------------------- a record
def _visible_record(portal: P.Portal, page: P.Page, record_id: int) -> tuple[dict, object]:
    records = _records(page)
    if records is None:
        abort(redirect(url_for("portal.login", app=portal.app, next=request.full_path)))
    found = records.page(portal.app, page.entity, where={"id": record_id}, condition=page.filter, limit=1)["items"]
    if not found:
        raise NotFound(f"no record {record_id}")
    return records.get(portal.app, page.entity, record_id), records


@bp.get("/<app>/p/<name>/<int:record_id>")
def record(app: str, name: str, record_id: int):
    portal = _portal(app)
    page = _page(portal, name, "record")
    full, records = _visible_record(portal, page, record_id)
    if current_actor() is not None and current_actor().id:  # seen: its notices are read
        current_platform().mark_read(current_actor().id, app, page.entity, record_id)
    shown = P.visible(page, full)
    comments = []
    if page.comments:
        comments = [{"author": c["author"], "body": c["body"], "at": c["created_at"]}
                    for c in records.comments(app, page.entity, record_id, public_only=True)]
    events = []
    if "status" in page.fields or page.comments:
        display = Display(current_platform(), app, page.entity)
        events = [{"at": h["at"], "text": t("Status: {status}", status=display.status(h["to"]))}
                  for h in records.history(app, page.entity, record_id)]
    transitions = [{**tr, "asks": bool(transition_fields(app, page.entity, tr["name"], full))}
                   for tr in records.transitions(app, page.entity, full) if tr["name"] in page.transitions] \
        if current_actor() is not None else []
    if request.args.get("format") == "json":
        return jsonify({"record": shown, "comments": [{**c, "at": c["at"].isoformat()} for c in comments],
                        "transitions": [tr["name"] for tr in transitions]})
    display = Display(current_platform(), app, page.entity)
    timeline = sorted([*events, *({"at": c["at"].isoformat(), "text": t("Comment from {author}", author=c["author"])}
                                  for c in comments)], key=lambda e: e["at"])
    return render(portal, "portal/record.html", page=page, record=shown, display=display, comments=comments,
                  timeline=timeline, transitions=transitions, voted=record_id in session.get("portal_voted", []))


@bp.post("/<app>/p/<name>/<int:record_id>/comment")
def comment(app: str, name: str, record_id: int):
    portal = _portal(app)
    page = _page(portal, name, "record")
    if not page.comments or current_actor() is None:
        raise Forbidden("no comments here")
    _, records = _visible_record(portal, page, record_id)
    body = request.form.get("body", "").strip()
    if body:
        records.comment(app, page.entity, record_id, body, public=True)
        flash(t("Comment added."), "ok")
    return redirect(url_for("portal.record", app=app, name=name, record_id=record_id) + "#comments")


@bp.route("/<app>/p/<name>/<int:record_id>/do/<transition>", methods=["GET", "POST"])
def fire(app: str, name: str, record_id: int, transition: str):
    """Fire a transition the record page lists. One that needs fields the visitor has to fill
    (its empty ``required`` fields its ``set`` does not fill, as the internal UI's dialog asks)
    shows a small form first; a refusal comes back as a message, the record unchanged."""
    portal = _portal(app)
    page = _page(portal, name, "record")
    if transition not in page.transitions or current_actor() is None:
        raise Forbidden("not on this page")
    full, records = _visible_record(portal, page, record_id)
    back = redirect(url_for("portal.record", app=app, name=name, record_id=record_id))
    tr = next((x for x in records.transitions(app, page.entity, full) if x["name"] == transition), None)
    if tr is None:
        flash(t("This step is not possible now."), "error")
        return back
    display = Display(current_platform(), app, page.entity)
    asked = [f.name for f in transition_fields(app, page.entity, transition, full)]
    values, errors, general = {}, {}, []
    if request.method == "POST":
        values = {f: request.form.get(f, "") for f in asked if display.kind(f) != "file"}
    stored = {k: v for k, v in full.items() if k in display.entity.fields and isinstance(v, (str, int, float))}
    display = Display(current_platform(), app, page.entity, portal, {**stored, **values})  # link filters read both
    if request.method == "POST":
        try:
            records.transition(app, page.entity, record_id, transition, {k: v for k, v in values.items() if v != ""},
                               files=_uploads(display, asked))
        except ValidationFailed as exc:
            if not asked:
                flash(_refused(app, page, exc), "error")
                return back
            errors, general = field_errors(app, page.entity, exc.errors, asked)
            errors = {k: "; ".join(v) for k, v in errors.items()}
        except LoomError as exc:
            flash(_refused(app, page, exc), "error")
            return back
        else:
            flash(t("Done."), "ok")
            return back
    elif not asked:
        return back  # nothing to ask: the button posts
    shown = {"id": record_id, **{k: full.get(k) for k in ("number", display.entity.title_field) if k}}
    return render(portal, "portal/transition.html", page=page, record=shown, display=display, transition=tr,
                  fields=asked, values=values, errors=errors, general=general), 422 if errors or general else 200


def _uploads(display: Display, names) -> dict:
    """The files posted for the file fields among ``names``: ``{field: [Upload, ...]}``."""
    files = {f: [Upload(u.filename or "file", u.mimetype, u.stream) for u in request.files.getlist(f) if u and u.filename]
             for f in names if display.kind(f) == "file"}
    return {k: v for k, v in files.items() if v}


def _refused(app: str, page: P.Page, exc: LoomError) -> str:
    """Why the platform refused, for the visitor: each field by its label, in their language."""
    if isinstance(exc, ValidationFailed):
        _, lines = field_errors(app, page.entity, exc.errors, ())
        return t("Not done: {reason}", reason="; ".join(lines))
    if exc.status >= 500:  # a script or configuration broke: its details are for the analysts
        return t("Not done: something went wrong. Please try again later.")
    return t("Not done: {reason}", reason=message(exc.detail))


@bp.post("/<app>/p/<name>/<int:record_id>/run/<action>")
def run(app: str, name: str, record_id: int, action: str):
    """A record page's action button: its script runs on the record as the signed-in visitor
    (``Records.press``, as an entity's ``hooks.actions`` do); what it answers is the message."""
    portal = _portal(app)
    page = _page(portal, name, "record")
    spec = next((a for a in page.actions if a["name"] == action), None)
    if spec is None or current_actor() is None:
        raise Forbidden("no such action here")
    _, records = _visible_record(portal, page, record_id)
    try:
        done = records.press(app, page.entity, record_id, spec["script"], f"portal:{page.name}.{action}")
    except LoomError as exc:
        flash(_refused(app, page, exc), "error")
    else:
        answer = done["result"]
        flash(answer if isinstance(answer, str) and answer.strip() else t("Done."), "ok")
    return redirect(url_for("portal.record", app=app, name=name, record_id=record_id))


@bp.post("/<app>/p/<name>/<int:record_id>/helpful")
def helpful(app: str, name: str, record_id: int):
    """"Did this help?": counted once per visitor's session into ``helpful_yes``/``helpful_no``."""
    portal = _portal(app)
    page = _page(portal, name, "record")
    if not page.helpful:
        raise NotFound("no votes here")
    _visible_record(portal, page, record_id)
    voted = session.get("portal_voted", [])
    if record_id not in voted:
        field = "helpful_yes" if request.form.get("answer") == "yes" else "helpful_no"
        system = current_platform().records()
        current = system.get(app, page.entity, record_id)
        system.update(app, page.entity, record_id, {field: (current.get(field) or 0) + 1}, current["row_version"])
        session["portal_voted"] = [*voted, record_id][-200:]
    flash(t("Thank you for your answer."), "ok")
    return redirect(url_for("portal.record", app=app, name=name, record_id=record_id))


@bp.get("/<app>/p/<name>/<int:record_id>/files/<int:attachment_id>")
def file(app: str, name: str, record_id: int, attachment_id: int):
    portal = _portal(app)
    page = _page(portal, name, "record")
    full, records = _visible_record(portal, page, record_id)
    display = Display(current_platform(), app, page.entity)
    ids = {f["id"] for field in page.fields if display.kind(field) == "file" for f in (full.get(field) or [])}
    if attachment_id not in ids:
        raise NotFound(f"no file {attachment_id}")
    meta, path = records.open_file(attachment_id)
    return send_file(path, mimetype=meta["content_type"] or "application/octet-stream", as_attachment=True,
                     download_name=meta["filename"])


# ---------------------------------------------------------------------- accounts
@bp.route("/<app>/login", methods=["GET", "POST"])
def login(app: str):
    portal = _portal(app)
    error, username = None, ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:150]
        actor, problem = sign_in(username, request.form.get("password", ""))
        if actor is None:
            error = t("Too many failed attempts. Try again in a few minutes.") if problem == "throttled" \
                else t("Wrong username or password.")
            return render(portal, "portal/login.html", error=error, username=username), 429 if problem else 401
        target = request.args.get("next", "")
        ok = target.startswith(f"/portal/{app}/") and "//" not in target and "\\" not in target
        return redirect(target if ok else url_for("portal.home", app=app))
    return render(portal, "portal/login.html", error=error, username=username)


@bp.post("/<app>/logout")
def logout(app: str):
    sign_out()
    return redirect(url_for("portal.login", app=app))


@bp.route("/<app>/reset", methods=["GET", "POST"])
def reset(app: str):
    """Ask for a password link by e-mail; the answer is the same whether the address is known."""
    portal = _portal(app)
    if request.method == "POST":
        email = request.form.get("email", "").strip()[:255]
        if rate_limit(f"portal:reset:{request.remote_addr}", 10, 3600) and email:
            user = current_platform().accounts.user(email=email)
            if user and user["is_active"] and user.get("external"):
                link = url_for("portal.set_password", app=app, purpose="reset",
                               token=password_link(user["id"], "reset"), _external=True)
                current_platform().mail(user["email"], t("Password reset"), t(
                    "To set a new password, open this link within {hours} hours:", hours=P.RESET_HOURS)
                    + "\n\n" + link + "\n\n" + t("If you did not ask for it, ignore this letter."))
        flash(t("If the address is known, a letter with a link is on its way."), "ok")
        return redirect(url_for("portal.login", app=app))
    return render(portal, "portal/reset.html")


@bp.route("/<app>/password/<purpose>/<token>", methods=["GET", "POST"])
def set_password(app: str, purpose: str, token: str):
    """The link of an invitation (7 days) or a reset (2 hours): set a password, once."""
    portal = _portal(app)
    if purpose not in ("invite", "reset"):
        raise NotFound("no such link")
    age = dt.timedelta(days=P.INVITE_DAYS) if purpose == "invite" else dt.timedelta(hours=P.RESET_HOURS)
    try:
        user = redeem_link(token, purpose, age)
    except LinkInvalid as exc:
        return render(portal, "portal/link_invalid.html", reason=_link_problem(exc)), 400
    error = None
    if request.method == "POST":
        password = request.form.get("password", "")
        if len(password) < MIN_PASSWORD:
            error = t("The password needs at least {n} characters.", n=MIN_PASSWORD)
        elif password != request.form.get("password2", ""):
            error = t("The passwords differ.")
        else:
            try:
                user = redeem_link(token, purpose, age, password=password)
            except LinkInvalid as exc:
                return render(portal, "portal/link_invalid.html", reason=_link_problem(exc)), 400
            sign_in(user["username"], password)
            flash(t("Your password is set."), "ok")
            return redirect(url_for("portal.home", app=app))
    return render(portal, "portal/password.html", user=user, error=error, purpose=purpose), 422 if error else 200


def _link_problem(exc) -> str:
    if "expired" in exc.detail:
        return t("The link has expired. Ask for a new one.")
    if "used" in exc.detail:
        return t("The link has already been used.")
    return t("The link is not valid.")


@bp.route("/<app>/invite", methods=["GET", "POST"])
def invite(app: str):
    """Staff invite a client's contact: an external user of an organisation, and a letter."""
    portal = _portal(app)
    me = current_actor()
    if me is None:
        return redirect(url_for("portal.login", app=app, next=request.full_path))
    if me.external or not (me.is_admin or any(r in me.roles for r in (f"{app}:{n}" for n in portal.inviters))):
        raise Forbidden("only administrators and the portal's inviters invite contacts")
    if not portal.organisation_entity:
        raise NotFound("the portal names no organisation entity")
    system = current_platform().records()
    entity = current_platform().entity_model(app, portal.organisation_entity)
    orgs = [(r["id"], r.get(entity.title_field) or r.get("number")) for r in
            system.find(app, portal.organisation_entity, sort=[entity.title_field or "id"], limit=500)]
    error = None
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()[:255]
        name = request.form.get("full_name", "").strip()[:255]
        org = request.form.get("organization", "")
        accounts = current_platform().accounts
        if "@" not in email or not name:
            error = t("Give the contact's name and e-mail.")
        elif not org.isdigit() or int(org) not in dict(orgs):
            error = t("Choose the organisation.")
        elif accounts.user(email=email) or accounts.exists(email):
            error = t("A user with this e-mail exists already.")
        else:
            user_id = accounts.create_user(email, None, email=email, full_name=name, external=True,
                                           roles=[f"{app}:{r}" for r in portal.roles],
                                           organization=f"{app}.{portal.organisation_entity}:{int(org)}", by=me)
            link = url_for("portal.set_password", app=app, purpose="invite", token=password_link(user_id, "invite"),
                           _external=True)
            current_platform().mail(email, t("Invitation to the portal {title}", title=tt(portal.title) or app),
                                    t("You are invited to the portal. Set your password within {days} days:",
                                      days=P.INVITE_DAYS) + "\n\n" + link)
            flash(t("The invitation is sent to {email}.", email=email), "ok")
            return redirect(url_for("portal.invite", app=app))
    return render(portal, "portal/invite.html", orgs=orgs, error=error), 422 if error else 200
