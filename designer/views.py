"""The designer's pages around the editors: the app list, create, import/export,
an app's overview, the raw YAML view, validate, publish, history and rollback.

Every change goes to the draft through :class:`designer.drafts.Drafts` with the
revision the page was rendered at, so a save over somebody else's newer save is
refused (409) with the text kept. Publishing clears the draft in the same
transaction (``AppStore.publish(draft_revision=...)``): after a publish the app
has no draft and opening it gives the new live document.
"""
from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from metamodel import MetadataError, content_hash
from metamodel.diff import diff
from metamodel.document import SECTIONS, file_of
from metamodel.errors import dotted
from metamodel.warnings import publish_warnings
from runtime.core.statuses import StatusesStranded
from metamodel.yamlio import dump_yaml
from runtime.errors import Conflict, LoomError, NotFound
from runtime.web.ui.i18n import N_, fmt_datetime, t, tt

from . import links
from .base import bp, loom
from .drafts import NAME, SCRIPT, BadItem, Drafts, check_text, item_kind, item_text, minimal_entity
from .zips import export_zip, read_zip

SECTION_SKELETONS = {
    "routing": {"entities": {}},
    "sla": {"calendars": {}, "policies": []},
    "schedules": {"schedules": []},
    "notifications": {"templates": {}},
    "portal": {"pages": []},
    "reports": {"reports": []},
    "approvals": {"approvals": []},
    "batches": {"batches": []},
}
# shown through t() where they are chosen at run time: diff operations and error titles
OPERATIONS = {"added": N_("Added"), "removed": N_("Removed"), "changed": N_("Changed")}
ERROR_TITLES = (N_("Bad request"), N_("Not found"), N_("Forbidden"), N_("Conflict"))
SCRIPT_TEMPLATE = '"""Script hooks of {app}: functions named in entities/*.yaml as {file}:function."""\n'


def drafts() -> Drafts:
    return Drafts(loom())


def author() -> str:
    return current_user.username


def posted_revision() -> int:
    try:
        return int(request.form.get("revision", ""))
    except ValueError:
        raise LoomError(t("the form has no draft revision; reload the page")) from None


# ---------------------------------------------------------------------- rendering
@bp.app_template_filter("designer_yaml")
def _yaml_filter(value) -> str:
    return value if isinstance(value, str) else dump_yaml(value).rstrip("\n")


def sidebar(app: str | None = None, doc: dict | None = None) -> list[dict]:
    """The designer's navigation in the shell's sidebar."""
    nav = [{"title": t("Designer"), "items": [{"url": url_for("designer.index"), "title": t("All apps"),
                                                "name": "designer"}]}]
    if app:
        nav.append({"title": app, "items": [
            {"url": url_for("designer.app", app=app), "title": t("Overview"), "name": "overview"},
            {"url": url_for("designer.validate", app=app), "title": t("Validate"), "name": "validate"},
            {"url": f"/designer/apps/{app}/preview/", "title": t("Preview"), "name": "preview"},
            {"url": url_for("designer.publish", app=app), "title": t("Publish"), "name": "publish"},
            {"url": url_for("designer.history", app=app), "title": t("History"), "name": "history"},
            {"url": url_for("designer.proposals", app=app), "title": proposals_title(app), "name": "proposals"},
        ]})
    if doc and doc.get("entities"):
        nav.append({"title": t("Entities"), "items": [
            {"url": links.entity_url(app, name), "title": tt(spec.get("title")) if isinstance(spec, dict) else name,
             "name": name} for name, spec in doc["entities"].items()]})
    return nav


def proposals_title(app: str) -> str:
    """The sidebar's "Proposals", with how many wait for an answer."""
    waiting = loom().proposals.counts(app)["new"]
    return t("Proposals") + (f" ({waiting})" if waiting else "")


def render(template: str, status: int = 200, app: str | None = None, doc: dict | None = None, **context):
    context.setdefault("title", t("Designer"))
    nav_apps = sorted(((name, tt(live.app.title)) for name, live in loom().live.items()), key=lambda a: a[1])
    return render_template(template, nav=sidebar(app, doc), nav_apps=nav_apps, app=app, links=links,
                           operations=OPERATIONS, fmt_datetime=fmt_datetime, **context), status


@bp.errorhandler(LoomError)
def _loom_error(exc: LoomError):
    """NotFound, Conflict and other service errors raised by any designer page."""
    app = (request.view_args or {}).get("app")
    return render("designer/error.html", exc.status, app=app if isinstance(app, str) else None,
                  message=exc.detail, error_title=t(exc.title))


def conflict_message(exc: Conflict, yours: int) -> str:
    return t("Someone else saved this draft while you were editing it: {who} saved revision {revision} "
             "after you opened revision {yours}. Nothing of yours was saved; your text is kept below. "
             "Reload the draft and apply your change again.",
             who=exc.extra.get("saved_by") or "?", revision=exc.extra.get("revision", "?"), yours=yours)


def draft_state(name: str) -> dict:
    """What the app list and the overview say about an app's draft: the stored state plus
    ``differs`` (the draft is not the live document) and the app's ``title``."""
    state = loom().store.draft(name)
    live = loom().live.get(name)
    live_doc = live.app.document if live is not None and state["current_version"] is not None else None
    doc = state["draft"]
    state["differs"] = doc is not None and (live_doc is None or content_hash(doc) != content_hash(live_doc))
    state["title"] = tt(((doc or live_doc or {}).get("app") or {}).get("title")) or name
    return state


# ---------------------------------------------------------------------- the app list
@bp.get("/")
def index():
    return render("designer/index.html", apps=app_rows())


def app_rows() -> list[dict]:
    rows = []
    for r in loom().store.list():
        state = draft_state(r["name"])
        rows.append({**r, "title": state["title"], "differs": state["differs"],
                     "published_at": fmt_datetime(r["published_at"]),
                     "draft_updated_at": fmt_datetime(r["draft_updated_at"])})
    return rows


@bp.post("/apps")
def create_app():
    name = request.form.get("name", "").strip()
    title = {"ru": request.form.get("title_ru", ""), "en": request.form.get("title_en", "")}
    try:
        drafts().create(name, title, author())
    except LoomError as exc:
        flash(exc.detail, "error")
        return render("designer/index.html", 422 if not isinstance(exc, Conflict) else 409, apps=app_rows(),
                      form=request.form)
    flash(t("App {name} created as a draft.", name=name), "info")
    return redirect(url_for("designer.app", app=name))


@bp.post("/import")
def import_zip():
    upload = request.files.get("archive")
    if upload is None or not upload.filename:
        flash(t("Choose a zip file with an app folder."), "error")
        return render("designer/index.html", 422, apps=app_rows())
    try:
        doc, source = read_zip(upload.read())
    except MetadataError as exc:
        return render("designer/index.html", 422, apps=app_rows(), import_problems=[p.as_dict() for p in exc.problems])
    name = (doc.get("app") or {}).get("name") if isinstance(doc.get("app"), dict) else None
    if not isinstance(name, str) or not NAME.fullmatch(name):
        problem = {"file": "app.yaml", "line": None, "path": "name",
                   "message": t("app.yaml must name the app in lower_snake_case")}
        return render("designer/index.html", 422, apps=app_rows(), import_problems=[problem])
    problems = []
    try:
        loom().store.validate(doc, source)
    except MetadataError as exc:
        problems = [{**p.as_dict(), "editor": links.editor_url(name, p.file, p.path)} for p in exc.problems]
    store = loom().store
    try:
        state = store.draft(name)
    except NotFound:
        store.create_draft(name, doc, author(), action="draft.import")
    else:
        if draft_state(name)["differs"] and not request.form.get("replace"):
            # somebody's unpublished work: never overwritten without asking
            flash(t("{name} has an unpublished draft (revision {n}, saved by {who}). Tick “Replace the draft” "
                    "to import over it.", name=name, n=state["draft_revision"], who=state["draft_updated_by"]),
                  "error")
            return render("designer/index.html", 409, apps=app_rows())
        store.save_draft(name, doc, author(), state["draft_revision"], action="draft.import")
    if problems:
        flash(t("{name} was imported as a draft with {n} problems; fix them before publishing.",
                name=name, n=len(problems)), "error")
        return render("designer/index.html", 200, apps=app_rows(), import_problems=problems, imported=name)
    flash(t("{name} was imported as a draft. Review it and publish.", name=name), "info")
    return redirect(url_for("designer.app", app=name))


@bp.get("/apps/<app>/export")
def export(app: str):
    """The live version (``?source=live``, the default) or the draft (``?source=draft``) as a zip."""
    if request.args.get("source") == "draft":
        draft = drafts().open(app)
        doc, label = draft.doc, f"draft-r{draft.revision}"
    else:
        state = loom().store.draft(app)
        if state["current_version"] is None:
            raise NotFound(t("{app} has no published version yet", app=app))
        doc, label = loom().store.document(app), f"v{state['current_version']}"
    return Response(export_zip(doc, app), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{app}-{label}.zip"'})


# ---------------------------------------------------------------------- one app
def grouped_items(app: str, doc: dict) -> dict:
    groups = {"app": [], "entities": [], "sections": [], "scripts": [], "fixtures": []}
    for it in drafts().items(doc):
        item, kind = it["item"], it["kind"]
        if kind == "app":
            groups["app"].append({**it, "title": tt(doc["app"].get("title")), "editor": links.section_url(app, "app")})
        elif kind == "entity":
            name = item[len("entities/"):-len(".yaml")]
            spec = doc["entities"][name] if isinstance(doc["entities"][name], dict) else {}
            groups["entities"].append({**it, "name": name, "title": tt(spec.get("title")) or name, "fields": len(spec.get("fields") or {}),
                                       "statuses": len(spec.get("statuses") or []),
                                       "editors": [(key, links.entity_editor_url(app, name, key))
                                                   for key in ("fields", "form", "workflow", "views")]})
        elif kind == "script":
            groups["scripts"].append({**it, "editor": links.script_url(app, item[len("scripts/"):])})
        elif kind == "fixture":
            groups["fixtures"].append({**it, "editor": links.raw_url(app, item)})
        elif kind == "extension":
            groups["sections"].append({**it, "kind": it["title"], "editor": links.extension_url(app, it["title"])})
        else:
            groups["sections"].append({**it, "editor": links.section_url(app, kind)})
    return groups


@bp.get("/apps/<app>/")
def app(app: str):
    draft = drafts().open(app)
    state = draft_state(app)
    missing = [k for k in SECTIONS if not draft.doc.get(k)]
    missing += [f"extensions/{k}" for k in sorted(loom().plugins.metadata_kinds())
                if k not in (draft.doc.get("extensions") or {})]  # kinds the installed plugins add
    return render("designer/app.html", app=app, doc=draft.doc, draft=draft, state=state,
                  groups=grouped_items(app, draft.doc), missing_sections=missing,
                  saved_at=fmt_datetime(state["draft_updated_at"]), title=state["title"])


def save_or_conflict(app: str, doc: dict, revision: int, back: str):
    """Save and go back to the overview; a conflict comes back as a flash naming who saved."""
    try:
        drafts().save(app, doc, revision, author())
    except Conflict as exc:
        flash(conflict_message(exc, revision), "error")
        return redirect(back), False
    return redirect(back), True


@bp.post("/apps/<app>/entities")
def add_entity(app: str):
    draft = drafts().open(app)
    name = request.form.get("name", "").strip()
    title = {k: v.strip() for k, v in (("ru", request.form.get("title_ru", "")),
                                       ("en", request.form.get("title_en", ""))) if v.strip()}
    back = url_for("designer.app", app=app)
    if not NAME.fullmatch(name):
        flash(t("Entity name {name!r} must be lower_snake_case: a letter, then letters, digits or _.",
                name=name), "error")
        return redirect(back)
    if name in draft.doc["entities"]:
        flash(t("The app already has an entity {name}.", name=name), "error")
        return redirect(back)
    return add_item(app, draft, f"entities/{name}.yaml", minimal_entity(title or name), back,
                    t("Entity {name} added.", name=name), links.entity_url(app, name))


def add_item(app: str, draft, item: str, value, back: str, done: str, editor: str):
    """Save ``value`` as a new item of the draft and open its editor (or show the conflict)."""
    doc = drafts().set_item(draft.doc, item, value)
    response, saved = save_or_conflict(app, doc, posted_revision(), back)
    if saved:
        flash(done, "info")
        return redirect(editor)
    return response


@bp.post("/apps/<app>/scripts")
def add_script(app: str):
    draft = drafts().open(app)
    name = request.form.get("file", "").strip()
    if name and not name.endswith(".py"):
        name += ".py"
    back = url_for("designer.app", app=app)
    if not SCRIPT.fullmatch(name):
        flash(t("A script file name is a Python identifier ending in .py, like hooks.py."), "error")
        return redirect(back)
    if name in draft.doc["scripts"]:
        flash(t("The app already has a script {name}.", name=name), "error")
        return redirect(back)
    return add_item(app, draft, f"scripts/{name}", SCRIPT_TEMPLATE.format(app=app, file=name), back,
                    t("Script {name} added.", name=name), links.script_url(app, name))


@bp.post("/apps/<app>/sections")
def add_section(app: str):
    draft = drafts().open(app)
    kind = request.form.get("kind", "")
    back = url_for("designer.app", app=app)
    plugin_kind = kind.removeprefix("extensions/")
    if kind.startswith("extensions/") and plugin_kind in loom().plugins.metadata_kinds():
        if plugin_kind in (draft.doc.get("extensions") or {}):
            flash(t("Choose a section the app does not have yet."), "error")
            return redirect(back)
        return add_item(app, draft, f"{kind}.yaml", {}, back, t("Section {kind} added.", kind=kind),
                        links.extension_url(app, plugin_kind))
    if kind not in SECTION_SKELETONS or draft.doc.get(kind):
        flash(t("Choose a section the app does not have yet."), "error")
        return redirect(back)
    skeleton = dict(SECTION_SKELETONS[kind])
    if kind == "portal":
        skeleton["title"] = draft.doc["app"].get("title") or app
    return add_item(app, draft, f"{kind}.yaml", skeleton, back, t("Section {kind} added.", kind=kind),
                    links.section_url(app, kind))


@bp.post("/apps/<app>/discard")
def discard(app: str):
    revision = posted_revision()
    state = loom().store.draft(app)
    try:
        drafts().discard(app, author(), revision)
    except Conflict as exc:
        flash(conflict_message(exc, revision), "error")
        return redirect(url_for("designer.app", app=app))
    if state["current_version"] is None:
        flash(t("The draft of {app} was discarded; the app was never published, so it is gone.", app=app), "info")
        return redirect(url_for("designer.index"))
    flash(t("The draft of {app} was discarded; the live version {n} stays.", app=app, n=state["current_version"]),
          "info")
    return redirect(url_for("designer.app", app=app))


# ---------------------------------------------------------------------- raw YAML
@bp.route("/apps/<app>/raw/<path:item>", methods=["GET", "POST"])
def raw(app: str, item: str):
    try:
        kind = item_kind(item)
    except BadItem as exc:
        raise NotFound(exc.detail) from None
    draft = drafts().open(app)
    value = drafts().get_item(draft.doc, item)
    context = {"app": app, "doc": draft.doc, "item": item, "kind": kind, "exists": value is not None,
               "title": f"{item} · {app}"}
    if request.method == "GET":
        return render("designer/raw.html", text=item_text(item, value), revision=draft.revision, **context)
    text = request.form.get("text", "").replace("\r\n", "\n")
    revision = posted_revision()
    parsed, problems = check_text(app, item, text, loom().plugins.capabilities().kinds)
    if problems:
        return render("designer/raw.html", 422, text=text, revision=revision,
                      errors=[p.as_dict() for p in problems], **context)
    doc = drafts().set_item(draft.doc, item, parsed)
    try:
        new_revision = drafts().save(app, doc, revision, author())
    except Conflict as exc:
        return render("designer/raw.html", 409, text=text, revision=revision,
                      conflict=conflict_message(exc, revision), **context)
    flash(t("{item} saved (draft revision {revision}).", item=item, revision=new_revision), "info")
    return redirect(url_for("designer.raw", app=app, item=item))


@bp.post("/apps/<app>/raw/<path:item>/delete")
def delete_item(app: str, item: str):
    try:
        kind = item_kind(item)
    except BadItem as exc:
        raise NotFound(exc.detail) from None
    if kind == "app":
        raise LoomError(t("app.yaml cannot be removed"))
    draft = drafts().open(app)
    doc = drafts().set_item(draft.doc, item, None)
    response, saved = save_or_conflict(app, doc, posted_revision(), url_for("designer.app", app=app))
    if saved:
        flash(t("{item} removed from the draft.", item=item), "info")
    return response


@bp.get("/apps/<app>/new-fixture")
def new_fixture(app: str):
    """Open the raw view of ``fixtures/<entity>.yaml`` (saving there creates it)."""
    entity = request.args.get("entity", "")
    if not NAME.fullmatch(entity):
        raise NotFound(t("choose an entity"))
    return redirect(url_for("designer.raw", app=app, item=f"fixtures/{entity}.yaml"))


# ---------------------------------------------------------------------- validate
@bp.get("/apps/<app>/validate")
def validate(app: str):
    draft = drafts().open(app)
    return render("designer/validate.html", app=app, doc=draft.doc, draft=draft,
                  problems=drafts().problems(app, draft.doc), title=t("Validate {app}", app=app))


# ---------------------------------------------------------------------- publish
def change_rows(changes) -> list[dict]:
    """A diff as rows naming the file and the path inside it."""
    rows = []
    for ch in changes:
        path = ch.path
        if len(path) == 1 and path[0] in ("entities", "scripts", "fixtures"):
            rows.append({"op": ch.op, "file": f"{path[0]}/", "path": "", "old": ch.old, "new": ch.new})
            continue
        file, inner = file_of(tuple(path))
        rows.append({"op": ch.op, "file": file, "path": dotted(inner), "old": ch.old, "new": ch.new})
    return rows


def publish_context(app: str, draft) -> dict:
    problems = drafts().problems(app, draft.doc)
    context = {"problems": problems, "changes": [], "plan": [], "refused": [], "unchanged": False, "warnings": []}
    if problems:
        return context
    try:
        new, changes, plan = loom().store.compare(draft.doc)
    except MetadataError as exc:  # pragma: no cover - problems() ran the same validation
        context["problems"] = [{**p.as_dict(), "editor": links.editor_url(app, p.file, p.path)} for p in exc.problems]
        return context
    live = loom().live.get(app)
    warnings = publish_warnings(live.app if live else None, new, loom().store.group_names())
    context.update(changes=change_rows(changes), plan=[s.describe() for s in plan.steps], refused=plan.refused,
                   unchanged=draft.live_version is not None and not changes,
                   warnings=[{**w.as_dict(), "editor": links.editor_url(app, w.file, w.path)} for w in warnings])
    return context


@bp.route("/apps/<app>/publish", methods=["GET", "POST"])
def publish(app: str):
    draft = drafts().open(app)
    state = draft_state(app)
    common = {"app": app, "doc": draft.doc, "draft": draft, "state": state, "title": t("Publish {app}", app=app)}
    if request.method == "GET":
        return render("designer/publish.html", revision=draft.revision, comment="", **common,
                      **publish_context(app, draft))
    revision, comment = posted_revision(), request.form.get("comment", "").strip()
    if revision != draft.revision:
        exc = Conflict("", saved_by=state["draft_updated_by"], revision=draft.revision)
        return render("designer/publish.html", 409, revision=revision, comment=comment,
                      conflict=conflict_message(exc, revision), **common, **publish_context(app, draft))
    if not comment:
        return render("designer/publish.html", 422, revision=revision, comment=comment,
                      comment_error=t("Say what changed and why: the comment goes into the version history."),
                      **common, **publish_context(app, draft))
    problems = drafts().problems(app, draft.doc)
    if problems:
        return render("designer/publish.html", 422, revision=revision, comment=comment, **common,
                      **publish_context(app, draft))
    try:
        published = loom().store.publish(draft.doc, author=author(), comment=comment, draft_revision=revision)
    except Conflict as exc:
        return render("designer/publish.html", 409, revision=revision, comment=comment,
                      conflict=conflict_message(exc, revision), **common, **publish_context(app, draft))
    except MetadataError as exc:  # storage refused (a lossy change the data does not survive)
        context = publish_context(app, draft)
        context["problems"] = [{**p.as_dict(), "editor": links.editor_url(app, p.file, p.path)} for p in exc.problems]
        return render("designer/publish.html", 422, revision=revision, comment=comment, **common, **context)
    if published.unchanged:
        flash(t("Nothing changed: version {n} (hash {hash}) stays live; the draft was cleared.",
                n=published.number, hash=published.hash[:12]), "info")
    else:
        flash(t("Version {n} published (hash {hash}).", n=published.number, hash=published.hash[:12]), "info")
    back = request.form.get("back", "")
    if back.startswith(f"/designer/apps/{app}/") and "//" not in back and "\\" not in back:
        joiner = "&" if "?" in back else "?"
        return redirect(f"{back}{joiner}published={published.number}")  # the editor it was published from
    return redirect(url_for("designer.history", app=app))


# ---------------------------------------------------------------------- history
def version_number(value: str | None, versions: list[dict]) -> int | None:
    numbers = {v["number"] for v in versions}
    try:
        number = int(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number in numbers else None


@bp.get("/apps/<app>/history")
def history(app: str, mapping: dict | None = None, status: int = 200):
    """The versions, a comparison of two, and (after a refused rollback) the status mapping form."""
    store = loom().store
    state = draft_state(app)
    versions = store.versions(app) if state["current_version"] is not None else []
    a, b = version_number(request.args.get("a"), versions), version_number(request.args.get("b"), versions)
    compared = None
    if a is not None and b is not None:
        changes = diff(store.document(app, a), store.document(app, b))
        compared = {"a": a, "b": b, "changes": change_rows(changes)}
    rows = [{**v, "created": fmt_datetime(v["created_at"]), "changes": len(v["diff"] or [])}
            for v in reversed(versions)]
    draft = drafts().open(app) if versions or state["draft"] is not None else None
    return render("designer/history.html", app=app, doc=draft.doc if draft else None, versions=rows,
                  current=state["current_version"], compared=compared, state=state,
                  default_a=a or (versions[-2]["number"] if len(versions) > 1 else None),
                  default_b=b or (versions[-1]["number"] if versions else None),
                  title=t("History of {app}", app=app), mapping=mapping, status=status)


@bp.post("/apps/<app>/history/<int:number>/rollback")
def rollback(app: str, number: int):
    """Publish an old version again; records in statuses it lacks need a mapping first."""
    comment = request.form.get("comment", "").strip() or None
    status_map = {}
    for key, target in request.form.items():
        if key.startswith("map:") and target:
            entity, _, status = key[len("map:"):].partition(":")
            status_map.setdefault(entity, {})[status] = target
    try:
        published = loom().store.rollback(app, number, author=author(), comment=comment, status_map=status_map)
    except StatusesStranded as exc:
        return history(app, mapping={"number": number, "stranded": exc.stranded, "chosen": status_map,
                                     "problems": [str(p) for p in exc.problems]}, status=409)
    except MetadataError as exc:
        flash(t("Rollback to version {n} refused: {reason}", n=number, reason=str(exc)), "error")
        return redirect(url_for("designer.history", app=app))
    flash(t("Version {n} is live again as version {new}.", n=number, new=published.number), "info")
    return redirect(url_for("designer.history", app=app))
