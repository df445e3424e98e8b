"""Apps in the database: drafts, immutable published versions, publish, rollback, export.

A published version is never changed: it has a number, the content hash
of its document, author, time, comment, the diff against the version it
replaced and the storage plan that was applied. Rollback publishes an old
document again as a new version, so history only grows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select, update

from metamodel import App, MetadataError, Problem, content_hash, normalize, read_folder, validate_document, write_folder
from metamodel.diff import diff
from metamodel.errors import dotted, undotted
from metamodel.migration import Refusal
from metamodel.migration import plan as make_plan
from runtime.behaviour.calendars import calendar_from_app_section
from runtime.behaviour.hooks import check_scripts
from runtime.behaviour.notifications import check_templates
from runtime.data import tables as platform
from runtime.data.migrate import MigrationRefused, Migrator
from runtime.data.storage import refresh_statistics, table_name, utcnow
from runtime.errors import Conflict, NotFound

from .statuses import check_mapping, find_stranded, move


def _problem(reason, source) -> Problem:
    """A storage refusal as a problem of the entity file that asked for the change."""
    if not isinstance(reason, Refusal):
        return Problem("app.yaml", "", str(reason))
    filename = f"entities/{reason.entity}.yaml"
    line = source.line(filename, reason.path) if source is not None else None
    return Problem(filename, dotted(reason.path), reason.message, line)


def code_problems(app: App, source=None) -> list[Problem]:
    """What the metadata's schemas cannot see: scripts that do not compile, import or lack a
    function the metadata names, and notification templates that do not compile. Publishing
    refuses them, and ``loom apps validate`` reports them, with the line of the YAML that
    names the script (``source``: the folder's :class:`SourceMap`)."""
    problems = check_scripts(app)
    for path, message in check_templates(app.section("notifications").get("templates")):
        problems.append(Problem("notifications.yaml", dotted(path[1:]), message))
    if source is None:
        return problems
    return [Problem(p.file, p.path, p.message, source.line(p.file, undotted(p.path)))
            if p.line is None and p.path else p for p in problems]


@dataclass
class Published:
    app: str
    number: int
    hash: str
    changes: list
    plan: list[str]
    unchanged: bool = False


class AppStore:
    def __init__(self, loom):
        self.loom = loom

    # ------------------------------------------------------------------ reading
    def list(self) -> list[dict]:
        a, v = platform.app, platform.app_version
        with self.loom.reader.connect() as c:
            rows = c.execute(select(a.c.name, a.c.current_version, a.c.draft_revision, a.c.draft_updated_by,
                                    a.c.draft_updated_at, (a.c.draft.is_not(None)).label("has_draft"))
                             .order_by(a.c.name)).mappings().all()
            out = []
            for r in rows:
                ver = c.execute(select(v.c.hash, v.c.created_at, v.c.author)
                                .where(v.c.app == r["name"], v.c.number == r["current_version"])).first()
                out.append({"name": r["name"], "version": r["current_version"], "hash": ver.hash if ver else None,
                            "published_at": ver.created_at if ver else None, "draft_revision": r["draft_revision"],
                            "has_draft": bool(r["has_draft"]), "draft_updated_by": r["draft_updated_by"],
                            "draft_updated_at": r["draft_updated_at"]})
            return out

    def versions(self, name: str) -> list[dict]:
        v = platform.app_version
        with self.loom.reader.connect() as c:
            rows = c.execute(select(v.c.number, v.c.hash, v.c.author, v.c.created_at, v.c.comment, v.c.rollback_of,
                                    v.c.plan, v.c.diff).where(v.c.app == name).order_by(v.c.number)).mappings().all()
        if not rows:
            raise NotFound(f"app {name!r} is not installed")
        return [dict(r) for r in rows]

    def document(self, name: str, number: int | None = None, conn=None) -> dict:
        v, a = platform.app_version, platform.app
        def read(c):
            num = number
            if num is None:
                num = c.execute(select(a.c.current_version).where(a.c.name == name)).scalar()
            doc = c.execute(select(v.c.document).where(v.c.app == name, v.c.number == num)).scalar()
            if doc is None:
                raise NotFound(f"app {name!r} has no version {num}")
            return doc
        if conn is not None:
            return read(conn)
        with self.loom.reader.connect() as c:
            return read(c)

    def export(self, name: str, folder: str | Path, number: int | None = None) -> list[Path]:
        return write_folder(self.document(name, number), folder)

    # ------------------------------------------------------------------ validating
    def validate(self, doc: dict, source=None) -> App:
        """Validate against the apps this one depends on, as they are live now, and compile its scripts."""
        external = {n: live.app for n, live in self.loom.live.items()}
        app = validate_document(doc, source, external, self.loom.plugins.capabilities())
        problems = code_problems(app, source)
        if problems:
            raise MetadataError(problems)
        return app

    def compare(self, doc: dict, source=None) -> tuple[App, list, object]:
        """(validated app, diff, storage plan) of ``doc`` against the live version."""
        app = self.validate(doc, source)
        live = self.loom.live.get(app.name)
        old_doc = live.app.document if live else None
        return app, diff(old_doc, app.document), make_plan(live.app if live else None, app)

    def group_names(self) -> set[str]:
        """The names of the platform's groups (publish warnings compare what metadata names)."""
        with self.loom.reader.connect() as c:
            return set(c.execute(select(platform.group.c.name)).scalars())

    # ------------------------------------------------------------------ writing
    def install(self, folder: str | Path, author: str = "system", comment: str | None = None) -> Published:
        """Validate a folder and publish it (a first version, or the next one)."""
        doc, source = read_folder(folder)
        self.validate(doc, source)  # errors name files and lines
        return self.publish(doc, author=author, comment=comment or f"installed from {Path(folder).name}",
                            source=source)

    # ------------------------------------------------------------------ drafts
    def draft(self, name: str) -> dict:
        """The draft state of an app: ``draft`` (None when there is none), ``draft_revision``,
        ``draft_updated_by``, ``draft_updated_at`` and ``current_version`` (None: never published)."""
        a = platform.app
        with self.loom.reader.connect() as c:
            row = c.execute(select(a.c.draft, a.c.draft_revision, a.c.draft_updated_by, a.c.draft_updated_at,
                                   a.c.current_version).where(a.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"app {name!r} does not exist")
        return dict(row)

    def create_draft(self, name: str, doc: dict, author: str, action: str = "draft.create") -> int:
        """Register a new app that exists only as a draft (no published version); revision 1."""
        a = platform.app
        with self.loom.engine.begin() as c:
            if c.execute(select(a.c.name).where(a.c.name == name)).first() is not None:
                raise Conflict(f"an app named {name!r} already exists")
            c.execute(insert(a).values(name=name, current_version=None, draft=normalize(doc), draft_revision=1,
                                       draft_updated_at=utcnow(), draft_updated_by=author, installed_at=utcnow()))
            self.loom.audit.record(c, None, action, None, None, None, {"app": name, "revision": 1},
                                   username=author)
        return 1

    def save_draft(self, name: str, doc: dict, author: str, revision: int, action: str = "draft.save") -> int:
        """Store a draft if nobody saved since ``revision``; return the new revision."""
        a = platform.app
        with self.loom.engine.begin() as c:
            result = c.execute(update(a).where(a.c.name == name, a.c.draft_revision == revision).values(
                draft=normalize(doc), draft_revision=revision + 1, draft_updated_at=utcnow(),
                draft_updated_by=author))
            if result.rowcount != 1:
                self._draft_conflict(c, name, revision)
            self.loom.audit.record(c, None, action, None, None, None, {"app": name, "revision": revision + 1},
                                   username=author)
        return revision + 1

    def discard_draft(self, name: str, author: str, revision: int | None = None) -> None:
        """Drop the draft (checking ``revision`` when given). An app that was never published
        exists only as its draft, so discarding it removes the app."""
        a = platform.app
        with self.loom.engine.begin() as c:
            row = c.execute(select(a.c.current_version, a.c.draft_revision).where(a.c.name == name)
                            .with_for_update()).first()
            if row is None:
                raise NotFound(f"app {name!r} does not exist")
            if revision is not None and row.draft_revision != revision:
                self._draft_conflict(c, name, revision)
            if row.current_version is None:
                c.execute(a.delete().where(a.c.name == name))
            else:
                c.execute(update(a).where(a.c.name == name).values(
                    draft=None, draft_revision=row.draft_revision + 1, draft_updated_at=utcnow(),
                    draft_updated_by=author))
            self.loom.audit.record(c, None, "draft.discard", None, None, None,
                                   {"app": name, "revision": row.draft_revision}, username=author)

    @staticmethod
    def _draft_conflict(c, name: str, revision: int):
        a = platform.app
        row = c.execute(select(a.c.draft_revision, a.c.draft_updated_by, a.c.draft_updated_at)
                        .where(a.c.name == name)).first()
        if row is None:
            raise NotFound(f"app {name!r} is not installed")
        when = f" at {row.draft_updated_at:%Y-%m-%d %H:%M} UTC" if row.draft_updated_at else ""
        raise Conflict(f"the draft of {name} was saved by {row.draft_updated_by}{when} (revision "
                       f"{row.draft_revision}) after you opened revision {revision}; reload it",
                       saved_by=row.draft_updated_by, revision=row.draft_revision)

    def publish(self, doc: dict, author: str, comment: str | None = None, rollback_of: int | None = None,
                draft_revision: int | None = None, status_map: dict | None = None, source=None) -> Published:
        """Validate ``doc``, migrate storage and record a new version, all in one transaction.

        Records in a status the new version drops are refused (:class:`StatusesStranded`)
        unless ``status_map`` (``{entity: {old: new}}``) moves them (see :mod:`.statuses`).
        A change storage refuses (values a type change would lose, duplicates under a new unique
        index) is a :class:`MetadataError` naming the entity's file, the field's path and, with
        ``source`` (the folder's :class:`SourceMap`), the line.

        With ``draft_revision`` (publishing a draft read at that revision) the draft must not
        have been saved since, and it is cleared in the same transaction: the draft becomes
        NULL and its revision moves on, so an editor still holding the old revision gets a
        conflict instead of silently recreating the draft over the new live version.
        """
        app, changes, plan = self.compare(doc)
        digest = content_hash(app.document)
        a, v = platform.app, platform.app_version
        with self.loom.engine.begin() as c:
            current = c.execute(select(a.c.current_version, a.c.draft_revision).where(a.c.name == app.name)
                                .with_for_update()).first()
            if draft_revision is not None:
                if current is None:
                    raise NotFound(f"app {app.name!r} has no draft")
                if current.draft_revision != draft_revision:
                    self._draft_conflict(c, app.name, draft_revision)
                c.execute(update(a).where(a.c.name == app.name).values(
                    draft=None, draft_revision=draft_revision + 1, draft_updated_at=utcnow(),
                    draft_updated_by=author))
            if current is not None and current.current_version is not None:
                live_hash = c.execute(select(v.c.hash).where(v.c.app == app.name,
                                                             v.c.number == current.current_version)).scalar()
                if live_hash == digest and rollback_of is None:
                    return Published(app.name, current.current_version, digest, [], [], unchanged=True)
            if current is None:
                c.execute(insert(a).values(name=app.name, current_version=None, draft=None, draft_revision=0,
                                           installed_at=utcnow()))
            number = (c.execute(select(func.max(v.c.number)).where(v.c.app == app.name)).scalar() or 0) + 1
            old = self.loom.live.get(app.name)
            stranded = find_stranded(c, old.app, app, old.tables) if old else []
            check_mapping(stranded, status_map)
            try:
                others = [live.app for name, live in self.loom.live.items() if name != app.name]
                Migrator(c, old.app if old else None, app, number, others,
                         calendar=lambda: calendar_from_app_section(app.section("sla"))).apply(plan)
            except MigrationRefused as exc:
                raise MetadataError([_problem(reason, source) for reason in exc.reasons]) from None
            if stranded:
                move(c, self.loom, app.name, stranded, status_map, old.tables, author)
            self._ensure_groups(c, app)
            c.execute(insert(v).values(app=app.name, number=number, hash=digest, document=app.document,
                                       author=author, created_at=utcnow(), comment=comment,
                                       diff=[ch.as_dict() for ch in changes], plan=plan.describe(),
                                       rollback_of=rollback_of))
            c.execute(update(a).where(a.c.name == app.name).values(current_version=number))
            if c.dialect.name == "sqlite":  # PostgreSQL's autovacuum keeps its own statistics
                refresh_statistics(c, [table_name(app.name, e) for e in app.entities])
            after = {"app": app.name, "version": number, "hash": digest, "author": author, "comment": comment}
            if rollback_of is not None:
                after["rollback_of"] = rollback_of
            self.loom.audit.record(c, None, "rollback" if rollback_of is not None else "publish", None, None, None,
                                   after, username=author)
            self.loom.activate(app, number, conn=c)
            for step in plan.steps:  # a new or changed rollup counts the records that exist already
                if step.kind in ("add_field", "recompute_field", "change_field") and step.new is not None \
                        and step.new.type == "rollup" and not step.detail.get("table"):
                    self.loom.rollups.recompute(app.name, step.entity, step.field, conn=c)
        return Published(app.name, number, digest, changes, plan.describe())

    @staticmethod
    def _ensure_groups(c, app) -> None:
        """Create the groups ``app.yaml`` declares that do not exist yet; existing ones are the
        administrators' to change (members, lead, e-mail), so they are left alone."""
        g = platform.group
        declared = app.document["app"].get("groups") or []
        if not declared:
            return
        existing = set(c.execute(select(g.c.name).where(g.c.name.in_([d["name"] for d in declared]))).scalars())
        for d in declared:
            if d["name"] not in existing:
                c.execute(insert(g).values(name=d["name"], title=d.get("title"), email=d.get("email")))

    def rollback(self, name: str, to_version: int, author: str, comment: str | None = None,
                 status_map: dict | None = None) -> Published:
        """Publish version ``to_version`` again, as a new version (``status_map``: see :meth:`publish`)."""
        doc = self.document(name, to_version)
        return self.publish(doc, author=author, comment=comment or f"rollback to version {to_version}",
                            rollback_of=to_version, status_map=status_map)
