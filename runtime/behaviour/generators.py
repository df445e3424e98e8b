"""Record generators: a schedule that makes records from templates, once per period.

``schedules.yaml`` declares one with ``generate:`` instead of ``script:`` (docs/behaviour.md,
"Record generators"). Each run looks at the period that holds the run's day (plus
``ahead``) for every source record whose ``when`` holds, and for each row of its
``rows`` table when it names one. The period is clipped to the validity window
(``valid_from``/``valid_to``); a period wholly outside it makes nothing.

Once per period is a row of ``loom_generated`` keyed by (app, generator, source record,
table row, period), inserted in the same transaction as the record it stands for: the
insert that finds the key taken makes nothing, however many runs (or schedulers, or a
``loom generate`` by hand) race. Each record is its own transaction, created through the
record service as the system (validation, hooks, routing, audit apply): a template that
fails is reported with its error and the others go on.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from metamodel.periods import PERIODICITIES, period_of
from runtime import clock
from runtime.data import tables as platform
from runtime.data.evaluation import app_timezone
from runtime.data.records import SYSTEM, _jsonish
from runtime.data.related import load as load_related
from runtime.errors import LoomError, NotFound

from .timers import describe_error

log = logging.getLogger("loom.generators")

BATCH = 200  # source records read at a time
MAX_ERRORS = 50  # errors a run reports in full (the count is always there)


class Generators:
    def __init__(self, loom):
        self.loom = loom

    def spec(self, app: str, name: str) -> dict:
        """The ``generate`` part of schedule ``name`` of a live app, or NotFound."""
        live = self.loom.live.get(app)
        if live is None:
            raise NotFound(f"no published app {app!r}")
        for spec in live.app.section("schedules").get("schedules", []):
            if spec["name"] == name and "generate" in spec:
                return spec["generate"]
        names = [s["name"] for s in live.app.section("schedules").get("schedules", []) if "generate" in s]
        raise NotFound(f"{app} has no generator {name!r}; generators: {', '.join(names) or 'none'}")

    def run(self, app: str, name: str, at: dt.datetime | dt.date | None = None) -> dict:
        """Make what generator ``name`` owes for the period holding ``at`` (default: now).

        Returns counts: ``created``, ``existing`` (made before), ``outside`` (outside the
        validity window), ``no_period`` (an empty periodicity field), and ``errors``.
        """
        gen = self.spec(app, name)
        live = self.loom.live[app].app
        if isinstance(at, dt.datetime) or at is None:
            day = (at or clock.now()).astimezone(app_timezone(live)).date()
        else:
            day = at
        day += dt.timedelta(days=_ahead_days(gen.get("ahead")))
        source = self.loom.entity_tables(*_owned(app, gen["source"]))
        result = {"day": day.isoformat(), "created": 0, "existing": 0, "outside": 0, "no_period": 0,
                  "errors": [], "failed": 0}
        for template in self._templates(source, gen):
            rows = (template.get(gen["rows"]) or []) if gen.get("rows") else [None]
            for row in rows:
                outcome = self._one(app, name, gen, source.entity, template, row, day)
                if isinstance(outcome, dict):
                    result["failed"] += 1
                    if len(result["errors"]) < MAX_ERRORS:
                        result["errors"].append(outcome)
                else:
                    result[outcome] += 1
        return result

    def _templates(self, source, gen: dict):
        """The source records whose ``when`` holds, with their tables, in batches by id."""
        t = source.main
        last = 0
        while True:
            with self.loom.reader.connect() as c:
                rows = c.execute(select(t).where(t.c.deleted_at.is_(None), t.c.id > last)
                                 .order_by(t.c.id).limit(BATCH)).mappings().all()
                if not rows:
                    return
                related = load_related(c, source, [r["id"] for r in rows])
                batch = []
                for row in rows:
                    values = self.loom.records.values(c, source, row, None, extra=related[row["id"]])
                    if "when" not in gen or self.loom.records.evaluate(c, source.entity, gen["when"], values):
                        batch.append(values)
            yield from batch
            last = rows[-1]["id"]

    def _one(self, app: str, name: str, gen: dict, source, template: dict, row: dict | None, day: dt.date):
        """Make one template's record for its period: an outcome name, or an error dict."""
        values = {**template, "row": dict(row or {})}
        every = gen["every"]
        if isinstance(every, dict):
            head, _, column = every["field"].partition(".")
            every = (row or {}).get(column) if head == "row" and column else template.get(every["field"])
            if every not in PERIODICITIES:
                return "no_period"
        start, end = period_of(day, every)
        target_ref = gen["target"]  # "entity", or "other_app.entity" of an app this one depends on
        key = {"app": app, "generator": name, "source_id": template["id"],
               "row_key": str(row["id"]) if row is not None else "", "period": start.isoformat()}
        try:
            with self.loom.engine.begin() as c:
                first, last = self._window(c, gen, source, values, start, end, app)
                if first > last:
                    return "outside"
                owner, name_ = _owned(app, target_ref)
                target = self.loom.entity_tables(owner, name_).entity
                if not self._claim(c, key, target.name):
                    return "existing"
                scope = {**values, "period_start": first, "period_end": last}
                data = {field: _jsonish(self.loom.workflow._settable(
                    target, field, self.loom.records.evaluate(c, source, str(expr), scope)))
                    for field, expr in gen["set"].items()}
                record = self.loom.records.create(owner, target.name, data, actor=SYSTEM, conn=c)
                g = platform.generated
                c.execute(update(g).where(*(g.c[k] == v for k, v in key.items())).values(record_id=record["id"]))
            return "created"
        except LoomError as exc:
            log.warning("generator %s.%s: %s %s: %s", app, name, source.name, template.get("number"), exc)
            return {"source": template.get("number") or template["id"], "row": key["row_key"] or None,
                    "period": key["period"], "error": describe_error(exc)}
        finally:
            self.loom.hooks.flush()

    def _window(self, c, gen: dict, source, values: dict, start: dt.date, end: dt.date, app: str):
        """The period clipped to the validity window: (first day, last day); first > last when outside."""
        tz = app_timezone(self.loom.live[app].app)
        for key, pick in (("valid_from", max), ("valid_to", min)):
            if key not in gen:
                continue
            bound = _as_date(self.loom.records.evaluate(c, source, gen[key], values), tz)
            if bound is None:
                continue
            if key == "valid_from":
                start = pick(start, bound)
            else:
                end = pick(end, bound)
        return start, end

    def _claim(self, c, key: dict, entity: str) -> bool:
        """Insert the period's row; False when another run made it already."""
        g = platform.generated
        insert = pg_insert if c.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(g).values(**key, entity=entity, created_at=clock.now()).on_conflict_do_nothing()
        return c.execute(stmt.returning(g.c.id)).first() is not None


def _owned(app: str, ref: str) -> tuple[str, str]:
    """(app, entity) of an entity reference: ``name`` of this app or ``other_app.name``."""
    owner, _, name = ref.rpartition(".")
    return owner or app, name


def _ahead_days(text: str | None) -> int:
    if not text:
        return 0
    return int(re.match(r"\s*(\d+)", text).group(1))


def _as_date(value, tz) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(tz).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date) or value is None:
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise LoomError(f"a validity bound must be a date, got {value!r}") from None
