"""The Loom object: one database, the live apps and the services over them."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from metamodel import App

from . import tables as platform
from .accounts import Accounts
from .appstore import AppStore
from .audit import Audit
from .db import make_engine
from .errors import NotFound
from .behaviour import Behaviour
from .hooks import Hooks
from .jobs import Jobs
from .notifications import Notifier
from .permissions import Permissions
from .records import RecordService
from .routing import Router
from .sla import SLA
from .storage import EntityTables, build_tables, new_metadata
from .timers import Timers
from .workflow import Workflow

REFRESH_SECONDS = 2.0


@dataclass
class LiveApp:
    app: App
    version: int
    tables: dict[str, EntityTables]


class Loom:
    """Everything a process needs to serve apps; the Flask app, CLI and workers each hold one."""

    def __init__(self, database_url: str, files_dir: str | Path | None = None, *, redis_url: str | None = None,
                 smtp_url: str | None = None, base_url: str | None = None, **engine_options):
        self.database_url = database_url
        self.redis_url = redis_url  # None: jobs run in this process
        self.smtp_url = smtp_url  # smtp://host:port; None: e-mails stay in the outbox
        self.base_url = base_url or "http://127.0.0.1:5000"  # links in notifications
        self.engine = make_engine(database_url, **engine_options)
        # Reads go through ``reader``: on SQLite it takes no write lock.
        self.reader = self.engine.execution_options(loom_read=True)
        self.files_dir = Path(files_dir) if files_dir else None
        self.live: dict[str, LiveApp] = {}
        self.store = AppStore(self)
        self.records = RecordService(self)
        self.permissions = Permissions()
        self.audit = Audit()
        self.accounts = Accounts(self)
        self.hooks = Hooks(self)
        self.workflow = Workflow(self)
        self.notifier = Notifier(self)
        self.timers = Timers(self)
        self.jobs = Jobs(self)
        self.router = Router(self)
        self.sla = SLA(self)
        self.behaviour = Behaviour(self)
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._generation: tuple = ()

    # ------------------------------------------------------------------ platform tables
    def upgrade_db(self) -> None:
        """Bring the platform's own tables to the newest Alembic revision."""
        from .migrations import upgrade
        upgrade(self.engine)

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
