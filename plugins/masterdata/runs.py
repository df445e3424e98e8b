"""A match run as a background job in stages, with progress, resumable.

A run is a file run of kind ``masterdata`` (the platform's resumable chunked runs,
ADR 0025): its ``params`` hold the stage reached, each stage's counts and the trained
model; its ``done``/``total`` count the source records merged. The stages:

1. ``read``: every source record (or, incremental, every one) into a DuckDB file of
   the run, raw and normalised; the masters' current values beside them;
2. ``train``: the Splink model (skipped by an incremental run, which takes the model
   of the last finished run);
3. ``predict``: scored pairs (incremental: only pairs with a new or changed record);
4. ``cluster``: people's decisions applied, clusters, the review queue kept, and a plan
   giving each cluster one master (an existing one of its members or a new one);
5. ``merge``: a chunk of clusters per transaction: new masters created and existing
   ones updated set-wise, source records linked, the run's ``done`` moved in the same
   transaction.

A run that stopped (a worker died, an error) continues from the last finished stage,
and within ``merge`` from the last committed chunk, when started again.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from runtime.plugin_api import Conflict, NotFound, now

from . import merge as rules
from . import state
from .match import cluster, load, normalised_columns, predict, split_pairs, train
from .schema import find_match

KIND, JOB = "masterdata", "masterdata_run"
STAGES = ("read", "train", "predict", "cluster", "merge")
CHUNK = 20000     # source records per merge transaction (whole clusters)
log = logging.getLogger(__name__)


def work_file(run: dict) -> Path:
    """The run's DuckDB file: under ``LOOM_HOME`` when set, so a restarted machine resumes."""
    folder = Path(os.environ.get("LOOM_HOME") or tempfile.gettempdir()) / "masterdata"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = run["created_at"].strftime("%Y%m%d%H%M%S") if run.get("created_at") else "0"
    return folder / f"run-{run['id']}-{stamp}.duckdb"


def start(platform, app: str, entity: str, user: str | None, incremental: bool = False) -> int:
    """A new run, queued; its id. ``user``: who started it (their permissions apply)."""
    name, _ = find_match(platform, app, entity)
    params = {"match": name, "username": user, "incremental": incremental, "stage": None, "stages": {}}
    return platform.start_file_run(KIND, app, entity, user, params, state="queued")


def start_job(platform, run_id: int) -> None:
    """Queue the run on a worker with Redis; without, on a thread of this process, so that a
    page answers at once and shows the progress."""
    if platform.config.get("redis_url"):
        platform.enqueue(JOB, run_id)
    else:
        threading.Thread(target=platform.enqueue, args=(JOB, run_id), daemon=True,
                         name=f"masterdata-{run_id}").start()


def last_finished(platform, app: str, entity: str) -> dict | None:
    for run in platform.file_runs(KIND, app, entity, limit=50):
        if run["state"] == "done" and run["params"].get("model"):
            return run
    return None


def run(platform, run_id: int, stop_after: str | None = None) -> str:
    """The job: go on from the last finished stage. ``stop_after``: return after that stage
    (the run stays ``running``, as if its worker stopped there)."""
    try:
        job = platform.file_run(run_id)
    except NotFound:
        return "gone"
    if job["state"] in ("queued", "failed"):
        platform.set_file_run_state(run_id, "running", only_from=("queued", "failed"))
    elif job["state"] != "running":
        return job["state"]
    params, app, entity = dict(job["params"]), job["app"], job["entity"]
    _, spec = find_match(platform, app, entity)
    path = work_file(job)
    if not path.exists():
        params["stages"] = {}        # the work file is gone: start over
    con = duckdb.connect(str(path))
    try:
        for stage in STAGES:
            if stage in params["stages"]:
                continue
            params["stage"] = stage
            platform.set_file_run_params(run_id, params)
            started = time.monotonic()
            counts = STAGE[stage](platform, con, job, spec, params)
            params["stages"][stage] = {**counts, "seconds": round(time.monotonic() - started, 1)}
            platform.set_file_run_params(run_id, params)
            if stop_after == stage:
                return "running"
    except Conflict:
        return "taken"
    except Exception as exc:
        log.exception("masterdata run %s failed in %s", run_id, params.get("stage"))
        platform.set_file_run_state(run_id, "failed", f"{params.get('stage')}: {exc}", only_from=("running",),
                                    user=params.get("username"))
        return "failed"
    finally:
        con.close()
    params["stage"], params["finished_at"] = "done", now().isoformat()
    platform.set_file_run_params(run_id, params)
    platform.set_file_run_state(run_id, "done", only_from=("running",), user=params.get("username"))
    path.unlink(missing_ok=True)
    return "done"


def _source_columns(spec: dict) -> list[str]:
    src = spec["sources"]
    names = [src["source_field"], src["source_id_field"], src.get("master_link"), src.get("timestamp_field")]
    names += list(spec["fields"]) + [r["from"] for r in rules.rules(spec).values()]
    return [n for n in dict.fromkeys(names) if n and n not in ("created_at", "updated_at")]


def _text_column(values: list) -> list:
    """Values as text for DuckDB and the fill rules (dates in ISO form)."""
    return [v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else (None if v is None else str(v))
            for v in values]


def _read(platform, con, job, spec, params) -> dict:
    records = platform.records(params.get("username"))
    app, entity = job["app"], job["entity"]
    link = spec["sources"].get("master_link")
    columns = _source_columns(spec)
    data = records.scan_columns(app, entity, columns)
    ids = data["id"]
    if params.get("incremental"):
        previous = last_finished(platform, app, entity)
        if previous is None:
            raise LookupError("no finished run to match against: run a full match first")
        params["model"] = previous["params"]["model"]
        since = _aware(dt.datetime.fromisoformat(previous["params"]["finished_at"]))
        links = data[link] if link else [0] * len(ids)
        is_new = [(link and m is None) or _aware(u) > since for m, u in zip(links, data["updated_at"])]
    else:
        is_new = [True] * len(ids)
    new = [i for i, fresh in zip(ids, is_new) if fresh]
    texts = {c: _text_column(data[c]) for c in columns if c != link}
    load(con, normalised_columns(ids, {f: texts[f] for f in spec["fields"]}, spec["fields"]), "records")
    if params.get("incremental"):
        con.execute("CREATE OR REPLACE TABLE new_records AS SELECT * FROM records WHERE unique_id IN "
                    "(SELECT unnest(?::BIGINT[]))", [new])
        con.execute("DELETE FROM records WHERE unique_id IN (SELECT unique_id FROM new_records)")
    raw = {"id": pa.array(ids, pa.int64()), "updated_at": pa.array(_text_column(data["updated_at"]), pa.string())}
    for c in columns:
        raw[c] = pa.array(data[c], pa.int64()) if c == link else pa.array(texts[c], pa.string())
    raw["is_new"] = pa.array(is_new, pa.bool_())
    load(con, pa.table(raw), "raw")
    del data, texts, raw
    masters = spec["masters"]["entity"]
    wanted = list(rules.rules(spec)) + ([spec["masters"]["ids_field"]] if spec["masters"].get("ids_field") else [])
    current = records.scan_columns(app, masters, wanted)
    load(con, pa.table({"id": pa.array(current["id"], pa.int64()),
                        **{f: pa.array(_text_column(current[f]), pa.string()) for f in wanted}}), "masters_now")
    return {"records": len(ids), "new": len(new), "masters": len(current["id"])}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _train(platform, con, job, spec, params) -> dict:
    if params.get("incremental"):
        return {"trained": False}
    params["model"] = train(con, spec)
    return {"trained": True}


def _predict(platform, con, job, spec, params) -> dict:
    if params.get("incremental") and not con.execute("SELECT count(*) FROM new_records").fetchall()[0][0]:
        con.execute("CREATE OR REPLACE TABLE pairs (l BIGINT, r BIGINT, p DOUBLE, vetoed BOOLEAN)")
        return {"pairs": 0}
    predict(con, spec, params["model"], new="new_records" if params.get("incremental") else None)
    if params.get("incremental"):   # the new records join the others for the stages that follow
        con.execute("INSERT INTO records SELECT * FROM new_records")
    return {"pairs": con.execute("SELECT count(*) FROM pairs").fetchall()[0][0]}


def _cluster(platform, con, job, spec, params) -> dict:
    app, entity = job["app"], job["entity"]
    link = spec["sources"].get("master_link")
    decisions = state.decisions(platform, app, entity)
    links, review = split_pairs(con, spec, {(min(a, b), max(a, b)) for a, b, _ in decisions})
    state.save_review(platform, app, entity, job["id"], review)
    members = con.execute(f"SELECT id, {link or 'NULL'}, is_new FROM raw ORDER BY id").fetchall()
    ids = [m[0] for m in members]
    if params.get("incremental"):
        # the records already linked stay with their master: a node per master holds them together
        links = links + [(i, -master, 1.0) for i, master, is_new in members if master is not None and not is_new]
        ids = ids + sorted({-m for _, m, new in members if m is not None and not new})
    groups: dict = {}
    for record, key in cluster(ids, links, decisions).items():
        if record > 0:
            groups.setdefault(key, []).append(record)
    master_of = {i: m for i, m, _ in members}
    is_new = {i: n for i, _, n in members}
    plan, taken, order = [], set(), 0
    for key in sorted(groups, key=lambda k: min(groups[k])):
        group = sorted(groups[key])
        if params.get("incremental") and not any(is_new[i] for i in group):
            continue   # untouched by this run
        mine = sorted({master_of[i] for i in group} - {None} - taken)
        master = mine[0] if mine else None
        if master is not None:
            taken.add(master)
        plan.extend((i, order, master) for i in group)
        order += 1
    load(con, pa.table({"id": pa.array([p[0] for p in plan], pa.int64()),
                        "ord": pa.array([p[1] for p in plan], pa.int64()),
                        "master": pa.array([p[2] for p in plan], pa.int64())}), "plan")
    platform.set_file_run_params(job["id"], params, total=len(plan))
    return {"clusters": order, "links": len(links), "review": len(review), "decisions": len(decisions)}


def _merge(platform, con, job, spec, params) -> dict:
    app, entity, run_id = job["app"], job["entity"], job["id"]
    src = spec["sources"]
    link, stamp = src.get("master_link"), src.get("timestamp_field")
    masters, ids_field = spec["masters"]["entity"], spec["masters"].get("ids_field")
    field_rules = rules.rules(spec)
    columns = ["id", "updated_at", *_source_columns(spec)]
    total = con.execute("SELECT count(*) FROM plan").fetchall()[0][0]
    ordered = con.execute(f"SELECT {', '.join('raw.' + c for c in columns)}, plan.ord, plan.master "
                          "FROM plan JOIN raw USING (id) ORDER BY plan.ord, plan.id").fetchall()
    now_values = {r[0]: r[1:] for r in con.execute("SELECT * FROM masters_now").fetchall()}
    now_names = [d[0] for d in con.execute("SELECT * FROM masters_now LIMIT 0").description][1:]
    created = linked = updated = 0
    done = platform.file_run(run_id)["done"]
    while done < total:
        end = min(done + CHUNK, total)
        while end < total and ordered[end][-2] == ordered[end - 1][-2]:
            end += 1          # a cluster is never cut between two chunks
        chunk = ordered[done:end]
        groups: dict = {}
        for row in chunk:
            groups.setdefault(row[-2], []).append(dict(zip(columns, row)))
        planned = {row[-2]: row[-1] for row in chunk}
        with platform.file_run_step(run_id, done, end, params.get("username")) as step:
            values = {}
            for order, group in groups.items():
                v = rules.values(group, field_rules, src["source_field"], stamp)
                if ids_field:
                    v[ids_field] = rules.ids_text(group, src["source_field"], src["source_id_field"])
                values[order] = v
            fresh = [order for order in groups if planned[order] is None]
            new_ids = step.records.bulk_create(app, masters, [values[o] for o in fresh])
            planned.update(zip(fresh, new_ids))
            changes = {}
            for order in groups:
                master = planned[order]
                if order not in fresh and master in now_values:
                    current = dict(zip(now_names, now_values[master]))
                    diff = {k: v for k, v in values[order].items() if (None if v is None else str(v)) != current.get(k)}
                    if diff:
                        changes[master] = diff
            updated += step.records.bulk_update(app, masters, changes)
            if link:
                moved = [(r["id"], planned[o]) for o, group in groups.items() for r in group
                         if r.get(link) != planned[o]]
                linked += step.records.bulk_update_columns(app, entity, [m[0] for m in moved],
                                                           {link: [m[1] for m in moved]})
            created += len(fresh)
            step.written = len(chunk)
        done = end
    return {"created": created, "updated": updated, "linked": linked}


STAGE = {"read": _read, "train": _train, "predict": _predict, "cluster": _cluster, "merge": _merge}


def counts(run: dict) -> dict:
    """The figures the CLI prints: records, masters (clusters), created, linked, review."""
    stages = run["params"].get("stages") or {}
    return {"records": stages.get("read", {}).get("records", 0), "new": stages.get("read", {}).get("new", 0),
            "masters": stages.get("cluster", {}).get("clusters", 0),
            "created": stages.get("merge", {}).get("created", 0), "updated": stages.get("merge", {}).get("updated", 0),
            "linked": stages.get("merge", {}).get("linked", 0), "review": stages.get("cluster", {}).get("review", 0)}
