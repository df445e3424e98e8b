"""The draft of an app, running against a database of its own, with sample records.

``/designer/apps/<app>/preview/...`` serves the generated UI of the *draft*:
a separate :class:`runtime.core.Loom` on its own SQLite file
(``<instance>/preview/<app>-<key>.sqlite``) holding the live versions of the
apps the draft depends on, the draft itself (published there, so storage is
migrated exactly as a real publish would), the fixtures of all of them and, for
entities without fixtures, a few records made up from the field types. The
live database is never opened for writing by a preview.

Each preview has its own Flask app (``runtime.web.create_app``) with its own
session cookie (``loom_preview``, path limited to the preview's prefix, a
session salt of its own, so neither cookie is accepted by the other app) and
so its own CSRF tokens. The outer route has already checked that the caller is
an analyst; the preview app signs that analyst in as an administrator of the
preview database. Jobs run in-process, e-mail stays in the preview's outbox.

A preview is keyed by the draft's content hash and the live versions of its
dependencies: the same content reuses the database (also across processes:
files are built under a temporary name and renamed), new content builds a new
one and removes the app's older files.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import io
import logging
import os
import re
import shutil
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

from flask import Flask, abort, current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select

from metamodel import MetadataError, content_hash
from metamodel.model import title_text
from runtime.core.config import Settings
from runtime.core.loom import Loom
from runtime.data import tables as platform
from runtime.data.fixtures import load_fixtures
from runtime.errors import LoomError
from runtime.security.permissions import app_role
from runtime.web.safe_next import is_safe_path
from runtime.web.ui import csrf
from runtime.web.ui.auth import User
from runtime.web.ui.i18n import LANGS, t

from .base import bp, loom
from .drafts import Drafts
from .links import app_url, editor_url

try:  # one builder per app across processes (Linux, macOS); threads are kept apart by a lock anyway
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

log = logging.getLogger(__name__)

ENVIRON_KEY = "loom.preview"  # set by the outer route only: no HTTP header can produce this key
COOKIE_NAME = "loom_preview"
SAMPLES_PER_ENTITY = 3
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
VIEW_AS = "/_preview/view-as"  # inside the preview app: whom the analyst sees the draft app as


class _PreviewSessions(SecureCookieSessionInterface):
    """Signed with the same key as the designer's session, but under another salt: a preview
    cookie pasted into the main app's cookie (or the other way round) does not load."""

    salt = "loom-preview-session"

    def get_cookie_path(self, app):
        return request.script_root or "/"  # .../apps/<app>/preview: the cookie goes nowhere else


@dataclass
class Preview:
    app: str
    key: str
    path: Path
    loom: Loom
    web: Flask
    notes: list[str] = dc_field(default_factory=list)  # what sample data could not be made
    users: dict[str, int] = dc_field(default_factory=dict)  # analyst username -> user id in the preview
    lock: threading.Lock = dc_field(default_factory=threading.Lock)

    def close(self) -> None:
        self.loom.engine.dispose()


class Previews:
    """The previews of one main Flask app (``app.extensions["loom_previews"]``)."""

    def __init__(self, home: str | Path, secret_key: str, testing: bool = False, https: bool = False):
        self.folder = Path(home) / "preview"
        self.secret_key = secret_key
        self.testing = testing
        self.https = https  # the main app's cookies are HTTPS-only: so are the preview's
        self._built: dict[str, Preview] = {}  # app name -> its current preview
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # ------------------------------------------------------------------ keys and lookup
    @staticmethod
    def key(main: Loom, doc: dict) -> str | None:
        """The preview key of a draft: its content and the live versions of what it depends on.

        None when the document is too broken to hash (validation then tells what is wrong)."""
        try:
            deps = dependencies(main, doc)
            parts = [content_hash(doc)] + [f"{d}:{main.live[d].version}" for d in deps]
        except Exception:  # noqa: BLE001 - a malformed draft has no key; its problems are shown instead
            return None
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]

    def ready(self, app: str, key: str | None) -> Preview | None:
        built = self._built.get(app)
        return built if built is not None and key is not None and built.key == key else None

    def path(self, app: str, key: str) -> Path:
        return self.folder / f"{app}-{key}.sqlite"

    def get(self, main: Loom, app: str, doc: dict, key: str, author: str, revision: int) -> Preview:
        """The preview of ``doc`` under ``key``: the one built already, the file another process
        built, or a new one. Raises MetadataError when the draft cannot be published into it."""
        with self._guard:
            lock = self._locks.setdefault(app, threading.Lock())
        with lock:
            found = self.ready(app, key)
            if found is not None:
                return found
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._file_lock(app):
                path = self.path(app, key)
                notes = []
                if not path.exists():
                    notes = self._build(main, app, doc, path, author, revision)
                preview = self._open(app, key, path, notes)
            old = self._built.get(app)
            self._built[app] = preview
            if old is not None:
                old.close()
            self._remove_older(app, key)
            return preview

    def close(self) -> None:
        with self._guard:
            for preview in self._built.values():
                preview.close()
            self._built.clear()

    # ------------------------------------------------------------------ building
    @contextlib.contextmanager
    def _file_lock(self, app: str):
        if fcntl is None:  # pragma: no cover
            yield
            return
        with open(self.folder / f".{app}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _build(self, main: Loom, app: str, doc: dict, path: Path, author: str, revision: int) -> list[str]:
        """Build the database under a temporary name and rename it to ``path`` when complete."""
        tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.building")
        sandbox = Loom(f"sqlite:///{tmp}", files_dir=self._files_dir(path), redis_url=None, smtp_url=None,
                       base_url=main.base_url)
        notes: list[str] = []
        try:
            sandbox.upgrade_db()
            sandbox.load()
            for dep in dependencies(main, doc):
                live = main.live[dep]
                sandbox.store.publish(live.app.document, author=author, comment=f"live version {live.version}")
                notes += _fixtures(sandbox, dep)
            sandbox.store.publish(doc, author=author, comment=f"draft revision {revision}")
            notes += _fixtures(sandbox, app)
            notes += sample_records(sandbox, app)
        except BaseException:
            sandbox.engine.dispose()
            _unlink_sqlite(tmp)
            raise
        sandbox.engine.dispose()
        single = sqlite3.connect(tmp)  # the write-ahead log into the file: one file to rename
        try:
            single.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            single.execute("PRAGMA journal_mode=DELETE")
        finally:
            single.close()
        path.with_suffix(".notes").write_text("\n".join(notes), encoding="utf-8")  # before the database appears
        os.replace(tmp, path)
        _unlink_sqlite(tmp)
        log.info("preview of %s built in %s (%d notes)", app, path, len(notes))
        return notes

    def _files_dir(self, path: Path) -> Path:
        return path.with_name(path.stem + "-files")

    def _open(self, app: str, key: str, path: Path, notes: list[str]) -> Preview:
        sandbox = Loom(f"sqlite:///{path}", files_dir=self._files_dir(path), redis_url=None, smtp_url=None)
        sandbox.upgrade_db()
        sandbox.load()
        if not notes and path.with_suffix(".notes").exists():
            notes = [n for n in path.with_suffix(".notes").read_text(encoding="utf-8").splitlines() if n]
        preview = Preview(app, key, path, sandbox, None, notes)
        preview.web = self._web(preview)
        return preview

    def _web(self, preview: Preview) -> Flask:
        from runtime.web import create_app
        settings = Settings(self.folder, f"sqlite:///{preview.path}", secret=self.secret_key, secure_cookies=self.https)
        web = create_app(settings, preview.loom, without=("designer",))  # no designer inside a preview
        web.config.update(SESSION_COOKIE_NAME=COOKIE_NAME, TESTING=self.testing)
        web.session_interface = _PreviewSessions()
        web.extensions["loom_preview"] = preview
        web.before_request(_sign_in)
        web.after_request(_banner)
        web.add_url_rule(VIEW_AS, "preview_view_as", _view_as, methods=["POST"])
        return web

    def _remove_older(self, app: str, key: str) -> None:
        """Delete the app's previews of other keys."""
        pattern = re.compile(rf"{re.escape(app)}-(?P<key>[0-9a-f]{{12}})(\.sqlite(-wal|-shm)?|\.notes|-files)")
        for entry in self.folder.iterdir():
            m = pattern.fullmatch(entry.name)
            if m is None or m.group("key") == key:
                continue
            with contextlib.suppress(OSError):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


# ---------------------------------------------------------------------- what a preview holds
def dependencies(main: Loom, doc: dict) -> list[str]:
    """The live apps ``doc`` depends on, directly or not, each after its own dependencies."""
    order: list[str] = []

    def visit(name: str, stack: tuple) -> None:
        if name in order or name in stack:
            return
        live = main.live.get(name)
        if live is None:
            raise LoomError(f"depends on app {name!r}, which is not installed")
        for dep in live.app.depends_on:
            visit(dep, stack + (name,))
        order.append(name)

    own = doc["app"]["name"]
    for dep in doc["app"].get("depends_on") or []:
        visit(dep, (own,))
    return order


def _fixtures(sandbox: Loom, app: str) -> list[str]:
    if not sandbox.live[app].app.fixtures:
        return []
    try:
        load_fixtures(sandbox, app)
    except Exception as exc:  # noqa: BLE001 - the preview still runs; the banner says what failed
        return [f"{app}: fixtures: {exc}"]
    return []


def sample_records(sandbox: Loom, app: str, count: int = SAMPLES_PER_ENTITY) -> list[str]:
    """A few plausible records for each entity of ``app`` that has no records yet (no fixtures);
    returns what could not be made."""
    live = sandbox.live[app]
    notes = []
    for entity in _link_order(live.app):
        et = live.tables[entity.name]
        with sandbox.reader.connect() as c:
            if c.execute(select(et.main.c.id).limit(1)).first() is not None:
                continue
        for i in range(1, count + 1):
            data = {f.name: v for f in entity.fields.values()
                    if (v := _sample_value(sandbox, f, i)) is not _SKIP}
            problem = _create(sandbox, app, entity, data)
            if problem:
                notes.append(f"{app}.{entity.name}: {problem}")
                break
    return notes


def _create(sandbox: Loom, app: str, entity, data: dict) -> str | None:
    """Create one record; an optional field that fails is dropped and the record tried again."""
    from runtime.errors import ValidationFailed
    for _attempt in range(2):
        try:
            sandbox.records.create(app, entity.name, data)
            return None
        except ValidationFailed as exc:
            bad = {e.field.partition("[")[0] for e in exc.errors}
            optional = {n for n in bad if n in data and not entity.fields[n].required}
            if not optional or optional != bad:
                return "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or str(exc)
            data = {k: v for k, v in data.items() if k not in optional}
        except Exception as exc:  # noqa: BLE001 - a hook may refuse made-up data
            return str(exc)
    return None


def _link_order(app) -> list:
    """Entities with the ones they link to first (cycles broken anywhere)."""
    done: list = []

    def visit(name: str, stack: tuple) -> None:
        if name in stack or any(e.name == name for e in done):
            return
        entity = app.entities[name]
        for f in entity.fields.values():
            target = (f.target or "").rpartition(".")
            if (target[0] in ("", app.name)) and target[2] in app.entities:
                visit(target[2], stack + (name,))
        done.append(entity)

    for name in app.entities:
        visit(name, ())
    return done


_SKIP = object()


def _sample_value(sandbox: Loom, f, i: int):
    """A value of field ``f`` for the ``i``-th sample record, or ``_SKIP``."""
    spec, kind = f.spec, f.value_type
    if f.type in ("computed", "rollup", "file") or "default" in spec:
        return _SKIP  # computed, uploaded, or the default is the plausible value
    if f.type == "table":
        if not f.required:
            return _SKIP
        row = {c.name: v for c in f.children.values() if (v := _sample_value(sandbox, c, i)) is not _SKIP}
        return [row]
    if f.type == "multilink":
        ids = _target_ids(sandbox, f)
        return ids[:1] if ids else _SKIP
    if kind == "link":
        ids = _target_ids(sandbox, f)
        return ids[(i - 1) % len(ids)] if ids else _SKIP
    if kind in ("user", "group"):
        table = platform.user if kind == "user" else platform.group
        with sandbox.reader.connect() as c:
            ids = list(c.execute(select(table.c.id).order_by(table.c.id).limit(5)).scalars())
        return ids[(i - 1) % len(ids)] if ids else _SKIP
    if kind == "choice":
        values = [c.value for c in f.choices]
        return values[(i - 1) % len(values)] if values else _SKIP
    if kind == "boolean":
        return i % 2 == 1
    if kind in ("integer", "decimal", "money"):
        low = decimal.Decimal(str(spec.get("min", 0)))
        high = decimal.Decimal(str(spec.get("max", low + 1000)))
        value = min(max(low + 10 * i, low), high)
        return int(value) if kind == "integer" else str(value)
    if kind == "date":
        return (dt.date.today() + dt.timedelta(days=i)).isoformat()
    if kind == "datetime":
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        return (now + dt.timedelta(hours=i)).isoformat()
    if kind == "email":
        return f"sample{i}@example.com"
    if kind == "phone":
        return f"+7 900 000-00-{i:02d}"
    if kind in ("string", "text"):
        if "pattern" in spec and not f.required:
            return _SKIP
        value = f"{title_text(f.title)} {i}"
        value = value.ljust(spec.get("min_length", 0), ".")
        return value[:f.max_length] if f.max_length else value
    return _SKIP


def _target_ids(sandbox: Loom, f) -> list[int]:
    app, _, name = f.target.rpartition(".")
    try:
        et = sandbox.entity_tables(app or f.entity.app, name)
    except LoomError:
        return []
    with sandbox.reader.connect() as c:
        return list(c.execute(select(et.main.c.id).where(et.main.c.deleted_at.is_(None))
                              .order_by(et.main.c.id).limit(5)).scalars())


def _unlink_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


# ---------------------------------------------------------------------- inside the preview app
def _preview() -> Preview:
    return current_app.extensions["loom_preview"]


def _sign_in():
    """Sign the analyst the outer route vouched for in, as an administrator of the preview."""
    info = request.environ.get(ENVIRON_KEY)
    if info is None:  # not reached through the designer: nobody to sign in
        abort(403)
    if current_user.is_authenticated and current_user.username == info["username"]:
        return
    accounts = _preview().loom.accounts
    user_id = _user_id(_preview(), info["username"])
    actor = accounts.actor_for_id(user_id)
    if actor is None or not actor.is_admin:  # changed in the preview's own administration: undo that
        accounts.update_user(user_id, is_active=True, is_admin=True)
        actor = accounts.actor_for_id(user_id)
    actor.ip = request.remote_addr
    lang = session.get("lang") or info.get("lang")
    session.clear()
    if lang in LANGS:
        session["lang"] = lang
    login_user(User(actor))


def _user_id(preview: Preview, username: str) -> int:
    with preview.lock:
        if username in preview.users:
            return preview.users[username]
        u = platform.user
        with preview.loom.reader.connect() as c:
            found = c.execute(select(u.c.id).where(u.c.username == username)).scalar()
        if found is None:
            found = preview.loom.accounts.create_user(username, uuid.uuid4().hex, is_admin=True,
                                                      full_name=username)
        preview.users[username] = found
        return found


def _role_choices(preview: Preview) -> list[tuple[str, str]]:
    """Whom the analyst can view the preview as: an administrator, or one role of the draft app
    (and nothing else: the built-in ``user`` and ``authenticated`` roles come with each)."""
    doc = preview.loom.live[preview.app].app.document["app"]
    return [("admin", t("Administrator"))] + [
        (r["name"], title_text(r.get("title"), session.get("lang") or "ru") or r["name"]) for r in doc.get("roles", [])]


def _view_as():
    """Make the analyst's preview user an administrator again, or a holder of just one role of
    the draft app, to see the generated UI as that role's users will (permissions, buttons, fields)."""
    preview = _preview()
    role = request.form.get("role", "")
    if role not in dict(_role_choices(preview)):
        abort(400)
    changes = ({"is_admin": True, "roles": []} if role == "admin"
               else {"is_admin": False, "roles": [app_role(preview.app, role)]})
    preview.loom.accounts.update_user(current_user.actor.id, **changes)
    back = request.form.get("next", "")
    if not is_safe_path(back, request.script_root + "/") or back.startswith(request.script_root + VIEW_AS):
        back = request.script_root + f"/ui/{preview.app}/"
    return current_app.redirect(back)


def _viewing_as(preview: Preview) -> str:
    actor = current_user.actor if current_user.is_authenticated else None
    if actor is None or actor.is_admin or not actor.roles:
        return "admin"
    return actor.roles[0].rpartition(":")[2]


BODY = re.compile(rb"<body[^>]*>", re.IGNORECASE)


def _banner(response):
    """Put the preview banner at the top of every full HTML page."""
    if response.mimetype != "text/html" or response.direct_passthrough or response.is_streamed:
        return response
    info = request.environ.get(ENVIRON_KEY) or {}
    body = response.get_data()
    m = BODY.search(body)
    if m is None:  # an htmx fragment
        return response
    preview = _preview()
    notes = ""
    if preview.notes:
        notes = Markup('<details><summary>{}</summary><ul>{}</ul></details>').format(
            t("Some sample records could not be made"),
            Markup("").join(Markup("<li>{}</li>").format(n) for n in preview.notes))
    current = _viewing_as(preview)
    options = Markup("").join(Markup('<option value="{}"{}>{}</option>').format(
        name, Markup(" selected") if name == current else "", title) for name, title in _role_choices(preview))
    view_as = Markup(
        '<form method="post" action="{}" id="preview-view-as" style="display:inline-flex;gap:.3rem;'
        'align-items:center;margin-left:1rem"><input type="hidden" name="csrf_token" value="{}">'
        '<input type="hidden" name="next" value="{}"><label for="preview-role" style="white-space:nowrap">{}</label>'
        '<select name="role" id="preview-role" onchange="this.form.submit()">{}</select>'
        '<noscript><button>{}</button></noscript></form>').format(
        request.script_root + VIEW_AS, generate_csrf(), request.script_root + request.full_path.rstrip("?"),
        t("View as"), options,
        t("Apply"))
    banner = Markup(
        '<div class="preview-banner" id="preview-banner" role="note" style="background:#fff3cd;'
        'border-bottom:2px solid #e0a800;color:#533f03;padding:.5rem 1rem;font-size:.95rem">'
        '<strong>{}</strong> <a href="{}">{}</a>{}{}</div>').format(
        t("Preview of the draft, revision {revision} — sample data; nothing here reaches the live app",
          revision=info.get("revision", "?")),
        info.get("designer_url", "/designer/"), t("Back to the designer"), view_as, notes)
    response.set_data(body[:m.end()] + str(banner).encode("utf-8") + body[m.end():])
    return response


# ---------------------------------------------------------------------- the outer route
_registry_lock = threading.Lock()


def previews() -> Previews:
    app = current_app._get_current_object()
    with _registry_lock:
        found = app.extensions.get("loom_previews")
        if found is None:
            home = app.config.get("LOOM_HOME") or app.instance_path
            found = app.extensions["loom_previews"] = Previews(home, app.config["SECRET_KEY"], testing=app.testing,
                                                               https=app.config["SESSION_COOKIE_SECURE"])
        return found


@bp.route("/apps/<app>/preview/", defaults={"rest": ""}, methods=METHODS, endpoint="preview")
@bp.route("/apps/<app>/preview/<path:rest>", methods=METHODS, endpoint="preview")
def preview(app: str, rest: str):
    main = loom()
    drafts = Drafts(main)
    draft = drafts.open(app)
    registry = previews()
    key = registry.key(main, draft.doc)
    found = registry.ready(app, key)
    if found is None:
        problems = drafts.problems(app, draft.doc)
        if not problems and key is None:  # pragma: no cover - a valid draft always hashes
            problems = [{"file": "app.yaml", "path": "", "line": None, "message": "cannot hash the draft",
                         "editor": editor_url(app, "app.yaml")}]
        if problems:
            return _problems_page(app, draft, problems)
        try:
            found = registry.get(main, app, draft.doc, key, current_user.username, draft.revision)
        except MetadataError as exc:  # valid against the live apps, yet refused by the preview's publish
            return _problems_page(app, draft, [{**p.as_dict(), "editor": editor_url(app, p.file, p.path)}
                                               for p in exc.problems])
    return _dispatch(found, app, draft)


csrf.exempt(preview)  # the preview app checks its own tokens against its own session


def _problems_page(app: str, draft, problems: list[dict]):
    from .views import render  # the designer's shell (sidebar); imported late, views imports much
    return render("designer/preview_problems.html", 409, app=app, doc=draft.doc, draft=draft,
                  problems=problems, title=t("Preview of {app}", app=app))


def _dispatch(preview: Preview, app: str, draft):
    """Run this request in the preview app, mounted at ``.../apps/<app>/preview``."""
    environ = dict(request.environ)
    mount = f"{bp.url_prefix}/apps/{app}/preview"
    path = environ.get("PATH_INFO", "")
    rest = path[len(mount):] if path.startswith(mount) else "/"
    if rest in ("", "/"):
        rest = f"/ui/{app}/"
    body = request.get_data(cache=True, parse_form_data=False)
    for key in ("werkzeug.request", "HTTP_TRANSFER_ENCODING", "wsgi.input_terminated"):
        environ.pop(key, None)
    environ.update({
        "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + mount,
        "PATH_INFO": rest,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        ENVIRON_KEY: {"username": current_user.username, "revision": draft.revision,
                      "lang": session.get("lang"), "designer_url": request.script_root + app_url(app)},
    })
    return current_app.response_class.from_app(preview.web.wsgi_app, environ, buffered=True)
