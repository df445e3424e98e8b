"""File runs: a job over the rows of an uploaded file, in chunks, each chunk one transaction, resumable.

A run (``loom_file_run``) holds its parameters, the file it reads and ``done``, the
last row committed. :meth:`FileRuns.step` opens a chunk's transaction by moving
``done`` from the row the caller read it at to the chunk's end (compare and set), so
the rows, their rejections and the progress commit together or not at all, and a
second worker that read the same ``done`` finds it moved and writes nothing. A
restarted worker reads ``done`` and continues after it. See
docs/decisions/0025-import-in-the-ui.md.
"""
from __future__ import annotations

import contextlib

from sqlalchemy import insert, select, update

from runtime.errors import Conflict, NotFound

from . import tables as platform
from .storage import utcnow

STATES = ("new", "checked", "queued", "running", "done", "failed", "cancelled")
_FIELDS = ("id", "kind", "app", "entity", "user_id", "state", "params", "total", "done", "written", "rejected",
           "error", "created_at", "updated_at")


class Step:
    """One chunk of a run inside its transaction: ``conn`` for the record service,
    :meth:`savepoint` around each row, :meth:`reject` for a row that failed."""

    def __init__(self, conn, run_id: int | None):
        self.conn, self.run_id = conn, run_id
        self.written = self.rejected = 0

    @contextlib.contextmanager
    def savepoint(self):
        """A row's own savepoint: a row that raises is rolled back alone (and the error passes on)."""
        with self.conn.begin_nested():
            yield
        self.written += 1

    def reject(self, row: int, cells, error: str) -> None:
        self.rejected += 1
        if self.run_id is not None:
            self.conn.execute(insert(platform.file_reject).values(run_id=self.run_id, row=row, cells=cells,
                                                                   error=error))


class FileRuns:
    def __init__(self, loom):
        self.loom = loom

    def start(self, kind: str, app: str, entity: str, actor, params: dict, content: bytes = b"",
              total: int = 0, state: str = "new") -> int:
        now = utcnow()
        target = self.loom.entity_tables(app, entity).entity
        with self.loom.engine.begin() as c:
            run_id = c.execute(insert(platform.file_run).values(
                kind=kind, app=app, entity=entity, user_id=actor.id, state=state, params=params, content=content,
                total=total, done=0, written=0, rejected=0, created_at=now, updated_at=now)
                .returning(platform.file_run.c.id)).scalar_one()
            self.loom.audit.record(c, actor, f"{kind}_new", target, None, None,
                                   {"run": run_id, "rows": total, "file": params.get("filename")})
        return run_id

    def _audit(self, c, run_id: int, actor, action: str, detail: dict) -> None:
        t = platform.file_run
        run = c.execute(select(t.c.kind, t.c.app, t.c.entity).where(t.c.id == run_id)).one()
        target = self.loom.entity_tables(run.app, run.entity).entity
        self.loom.audit.record(c, actor, f"{run.kind}_{action}", target, None, None, {"run": run_id, **detail})

    def get(self, run_id: int) -> dict:
        t = platform.file_run
        with self.loom.reader.connect() as c:
            row = c.execute(select(*(t.c[f] for f in _FIELDS)).where(t.c.id == run_id)).mappings().first()
        if row is None:
            raise NotFound(f"no file run {run_id}")
        return dict(row)

    def find(self, kind: str, app: str, entity: str, user_id: int | None = None, limit: int = 20) -> list[dict]:
        t = platform.file_run
        query = select(*(t.c[f] for f in _FIELDS)).where(t.c.kind == kind, t.c.app == app, t.c.entity == entity)
        if user_id is not None:
            query = query.where(t.c.user_id == user_id)
        with self.loom.reader.connect() as c:
            return [dict(r) for r in c.execute(query.order_by(t.c.id.desc()).limit(limit)).mappings()]

    def unfinished(self, kind: str) -> list[dict]:
        """Runs of ``kind`` that were queued or running (a worker may have stopped under them)."""
        t = platform.file_run
        query = select(*(t.c[f] for f in _FIELDS)).where(t.c.kind == kind, t.c.state.in_(("queued", "running")))
        with self.loom.reader.connect() as c:
            return [dict(r) for r in c.execute(query.order_by(t.c.id)).mappings()]

    def content(self, run_id: int) -> bytes:
        t = platform.file_run
        with self.loom.reader.connect() as c:
            return c.execute(select(t.c.content).where(t.c.id == run_id)).scalar() or b""

    def set_state(self, run_id: int, state: str, error: str | None = None, only_from=(), actor=None) -> bool:
        """Move a run to ``state`` (from one of ``only_from``, when given); whether it moved.
        A finished run lets its file go."""
        if state not in STATES:
            raise ValueError(f"unknown file run state {state!r}; one of {', '.join(STATES)}")
        t = platform.file_run
        values = {"state": state, "error": error, "updated_at": utcnow()}
        if state in ("done", "cancelled"):
            values["content"] = None
        query = update(t).where(t.c.id == run_id).values(**values)
        if only_from:
            query = query.where(t.c.state.in_(only_from))
        with self.loom.engine.begin() as c:
            moved = c.execute(query).rowcount == 1
            if moved and actor is not None:
                self._audit(c, run_id, actor, state, {"error": error} if error else {})
            return moved

    def set_params(self, run_id: int, params: dict, only_from=(), total: int | None = None) -> bool:
        t = platform.file_run
        values = {"params": params, "updated_at": utcnow()}
        if total is not None:
            values["total"] = total
        query = update(t).where(t.c.id == run_id).values(**values)
        if only_from:
            query = query.where(t.c.state.in_(only_from))
        with self.loom.engine.begin() as c:
            return c.execute(query).rowcount == 1

    @contextlib.contextmanager
    def step(self, run_id: int, start: int, end: int, actor):
        """The transaction of rows ``start+1 .. end``: raises ``Conflict`` when the run's ``done``
        is no longer ``start`` (another worker took this chunk) or the run is not running."""
        t = platform.file_run
        with self.loom.engine.begin() as c:
            moved = c.execute(update(t).where(t.c.id == run_id, t.c.done == start, t.c.state == "running")
                              .values(done=end, updated_at=utcnow())).rowcount
            if moved != 1:
                raise Conflict(f"file run {run_id} is not at row {start} any more")
            step = Step(c, run_id)
            yield step
            c.execute(update(t).where(t.c.id == run_id).values(written=t.c.written + step.written,
                                                                rejected=t.c.rejected + step.rejected))
            self._audit(c, run_id, actor, "chunk", {"rows": [start + 1, end], "written": step.written,
                                                     "rejected": step.rejected})

    @contextlib.contextmanager
    def trial(self):
        """A transaction that is always rolled back: try rows exactly as a real save would."""
        with self.loom.engine.connect() as c:
            c.begin()
            try:
                yield Step(c, None)
            finally:
                c.rollback()
                self.loom.hooks.flush()

    def rejects(self, run_id: int) -> list[dict]:
        r = platform.file_reject
        with self.loom.reader.connect() as c:
            return [dict(x) for x in c.execute(select(r.c.row, r.c.cells, r.c.error).where(r.c.run_id == run_id)
                                               .order_by(r.c.row)).mappings()]

    # ------------------------------------------------------------------ preferences
    def remember(self, key: str, value, user_id: int | None = None) -> None:
        p = platform.preference
        uid = user_id or 0
        with self.loom.engine.begin() as c:
            if c.execute(update(p).where(p.c.key == key, p.c.user_id == uid)
                         .values(value=value, updated_at=utcnow())).rowcount == 0:
                c.execute(insert(p).values(key=key, user_id=uid, value=value, updated_at=utcnow()))

    def recall(self, key: str, user_id: int | None = None):
        p = platform.preference
        with self.loom.reader.connect() as c:
            return c.execute(select(p.c.value).where(p.c.key == key, p.c.user_id == (user_id or 0))).scalar()
