"""The scheduler: once a second, hand due timers, cron slots and e-mails to whoever runs them.

With Redis (``loom scheduler`` + ``loom worker``) a tick only enqueues jobs;
without it (``loom run``) the embedded runner thread does the work itself.
Any number of schedulers may tick at once: a timer fires exactly once (its
own transaction decides, :mod:`runtime.timers`) and a cron slot runs once
(the first scheduler to insert its ``loom_schedule_run`` row owns it).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from runtime import clock
from runtime.data import tables as platform
from runtime.extension.platform import Platform

from .timers import PENDING, describe_error

log = logging.getLogger("loom.scheduler")

#: Seconds a timer handed to a worker stays its own; after that a tick hands it out again
#: (its worker died: RQ does not retry the job of a killed worker).
LEASE_SECONDS = 60
#: How old the first slot of a schedule that has never run may be and still run: a schedule
#: published (or a fresh instance started) after its slot does not run it late.
NEW_SCHEDULE_GRACE = dt.timedelta(minutes=1)
BATCH = 500
#: The app name under which plugins' periodic jobs claim their slots in ``loom_schedule_run``.
PERIODIC = "@plugins"


DIGEST_JOB = "notification_digest"
PLATFORM = "@platform"  # the platform's own daily jobs, claimed beside the apps' cron slots


class Scheduler:
    def __init__(self, loom, *, lease: float = LEASE_SECONDS, batch: int = BATCH):
        self.loom = loom
        self.lease = dt.timedelta(seconds=lease)
        self.batch = batch
        self._seen: dict[tuple[str, str], dt.datetime] = {}  # (app, schedule) -> latest slot handled
        self._broken: set[tuple] = set()  # schedules whose cron or timezone was reported once
        self._outbox_job = None

    def tick(self, now: dt.datetime | None = None) -> dict:
        """One round: due timers, cron slots, the e-mail outbox; returns what was handed out."""
        now = now or clock.now()
        self.loom.refresh_if_stale()
        return {"timers": self.timers(now), "schedules": self.schedules(now),
                "periodic": self.periodic(now) + self.digests(now), "outbox": self.outbox(now),
                "batches": self.batches(now)}

    def digests(self, now: dt.datetime) -> int:
        """Start the daily notification digest once a day (:mod:`runtime.behaviour.personal`),
        its slot claimed like a cron slot so two schedulers start it once; a day when nobody is
        owed a digest claims nothing."""
        slot = self.loom.personal.digest_slot(now)
        key = (PLATFORM, DIGEST_JOB)
        if slot is None or slot == self._seen.get(key) or not self.loom.personal.digests_owed():
            return 0
        self._seen[key] = slot
        if not self._claim(key, slot, now):
            return 0
        if self.loom.redis_url is None:
            self.loom.personal.send_digests()
        else:
            self.loom.jobs.enqueue(DIGEST_JOB)
        return 1

    def batches(self, now: dt.datetime) -> int:
        """Hand out again the batch runs whose worker died (no chunk committed for a lease):
        they go on from their last committed chunk (:mod:`runtime.behaviour.batches`)."""
        ids = self.loom.batches.stale(now)
        for run_id in ids:
            self.loom.jobs.enqueue("batch_run", run_id)
        return len(ids)

    def run_forever(self, interval: float = 1.0, stop_event: threading.Event | None = None) -> None:
        """Tick every ``interval`` seconds until ``stop_event`` is set; a failed tick is logged, not fatal."""
        stop_event = stop_event or threading.Event()
        while not stop_event.is_set():
            started = time.monotonic()
            try:
                done = self.tick()
                if any(done.values()):
                    log.info("tick: %s", done)
            except Exception:  # noqa: BLE001 - the database may be away for a moment; try again
                log.exception("scheduler tick failed")
            stop_event.wait(max(0.0, interval - (time.monotonic() - started)))

    # ------------------------------------------------------------------ timers
    def timers(self, now: dt.datetime) -> int:
        """Fire due timers here, or enqueue them for workers; returns how many."""
        if self.loom.redis_url is None:
            return self.loom.timers.fire_due(now, self.batch)
        total = 0
        while True:
            ids = self._lease_due(now)
            for timer_id in ids:
                self.loom.jobs.enqueue("fire_timer", timer_id)
            total += len(ids)
            if len(ids) < self.batch:
                return total

    def _lease_due(self, now: dt.datetime) -> list[int]:
        """Mark due timers that no worker holds as handed out now; return their ids.

        The UPDATE re-checks the lease, so of two schedulers racing for the same
        rows each gets its own (on PostgreSQL the second waits for the first's
        row locks and then sees them taken).
        """
        t = platform.timer
        free = or_(t.c.enqueued_at.is_(None), t.c.enqueued_at < now - self.lease)
        with self.loom.reader.connect() as conn:  # most ticks find nothing: take no write lock for that
            ids = conn.execute(select(t.c.id).where(t.c.state == PENDING, t.c.due_at <= now, free)
                               .order_by(t.c.due_at).limit(self.batch)).scalars().all()
        if not ids:
            return []
        with self.loom.engine.begin() as conn:
            return conn.execute(update(t).where(t.c.id.in_(ids), t.c.state == PENDING, free)
                                .values(enqueued_at=now).returning(t.c.id)).scalars().all()

    # ------------------------------------------------------------------ cron schedules
    def schedules(self, now: dt.datetime) -> int:
        """Claim and run (or enqueue) the current slot of every live app's schedules."""
        started = 0
        for app_name, live in list(self.loom.live.items()):
            default_tz = live.app.document.get("app", {}).get("timezone") or "UTC"
            for spec in live.app.section("schedules").get("schedules", []):
                key = (app_name, spec["name"])
                slot = self._latest_slot(key, spec, default_tz, now)
                if slot is None or slot == self._seen.get(key):
                    continue
                if slot > self._since(key, now) and self._claim(key, slot, now):
                    started += 1
                    if self.loom.redis_url is None:
                        self.run_slot(app_name, spec["name"], slot)
                    else:
                        self.loom.jobs.enqueue("run_schedule", app_name, spec["name"], slot.isoformat())
                self._seen[key] = slot
        return started

    def _latest_slot(self, key, spec: dict, default_tz: str, now: dt.datetime) -> dt.datetime | None:
        """The latest cron slot at or before ``now`` (UTC), the cron read in the schedule's time zone."""
        tz_name = spec.get("timezone") or default_tz
        try:
            local = now.astimezone(ZoneInfo(tz_name))
            # croniter's get_prev is strictly before its start: nudge so a slot equal to now counts.
            slot = croniter(spec["cron"], local + dt.timedelta(microseconds=1)).get_prev(dt.datetime)
        except Exception as exc:  # noqa: BLE001 - a bad cron or zone must not stop the other schedules
            if (key, spec["cron"], tz_name) not in self._broken:
                self._broken.add((key, spec["cron"], tz_name))
                log.error("schedule %s.%s: cannot evaluate cron %r in %s: %s", *key, spec["cron"], tz_name, exc)
            return None
        return slot.astimezone(dt.timezone.utc)

    def _since(self, key, now: dt.datetime) -> dt.datetime:
        """Slots after this instant are due: the last handled (or recorded) slot; for a
        schedule that has never run, the grace window before now."""
        if key in self._seen:
            return self._seen[key]
        r = platform.schedule_run
        with self.loom.reader.connect() as conn:
            last = conn.execute(select(func.max(r.c.slot)).where(r.c.app == key[0], r.c.schedule == key[1])).scalar()
        # One missed slot (the latest) still runs after downtime; older ones are not replayed.
        return last if last is not None else now - NEW_SCHEDULE_GRACE

    def _claim(self, key, slot: dt.datetime, now: dt.datetime) -> bool:
        r = platform.schedule_run
        with self.loom.engine.begin() as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            stmt = insert(r).values(app=key[0], schedule=key[1], slot=slot, started_at=now)
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
            return conn.execute(stmt.on_conflict_do_nothing().returning(r.c.app)).first() is not None

    def run_slot(self, app: str, schedule: str, slot: dt.datetime) -> str:
        """Run a claimed slot's script, generator or date notices and record how it went: ``ok``, ``error`` or ``skipped``
        (a generator whose templates failed is ``error``, its result naming each).

        A slot runs at most once: a worker that dies here leaves the row without
        ``finished_at``, which is how a lost run shows.
        """
        live = self.loom.live.get(app)
        spec = next((s for s in live.app.section("schedules").get("schedules", []) if s["name"] == schedule),
                    None) if live else None
        if spec is None:
            outcome, result = "skipped", {"reason": "the schedule is gone: a newer version of the app removed it"}
        else:
            try:
                if "generate" in spec or "notify_before" in spec:
                    runner = self.loom.generators if "generate" in spec else self.loom.notices
                    result = runner.run(app, schedule, slot)
                    outcome = "error" if result["failed"] else "ok"
                else:
                    outcome, result = "ok", self._run_script(app, spec)
            except Exception as exc:  # noqa: BLE001 - recorded on the slot; the next slot runs anyway
                log.warning("schedule %s.%s at %s failed: %s", app, schedule, slot, exc)
                outcome, result = "error", {"error": describe_error(exc)}
        r = platform.schedule_run
        with self.loom.engine.begin() as conn:
            conn.execute(update(r).where(r.c.app == app, r.c.schedule == schedule, r.c.slot == slot)
                         .values(finished_at=clock.now(), outcome=outcome, result=result))
        return outcome

    def _run_script(self, app: str, spec: dict) -> dict:
        """A schedule's script: in a job process under OS limits when this Loom has them
        (``runtime.core.isolation``), else right here."""
        limits = spec.get("limits")
        pool = getattr(self.loom, "isolation", None)
        if pool is None:
            return self.loom.hooks.run_scheduled(app, spec["script"], limits=limits)
        seconds = float((limits or {}).get("timeout", 2.0))
        return pool.call("run_scheduled", app, spec["script"], limits, seconds=seconds)

    # ------------------------------------------------------------------ plugins' periodic jobs
    def periodic(self, now: dt.datetime) -> int:
        """Start each plugin's periodic job once per period (``loom_periodic_jobs``): the period's
        slot is claimed like a cron slot, under the app name ``@plugins``."""
        started = 0
        for name, job in self.loom.plugins.periodic_jobs().items():
            every = max(1, int(job.every))
            slot = dt.datetime.fromtimestamp(int(now.timestamp()) // every * every, dt.timezone.utc)
            key = (PERIODIC, name[:60])
            if slot == self._seen.get(key):
                continue
            self._seen[key] = slot
            if job.wanted is not None and not job.wanted(Platform(self.loom)):
                continue
            if not self._claim(key, slot, now):
                continue
            started += 1
            if self.loom.redis_url is None:
                self._run_periodic(name, slot)
            else:
                self.loom.jobs.enqueue("run_periodic", name, slot.isoformat())
        return started

    def _run_periodic(self, name: str, slot: dt.datetime) -> str:
        try:
            handler = self.loom.plugins.job_handlers().get(name)
            if handler is None:
                raise LookupError(f"no job {name!r}: a periodic job must be one of the plugin's job handlers")
            result, outcome = handler(Platform(self.loom)), "ok"
            result = result if isinstance(result, dict) else {"result": str(result)}
        except Exception as exc:  # noqa: BLE001 - recorded on the slot; the next period runs anyway
            log.warning("periodic job %s at %s failed: %s", name, slot, exc)
            outcome, result = "error", {"error": describe_error(exc)}
        r = platform.schedule_run
        with self.loom.engine.begin() as conn:
            conn.execute(update(r).where(r.c.app == PERIODIC, r.c.schedule == name[:60], r.c.slot == slot)
                         .values(finished_at=clock.now(), outcome=outcome, result=result))
        return outcome

    # ------------------------------------------------------------------ e-mail
    def outbox(self, now: dt.datetime):
        """Deliver queued messages here, or enqueue one delivery job when there are some."""
        ready = self.loom.notifier.ready_channels()
        if not ready or not self._outbox_waiting(now, ready):  # nothing due on a channel that is set up
            return 0
        if self.loom.redis_url is None:
            return self.loom.notifier.deliver_pending()
        if self._outbox_busy():
            return 0
        self._outbox_job = self.loom.jobs.enqueue("deliver_outbox")
        return 1

    def _outbox_waiting(self, now: dt.datetime, channels: list[str]) -> bool:
        # The rows Notifier.deliver takes: pending and not waiting for a retry, or sending
        # with an expired lease (its sender died).
        o = platform.outbox
        due = or_(and_(o.c.state == "pending", or_(o.c.lease_until.is_(None), o.c.lease_until <= now)),
                  and_(o.c.state == "sending", o.c.lease_until < now))
        with self.loom.reader.connect() as conn:
            return conn.execute(select(o.c.id).where(due, o.c.channel.in_(channels)).limit(1)).first() is not None

    def _outbox_busy(self) -> bool:
        """Our last delivery job is still queued or running (one at a time per scheduler is plenty)."""
        job = self._outbox_job
        if job is None:
            return False
        from rq.exceptions import InvalidJobOperation
        try:
            status = job.get_status(refresh=True)
        except InvalidJobOperation:  # gone: finished jobs are deleted at once (result_ttl=0)
            return False
        return status in ("queued", "started")  # JobStatus is a str enum


class EmbeddedRunner(threading.Thread):
    """``loom run`` without Redis: a daemon thread ticking a :class:`Scheduler`."""

    def __init__(self, loom, interval: float = 1.0):
        super().__init__(name="loom-scheduler", daemon=True)
        self.scheduler = Scheduler(loom)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        self.scheduler.run_forever(self.interval, self.stopped)

    def stop(self, timeout: float | None = 5.0) -> None:
        self.stopped.set()
        self.join(timeout)


def start_embedded_thread(loom, interval: float = 1.0) -> EmbeddedRunner:
    runner = EmbeddedRunner(loom, interval)
    runner.start()
    return runner
