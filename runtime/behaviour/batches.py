"""Batch runs: a sandboxed script over a selection of records, in chunks, whose results are records.

``batches.yaml`` declares each one (docs/behaviour.md, "Batch runs"): the source entity and
filter, the parameters a run is started with, the script, the entity its results become
records of and that entity's text field holding the **run key** (the batch's name and the
values of its key parameters, ``accrual:period=2026-03``).

A run is one row of ``loom_batch_run``. Its chunks are transactions: the source records with
ids after ``last_id`` (at most ``chunk`` of them) are read, the script turns them into result
dicts, the results an earlier run with the same key made for those records are deleted, the
new ones inserted, and ``last_id`` moved on, all in one commit. So:

- a rerun with the same parameters replaces that run's results and never doubles them (the
  first chunk of a run over the whole selection deletes every result of the key, so records
  that left the selection lose theirs too);
- a run that crashed (a killed worker, a restarted server) resumes at the first chunk that
  did not commit: the scheduler hands a run whose heartbeat is older than :data:`LEASE` out
  again, and starting the same parameters resumes it too.

With Redis each chunk is one RQ job that queues the next; without, the job runs every chunk
in this process. Results are inserted in bulk: their fields are coerced and checked as the
record service does, numbers are reserved per chunk, and one audit entry per chunk names the
run and the count (the results entity has no save hooks: publishing refuses them). Results that
are messages (the entity's ``delivery:``) enter the outbox in the chunk's commit; a rerun cancels
the replaced ones that have not gone yet.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import logging

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from runtime import clock, sandbox
from runtime.data import tables as platform
from runtime.data.query import Filter, ListQuery
from runtime.data.records import SYSTEM, compute_all
from runtime.data.related import load as load_related
from runtime.data.roles import holds
from runtime.data.storage import utcnow
from runtime.data.values import FieldError, check, coerce, to_json
from runtime.errors import Conflict, Forbidden, LoomError, NotFound, ValidationFailed

from .timers import describe_error

log = logging.getLogger("loom.batches")

DEFAULT_CHUNK = 200
#: Seconds without a committed chunk after which a queued or running run counts as crashed.
LEASE = 120
#: Sandbox limits of one chunk unless the batch sets its own: a chunk does far more than a hook.
CHUNK_LIMITS = sandbox.Limits(steps=20_000_000, timeout=60.0, max_items=5_000_000)
ACTIVE = ("queued", "running")
HOOKS_REFUSED = ("default", "validate", "before_save", "after_save")


class BatchError(LoomError):
    title = "Batch run failed"


def run_key(batch: dict, params: dict) -> str:
    """The batch name and the values of its key parameters: what tags the results of a run."""
    names = batch.get("key") or sorted(batch.get("params") or {})
    key = batch["name"] + ":" + ",".join(f"{n}={_text(params.get(n))}" for n in names)
    if len(key) > 120:  # the key field holds 120 characters at least (checked at publish)
        key = key[:100] + "#" + hashlib.sha256(key.encode()).hexdigest()[:19]
    return key


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def parse_params(batch: dict, raw: dict) -> dict:
    """The run's parameters from a form or a JSON body, typed, with every problem named."""
    specs = batch.get("params") or {}
    errors, out = [], {}
    for name in raw:
        if name not in specs:
            errors.append(FieldError(name, f"unknown parameter of {batch['name']}; parameters: "
                                           f"{', '.join(specs) or 'none'}"))
    for name, spec in specs.items():
        value = raw.get(name, spec.get("default"))
        if value in (None, ""):
            if spec.get("required"):
                errors.append(FieldError(name, "is required"))
            out[name] = None
            continue
        try:
            out[name] = _param(spec, value)
        except (ValueError, decimal.InvalidOperation):
            errors.append(FieldError(name, f"{value!r} is not a {spec['type']}" +
                                     (" (YYYY-MM)" if spec["type"] == "month" else "")))
        if spec["type"] == "choice" and name in out:
            allowed = [c["value"] for c in spec["choices"]]
            if out[name] not in allowed:
                errors.append(FieldError(name, f"{out[name]!r} is none of {', '.join(allowed)}"))
    if errors:
        raise ValidationFailed(errors)
    return out


def _param(spec: dict, value):
    kind = spec["type"]
    if kind == "integer":
        return int(str(value))
    if kind == "decimal":
        return str(decimal.Decimal(str(value).replace(",", ".")))
    if kind == "date":
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    if kind == "month":
        return dt.date.fromisoformat(str(value)[:7] + "-01").isoformat()[:7]
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on", "да")
    return str(value)


class BatchRuns:
    def __init__(self, loom):
        self.loom = loom

    # ------------------------------------------------------------------ metadata
    def specs(self, app: str) -> list[dict]:
        live = self.loom.live.get(app)
        if live is None:
            raise NotFound(f"no published app {app!r}")
        return list(live.app.section("batches").get("batches", []))

    def spec(self, app: str, name: str) -> dict:
        for spec in self.specs(app):
            if spec["name"] == name:
                return spec
        names = [s["name"] for s in self.specs(app)]
        raise NotFound(f"{app} has no batch {name!r}; batches: {', '.join(names) or 'none'}")

    def may_run(self, actor, app: str, batch: dict) -> bool:
        return holds(actor, app, batch.get("roles") or ())

    def require(self, actor, app: str, batch: dict) -> None:
        if not self.may_run(actor, app, batch):
            roles = ", ".join(batch.get("roles") or ()) or "administrators"
            raise Forbidden(f"batch {batch['name']} may be run by {roles} only")

    # ------------------------------------------------------------------ starting
    def start(self, app: str, name: str, params: dict, actor=SYSTEM, ids: list | None = None,
              enqueue: bool = True) -> dict:
        """Start (or resume) a run of batch ``name`` with ``params``; return the run.

        A run with the same key that is still working (a chunk committed less than
        :data:`LEASE` seconds ago) is a Conflict; one that crashed or failed is resumed where
        it stopped (given the same parameters and selection); otherwise it starts again from the first
        record, replacing its results.
        ``ids``: an explicit selection of source records instead of the batch's filter.
        """
        batch = self.spec(app, name)
        self.require(actor, app, batch)
        params = parse_params(batch, params or {})
        key = run_key(batch, params)
        if ids is not None:
            ids = sorted({int(i) for i in ids})
        r = platform.batch_run
        now = clock.now()
        with self.loom.engine.begin() as c:
            old = c.execute(select(r).where(r.c.app == app, r.c.run_key == key)).mappings().first()
            if old is not None and old["state"] in ACTIVE and not _stale(old, now):
                raise Conflict(f"batch {name} with {key} is running ({old['done']} of {old['total']} done); "
                               f"wait for it or open its progress page")
            resume = (old is not None and old["state"] != "done" and old["chunks"] > 0 and old["ids"] == ids
                      and old["params"] == params)  # the same run, stopped: go on with it
            if resume:
                c.execute(update(r).where(r.c.id == old["id"]).values(state="queued", error=None, heartbeat_at=now))
                run_id = old["id"]
                action = "batch_resume"
            else:
                total = self._count(c, app, batch, ids)
                values = dict(app=app, batch=name, run_key=key, params=params, ids=ids, state="queued", total=total,
                              done=0, results=0, chunks=0, last_id=0, error=None, started_by=actor.id,
                              started_at=now, heartbeat_at=now, finished_at=None)
                if old is None:
                    run_id = c.execute(insert(r).values(values).returning(r.c.id)).scalar_one()
                else:
                    c.execute(update(r).where(r.c.id == old["id"]).values(values))
                    run_id = old["id"]
                action = "batch_start"
            self._audit(c, actor, app, batch, action, run_id, {"run_key": key, "params": params,
                                                               "ids": len(ids) if ids is not None else None})
        if enqueue:
            self.loom.jobs.enqueue("batch_run", run_id)
        return self.get(run_id)

    def resume(self, run_id: int, actor=SYSTEM) -> dict:
        """Go on with a run that failed or crashed, from its last committed chunk."""
        run = self.get(run_id)
        batch = self.spec(run["app"], run["batch"])
        self.require(actor, run["app"], batch)
        if run["state"] == "done":
            raise Conflict(f"run {run_id} is done; start it again to replace its results")
        if run["state"] in ACTIVE and not _stale(run, clock.now()):
            raise Conflict(f"run {run_id} is running")
        r = platform.batch_run
        with self.loom.engine.begin() as c:
            c.execute(update(r).where(r.c.id == run_id).values(state="queued", error=None, heartbeat_at=clock.now()))
            self._audit(c, actor, run["app"], batch, "batch_resume", run_id, {"run_key": run["run_key"]})
        self.loom.jobs.enqueue("batch_run", run_id)
        return self.get(run_id)

    def view(self, run_id: int, actor, app: str | None = None) -> dict:
        """A run the ``actor`` may see (one who may run its batch), of ``app`` when given."""
        run = self.get(run_id)
        if app is not None and run["app"] != app:
            raise NotFound(f"no batch run {run_id} in {app}")
        self.require(actor, run["app"], self.spec(run["app"], run["batch"]))
        return run

    def get(self, run_id: int) -> dict:
        r = platform.batch_run
        with self.loom.reader.connect() as c:
            row = c.execute(select(r).where(r.c.id == run_id)).mappings().first()
        if row is None:
            raise NotFound(f"no batch run {run_id}")
        return dict(row)

    def runs(self, app: str, name: str, limit: int = 20) -> list[dict]:
        r = platform.batch_run
        with self.loom.reader.connect() as c:
            return [dict(x) for x in c.execute(select(r).where(r.c.app == app, r.c.batch == name)
                                               .order_by(r.c.started_at.desc(), r.c.id.desc()).limit(limit)).mappings()]

    def stale(self, now: dt.datetime | None = None) -> list[int]:
        """Runs queued or running whose last chunk committed more than :data:`LEASE` seconds ago
        (their worker died): the scheduler hands them out again."""
        now = now or clock.now()
        r = platform.batch_run
        stale = and_(r.c.state.in_(ACTIVE), or_(r.c.heartbeat_at.is_(None),
                                                r.c.heartbeat_at < now - dt.timedelta(seconds=LEASE)))
        with self.loom.reader.connect() as c:  # most ticks find nothing: take no write lock for that
            ids = c.execute(select(r.c.id).where(stale)).scalars().all()
        if not ids:
            return []
        with self.loom.engine.begin() as c:  # taken: another scheduler's tick does not hand them out too
            return c.execute(update(r).where(r.c.id.in_(ids), stale).values(heartbeat_at=now)
                             .returning(r.c.id)).scalars().all()

    # ------------------------------------------------------------------ working
    def work(self, run_id: int, max_chunks: int | None = None) -> dict:
        """Run chunks of ``run_id`` until it is done or fails (with Redis: one chunk, then queue
        the next job). ``max_chunks``: stop after that many (tests stop a run half-way so)."""
        count = 0
        while True:
            state = self._next_chunk(run_id)
            count += 1
            if state != "running":
                break
            if self.loom.redis_url is not None:
                self.loom.jobs.enqueue("batch_run", run_id)
                break
            if max_chunks is not None and count >= max_chunks:
                break
        return self.get(run_id)

    def _next_chunk(self, run_id: int) -> str:
        """The next chunk: in a job process under OS limits when this Loom has them (a chunk
        killed there committed nothing, and the run fails, to be resumed), else right here."""
        pool = getattr(self.loom, "isolation", None)
        if pool is None:
            return self.chunk(run_id)
        try:
            run = self.get(run_id)
            seconds = _limits(self.spec(run["app"], run["batch"])).timeout
            return pool.call("batch_chunk", run_id, seconds=seconds)
        except LoomError as exc:
            self._fail(run_id, exc)
            return "failed"

    def chunk(self, run_id: int) -> str:
        """Process the next chunk of a run in one transaction; return the run's state after it."""
        r = platform.batch_run
        try:
            with self.loom.engine.begin() as c:
                query = select(r).where(r.c.id == run_id)
                if c.dialect.name == "postgresql":
                    query = query.with_for_update()  # two workers on one run take its chunks in turn
                run = c.execute(query).mappings().first()
                if run is None or run["state"] not in ACTIVE:
                    return run["state"] if run is not None else "missing"
                live = self.loom.live.get(run["app"])
                batch = self.spec(run["app"], run["batch"])
                return self._chunk(c, live.app, batch, dict(run))
        except LoomError as exc:
            self._fail(run_id, exc)
            return "failed"
        except SQLAlchemyError as exc:  # a result the database refused (a link to nothing, a unique value)
            self._fail(run_id, BatchError(f"the database refused the chunk's results: {exc.orig or exc}"))
            return "failed"
        finally:
            self.loom.hooks.flush()

    def _chunk(self, c, app, batch: dict, run: dict) -> str:
        r = platform.batch_run
        source = self.loom.entity_tables(app.name, batch["source"])
        t = source.main
        size = batch.get("chunk", DEFAULT_CHUNK)
        query = self._selection(c, app.name, batch, run["ids"]).where(t.c.id > run["last_id"])
        rows = c.execute(query.order_by(t.c.id).limit(size)).mappings().all()
        now = clock.now()
        if not rows:
            c.execute(update(r).where(r.c.id == run["id"]).values(state="done", finished_at=now, heartbeat_at=now))
            self._audit(c, SYSTEM, app.name, batch, "batch_done", run["id"],
                        {"run_key": run["run_key"], "done": run["done"], "results": run["results"]})
            return "done"
        ids = [row["id"] for row in rows]
        related = load_related(c, source, ids)
        records = [self.loom.records.values(c, source, row, None, extra=related[row["id"]]) for row in rows]
        loaded = self._loads(c, app.name, batch, ids)
        result, _ = self.loom.hooks.run(c, app, batch["script"], f"batch:{batch['name']}", actor=SYSTEM,
                                        args=(sandbox.rows(records), sandbox.freeze(run["params"]),
                                              sandbox.freeze(loaded)),
                                        limits=_limits(batch))
        results = self.loom.entity_tables(app.name, batch["results"])
        key_field = batch.get("key_field", "batch_key")
        whole = run["ids"] is None
        written = self._replace(c, results, key_field, run["run_key"], result, batch,
                                all_of_key=whole and run["chunks"] == 0, source_ids=None if whole else ids)
        c.execute(update(r).where(r.c.id == run["id"]).values(
            state="running", last_id=ids[-1], done=r.c.done + len(ids), results=r.c.results + written,
            chunks=r.c.chunks + 1, heartbeat_at=now))
        self._audit(c, SYSTEM, app.name, batch, "batch_chunk", run["id"],
                    {"run_key": run["run_key"], "chunk": run["chunks"] + 1, "from_id": ids[0], "to_id": ids[-1],
                     "records": len(ids), "results": written})
        return "running"

    def _replace(self, c, et, key_field: str, key: str, result, batch: dict, all_of_key: bool,
                 source_ids: list | None) -> int:
        """Delete what earlier runs of ``key`` made for this chunk, insert the script's results."""
        if result is None:
            result = []
        if not isinstance(result, (list, tuple)):
            raise BatchError(f"{batch['script']} must return a list of result dicts, it returned "
                             f"{type(result).__name__}")
        t = et.main
        column = t.c[key_field]
        if all_of_key:
            self.loom.deliveries.cancel(c, et, column == key)  # replaced messages that have not gone yet
            c.execute(delete(t).where(column == key))
        elif source_ids is not None:
            link = batch.get("source_field")
            if link:
                self.loom.deliveries.cancel(c, et, column == key, t.c[link].in_(source_ids))
                c.execute(delete(t).where(column == key, t.c[link].in_(source_ids)))
        rows = [self._row(et, item, i, batch) for i, item in enumerate(result)]
        if not rows:
            return 0
        numbers = self.loom.records.next_number(c, et.entity, len(rows))
        numbers = [numbers] if isinstance(numbers, str) else numbers
        now = utcnow()
        version = self.loom.live_version(et.entity.app)
        status = et.entity.initial_status
        for row, number in zip(rows, numbers):
            row.update({key_field: key, "number": number, "status": status, "created_at": now, "updated_at": now,
                        "created_by": None, "updated_by": None, "row_version": 1, "meta_version": version})
        c.execute(insert(t), rows)
        self.loom.deliveries.queue_numbers(c, et, numbers)  # results that are messages go out with the chunk
        return len(rows)

    def _row(self, et, item, index: int, batch: dict) -> dict:
        """One result dict as column values, coerced and checked like any record's."""
        entity = et.entity
        columns, required, defaults = _plan(entity, batch.get("key_field", "batch_key"))
        if not isinstance(item, dict):
            raise BatchError(f"{batch['script']}: result {index} is a {type(item).__name__}, not a dict")
        errors, values = [], dict(defaults)  # every row sets every column: one executemany for the chunk
        for name, raw in item.items():
            f = columns.get(name)
            if f is None:
                errors.append(FieldError(name, f"not a field of {entity.name} a result can set "
                                               f"(single-value fields: {', '.join(columns)})"))
                continue
            try:
                value = coerce(f, raw)
                if value is not None:
                    check(f, value)
                values[name] = value
            except FieldError as exc:
                errors.append(exc)
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
        for name in required:
            if values.get(name) in (None, ""):
                errors.append(FieldError(name, "is required"))
        if errors:
            raise BatchError(f"{batch['script']}: result {index} is not a valid {entity.name}: " +
                             "; ".join(f"{e.field}: {e.message}" for e in errors))
        if entity.computed_order:
            computed = compute_all(entity, dict(values))
            for f in entity.computed_order:
                values[f.name] = computed[f.name]
        return values

    # ------------------------------------------------------------------ selection and loads
    def _selection(self, c, app: str, batch: dict, ids):
        et = self.loom.entity_tables(app, batch["source"])
        t = et.main
        if ids is not None:
            return select(t).where(t.c.deleted_at.is_(None), t.c.id.in_(ids))
        return _filtered(self.loom, et, batch.get("filter", []))

    def _count(self, c, app: str, batch: dict, ids) -> int:
        return c.execute(select(func.count()).select_from(self._selection(c, app, batch, ids).subquery())).scalar_one()

    def _loads(self, c, app: str, batch: dict, ids: list) -> dict:
        """What the script gets beside the records: per ``load`` entry, the records of an entity
        linked to the chunk's records (``{source id: [records]}``), or all of them (a small
        dictionary such as tariffs)."""
        out = {}
        for spec in batch.get("load", []):
            et = self.loom.entity_tables(app, spec["entity"])
            t = et.main
            query = _filtered(self.loom, et, spec.get("filter", []))
            by = spec.get("by")
            if by:
                query = query.where(t.c[by].in_(ids))
            rows = c.execute(query.order_by(t.c.id)).mappings().all()
            related = load_related(c, et, [row["id"] for row in rows])
            values = [self.loom.records.values(c, et, row, None, extra=related[row["id"]]) for row in rows]
            if by:
                grouped: dict = {}
                for v in values:
                    grouped.setdefault(v[by], []).append(v)
                out[spec["name"]] = grouped
            else:
                out[spec["name"]] = values
        return out

    # ------------------------------------------------------------------ bookkeeping
    def _fail(self, run_id: int, exc: LoomError) -> None:
        r = platform.batch_run
        error = describe_error(exc)
        log.warning("batch run %s failed: %s", run_id, error)
        with self.loom.engine.begin() as c:
            run = c.execute(select(r).where(r.c.id == run_id)).mappings().first()
            if run is None:
                return
            c.execute(update(r).where(r.c.id == run_id).values(state="failed", error=error, heartbeat_at=clock.now()))
            live = self.loom.live.get(run["app"])
            entity = None
            if live is not None:
                batch = next((b for b in live.app.section("batches").get("batches", []) if b["name"] == run["batch"]),
                             None)
                entity = live.app.entities.get(batch["source"]) if batch else None
            self.loom.audit.record(c, SYSTEM, "batch_failed", entity, None, None,
                                   {"batch": run["batch"], "run": run_id, "run_key": run["run_key"], "error": error})

    def _audit(self, c, actor, app: str, batch: dict, action: str, run_id: int, detail: dict) -> None:
        entity = self.loom.entity_tables(app, batch["results"]).entity
        self.loom.audit.record(c, actor, action, entity, None, None,
                               {"batch": batch["name"], "run": run_id, **detail})


def _filtered(loom, et, filters: list):
    """``SELECT`` of ``et``'s live rows that pass metadata ``filters`` (``{field, op, value}``)."""
    t = et.main
    joins: list = []
    lq = ListQuery(loom, et)
    where = [lq.condition(Filter(f["field"], f.get("op", "eq"), f.get("value")), joins, checked=False)
             for f in filters]
    base = t
    for alias, on in joins:
        base = base.outerjoin(alias, on)
    return select(t).select_from(base).where(t.c.deleted_at.is_(None), *where)


_plans: dict = {}


def _plan(entity, key_field: str) -> tuple[dict, list, dict]:
    """What a result of ``entity`` may set (column fields by name), must set (required ones but
    the run key) and starts from (defaults, None elsewhere); once per entity version."""
    key = (id(entity), key_field)
    plan = _plans.get(key)
    if plan is None or plan[0] is not entity:
        columns = {n: f for n, f in entity.fields.items() if f.storage == "column" and f.type != "computed"}
        required = [n for n, f in columns.items() if f.required and n != key_field]
        defaults = {n: coerce(f, f.spec["default"]) if "default" in f.spec else None for n, f in columns.items()}
        plan = _plans[key] = (entity, (columns, required, defaults))
    return plan[1]


def _stale(run, now: dt.datetime) -> bool:
    beat = run["heartbeat_at"]
    return beat is None or beat < now - dt.timedelta(seconds=LEASE)


def _limits(batch: dict) -> sandbox.Limits:
    config = batch.get("limits") or {}
    return sandbox.Limits.from_config(config, base=CHUNK_LIMITS) if config else CHUNK_LIMITS


def run_json(run: dict) -> dict:
    """A run as the API and the progress page show it."""
    out = {k: to_json(v) for k, v in run.items()}
    total = run["total"] or 0
    out["percent"] = 100 if run["state"] == "done" else (min(99, int(run["done"] * 100 / total)) if total else 0)
    out["stale"] = run["state"] in ACTIVE and _stale(run, clock.now())
    return out
