"""Report pages of the UI: the app's dashboard, one report (chart + table), its chart data as JSON.

The routes live on the UI blueprint (``ui.reports``, ``ui.report``,
``ui.report_data``), so sign-in, error pages and the sidebar are the same as
everywhere else. The figures come from :mod:`runtime.reports`, which applies
the viewer's row rules. The dashboard links to each report and shows record
lists (``kind: list``, "overdue requests") in place, each row linking to its record.
"""
from __future__ import annotations

import datetime as dt
import decimal

from flask import jsonify, render_template, url_for
from flask_babel import format_date

from runtime.data.reports import (RecordList, Result, SlaFigures, Stats, entity_tables_of, find_report, reports_of,
                                  run_report, sla_targets)
from runtime.errors import LoomError, NotFound

from . import meta
from .base import actor, bp, loom
from .i18n import N_, fmt_date, fmt_number, lang, t, tt

KPI_TITLES = {"total": N_("Total"), "open": N_("Still open"), "overdue": N_("Past due"), "done": N_("Done"),
              "done_on_time": N_("Done on time")}
MEASURE_TITLES = {"count": N_("Count"), "sum": N_("Sum"), "avg": N_("Average"), "min": N_("Minimum"),
                  "max": N_("Maximum"), "median": N_("Median"), "percentile": N_("Percentile")}
SLA_COLUMNS = (N_("Total"), N_("Met"), N_("Breached"), N_("In progress"), N_("Compliance, %"))
DEFAULT_CHART = {"group": "bar", "table": "none", "kpi": "none", "count": "none", "sla": "bar", "stats": "none"}


def _readable(app: str, report: dict) -> bool:
    try:
        et = entity_tables_of(loom(), app, report)
    except LoomError:
        return False
    return loom().permissions.allowed(actor(), et.entity, "read")


@bp.get("/<app>/reports")
def reports(app: str):
    live = loom().live.get(app)
    if live is None or not loom().permissions.readable(actor(), live.app):
        raise NotFound(f"app {app!r}")
    items = []
    for r in reports_of(loom(), app):
        if not _readable(app, r):
            continue
        item = {"name": r["name"], "title": tt(r.get("title", r["name"])), "description": tt(r.get("description")),
                "url": url_for("ui.report", app=app, name=r["name"]), "widget": None}
        if r.get("kind") == "list":
            item["widget"], item["error"] = _widget(app, r)
        items.append(item)
    items.sort(key=lambda i: i["widget"] is None and not i.get("error"))  # record lists first, in their order
    return render_template("ui/reports.html", app=app, title=t("Reports"), items=items)


def _widget(app: str, spec: dict) -> tuple[dict | None, str | None]:
    """A record list shaped for the page, or the reason it cannot be shown (a filter the viewer may not use)."""
    try:
        return _list_view(run_report(loom(), app, spec, actor())), None
    except LoomError as exc:
        return None, exc.detail


@bp.get("/<app>/reports/<name>")
def report(app: str, name: str):
    spec = find_report(loom(), app, name)
    error, view = None, None
    try:
        view = _view(app, spec, run_report(loom(), app, spec, actor()))
    except LoomError as exc:
        if exc.status in (403, 404):
            raise
        error = exc.detail
    return render_template("ui/report.html", app=app, title=tt(spec.get("title", name)),
                           description=tt(spec.get("description")), view=view, error=error,
                           data_url=url_for("ui.report_data", app=app, name=name),
                           back_url=url_for("ui.reports", app=app))


@bp.get("/<app>/reports/<name>/data")
def report_data(app: str, name: str):
    """The report as chart data: ``{type, labels, datasets: [{label, data}], total}``."""
    spec = find_report(loom(), app, name)
    try:
        return jsonify(_view(app, spec, run_report(loom(), app, spec, actor()))["chart"])
    except LoomError as exc:
        return jsonify(exc.problem()), exc.status


# ---------------------------------------------------------------------- shaping for the page
def _axis_fields(result: Result) -> list:
    ent = result.entity
    return [meta.column_field(ent, a.name) if "." not in a.name else a.field for a in result.axes]


def _key_label(field, axis, key, titles) -> str:
    """A group's title: a choice's or linked record's title, a period, or "(not set)"."""
    if key is None or key == "":
        return t("(not set)")
    if axis.period:
        return _period_label(key, axis.period)
    return meta.display(field, key, titles).text


def _list_view(result: RecordList) -> dict:
    """Headers and rows of a record list; the first cell of each row links to the record."""
    ent = result.entity
    fields = [meta.column_field(ent, name) for name in result.columns]
    titles = meta.Titles(loom(), actor())
    for row in result.items:
        for f in fields:
            titles.want(f, row[f.name])
    titles.load()
    rows = [{"id": row["id"], "url": url_for("ui.record_view", app=ent.app, entity=ent.name, record_id=row["id"]),
             "cells": [meta.display(f, row[f.name], titles) for f in fields]} for row in result.items]
    return {"kind": "list", "headers": [meta.field_title(f) for f in fields], "rows": rows, "empty": not rows,
            "count": result.count, "count_exact": result.count_exact,
            "chart": {"type": "list", "columns": [meta.field_title(f) for f in fields], "total": result.count,
                      "rows": [{"url": r["url"], "cells": [c.text for c in r["cells"]]} for r in rows]}}


def _view(app: str, spec: dict, result: Result | RecordList | Stats) -> dict:
    if result.kind == "list":
        return _list_view(result)
    if result.kind in ("stats", "time_in_status"):
        return _stats_view(spec, result)
    if result.kind == "sla":
        return _sla_view(spec, result)
    titles = meta.Titles(loom(), actor())
    fields = _axis_fields(result)
    for f, axis, keys in zip(fields, result.axes, (result.row_keys, result.col_keys)):
        if not axis.period:
            for k in keys:
                titles.want(f, k)
    titles.load()

    def label(i: int, key) -> str:
        if result.kind == "kpi" and i == 1:
            return t(KPI_TITLES[key])
        if i >= len(fields):
            return measure_title
        return _key_label(fields[i], result.axes[i], key, titles)

    measure = spec.get("measure") or {"fn": "count"}
    fn = measure["fn"]
    measure_title = tt(measure["title"]) if measure.get("title") else t(MEASURE_TITLES[fn])
    scale = _scale(result, spec)

    def number(v) -> str:
        return "" if v is None else fmt_number(v, scale)

    rows = [{"label": label(0, rk), "cells": [number(result.cells.get((rk, ck))) for ck in result.col_keys],
             "total": number(result.row_totals.get(rk))} for rk in result.row_keys] if result.axes else []
    pivot = len(result.col_keys) > 1 and result.kind != "kpi"
    chart_type = spec.get("chart") or DEFAULT_CHART[result.kind]
    datasets = [{"label": label(1, ck) if len(result.axes) > 1 or result.kind == "kpi" else measure_title,
                 "data": [_json_number(result.cells.get((rk, ck))) for rk in result.row_keys]}
                for ck in result.col_keys] if result.axes else []
    chart = {"type": chart_type, "labels": [r["label"] for r in rows], "datasets": datasets,
             "total": _json_number(result.total), "locale": lang(), "integer": scale == 0, "title": tt(spec.get("title", spec["name"]))}
    return {
        "kind": result.kind, "chart": chart, "rows": rows, "empty": not rows, "pivot": pivot,
        "row_title": meta.field_title(fields[0]) if fields else "",
        "columns": [label(1, ck) if len(result.axes) > 1 or result.kind == "kpi" else measure_title
                    for ck in result.col_keys],
        "col_totals": [number(result.col_totals.get(ck)) for ck in result.col_keys],
        "total": number(result.total), "measure_title": measure_title,
    }


def _sla_view(spec: dict, result: Result) -> dict:
    """An sla report: a table per target (total, met, breached, in progress, compliance %) and
    a chart of the compliance per group, a series per target."""
    titles = meta.Titles(loom(), actor())
    fields = _axis_fields(result)
    for rk in result.row_keys:
        for f, axis, key in zip(fields, result.axes, rk):
            if not axis.period:
                titles.want(f, key)
    titles.load()
    labels = [" · ".join(_key_label(f, axis, key, titles) for f, axis, key in zip(fields, result.axes, rk))
              for rk in result.row_keys]
    names = dict(sla_targets(loom(), result.entity))

    def cells(figures: SlaFigures | None) -> list[str]:
        figures = figures or SlaFigures()
        share = figures.compliance
        return [fmt_number(figures.total, 0), fmt_number(figures.met, 0), fmt_number(figures.breached, 0),
                fmt_number(figures.in_progress, 0), "—" if share is None else fmt_number(share, 1)]

    tables, datasets = [], []
    for target in result.col_keys:
        title = tt(names.get(target, target))
        rows = [{"label": label, "cells": cells(result.cells.get((rk, target)))}
                for label, rk in zip(labels, result.row_keys)]
        tables.append({"target": target, "title": title, "rows": rows,
                       "total": cells(result.col_totals.get(target))})
        figures = [result.cells.get((rk, target)) for rk in result.row_keys] if result.axes else \
            [result.col_totals.get(target)]
        datasets.append({"label": title, "data": [_json_number(f.compliance) if f else None for f in figures]})
    chart = {"type": spec.get("chart") or DEFAULT_CHART["sla"], "labels": labels if result.axes else [t("Total")],
             "datasets": datasets, "total": result.total, "locale": lang(), "integer": False, "percent": True,
             "title": tt(spec.get("title", spec["name"]))}
    return {"kind": "sla", "chart": chart, "tables": tables, "empty": not result.total,
            "row_title": " · ".join(meta.field_title(f) for f in fields), "columns": [t(c) for c in SLA_COLUMNS]}


def _stats_view(spec: dict, result: Stats) -> dict:
    """A stats report: a row per group (a column per group_by field), a column per measure, the
    total underneath; counts are whole numbers, the rest two places. The chart, when asked for,
    has a series per measure."""
    titles = meta.Titles(loom(), actor())
    fields = _axis_fields(result)
    for keys, _ in result.rows:
        for f, axis, key in zip(fields, result.axes, keys):
            if not axis.period:
                titles.want(f, key)
    titles.load()
    measures = result.measures

    def number(m, v) -> str:
        return "—" if v is None else fmt_number(v, 0 if m["fn"] == "count" else 2)

    def title(m) -> str:
        if m.get("title"):
            return tt(m["title"])
        return t(MEASURE_TITLES[m["fn"]]) + (f" {m.get('p')}" if m["fn"] == "percentile" else "")

    rows = [{"labels": [_key_label(f, axis, key, titles) for f, axis, key in zip(fields, result.axes, keys)],
             "cells": [number(m, values.get(m["name"])) for m in measures]} for keys, values in result.rows]
    labels = [" · ".join(r["labels"]) for r in rows]
    chart = {"type": spec.get("chart") or DEFAULT_CHART["stats"], "labels": labels, "locale": lang(), "integer": False,
             "datasets": [{"label": title(m), "data": [_json_number(values.get(m["name"])) for _, values in result.rows]}
                          for m in measures],
             "total": None, "title": tt(spec.get("title", spec["name"]))}
    return {"kind": "stats", "chart": chart, "rows": rows, "empty": not rows and not result.total,
            "group_titles": [meta.field_title(f) for f in fields], "columns": [title(m) for m in measures],
            "total": [number(m, result.total.get(m["name"])) for m in measures]}


def _scale(result: Result, spec: dict) -> int:
    if result.fn == "avg":
        return 2
    if result.fn == "sum":
        field_name = (spec.get("measure") or {}).get("field", "")
        head, _, rest = field_name.partition(".")
        f = result.entity.fields.get(head)
        if f is not None and not rest and f.value_type in ("decimal", "money"):
            return f.scale
        return 2 if rest else 0
    return 0


def _json_number(v):
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v


def _period_label(key: str, period: str) -> str:
    try:
        day = dt.date.fromisoformat(str(key)[:10])
    except ValueError:
        return str(key)
    if period == "month":
        return format_date(day, "LLLL yyyy")
    if period == "week":
        return t("week of {date}", date=fmt_date(day))
    return fmt_date(day)
