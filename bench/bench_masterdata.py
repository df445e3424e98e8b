"""Consumer master data at scale: N generated source records (default 1,700,000) matched into
masters by ``loom masterdata match`` and by Splink alone with the same settings.

    python bench/bench_masterdata.py [--n 200000] [--backend sqlite|postgres]

Steps, each in its own process so that each peak RSS is its own:
1. generate N records with the test generator (true clusters known), write them as the
   issue's CSV columns, and ``loom import`` them into a fresh instance (not timed here);
2. Loom: normalise + train + match + cluster + merge (masters created and every source
   record linked, set-wise, in the database), then the links are read back for F1;
3. Splink alone: the same normalisers, settings, training and threshold on an in-memory
   DuckDB, clusters by Splink's connected components; nothing written anywhere.
Printed: wall time, peak RSS, pairwise precision/recall/F1 of each, and the ratio
Loom / Splink alone (the baseline).
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

APP_DIR = ROOT / "tests" / "masterdata" / "consumers_app"
COLUMNS = ["source", "source_id", "name", "first_name", "birth_date", "phone", "email", "address", "inn"]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pairs(cluster_of: dict) -> set:
    members = defaultdict(list)
    for record, cluster in cluster_of.items():
        members[cluster].append(record)
    return {p for group in members.values() for p in itertools.combinations(sorted(group), 2)}


def _f1(found: dict, truth: dict) -> tuple[float, float, float]:
    got, true = _pairs(found), _pairs(truth)
    hits = len(got & true)
    p, r = hits / max(len(got), 1), hits / max(len(true), 1)
    return p, r, 2 * p * r / max(p + r, 1e-9)


def prepare(n: int, work: Path) -> None:
    from tests.masterdata.synth import generate
    records, truth = generate(n, seed=7)
    with (work / "sources.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for r in records:
            writer.writerow([r.get(c) or "" for c in COLUMNS])
    # the key of a record is its source_id (unique); truth by source_id
    (work / "truth.json").write_text(json.dumps({r["source_id"]: truth[r["id"]] for r in records}))


def loom_phase(work: Path) -> dict:
    from plugins.masterdata import service
    from runtime.plugin_api import cli_platform
    platform = cli_platform()
    started = time.monotonic()
    figures = service.run(platform, "consumers", "source_record")
    elapsed = time.monotonic() - started
    run = platform.file_run(figures["run"])
    found = {}
    for batch in platform.records().scan("consumers", "source_record", ["source_id", "master"], batch=100000):
        found.update({r["source_id"]: r["master"] for r in batch})
    return {"seconds": elapsed, "rss_mib": _rss_mib(), "found": found,
            "stages": {k: v.get("seconds") for k, v in run["params"]["stages"].items()}, "figures": figures}


def splink_phase(work: Path) -> dict:
    import duckdb
    import yaml
    from splink import DuckDBAPI

    from plugins.masterdata.match import (
        load,
        normalised_table,
        predict,
        thresholds,
        train,
    )
    spec = yaml.safe_load((APP_DIR / "extensions" / "masterdata.yaml").read_text())["matches"]["consumers"]
    started = time.monotonic()
    with (work / "sources.csv").open(encoding="utf-8") as f:
        rows = [dict(r, id=i + 1) for i, r in enumerate(csv.DictReader(f))]
    for r in rows:
        for k in COLUMNS:
            r[k] = r[k] or None
    con = duckdb.connect()
    load(con, normalised_table(rows, spec["fields"]))
    model = train(con, spec)
    predict(con, spec, model)
    same, _ = thresholds(spec)
    db = DuckDBAPI(connection=con)
    con.execute(f"CREATE TABLE edges AS SELECT l AS unique_id_l, r AS unique_id_r, p AS match_probability "
                f"FROM pairs WHERE p >= {same} AND NOT vetoed")   # the pairs carry the must_agree veto
    edges, nodes = db.register("edges"), db.register("records")
    from splink.clustering import cluster_pairwise_predictions_at_threshold
    clusters = cluster_pairwise_predictions_at_threshold(nodes, edges, db_api=db, node_id_column_name="unique_id",
                                                         edge_id_column_name_left="unique_id_l",
                                                         edge_id_column_name_right="unique_id_r")
    cluster_of = dict(con.sql(f"SELECT unique_id, cluster_id FROM {clusters.physical_name}").fetchall())
    elapsed = time.monotonic() - started
    found = {r["source_id"]: cluster_of[r["id"]] for r in rows}
    return {"seconds": elapsed, "rss_mib": _rss_mib(), "found": found}


def _child(phase: str, work: Path, env: dict) -> dict:
    out = work / f"{phase}.json"
    subprocess.run([sys.executable, __file__, "--phase", phase, "--work", str(work)], check=True, env=env,
                   stderr=subprocess.DEVNULL if not os.environ.get("BENCH_VERBOSE") else None)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_700_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--phase", choices=("loom", "splink"))
    parser.add_argument("--work")
    args = parser.parse_args()
    if args.phase:
        work = Path(args.work)
        result = (loom_phase if args.phase == "loom" else splink_phase)(work)
        (work / f"{args.phase}.json").write_text(json.dumps(result))
        return
    work = Path(tempfile.mkdtemp(prefix="loom-masterdata-bench-"))
    env = dict(os.environ, LOOM_HOME=str(work / "home"))
    if args.backend == "sqlite":
        env["LOOM_DATABASE_URL"] = f"sqlite:///{work / 'loom.db'}"
    elif not env.get("LOOM_DATABASE_URL"):
        sys.exit("--backend postgres: set LOOM_DATABASE_URL to an empty database")
    started = time.monotonic()
    prepare(args.n, work)
    generated = time.monotonic() - started
    loom_cli = [str(Path(sys.executable).parent / "loom")]
    subprocess.run([*loom_cli, "apps", "install", str(APP_DIR)], check=True, env=env, stdout=subprocess.DEVNULL)
    started = time.monotonic()
    subprocess.run([*loom_cli, "import", "consumers.source_record", str(work / "sources.csv")], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    imported = time.monotonic() - started
    os.sync()   # the import's writes reach the disk before the timed run, not during it
    truth = json.loads((work / "truth.json").read_text())
    loom = _child("loom", work, env)
    splink = _child("splink", work, env)
    print(f"\nmaster data, {args.n:,} source records ({args.backend}); generated in {generated:.0f} s, "
          f"imported (loom import) in {imported:.0f} s")
    print(f"{'':14}{'wall s':>9}{'peak RSS MiB':>14}{'precision':>11}{'recall':>9}{'F1':>8}")
    for name, r in (("Loom", loom), ("Splink alone", splink)):
        p, rc, f = _f1(r["found"], truth)
        print(f"{name:14}{r['seconds']:9.1f}{r['rss_mib']:14.0f}{p:11.4f}{rc:9.4f}{f:8.4f}")
    print(f"Loom stages (s): {loom['stages']}")
    print(f"Loom figures: {loom['figures']}")
    print(f"ratio Loom / Splink alone (baseline): {loom['seconds'] / splink['seconds']:.2f}x")


if __name__ == "__main__":
    main()
