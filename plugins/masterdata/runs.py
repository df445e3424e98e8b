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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute

from runtime.plugin_api import Conflict, NotFound, now

from . import merge as rules
from . import state
from .match import (
    cluster_arrays,
    link_arrays,
    load,
    normalised_sql,
    predict,
    review_pairs,
    train,
)
from .schema import find_match

KIND, JOB = "masterdata", "masterdata_run"
STAGES = ("read", "train", "predict", "cluster", "merge")
CHUNK = 50000     # source records per merge transaction (whole clusters)
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


def _read(platform, con, job, spec, params) -> dict:
    records = platform.records(params.get("username"))
    app, entity = job["app"], job["entity"]
    link = spec["sources"].get("master_link")
    new, values = "TRUE", []
    if params.get("incremental"):
        previous = last_finished(platform, app, entity)
        if previous is None:
            raise LookupError("no finished run to match against: run a full match first")
        params["model"] = previous["params"]["model"]
        since = _aware(dt.datetime.fromisoformat(previous["params"]["finished_at"]))
        new = "try_cast(updated_at AS TIMESTAMP) > ?"
        new = f"({rules.quoted(link)} IS NULL OR {new})" if link else new
        values = [since.astimezone(dt.UTC).replace(tzinfo=None)]
    load(con, records.scan_arrow(app, entity, _source_columns(spec)), "raw", f"*, {new} AS is_new", values,
         ordered=False)
    # in id order: Splink samples the records for training, the same sample every time
    con.execute(f"CREATE OR REPLACE TABLE records AS {normalised_sql('raw', spec['fields'])} ORDER BY unique_id")
    if params.get("incremental"):
        con.execute("CREATE OR REPLACE TABLE new_records AS SELECT * FROM records WHERE unique_id IN "
                    "(SELECT id FROM raw WHERE is_new)")
        con.execute("DELETE FROM records WHERE unique_id IN (SELECT unique_id FROM new_records)")
    masters = spec["masters"]["entity"]
    wanted = list(rules.rules(spec)) + ([spec["masters"]["ids_field"]] if spec["masters"].get("ids_field") else [])
    load(con, records.scan_arrow(app, masters, wanted), "masters_now",
         "id" + "".join(f", {rules.quoted(f)}::VARCHAR AS {rules.quoted(f)}" for f in wanted), ordered=False)
    pa.default_memory_pool().release_unused()   # what the reads held goes back before Splink needs it
    (total, fresh), = con.execute("SELECT count(*), count(*) FILTER (is_new) FROM raw").fetchall()
    return {"records": total, "new": fresh, "masters": con.execute("SELECT count(*) FROM masters_now").fetchall()[0][0]}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _train(platform, con, job, spec, params) -> dict:
    if params.get("incremental"):
        return {"trained": False}
    with _in_memory(con, ["records"]):
        params["model"] = train(con, spec)
    return {"trained": True}


def _predict(platform, con, job, spec, params) -> dict:
    if params.get("incremental") and not con.execute("SELECT count(*) FROM new_records").fetchall()[0][0]:
        con.execute("CREATE OR REPLACE TABLE pairs (l BIGINT, r BIGINT, p DOUBLE, vetoed BOOLEAN)")
        return {"pairs": 0}
    with _in_memory(con, ["records", "new_records"] if params.get("incremental") else ["records"], ["pairs"]):
        predict(con, spec, params["model"], new="new_records" if params.get("incremental") else None)
    if params.get("incremental"):   # the new records join the others for the stages that follow
        con.execute("INSERT INTO records SELECT * FROM new_records")
    return {"pairs": con.execute("SELECT count(*) FROM pairs").fetchall()[0][0]}


@contextmanager
def _in_memory(con, inputs: list[str], outputs: tuple | list = ()):
    """Splink's work on copies of ``inputs`` in an in-memory database, ``outputs`` copied back
    to the run's file: Splink's own tables, written to the file, made predicting an eighth
    slower and stayed there."""
    home = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute("ATTACH ':memory:' AS splink_work")
    try:
        for name in inputs:
            con.execute(f"CREATE TABLE splink_work.{name} AS SELECT * FROM {rules.quoted(home)}.{name}")
        con.execute("USE splink_work")
        yield
        for name in outputs:
            con.execute(f"CREATE OR REPLACE TABLE {rules.quoted(home)}.{name} AS SELECT * FROM splink_work.{name}")
    finally:
        con.execute(f"USE {rules.quoted(home)}")
        con.execute("DETACH splink_work")


def _cluster(platform, con, job, spec, params) -> dict:
    app, entity = job["app"], job["entity"]
    link = spec["sources"].get("master_link")
    decisions = state.decisions(platform, app, entity)
    review = review_pairs(con, spec, {(min(a, b), max(a, b)) for a, b, _ in decisions})
    state.save_review(platform, app, entity, job["id"], review)
    left, right, probability = link_arrays(con, spec)
    members = con.sql(f"SELECT id, {rules.quoted(link) if link else 'NULL'}::BIGINT AS master, is_new FROM raw "
                      "ORDER BY id").to_arrow_table()
    ids = members.column("id").to_numpy()
    held = np.asarray([], np.int64)
    if params.get("incremental"):
        # the records already linked stay with their master: a node per master (its id
        # negated) holds them together
        kept = pa.compute.and_(pa.compute.is_valid(members.column("master")), pa.compute.invert(members.column("is_new")))
        held = members.column("master").filter(kept).to_numpy().astype(np.int64)
        left = np.concatenate([left, ids[kept.to_numpy(zero_copy_only=False)]])
        right, probability = np.concatenate([right, -held]), np.concatenate([probability, np.ones(len(held))])
    nodes, label = cluster_arrays(np.concatenate([ids, -np.unique(held)]), left, right, probability, decisions)
    # decisions may name records deleted since: only the records read are clustered
    load(con, members.append_column("key", pa.array(label[np.searchsorted(nodes, ids)])), "clustered")
    plan = _plan(con, bool(params.get("incremental")))
    load(con, pa.table(plan), "cluster_plan")
    con.execute("CREATE OR REPLACE TABLE plan AS SELECT c.id, p.ord, p.master, c.master AS linked FROM clustered c "
                "JOIN cluster_plan p USING (key) ORDER BY p.ord, c.id")
    total = con.execute("SELECT count(*) FROM plan").fetchall()[0][0]
    platform.set_file_run_params(job["id"], params, total=total)
    return {"clusters": len(plan["ord"]), "links": len(left), "review": len(review), "decisions": len(decisions)}


def _plan(con, incremental: bool) -> dict:
    """Each cluster to merge (an incremental run: those with a new record), in the order of
    their smallest record, with its ``ord`` and its master: the smallest of the masters its
    records link to that no cluster before it took, or none (a new one)."""
    clusters = con.sql(
        "SELECT key, list(DISTINCT master ORDER BY master) FILTER (master IS NOT NULL) AS mine FROM clustered "
        f"GROUP BY key {'HAVING bool_or(is_new) ' if incremental else ''}ORDER BY min(id)").to_arrow_table()
    keys, mine = clusters.column("key").to_pylist(), clusters.column("mine").to_pylist()
    masters, taken = [], set()
    for choices in mine:
        master = next((m for m in choices or () if m not in taken), None)
        if master is not None:
            taken.add(master)
        masters.append(master)
    return {"key": pa.array(keys, pa.int64()), "ord": pa.array(range(len(keys)), pa.int64()),
            "master": pa.array(masters, pa.int64())}


def _merge(platform, con, job, spec, params) -> dict:
    app, entity, run_id = job["app"], job["entity"], job["id"]
    link = spec["sources"].get("master_link")
    masters, ids_field = spec["masters"]["entity"], spec["masters"].get("ids_field")
    names = list(rules.rules(spec)) + ([ids_field] if ids_field else [])
    _plan_values(con, spec)
    total = con.execute("SELECT count(*) FROM plan").fetchall()[0][0]
    created = linked = updated = 0
    done = platform.file_run(run_id)["done"]
    # DuckDB works out the next chunk's values on a thread while SQLite writes this one
    with ThreadPoolExecutor(1) as reader:
        upcoming = reader.submit(_chunk, con, spec, done, names) if done < total else None
        while upcoming is not None:
            chunk = upcoming.result()
            upcoming = reader.submit(_chunk, con, spec, chunk["end"], names) if chunk["end"] < total else None
            with platform.file_run_step(run_id, done, chunk["end"], params.get("username")) as step:
                new_ids = step.records.bulk_create_columns(app, masters, chunk["fresh"])
                updated += step.records.bulk_update(app, masters, chunk["changes"])
                if link:
                    ids, targets = _moved(chunk, new_ids)
                    linked += step.records.bulk_update_columns(app, entity, ids, {link: targets})
                created += len(new_ids)
                step.written = chunk["end"] - done
            done = chunk["end"]
    return {"created": created, "updated": updated, "linked": linked}


def _plan_values(con, spec: dict) -> None:
    """Temporary tables (a resumed merge plans again) for the chunks' master values:
    ``members``, each planned source record with its cluster's ``_ord`` and the fields the
    values come from, in cluster order; ``clusters``, each cluster's planned master, size
    and the source records of the clusters before it."""
    src, field_rules, ids_field = spec["sources"], rules.rules(spec), spec["masters"].get("ids_field")
    wanted = ["id", src["source_field"], src.get("timestamp_field"), src["source_id_field"] if ids_field else None,
              *(r["from"] for r in field_rules.values())]
    con.execute("CREATE OR REPLACE TEMP TABLE members AS SELECT plan.ord AS _ord, "
                f"{', '.join('raw.' + rules.quoted(n) for n in dict.fromkeys(wanted) if n)} FROM plan JOIN raw "
                "USING (id) ORDER BY _ord")
    con.execute("CREATE OR REPLACE TEMP TABLE clusters AS SELECT *, coalesce(sum(_n) OVER (ORDER BY _ord ROWS "
                "BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS _before FROM (SELECT ord AS _ord, "
                "any_value(master) AS _master, count(*) AS _n FROM plan GROUP BY ord) ORDER BY _ord")


def _chunk(con, spec: dict, done: int, names: list[str]) -> dict:
    """One merge transaction's work: whole clusters, about CHUNK source records from the first
    one not merged yet, with their master values (``merge.values_sql``). ``fresh``: the values
    of the masters to create, ``changes``: those of the existing masters that differ,
    ``plan``: each record's planned and current master."""
    (first, last, end), = con.execute(
        "SELECT min(_ord), max(_ord), max(_before + _n) FROM clusters WHERE _before >= ? AND _before < ?",
        [done, done + CHUNK]).fetchall()
    src, ids_field, within = spec["sources"], spec["masters"].get("ids_field"), f"_ord BETWEEN {first} AND {last}"
    con.execute("CREATE OR REPLACE TEMP TABLE chunk_values AS " + rules.values_sql(
        rules.rules(spec), src["source_field"], src.get("timestamp_field"),
        (ids_field, src["source_id_field"]) if ids_field else None,
        clusters=f"(SELECT * FROM clusters WHERE {within})", members=f"(SELECT * FROM members WHERE {within})"))
    fresh = _columns(con, f"SELECT _ord, {', '.join(rules.quoted(n) for n in names)} FROM chunk_values "
                          "WHERE _master IS NULL ORDER BY _ord", [])
    plan = con.sql("SELECT id, ord, coalesce(master, 0) AS master, coalesce(linked, 0) AS linked FROM plan "
                   "WHERE ord BETWEEN ? AND ? ORDER BY id", params=[first, last]).to_arrow_table()
    return {"end": end, "new_ords": np.asarray(fresh.pop("_ord"), np.int64), "fresh": fresh,
            "changes": _changes(con, names),
            "plan": {name: plan.column(name).to_numpy() for name in plan.column_names}}


def _moved(chunk: dict, new_ids: list[int]) -> tuple[list[int], list[int]]:
    """The chunk's source records whose master is not the planned one (a new master: the one
    created for its cluster), with that master."""
    plan = chunk["plan"]
    created = np.asarray(new_ids, np.int64)[np.searchsorted(chunk["new_ords"], plan["ord"])
                                            .clip(0, max(len(new_ids) - 1, 0))] if new_ids else 0
    target = np.where(plan["master"] > 0, plan["master"], created)
    moved = target != plan["linked"]
    return plan["id"][moved].tolist(), target[moved].tolist()


def _changes(con, names: list[str]) -> dict:
    """The chunk's existing masters whose values differ from their current ones:
    ``{id: {field: value}}``."""
    fields = ", ".join(f"v.{rules.quoted(n)}, m.{rules.quoted(n)}" for n in names)
    changes = {}
    for master, *pairs in con.execute(
            f"SELECT v._master, {fields} FROM chunk_values v JOIN masters_now m ON m.id = v._master").fetchall():
        diff = {n: new for n, new, old in zip(names, pairs[::2], pairs[1::2]) if new != old}
        if diff:
            changes[master] = diff
    return changes


def _columns(con, sql: str, params: list) -> dict:
    """A query's result as ``{column: [values]}`` through Arrow (no tuple per row)."""
    table = con.sql(sql, params=params).to_arrow_table()
    return {name: table.column(name).to_pylist() for name in table.column_names}


STAGE = {"read": _read, "train": _train, "predict": _predict, "cluster": _cluster, "merge": _merge}


def counts(run: dict) -> dict:
    """The figures the CLI prints: records, masters (clusters), created, linked, review."""
    stages = run["params"].get("stages") or {}
    return {"records": stages.get("read", {}).get("records", 0), "new": stages.get("read", {}).get("new", 0),
            "masters": stages.get("cluster", {}).get("clusters", 0),
            "created": stages.get("merge", {}).get("created", 0), "updated": stages.get("merge", {}).get("updated", 0),
            "linked": stages.get("merge", {}).get("linked", 0), "review": stages.get("cluster", {}).get("review", 0)}
