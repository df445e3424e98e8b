"""The Loom object: one database, the live apps and the services over them."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from metamodel import App
from runtime.behaviour.answers import Answers
from runtime.behaviour.approvals import Approvals
from runtime.behaviour.batches import BatchRuns
from runtime.behaviour.deliveries import Deliveries
from runtime.behaviour.generators import Generators
from runtime.behaviour.notices import Notices
from runtime.behaviour.hooks import Hooks
from runtime.behaviour.hub import Behaviour
from runtime.behaviour.inbound import Inbound
from runtime.behaviour.jobs import Jobs
from runtime.behaviour.notifications import Notifier
from runtime.behaviour.personal import Personal
from runtime.behaviour.proposals import Proposals
from runtime.behaviour.rollups import Rollups
from runtime.behaviour.routing import Router
from runtime.behaviour.sla import SLA
from runtime.behaviour.timers import Timers
from runtime.behaviour.workflow import Workflow
from runtime.data import events
from runtime.data import tables as platform
from runtime.data.bulk import Bulk
from runtime.data.file_runs import FileRuns
from runtime.data.db import make_engine
from runtime.data.files import FileStore
from runtime.data.plugin_state import PluginState
from runtime.data.records import SYSTEM, RecordService
from runtime.data.storage import EntityTables, build_tables, new_metadata
from runtime.errors import NotFound
from runtime.extension import PluginHost
from runtime.extension.platform import Platform
from runtime.security.accounts import Accounts
from runtime.security.audit import Audit
from runtime.security.link_filters import LinkFilters
from runtime.security.permissions import Permissions

from .appstore import AppStore

REFRESH_SECONDS = 2.0


@dataclass
class LiveApp:
    app: App
    version: int
    tables: dict[str, EntityTables]


class Loom:
    """Everything a process needs to serve apps; the Flask app, CLI and workers each hold one."""

    def __init__(self, database_url: str, files_dir: str | Path | None = None, *, redis_url: str | None = None,
                 smtp_url: str | None = None, base_url: str | None = None, plugins: PluginHost | None = None,
                 audit_key: str | None = None, **engine_options):
        self.database_url = database_url
        self.redis_url = redis_url  # None: jobs run in this process
        self.smtp_url = smtp_url  # smtp://host:port; None: e-mails stay in the outbox
        self.base_url = base_url or "http://127.0.0.1:5000"  # links in notifications
        self.engine = make_engine(database_url, **engine_options)
        self.plugins = plugins if plugins is not None else PluginHost()
        events.install(self.engine, self._dispatch_events)
        # Reads go through ``reader``: on SQLite it takes no write lock.
        self.reader = self.engine.execution_options(loom_read=True)
        self.files_dir = Path(files_dir) if files_dir else None
        self.live: dict[str, LiveApp] = {}
        self.store = AppStore(self)
        self.records = RecordService(self)
        self.permissions = Permissions()
        self.permissions.tables = self.entity_tables
        self.link_filters = LinkFilters(self)
        self.audit = Audit(audit_key)  # LOOM_AUDIT_KEY: the chain is keyed (runtime.security.audit)
        self.accounts = Accounts(self)
        self.hooks = Hooks(self)
        self.workflow = Workflow(self)
        self.notifier = Notifier(self)
        self.deliveries = Deliveries(self)
        self.personal = Personal(self)
        self.timers = Timers(self)
        self.jobs = Jobs(self)
        self.router = Router(self)
        self.sla = SLA(self)
        self.behaviour = Behaviour(self)
        self.isolation = None  # a ProcessPool for heavy scripts (runtime.core.isolation); None: run here
        self.rollups = Rollups(self)
        self.approvals = Approvals(self)
        self.generators = Generators(self)
        self.batches = BatchRuns(self)
        self.notices = Notices(self)
        self.inbound = Inbound(self)
        self.file_runs = FileRuns(self)
        self.bulk = Bulk(self)
        self.plugin_state = PluginState(self)
        self.answers = Answers(self)
        self.proposals = Proposals(self)
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._generation: tuple = ()

    @property
    def files(self) -> FileStore:
        """Attachments of records (needs ``files_dir``)."""
        return FileStore(self)

    # ------------------------------------------------------------------ plugins
    def _dispatch_events(self, committed: list) -> None:
        platform_ = Platform(self)
        for event in committed:
            self.plugins.notify_record_event(event, platform_)

    def actor(self, username: str | None = None):
        """The :class:`Actor` of an active user by name; the system for ``None``."""
        if username is None:
            return SYSTEM
        u = platform.user
        with self.reader.connect() as c:
            user_id = c.execute(select(u.c.id).where(u.c.username == username, u.c.is_active.is_(True))).scalar()
        actor = self.accounts.actor_for_id(user_id) if user_id is not None else None
        if actor is None:
            raise NotFound(f"no active user {username!r}")
        return actor

    # ------------------------------------------------------------------ platform tables
    def upgrade_db(self) -> None:
        """Bring the platform's own tables to the newest Alembic revision."""
        from .migrations import upgrade
        upgrade(self.engine)
        if self.audit.key:
            with self.engine.begin() as conn:
                self.audit.ensure_keyed(conn)

    # ------------------------------------------------------------------ live apps
    def load(self) -> None:
        """(Re)build the live registry from the published versions in the database."""
        a, v = platform.app, platform.app_version
        with self.reader.connect() as c:
            rows = c.execute(select(a.c.name, a.c.current_version, v.c.document)
                             .join(v, (v.c.app == a.c.name) & (v.c.number == a.c.current_version))).all()
        apps = {r.name: (App(r.document), r.current_version) for r in rows}
        self._install_registry(apps)

    def activate(self, app: App, version: int, conn=None) -> None:
        """Make a just-published version live in this process."""
        apps = {name: (live.app, live.version) for name, live in self.live.items()}
        apps[app.name] = (app, version)
        self._install_registry(apps)

    def _install_registry(self, apps: dict[str, tuple[App, int]]) -> None:
        md = new_metadata()
        live = {}
        for name, (app, version) in apps.items():
            live[name] = LiveApp(app, version, build_tables(app, md))
        with self._lock:
            self.live = live
            self._generation = tuple(sorted((n, v) for n, (_, v) in apps.items()))
            self._checked_at = time.monotonic()

    def refresh_if_stale(self) -> None:
        """Pick up versions published by other processes, looking at most every few seconds."""
        now = time.monotonic()
        if now - self._checked_at < REFRESH_SECONDS:
            return
        self._checked_at = now
        a = platform.app
        with self.reader.connect() as c:
            generation = tuple(sorted(c.execute(select(a.c.name, a.c.current_version)
                                                .where(a.c.current_version.is_not(None))).all()))
        if generation != self._generation:
            self.load()

    def entity_tables(self, app: str, entity: str) -> EntityTables:
        live = self.live.get(app)
        if live is None:
            raise NotFound(f"no published app {app!r}")
        et = live.tables.get(entity)
        if et is None:
            raise NotFound(f"app {app!r} has no entity {entity!r}")
        return et

    def live_version(self, app: str) -> int:
        return self.live[app].version
