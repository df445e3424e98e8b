"""Reports: aggregate queries over one entity, defined in an app's ``reports.yaml``,
and record lists (``kind: list``, a dashboard widget such as "overdue requests").

A report counts records, or sums/averages a number field, grouped by one or
two fields (a link groups by the linked record, a date or datetime by day,
week or month), gives per-user figures (``kpi``: total, open, overdue,
done, done on time), or the SLA compliance of the entity's targets from
``loom_sla`` (``sla``: per target and group, see :class:`SlaFigures`). Filters use the list views' language
(:class:`runtime.query.Filter`, built by :meth:`ListQuery.condition`), and
every query goes through :meth:`Permissions.restrict`, so a report counts
exactly the rows its viewer could list; grouping or measuring a field hidden
from the viewer is refused, as filtering by it would be.

The result holds raw keys (ids, choice values, ``YYYY-MM-DD`` bucket
starts); the UI turns them into titles. A record list is a :class:`ListQuery`
page like a list view's: row rules narrow it, hidden fields are left out of
its columns, and its filters may use relative times (``due_at < now``).

A statistics report (``kind: stats``) gives several named measures per group of up to three
fields (an office, a service and a day): counts, sums, averages, minima, maxima, medians and
percentiles of number fields, each over all the group's records or over those matching the
measure's own ``where`` ("no-shows": the count of missed tickets). Percentiles are computed
in SQL on both backends, with window functions (the rows of each group numbered in the
measure's order) and the same interpolation as PostgreSQL's ``percentile_cont``.
"""
from __future__ import annotations

import decimal
import statistics
from dataclasses import dataclass, field

from sqlalchemy import and_, case, cast, func, literal_column, or_, select, true
from sqlalchemy.types import DateTime

from metamodel import Field
from runtime import clock
from runtime.errors import NotFound

from . import tables as platform
from .query import SYSTEM_FIELDS, BadQuery, Filter, ListQuery

KPI_METRICS = ("total", "open", "overdue", "done", "done_on_time")
STATS_FUNCTIONS = ("count", "sum", "avg", "min", "max", "median", "percentile")
SLA_FIGURES = ("total", "met", "breached", "in_progress", "compliance")
PERIODS = ("day", "week", "month")


@dataclass
class Axis:
    name: str  # the group_by path as written: ``status``, ``organization``, ``module.department``
    field: Field
    period: str | None = None  # day/week/month for date and datetime fields


@dataclass
class SlaFigures:
    """The SLA targets of one group: every target is met (stopped in time), breached (stopped
    late, or running past its deadline) or in progress (running or paused, not yet late)."""
    total: int = 0
    met: int = 0
    breached: int = 0

    @property
    def in_progress(self) -> int:
        return self.total - self.met - self.breached

    @property
    def compliance(self) -> decimal.Decimal | None:
        """Met as a percentage of the targets already decided (met or breached), or None."""
        decided = self.met + self.breached
        if not decided:
            return None
        return (decimal.Decimal(100 * self.met) / decided).quantize(decimal.Decimal("0.1"))

    def add(self, other: "SlaFigures") -> None:
        self.total += other.total
        self.met += other.met
        self.breached += other.breached


@dataclass
class Result:
    report: dict
    entity: object
    kind: str
    fn: str  # count, sum, avg (kpi: count)
    axes: list[Axis]
    row_keys: list = field(default_factory=list)
    # The second group_by's keys, [None] for one series, the KPI metrics, or (sla) the SLA targets.
    col_keys: list = field(default_factory=list)
    cells: dict = field(default_factory=dict)  # (row key, col key) -> number (sla: SlaFigures; row keys are tuples)
    row_totals: dict = field(default_factory=dict)
    col_totals: dict = field(default_factory=dict)
    total: object = None


@dataclass
class RecordList:
    """The first ``limit`` records of a list report that the viewer may read, and how many there are."""
    report: dict
    entity: object
    columns: list[str]  # the report's columns without those hidden from the viewer
    items: list
    count: int
    count_exact: bool
    kind: str = "list"


LIST_LIMIT = 10


@dataclass
class Stats:
    """A statistics report: per group (a tuple of raw keys, one per ``group_by``) the value of
    each measure by name, and the same over all the records (``total``)."""
    report: dict
    entity: object
    axes: list[Axis]
    measures: list[dict]
    rows: list = field(default_factory=list)  # [(keys tuple, {measure: value})]
    total: dict = field(default_factory=dict)
    kind: str = "stats"


def reports_of(loom, app: str) -> list[dict]:
    live = loom.live.get(app)
    if live is None:
        raise NotFound(f"no published app {app!r}")
    return list(live.app.section("reports").get("reports", []))


def find_report(loom, app: str, name: str) -> dict:
    for report in reports_of(loom, app):
        if report["name"] == name:
            return report
    raise NotFound(f"app {app!r} has no report {name!r}")


def entity_tables_of(loom, app: str, report: dict):
    owner, _, name = report["entity"].rpartition(".")
    return loom.entity_tables(owner or app, name)


def bucket(col, period: str, value_type: str, dialect: str):
    """The start of ``col``'s day, week (Monday) or month as ``YYYY-MM-DD`` text: the one
    place where the backends differ. Datetimes are bucketed in UTC, as they are stored.

    The formats are literal SQL, not bind parameters, so the expression in SELECT and
    GROUP BY is textually the same (PostgreSQL compares them as text).
    """
    if period not in PERIODS:
        raise BadQuery(f"unknown period {period!r}; use day, week or month")
    if dialect == "sqlite":  # dates are 'YYYY-MM-DD...' text
        if period == "day":
            return func.strftime(literal_column("'%Y-%m-%d'"), col)
        if period == "month":
            return func.strftime(literal_column("'%Y-%m-01'"), col)
        return func.date(col, literal_column("'-6 days'"), literal_column("'weekday 1'"))
    stamp = func.timezone(literal_column("'UTC'"), col) if value_type == "datetime" else cast(col, DateTime())
    return func.to_char(func.date_trunc(literal_column(f"'{period}'"), stamp), literal_column("'YYYY-MM-DD'"))


def run_report(loom, app: str, report: dict, actor, conn=None) -> Result | RecordList:
    """Run ``report`` of ``app`` as ``actor`` (row rules and hidden fields apply)."""
    if conn is None:
        with loom.reader.connect() as c:
            return run_report(loom, app, report, actor, c)
    if report.get("kind") == "list":
        return _run_list(loom, app, report, actor, conn)
    if report.get("kind") == "stats":
        return run_stats(loom, app, report, actor, conn)
    if report.get("kind") == "time_in_status":
        return run_time_in_status(loom, app, report, actor, conn)
    et, lq, joins, where = _start(loom, app, report, actor)
    entity, t = et.entity, et.main
    kind = report.get("kind", "group")
    measure = report.get("measure") or {"fn": "count"}
    fn = "count" if kind == "kpi" else measure["fn"]
    names = [report.get("user_field", "assignee")] if kind == "kpi" else list(report.get("group_by", []))
    axes, keys = _axes(lq, report, names if kind != "count" else [], joins, actor, conn.dialect.name)

    if kind == "sla":
        return _run_sla(loom, conn, et, report, actor, axes, keys, joins, where)
    if kind == "kpi":
        values = _kpi_columns(lq, report, joins, actor)
    elif fn == "count" and not measure.get("field"):
        values = [func.count().label("s"), func.count().label("n")]
    else:
        col, f = lq.column_and_field(measure["field"], joins, actor)
        if fn != "count" and f.value_type not in ("integer", "decimal", "money"):
            raise BadQuery(f"{measure['field']!r} is not a number field, so it cannot be summed or averaged")
        values = [(func.count(col) if fn == "count" else func.sum(col)).label("s"), func.count(col).label("n")]

    base = t
    for alias, on in joins:
        base = base.outerjoin(alias, on)
    query = select(*[k.label(f"g{i}") for i, k in enumerate(keys)], *values).select_from(base).where(*where)
    if keys:
        query = query.group_by(*keys)
    query = loom.permissions.restrict(query, et, actor)
    rows = conn.execute(query).mappings().all()
    result = Result(report, entity, kind, fn, axes)
    if kind == "kpi":
        _shape_kpi(result, rows, [c.name for c in values])
    else:
        _shape(result, rows, report)
    return result


def run_stats(loom, app: str, report: dict, actor, conn, filters=()) -> Stats:
    """Run a ``kind: stats`` report as ``actor``; ``filters`` (:class:`Filter`) narrow it further
    (an API caller's ``?office=3``)."""
    et, lq, joins, where = _start(loom, app, report, actor, filters)
    entity, t = et.entity, et.main
    axes, keys = _axes(lq, report, report.get("group_by", []), joins, actor, conn.dialect.name)
    measures = list(report.get("measures") or [{"name": "count", "fn": "count"}])
    values = {}  # measure name -> the value each row contributes (None: not counted)
    for m in measures:
        cond = and_(*[lq.condition(Filter(f["field"], f.get("op", "eq"), f.get("value")), joins, actor)
                      for f in m.get("where", [])]) if m.get("where") else None
        if m.get("field"):
            col, f = lq.column_and_field(m["field"], joins, actor)
            if m["fn"] != "count" and f.value_type not in ("integer", "decimal", "money"):
                raise BadQuery(f"measure {m['name']!r}: {m['field']!r} is not a number field")
        else:
            col = literal_column("1")
        values[m["name"]] = case((cond, col), else_=None) if cond is not None else col
    base = t
    for alias, on in joins:
        base = base.outerjoin(alias, on)
    groups = [k.label(f"g{i}") for i, k in enumerate(keys)]
    inner_cols = list(groups) + [v.label(f"v{i}") for i, v in enumerate(values.values())]
    ranked = [i for i, m in enumerate(measures) if m["fn"] in ("median", "percentile")]
    for i in ranked:
        v = values[measures[i]["name"]]
        inner_cols.append(func.row_number().over(partition_by=keys or None,
                                                 order_by=[case((v.is_(None), 1), else_=0), v]).label(f"r{i}"))
        inner_cols.append(func.count(v).over(partition_by=keys or None).label(f"c{i}"))
    inner = loom.permissions.restrict(select(*inner_cols).select_from(base).where(*where), et, actor).subquery()
    result = Stats(report, entity, axes, measures)
    for grouped in ((True, False) if keys else (False,)):
        outer = [inner.c[f"g{i}"] for i in range(len(keys))] if grouped else []
        cols = list(outer)
        for i, m in enumerate(measures):
            if m["fn"] in ("median", "percentile"):
                if grouped or not keys:  # without groups the window already spans everything
                    cols += _percentile_columns(inner, i, _share(m))
                continue
            cols.append({"count": func.count, "sum": func.sum, "avg": func.avg, "min": func.min,
                         "max": func.max}[m["fn"]](inner.c[f"v{i}"]).label(f"m{i}"))
        query = select(*cols).select_from(inner)
        if outer:
            query = query.group_by(*outer)
        for r in conn.execute(query).mappings():
            figures = {m["name"]: _stat(m, r, i) for i, m in enumerate(measures) if f"m{i}" in r or f"lo{i}" in r}
            if grouped:
                result.rows.append((tuple(r[f"g{i}"] for i in range(len(keys))), figures))
            else:
                result.total = figures
    if ranked and keys:  # over all the records: numbered once more, without the groups
        result.total.update(_overall_percentiles(loom, conn, et, actor, base, where, measures, values, ranked))
    result.rows.sort(key=lambda row: [_order_key(k) for k in row[0]])
    return result


# The figures of a time-in-status report, per status (and group): stays, and hours per stay.
TIME_IN_STATUS_MEASURES = (
    {"name": "stays", "fn": "count", "title": {"ru": "Пребываний", "en": "Stays"}},
    {"name": "avg_hours", "fn": "avg", "title": {"ru": "В среднем, ч", "en": "Average, h"}},
    {"name": "median_hours", "fn": "median", "title": {"ru": "Медиана, ч", "en": "Median, h"}},
    {"name": "max_hours", "fn": "max", "title": {"ru": "Дольше всего, ч", "en": "Longest, h"}},
    {"name": "total_hours", "fn": "sum", "title": {"ru": "Всего, ч", "en": "Total, h"}},
)


def run_time_in_status(loom, app: str, report: dict, actor, conn, filters=()) -> Stats:
    """Run a ``kind: time_in_status`` report: how long the records the viewer may read stayed in
    each status, from the status history. A stay runs from entering a status to leaving it; the
    stay a record is in now runs until now. Hours are wall-clock, or working hours of the
    report's ``calendar`` (sla.yaml). Per status (and per ``group_by`` of the record as it is
    now): the stays, their average, median, longest and total hours."""
    et, lq, joins, where = _start(loom, app, report, actor, filters)
    entity, t = et.entity, et.main
    axes, keys = _axes(lq, report, report.get("group_by", []), joins, actor, conn.dialect.name)
    axes.append(Axis("status", lq.column_and_field("status", joins, actor)[1]))
    base = t
    for alias, on in joins:
        base = base.outerjoin(alias, on)
    records = loom.permissions.restrict(
        select(t.c.id, t.c.status, t.c.created_at, *[k.label(f"g{i}") for i, k in enumerate(keys)])
        .select_from(base).where(*where), et, actor).subquery()
    h = platform.status_history
    # a record's history rows in order; a record never moved has none (creation is not written there)
    query = (select(records, h.c.from_status, h.c.to_status, h.c.at)
             .outerjoin(h, and_(h.c.record_id == records.c.id, h.c.app == entity.app, h.c.entity == entity.name))
             .order_by(records.c.id, h.c.id))
    calendar = loom.behaviour.calendar(entity.app, report["calendar"]) if report.get("calendar") else None
    wanted = report.get("statuses") or [s["name"] for s in entity.statuses]
    now = clock.now()
    stays: dict[tuple, list[float]] = {}

    def stay(group: tuple, status, since, until) -> None:
        if status not in wanted:
            return
        seconds = calendar.between(since, until) if calendar is not None else (until - since).total_seconds()
        stays.setdefault(group + (status,), []).append(max(seconds, 0) / 3600)

    record = None  # (id, group, current status), the status it is in and since when
    for row in conn.execute(query).mappings():
        if record is None or record[0] != row["id"]:
            if record is not None and state[0] == record[2]:
                stay(record[1], state[0], state[1], now)  # the stay it is in now runs until now
            record = (row["id"], tuple(row[f"g{i}"] for i in range(len(keys))), row["status"])
            state = (row["from_status"] if row["at"] is not None else row["status"], row["created_at"])
        if row["at"] is not None:
            stay(record[1], state[0], state[1], row["at"])
            state = (row["to_status"], row["at"])
    if record is not None and state[0] == record[2]:
        stay(record[1], state[0], state[1], now)

    result = Stats(report, entity, axes, list(TIME_IN_STATUS_MEASURES), kind="time_in_status")
    order = {name: i for i, name in enumerate(wanted)}
    for key in sorted(stays, key=lambda k: ([_order_key(x) for x in k[:-1]], order[k[-1]])):
        hours = sorted(stays[key])
        result.rows.append((key, {"stays": len(hours), "avg_hours": _hours(sum(hours) / len(hours)),
                                  "median_hours": _hours(statistics.median(hours)), "max_hours": _hours(hours[-1]),
                                  "total_hours": _hours(sum(hours))}))
    return result


def _hours(value: float) -> decimal.Decimal:
    return decimal.Decimal(str(round(value, 2)))


def _share(measure: dict) -> int:
    """The percentile a measure asks for, in whole percent."""
    return 50 if measure["fn"] == "median" else int(measure.get("p", 90))


def _percentile_columns(inner, i: int, p: int) -> list:
    """The two rows a percentile lies between and how far (``percentile_cont``): positions are
    ``(count - 1) * p / 100`` from 0, in integer arithmetic, so both backends agree."""
    r, c, v = inner.c[f"r{i}"], inner.c[f"c{i}"], inner.c[f"v{i}"]
    lo = (c - 1) * p // 100  # integer division, in SQLite and PostgreSQL alike
    rest = (c - 1) * p % 100
    return [func.max(case((r == lo + 1, v), else_=None)).label(f"lo{i}"),
            func.max(case((r == lo + 2, v), else_=None)).label(f"hi{i}"),
            func.max(rest).label(f"rest{i}")]


def _overall_percentiles(loom, conn, et, actor, base, where, measures, values, ranked) -> dict:
    cols = []
    for i in ranked:
        v = values[measures[i]["name"]]
        cols += [v.label(f"v{i}"), func.row_number().over(order_by=[case((v.is_(None), 1), else_=0), v]).label(f"r{i}"),
                 func.count(v).over().label(f"c{i}")]
    inner = loom.permissions.restrict(select(*cols).select_from(base).where(*where), et, actor).subquery()
    row = conn.execute(select(*[c for i in ranked for c in _percentile_columns(inner, i, _share(measures[i]))])
                       .select_from(inner)).mappings().first() or {}
    return {measures[i]["name"]: _stat(measures[i], row, i) for i in ranked}


def _stat(measure: dict, row, i: int):
    """A measure's value from its columns: a count as an int, anything else as a Decimal (two
    places for averages and percentiles), ``None`` where there was nothing to measure."""
    if measure["fn"] in ("median", "percentile"):
        lo, hi, rest = row.get(f"lo{i}"), row.get(f"hi{i}"), row.get(f"rest{i}") or 0
        if lo is None:
            return None
        lo = decimal.Decimal(str(lo))
        value = lo if not rest or hi is None else lo + (decimal.Decimal(str(hi)) - lo) * decimal.Decimal(rest) / 100
        return value.quantize(decimal.Decimal("0.01"))
    value = row.get(f"m{i}")
    if measure["fn"] == "count":
        return int(value or 0)
    if value is None:
        return None
    if measure["fn"] == "avg":
        return decimal.Decimal(str(value)).quantize(decimal.Decimal("0.01"))
    return _number(decimal.Decimal(str(value)))


def result_json(result) -> dict:
    """A report's figures as JSON for the API, with raw keys (ids, choice values, ``YYYY-MM-DD``
    bucket starts) and numbers as the record API gives them (decimals as text)."""
    report = result.report
    out = {"name": report["name"], "title": report.get("title"), "kind": result.kind, "entity": report["entity"]}
    names = [a.name for a in getattr(result, "axes", [])]
    if isinstance(result, Stats):
        out.update(group_by=names, period=report.get("period") if any(a.period for a in result.axes) else None,
                   measures=[{"name": m["name"], "fn": m["fn"], "title": m.get("title"), "field": m.get("field"),
                              **({"p": _share(m)} if m["fn"] in ("median", "percentile") else {})}
                             for m in result.measures],
                   rows=[{"group": dict(zip(names, keys)), "values": _plain(values)} for keys, values in result.rows],
                   total=_plain(result.total))
    elif isinstance(result, RecordList):
        out.update(columns=result.columns, count=result.count, count_exact=result.count_exact,
                   items=[{"id": r["id"], **{c: _plain_value(r.get(c)) for c in result.columns}} for r in result.items])
    elif result.kind == "sla":
        out.update(group_by=names, rows=[
            {"group": dict(zip(names, rk)), "target": target, "total": f.total, "met": f.met, "breached": f.breached,
             "in_progress": f.in_progress, "compliance": _plain_value(f.compliance)}
            for (rk, target), f in sorted(result.cells.items(), key=lambda kv: (kv[0][1], [_order_key(k) for k in kv[0][0]]))],
            total=result.total)
    else:
        out.update(group_by=names, fn=result.fn, rows=[
            {"group": {**({names[0]: rk} if names else {}), **({names[1]: ck} if len(names) > 1 else {})},
             **({"metric": ck} if result.kind == "kpi" else {}), "value": _plain_value(v)}
            for (rk, ck), v in result.cells.items()], total=_plain_value(result.total))
    return out


def _plain_value(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _plain(values: dict) -> dict:
    return {k: _plain_value(v) for k, v in values.items()}


def _start(loom, app: str, report: dict, actor, filters=()):
    """The report's entity (read permission checked), its query builder, the joins its paths
    need and the conditions: the report's filters (the app's own, unchecked), the caller's,
    and no deleted records."""
    et = entity_tables_of(loom, app, report)
    loom.permissions.require(actor, et.entity, "read")
    lq = ListQuery(loom, et)
    joins: list = []
    where = [lq.condition(Filter(f["field"], f.get("op", "eq"), f.get("value")), joins, actor, checked=False)
             for f in report.get("filters", [])]
    where += [lq.condition(f, joins, actor) for f in filters]
    where.append(et.main.c.deleted_at.is_(None))
    return et, lq, joins, where


def _axes(lq, report: dict, names, joins: list, actor, dialect: str) -> tuple[list[Axis], list]:
    """The grouping fields as axes and their key expressions (a date bucketed by ``period``)."""
    axes, keys = [], []
    for name in names:
        col, f = lq.column_and_field(name, joins, actor)
        period = None
        if f.value_type in ("date", "datetime"):
            period = report.get("period", "month")
            col = bucket(col, period, f.value_type, dialect)
        axes.append(Axis(name, f, period))
        keys.append(col)
    return axes, keys


def list_columns(entity, report: dict) -> list[str]:
    """A list report's columns: its own, or those of the entity's default list view."""
    names = report.get("columns") or entity.view().get("columns") or ["number", entity.title_field]
    return [n for n in names if n in entity.fields or n in SYSTEM_FIELDS]


def _run_list(loom, app: str, report: dict, actor, conn) -> RecordList:
    et = entity_tables_of(loom, app, report)
    loom.permissions.require(actor, et.entity, "read")
    hidden = loom.permissions.hidden(actor, et.entity)
    filters = [Filter(f["field"], f.get("op", "eq"), f.get("value")) for f in report.get("filters", [])]
    page = ListQuery(loom, et).run(conn, [], [], limit=report.get("limit", LIST_LIMIT), count="capped", actor=actor,
                                   view_filters=filters, view_sort=list(report.get("sort", [])))
    columns = [n for n in list_columns(et.entity, report) if n not in hidden]
    return RecordList(report, et.entity, columns, page.items, page.count or 0, page.count_exact)


def sla_targets(loom, entity) -> list[tuple[str, object]]:
    """(name, title) of every SLA target of ``entity``'s policies, in the order of ``sla.yaml``."""
    live = loom.live.get(entity.app)
    out: dict = {}
    for policy in loom.sla.policies(live.app, entity) if live else []:
        for target in policy.get("targets") or []:
            out.setdefault(target["name"], target.get("title", target["name"]))
    return list(out.items())


def _run_sla(loom, conn, et, report, actor, axes, keys, joins, where) -> Result:
    """Count the entity's ``loom_sla`` rows per target and group, over the records ``actor`` may read."""
    t, s = et.main, platform.sla
    targets = list(report.get("targets") or [name for name, _ in sla_targets(loom, et.entity)])
    late = and_(s.c.stopped_at.is_(None), s.c.due_at.is_not(None), s.c.due_at < clock.now())
    breached = or_(s.c.breached.is_(True), late)
    met = and_(s.c.stopped_at.is_not(None), s.c.breached.is_(False))
    base = t.join(s, and_(s.c.record_id == t.c.id, s.c.app == et.entity.app, s.c.entity == et.entity.name))
    for alias, on in joins:
        base = base.outerjoin(alias, on)
    query = (select(s.c.target.label("target"), *[k.label(f"g{i}") for i, k in enumerate(keys)],
                    func.count().label("total"), func.sum(case((met, 1), else_=0)).label("met"),
                    func.sum(case((breached, 1), else_=0)).label("breached"))
             .select_from(base).where(*where, s.c.target.in_(targets)).group_by(s.c.target, *keys))
    query = loom.permissions.restrict(query, et, actor)
    result = Result(report, et.entity, "sla", "count", axes, col_keys=targets)
    sizes: dict = {}
    for r in conn.execute(query).mappings():
        rk = tuple(r[f"g{i}"] for i in range(len(keys)))
        figures = SlaFigures(int(r["total"]), int(r["met"] or 0), int(r["breached"] or 0))
        result.cells[(rk, r["target"])] = figures
        result.col_totals.setdefault(r["target"], SlaFigures()).add(figures)
        sizes[rk] = sizes.get(rk, 0) + figures.total
    result.total = sum(sizes.values())
    if any(a.period for a in axes):
        result.row_keys = sorted(sizes, key=lambda k: [_order_key(x) for x in k])
    else:
        result.row_keys = sorted(sizes, key=lambda k: (-sizes[k], [_order_key(x) for x in k]))
        if report.get("limit"):
            result.row_keys = result.row_keys[:report["limit"]]
    return result


def _kpi_columns(lq, report, joins, actor) -> list:
    entity, t = lq.et.entity, lq.t
    done = [s["name"] for s in entity.statuses if s.get("category") == "done"]
    finished = done + [s["name"] for s in entity.statuses if s.get("category") == "cancelled"]
    is_open = or_(t.c.status.is_(None), t.c.status.not_in(finished)) if finished else true()
    is_done = t.c.status.in_(done) if done else None

    def count_if(cond):
        return func.sum(case((cond, 1), else_=0))

    cols = [func.count().label("total"), count_if(is_open).label("open")]
    if "due_field" in report:
        due, f = lq.column_and_field(report["due_field"], joins, actor)
        now = clock.relative("now" if f.value_type == "datetime" else "today", f.value_type, entity.timezone)
        cols.append(count_if(and_(is_open, due.is_not(None), due < now)).label("overdue"))
    if is_done is not None:
        cols.append(count_if(is_done).label("done"))
        if "due_field" in report and "done_field" in report:
            finished_at, _ = lq.column_and_field(report["done_field"], joins, actor)
            cols.append(count_if(and_(is_done, finished_at.is_not(None), due.is_not(None),
                                      finished_at <= due)).label("done_on_time"))
    return cols


def _number(value):
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value() and value.as_tuple().exponent >= 0:
        return int(value)
    return value


def _value(fn: str, s, n):
    if fn == "avg":
        if not n:
            return None
        return (decimal.Decimal(str(s)) / n).quantize(decimal.Decimal("0.01"))
    return _number(s) if s is not None else 0


def _order_key(k):
    return (k is None, k if k is not None else "")


def _shape(result: Result, rows, report: dict) -> None:
    fn, axes = result.fn, result.axes
    pairs, row_pairs, col_pairs, total = {}, {}, {}, [0, 0]

    def add(acc, key, s, n):
        cur = acc.setdefault(key, [0, 0])
        cur[0] += s or 0
        cur[1] += n or 0

    for r in rows:
        rk = r["g0"] if axes else None
        ck = r["g1"] if len(axes) > 1 else None
        add(pairs, (rk, ck), r["s"], r["n"])
        add(row_pairs, rk, r["s"], r["n"])
        add(col_pairs, ck, r["s"], r["n"])
        total[0] += r["s"] or 0
        total[1] += r["n"] or 0
    result.cells = {k: _value(fn, *v) for k, v in pairs.items()}
    result.row_totals = {k: _value(fn, *v) for k, v in row_pairs.items()}
    result.col_totals = {k: _value(fn, *v) for k, v in col_pairs.items()}
    result.total = _value(fn, *total)
    if axes and axes[0].period:  # a time line reads left to right
        result.row_keys = sorted(row_pairs, key=_order_key)
    else:
        result.row_keys = sorted(row_pairs, key=lambda k: (-(result.row_totals[k] or 0), _order_key(k)))
        if report.get("limit"):
            result.row_keys = result.row_keys[:report["limit"]]
    if len(axes) > 1:
        if axes[1].period:
            result.col_keys = sorted(col_pairs, key=_order_key)
        else:
            result.col_keys = sorted(col_pairs, key=lambda k: (-(result.col_totals[k] or 0), _order_key(k)))
    else:
        result.col_keys = [None]


def _shape_kpi(result: Result, rows, metrics: list[str]) -> None:
    result.col_keys = metrics
    for r in rows:
        for m in metrics:
            result.cells[(r["g0"], m)] = int(r[m] or 0)
            result.col_totals[m] = result.col_totals.get(m, 0) + int(r[m] or 0)
        result.row_totals[r["g0"]] = int(r["total"] or 0)
    result.total = result.col_totals.get("total", 0)
    result.row_keys = sorted(result.row_totals, key=lambda k: (-result.row_totals[k], _order_key(k)))


__all__ = ["KPI_METRICS", "SLA_FIGURES", "STATS_FUNCTIONS", "Axis", "RecordList", "Result", "SlaFigures", "Stats",
           "bucket", "find_report", "list_columns", "reports_of", "result_json", "run_report", "run_stats",
           "sla_targets"]
