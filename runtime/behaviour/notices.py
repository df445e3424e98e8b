"""Notices ahead of a date: a schedule that warns N days before a record's date.

``schedules.yaml`` declares one with ``notify_before:`` (docs/behaviour.md, "Notices
ahead of a date"): a contract's owner hears 30 and 7 days before it ends, a licence's
keeper 60, 30 and 7 days before it expires. Each run reads the records whose ``when``
holds and whose date is still ahead (or today); a record ``d`` days away is owed the
notice of the smallest threshold ``N >= d``, so a run that comes late (or a record made
5 days before its date) sends the 7-day notice and not the 30-day one too.

Once per record, threshold and date is a row of ``loom_generated`` (generator: the
schedule's name, row key ``<N>d``, period: the date), inserted in the same transaction as
the notice: a second run, or a second scheduler, finds the key taken and sends nothing;
a contract prolonged to a new end date is owed its notices again.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from runtime import clock
from runtime.data import tables as platform
from runtime.data.evaluation import app_timezone
from runtime.data.related import load as load_related
from runtime.errors import LoomError, NotFound

from .timers import describe_error

log = logging.getLogger("loom.notices")

BATCH = 200
MAX_ERRORS = 50


class Notices:
    def __init__(self, loom):
        self.loom = loom

    def spec(self, app: str, name: str) -> dict:
        """The ``notify_before`` part of schedule ``name`` of a live app, or NotFound."""
        live = self.loom.live.get(app)
        if live is None:
            raise NotFound(f"no published app {app!r}")
        schedules = live.app.section("schedules").get("schedules", [])
        for spec in schedules:
            if spec["name"] == name and "notify_before" in spec:
                return spec["notify_before"]
        names = [s["name"] for s in schedules if "notify_before" in s]
        raise NotFound(f"{app} has no date notices {name!r}; notices: {', '.join(names) or 'none'}")

    def run(self, app: str, name: str, at: dt.datetime | dt.date | None = None) -> dict:
        """Send what schedule ``name`` owes on the day holding ``at`` (default: now).

        Returns counts: ``sent`` (notices written), ``existing`` (sent before), ``errors``.
        """
        spec = self.spec(app, name)
        live = self.loom.live[app].app
        if isinstance(at, dt.datetime) or at is None:
            day = (at or clock.now()).astimezone(app_timezone(live)).date()
        else:
            day = at
        days = sorted(spec["days"])
        horizon = day + dt.timedelta(days=days[-1])
        et = self.loom.entity_tables(app, spec["entity"])
        result = {"day": day.isoformat(), "sent": 0, "existing": 0, "errors": [], "failed": 0}
        for record in self._records(et, spec, day, horizon):
            when = _as_date(record.get(spec["field"]), app_timezone(live))
            left = (when - day).days
            threshold = next(n for n in days if left <= n)
            outcome = self._one(app, name, spec, et, record, when, left, threshold)
            if isinstance(outcome, dict):
                result["failed"] += 1
                if len(result["errors"]) < MAX_ERRORS:
                    result["errors"].append(outcome)
            else:
                result[outcome] += 1
        return result

    def _records(self, et, spec: dict, day: dt.date, horizon: dt.date):
        """The records whose date lies from ``day`` to ``horizon`` and whose ``when`` holds, by id."""
        t = et.main
        column = t.c[spec["field"]]
        window = [column >= day, column <= horizon]
        if et.entity.fields[spec["field"]].value_type == "datetime":  # the days' instants in the app's zone
            tz = app_timezone(self.loom.live[et.entity.app].app)
            window = [column >= dt.datetime.combine(day, dt.time(), tz),
                      column < dt.datetime.combine(horizon + dt.timedelta(days=1), dt.time(), tz)]
        last_id = 0
        while True:
            with self.loom.reader.connect() as c:
                rows = c.execute(select(t).where(t.c.deleted_at.is_(None), t.c.id > last_id, *window)
                                 .order_by(t.c.id).limit(BATCH)).mappings().all()
                if not rows:
                    return
                related = load_related(c, et, [r["id"] for r in rows])
                batch = []
                for row in rows:
                    values = self.loom.records.values(c, et, row, None, extra=related[row["id"]])
                    if "when" not in spec or self.loom.records.evaluate(c, et.entity, spec["when"], values):
                        batch.append(values)
            yield from batch
            last_id = rows[-1]["id"]

    def _one(self, app, name, spec, et, record, when: dt.date, left: int, threshold: int):
        key = {"app": app, "generator": name, "source_id": record["id"], "row_key": f"{threshold}d",
               "period": when.isoformat()}
        try:
            with self.loom.engine.begin() as c:
                insert = pg_insert if c.dialect.name == "postgresql" else sqlite_insert
                g = platform.generated
                stmt = insert(g).values(**key, entity=et.entity.name, record_id=record["id"],
                                        created_at=clock.now()).on_conflict_do_nothing()
                if c.execute(stmt.returning(g.c.id)).first() is None:
                    return "existing"
                self.loom.notifier.send(c, app, spec["template"], entity=et.entity.name, record_id=record["id"],
                                        to=spec["to"], cc=spec.get("cc", []),
                                        context={"days_left": left, "days": threshold, "date": when.isoformat()})
            return "sent"
        except LoomError as exc:
            log.warning("notices %s.%s: %s %s: %s", app, name, et.entity.name, record.get("number"), exc)
            return {"record": record.get("number") or record["id"], "days": threshold, "error": describe_error(exc)}


def _as_date(value, tz) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(tz).date() if value.tzinfo else value.date()
    return value
