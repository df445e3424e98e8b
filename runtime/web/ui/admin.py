"""Administration pages: users, groups, API tokens and the audit log (administrators only).

Every change goes through :mod:`runtime.accounts`, so it lands in the audit
log with the administrator who made it. Generated passwords and API tokens
are shown once, on the page that answers the POST, and never stored in clear.
"""
from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from runtime.data import tables as platform
from runtime.errors import Forbidden, NotFound
from runtime.security.accounts import generate_password
from runtime.security.audit import verify
from runtime.security.permissions import ANALYST, AUTHENTICATED, OPERATIONS, app_role

from . import base, tasks
from .base import actor as me
from .base import loom
from .i18n import fmt_datetime, t, tt

bp = Blueprint("admin", __name__, url_prefix="/ui/admin")
AUDIT_PAGE = 50
VALUE_CHARS = 60


@bp.before_request
def _require_admin():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not me().is_admin:
        return render_template("ui/error.html", message=t("You may not do this.") + " "
                               + t("Only administrators may open this page.")), 403
    loom().refresh_if_stale()
    return None


# The same error pages and navigation as the rest of the UI.
bp.register_error_handler(NotFound, base._not_found)
bp.register_error_handler(Forbidden, base._forbidden)
bp.context_processor(base.navigation)


@bp.app_template_global("my_tasks")
def _my_tasks():
    """The home page's organiser (see :mod:`runtime.ui.tasks`)."""
    return tasks.my_tasks(loom(), current_user.actor)


# ---------------------------------------------------------------------- users
def role_choices() -> list[tuple[str, str]]:
    """(stored name, title) of the roles a user can be given: each live app's roles as
    ``app:role`` titled "App: Role" (a role of one app is not the same-named role of another),
    then the platform's analyst and administrator."""
    out = []
    for name, live in sorted(loom().live.items()):
        for role in live.app.document["app"].get("roles", []):
            out.append((app_role(name, role["name"]), f"{tt(live.app.title)}: {tt(role.get('title', role['name']))}"))
    return out + [(ANALYST, t("Analyst: builds apps in the designer")), ("admin", t("Administrator"))]


def organisation_choices() -> list[tuple[str, str]]:
    """``("app.entity:id", "App: title")`` of every record of each live app's organisation
    entity (``portal.yaml: organisation_entity``): the organisations a user can belong to."""
    out = []
    for name, live in sorted(loom().live.items()):
        entity = (live.app.document.get("portal") or {}).get("organisation_entity")
        if not entity:
            continue
        e = loom().entity_tables(name, entity).entity
        for r in loom().records.find(name, entity, sort=[e.title_field or "id"], limit=1000):
            out.append((f"{name}.{entity}:{r['id']}", f"{tt(live.app.title)}: {r.get(e.title_field) or r['id']}"))
    return out


def _organisation(form, errors: list) -> str | None:
    """The organisation picked on a user form: one of :func:`organisation_choices` or none."""
    value = form.get("organization", "").strip()
    if value and value not in dict(organisation_choices()):
        errors.append(t("Choose the organisation from the list."))
    return value or None


def _user(user_id: int) -> dict:
    u = platform.user
    with loom().reader.connect() as c:
        row = c.execute(select(u).where(u.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    return dict(row)


def _groups() -> list[dict]:
    g = platform.group
    with loom().reader.connect() as c:
        return [dict(r) for r in c.execute(select(g).order_by(g.c.name)).mappings()]


def _group_title(group: dict) -> str:
    return tt(group["title"]) if group.get("title") else group["name"]


@bp.get("/")
def index():
    return redirect(url_for("admin.users"))


@bp.get("/users")
def users():
    u, ug = platform.user, platform.user_group
    with loom().reader.connect() as c:
        rows = [dict(r) for r in c.execute(select(u).order_by(u.c.username)).mappings()]
        members = c.execute(select(ug.c.user_id, ug.c.group_id)).all()
    names = {g["id"]: _group_title(g) for g in _groups()}
    by_user: dict = {}
    for user_id, group_id in members:
        by_user.setdefault(user_id, []).append(names.get(group_id, str(group_id)))
    for r in rows:
        r["groups"] = sorted(by_user.get(r["id"], []))
        r["last_login"] = fmt_datetime(r["last_login_at"])
    return render_template("ui/admin_users.html", title=t("Users"), users=rows)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    errors, form = [], request.form
    if request.method == "POST":
        username = form.get("username", "").strip()
        roles = [r for r in form.getlist("roles") if r in dict(role_choices())]
        if not username or len(username) > 150:
            errors.append(t("Enter a username (up to 150 characters)."))
        elif loom().accounts.exists(username):
            errors.append(t("A user with this name already exists."))
        organization = _organisation(form, errors)
        external = form.get("external") == "on"
        if external and ("admin" in roles or not organization):
            errors.append(t("An external user belongs to an organisation and is no administrator."))
        if not errors:
            password = generate_password()
            user_id = loom().accounts.create_user(
                username, password, email=form.get("email", "").strip() or None,
                full_name=form.get("full_name", "").strip() or None,
                roles=[r for r in roles if r != "admin"], is_admin="admin" in roles,
                organization=organization, external=external, by=me())
            return render_template("ui/admin_secret.html", title=t("User created"), user=_user(user_id),
                                   label=t("Password"), secret=password,
                                   note=t("Give this password to the user now: it is shown only once."))
    return render_template("ui/admin_user_new.html", title=t("New user"), roles=role_choices(), form=form,
                           organisations=organisation_choices(), errors=errors), 422 if errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    user = _user(user_id)
    ug = platform.user_group
    with loom().reader.connect() as c:
        member_of = set(c.execute(select(ug.c.group_id).where(ug.c.user_id == user_id)).scalars())
    groups = _groups()
    choices = role_choices()
    errors = []
    if request.method == "POST":
        form = request.form
        roles = [r for r in form.getlist("roles") if r in dict(choices)]
        wanted = {
            "full_name": form.get("full_name", "").strip() or None,
            "email": form.get("email", "").strip() or None,
            "organization": _organisation(form, errors),
            "roles": [r for r in roles if r != "admin"],
            "is_admin": "admin" in roles,
            "is_active": form.get("is_active") == "on",
            "external": form.get("external") == "on",
        }
        if wanted["external"] and (wanted["is_admin"] or not wanted["organization"]):
            errors.append(t("An external user belongs to an organisation and is no administrator."))
        if user_id == me().id and (not wanted["is_admin"] or not wanted["is_active"]):
            errors.append(t("You cannot take away your own administrator rights or deactivate yourself."))
        if not errors:
            changes = {k: v for k, v in wanted.items() if v != (list(user[k] or []) if k == "roles" else user[k])}
            if changes:
                loom().accounts.update_user(user_id, by=me(), **changes)
            chosen = {int(g) for g in form.getlist("groups") if g.isdigit()} & {g["id"] for g in groups}
            for group_id in sorted(chosen - member_of):
                loom().accounts.add_to_group(user_id, group_id, by=me())
            for group_id in sorted(member_of - chosen):
                loom().accounts.remove_from_group(user_id, group_id, by=me())
            flash(t("Saved."), "ok")
            return redirect(url_for("admin.user_edit", user_id=user_id))
    t_ = platform.api_token
    with loom().reader.connect() as c:
        tokens = [dict(r) for r in c.execute(select(t_.c.id, t_.c.name, t_.c.created_at, t_.c.last_used_at)
                                              .where(t_.c.user_id == user_id).order_by(t_.c.id)).mappings()]
    for tok in tokens:
        tok["created"], tok["used"] = fmt_datetime(tok["created_at"]), fmt_datetime(tok["last_used_at"])
    current = set(user["roles"] or []) | ({"admin"} if user["is_admin"] else set())
    return render_template("ui/admin_user_edit.html", title=user["username"], user=user, roles=choices,
                           organisations=organisation_choices(),
                           current_roles=current, groups=[(g["id"], _group_title(g)) for g in groups],
                           member_of=member_of, tokens=tokens, errors=errors), 422 if errors else 200


# ---------------------------------------------------------------------- roles
@bp.get("/roles")
def roles():
    """Every role with its members and, per app and entity, what it is given: the page an auditor
    reads to answer "who may do what". Roles themselves are app metadata (the designer edits them)."""
    u = platform.user
    with loom().reader.connect() as c:
        users = [dict(r) for r in c.execute(select(u.c.id, u.c.username, u.c.full_name, u.c.roles, u.c.is_admin,
                                                   u.c.is_active).order_by(u.c.username)).mappings()]
    lives = sorted(loom().live.items())
    out = []
    for stored, title in role_choices():
        app, _, name = stored.rpartition(":")
        if name == "admin":
            members = [x for x in users if x["is_admin"]]
        else:
            members = [x for x in users if stored in (x["roles"] or [])]
        apps = [a for a in (_role_in_app(name, live) for app_name, live in lives if app_name == app) if a["entities"]]
        out.append({"name": name, "id": stored.replace(":", "-"), "app": app, "title": title, "members": members,
                    "apps": apps})
    everyone = [a for a in (_role_in_app(AUTHENTICATED, live) for _, live in lives) if a["entities"]]
    out.append({"name": AUTHENTICATED, "id": AUTHENTICATED, "app": "", "title": t("Every signed-in user (built-in)"),
                "members": [x for x in users if x["is_active"]], "apps": everyone})
    return render_template("ui/admin_roles.html", title=t("Roles"), roles=out, operations=OPERATIONS)


def _role_in_app(role: str, live) -> dict:
    entities = []
    for ent in live.app.entities.values():
        grant = loom().permissions.grants(ent, role)
        if not grant["operations"] and not grant["transitions"]:
            continue
        fields = {f: tt(ent.fields[f].title) if f in ent.fields else f for f in grant["hidden"] + grant["readonly"]}
        entities.append({"name": ent.name, "title": tt(ent.title), "operations": set(grant["operations"]),
                         "rows": None if grant["rows"] is None else [_row_phrase(ent, r) for r in grant["rows"]],
                         "hidden": [fields[f] for f in grant["hidden"]], "readonly": [fields[f] for f in grant["readonly"]],
                         "transitions": [tt(tr.get("title", tr["name"])) for tr in grant["transitions"]]})
    return {"name": live.app.name, "title": tt(live.app.title), "entities": entities}


def _row_phrase(ent, rule: dict) -> str:
    def field(name):
        return tt(ent.fields[name].title) if name in ent.fields else name
    parts = []
    if rule.get("own"):
        parts.append(t("created by them"))
    if rule.get("group_field"):
        parts.append(t("of their groups ({field})", field=field(rule["group_field"])))
    if rule.get("organisation_field"):
        parts.append(t("of their organisation ({field})", field=field(rule["organisation_field"])))
    if rule.get("condition"):
        parts.append(t("where {condition}", condition=rule["condition"]))
    return t(" and ").join(parts)


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int):
    user = _user(user_id)
    password = generate_password()
    loom().accounts.set_password(user["username"], password, by=me())
    return render_template("ui/admin_secret.html", title=t("New password"), user=user, label=t("Password"),
                           secret=password, note=t("Give this password to the user now: it is shown only once."))


@bp.post("/users/<int:user_id>/token")
def user_token(user_id: int):
    user = _user(user_id)
    name = request.form.get("name", "").strip()[:100] or "api"
    secret = loom().accounts.issue_token(user_id, name, by=me())
    return render_template("ui/admin_secret.html", title=t("New API token"), user=user, label=t("API token"),
                           secret=secret, note=t("Copy the token now: it is shown only once."))


# ---------------------------------------------------------------------- groups
@bp.get("/groups")
def groups():
    ug, u = platform.user_group, platform.user
    with loom().reader.connect() as c:
        counts = dict(c.execute(select(ug.c.group_id, func.count()).group_by(ug.c.group_id)).all())
        names = dict(c.execute(select(u.c.id, u.c.username)).all())
    rows = [{"id": g["id"], "name": g["name"], "title": _group_title(g), "email": g["email"],
             "lead": names.get(g["lead_id"], ""), "members": counts.get(g["id"], 0)} for g in _groups()]
    return render_template("ui/admin_groups.html", title=t("Groups"), groups=rows)


@bp.route("/groups/new", methods=["GET", "POST"])
def group_new():
    errors, form = [], request.form
    if request.method == "POST":
        name = form.get("name", "").strip()
        if not name or len(name) > 80:
            errors.append(t("Enter a group name (up to 80 characters)."))
        elif any(g["name"] == name for g in _groups()):
            errors.append(t("A group with this name already exists."))
        if not errors:
            title = form.get("title", "").strip()
            group_id = loom().accounts.create_group(name, {"ru": title, "en": title} if title else None,
                                                    email=form.get("email", "").strip() or None, by=me())
            flash(t("Created."), "ok")
            return redirect(url_for("admin.group_edit", group_id=group_id))
    return render_template("ui/admin_group_new.html", title=t("New group"), form=form, errors=errors), \
        422 if errors else 200


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
def group_edit(group_id: int):
    group = next((g for g in _groups() if g["id"] == group_id), None)
    if group is None:
        raise NotFound(f"no group {group_id}")
    u, ug = platform.user, platform.user_group
    with loom().reader.connect() as c:
        all_users = [dict(r) for r in c.execute(select(u.c.id, u.c.username, u.c.full_name, u.c.is_active)
                                                .order_by(u.c.username)).mappings()]
        members = set(c.execute(select(ug.c.user_id).where(ug.c.group_id == group_id)).scalars())
    if request.method == "POST":
        form = request.form
        ids = {x["id"] for x in all_users}
        lead = form.get("lead_id", "")
        lead_id = int(lead) if lead.isdigit() and int(lead) in ids else None
        title = form.get("title", "").strip()
        old_title = _group_title(group) if group.get("title") else ""
        changes = {}
        if title != old_title:
            changes["title"] = {"ru": title, "en": title} if title else None
        email = form.get("email", "").strip() or None
        if email != group["email"]:
            changes["email"] = email
        if lead_id != group["lead_id"]:
            changes["lead_id"] = lead_id
        if changes:
            loom().accounts.update_group(group_id, by=me(), **changes)
        chosen = {int(x) for x in form.getlist("members") if x.isdigit()} & ids
        for user_id in sorted(chosen - members):
            loom().accounts.add_to_group(user_id, group_id, by=me())
        for user_id in sorted(members - chosen):
            loom().accounts.remove_from_group(user_id, group_id, by=me())
        flash(t("Saved."), "ok")
        return redirect(url_for("admin.group_edit", group_id=group_id))
    return render_template("ui/admin_group_edit.html", title=_group_title(group), group=group,
                           group_title=_group_title(group) if group.get("title") else "",
                           users=all_users, members=members)


# ---------------------------------------------------------------------- audit log
def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS - 1] + "…"


def diff(before, after) -> list[dict]:
    """The changed keys of an entry: ``{key, old, new}`` with values cut short."""
    before = before if isinstance(before, dict) else ({} if before is None else {"": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"": after})
    out = []
    for key in list(before) + [k for k in after if k not in before]:
        old, new = before.get(key), after.get(key)
        if key in before and key in after and old == new:
            continue
        out.append({"key": key, "old": None if key not in before else _short(old),
                    "new": None if key not in after else _short(new)})
    return out


def _date(text: str | None) -> dt.datetime | None:
    try:
        d = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


def _audit_url(**changes) -> str:
    args = MultiDict(request.args)
    for key, value in changes.items():
        args.pop(key, None)
        if value not in (None, ""):
            args[key] = value
    return url_for("admin.audit", **args.to_dict(flat=False))


@bp.route("/audit", methods=["GET", "POST"])
def audit():
    """The whole log, newest first, 50 entries a page (keyset on ``seq``); POST verifies the chain."""
    a = platform.audit
    args = request.args
    where = []
    if args.get("user", "").strip():
        where.append(a.c.username == args["user"].strip())
    if args.get("action", "").strip():
        where.append(a.c.action == args["action"].strip())
    if args.get("app", "").strip():
        where.append(a.c.app == args["app"].strip())
    if args.get("entity", "").strip():
        where.append(a.c.entity == args["entity"].strip())
    if args.get("record_id", "").strip().isdigit():
        where.append(a.c.record_id == int(args["record_id"].strip()))
    since, until = _date(args.get("from")), _date(args.get("to"))
    if since:
        where.append(a.c.at >= since)
    if until:
        where.append(a.c.at < until + dt.timedelta(days=1))
    before = args.get("before", "")
    query = select(a).where(*where)
    if before.isdigit():
        query = query.where(a.c.seq < int(before))
    verdict = None
    with loom().reader.connect() as c:
        rows = c.execute(query.order_by(a.c.seq.desc()).limit(AUDIT_PAGE + 1)).mappings().all()
        actions = sorted(c.execute(select(a.c.action).distinct()).scalars())
        if request.method == "POST":
            verdict = verify(c, key=loom().audit.key)
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    entries = []
    for r in rows:
        link = None
        if r["app"] and r["entity"] and r["record_id"] and r["app"] in loom().live \
                and r["entity"] in loom().live[r["app"]].app.entities and r["action"] != "delete":
            link = url_for("ui.record_view", app=r["app"], entity=r["entity"], record_id=r["record_id"])
        target = ".".join(x for x in (r["app"], r["entity"]) if x)
        if r["record_id"] is not None:
            target = f"{target} #{r['record_id']}" if target else f"#{r['record_id']}"
        entries.append({"seq": r["seq"], "at": fmt_datetime(r["at"]), "user": r["username"] or "", "ip": r["ip"] or "",
                        "action": r["action"], "target": target, "link": link,
                        "changes": diff(r["before"], r["after"])})
    filters = {k: args.get(k, "") for k in ("user", "action", "app", "entity", "record_id", "from", "to")}
    return render_template(
        "ui/audit.html", title=t("Audit log"), entries=entries, filters=filters, actions=actions, verdict=verdict,
        next_url=_audit_url(before=rows[-1]["seq"]) if more and rows else None,
        first_url=_audit_url(before=None) if before else None,
        verify_url=_audit_url())

