"""Matching source records into masters with Splink on DuckDB.

Training is unsupervised: u probabilities from random pairs, m probabilities by
expectation maximisation over each blocking rule in turn (a rule's own fields
are fixed while the others are learnt). The trained model is a JSON document
(Splink's settings with their parameters), kept with the run so that later,
incremental runs score new records against the old ones without training again.

Pairs at or above the "same" threshold are joined into clusters (connected
components); pairs between "review" and "same" are returned for a person to
decide. People's decisions win over the model: a "same" pair is always joined,
a "different" pair never ends up in one cluster.
"""
from __future__ import annotations

import dataclasses
import logging

import duckdb
import numpy as np
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from .merge import quoted
from .normalise import SQL_NORMALISERS

DEFAULT_SAME, DEFAULT_REVIEW = 0.95, 0.6


@dataclasses.dataclass
class MatchResult:
    clusters: dict            # record id -> cluster id (the smallest record id in it)
    review: list              # (id_l, id_r, probability) between the thresholds
    pairs_scored: int
    pairs: list = dataclasses.field(default_factory=list)  # (id_l, id_r, probability) at or above review
    model: dict | None = None


def thresholds(spec: dict) -> tuple[float, float]:
    limits = spec.get("thresholds") or {}
    return limits.get("same", DEFAULT_SAME), limits.get("review", DEFAULT_REVIEW)


def normalised_table(rows, fields: dict) -> pa.Table:
    """An Arrow table ``unique_id`` + the normalised ``fields`` of ``rows`` (dicts with ``id``)."""
    rows = list(rows)
    return normalised_columns([r["id"] for r in rows], {f: [r.get(f) for r in rows] for f in fields}, fields)


def normalised_columns(ids: list, columns: dict, fields: dict) -> pa.Table:
    """``normalised_table`` from column lists (``columns``: field -> raw values, in the order
    of ``ids``)."""
    raw = {name: pa.array([None if v is None else str(v) for v in columns[name]], pa.string()) for name in fields}
    con = duckdb.connect()
    try:
        con.register("incoming", pa.table({"id": pa.array(ids, pa.int64()), **raw}))
        return con.sql(normalised_sql("incoming", fields)).to_arrow_table()
    finally:
        con.close()


def normalised_sql(source: str, fields: dict) -> str:
    """A DuckDB query of ``unique_id`` and each of ``fields`` normalised by its kind, over the
    relation ``source`` (``id`` and the fields as text): the whole column at once, where a
    Python call per value was most of a run's reading time."""
    selects = "".join(f", {SQL_NORMALISERS[kind](quoted(name))} AS {quoted(name)}" for name, kind in fields.items())
    return f"SELECT id AS unique_id{selects} FROM {source}"


def load(con, table: pa.Table, name: str = "records", columns: str = "*", values=(), ordered: bool = True) -> None:
    """The Arrow ``table`` as the DuckDB table ``name`` (``columns``: what to select of it,
    with ``values`` for its parameters). ``ordered=False``: its rows in no particular order,
    which lets DuckDB write them on both cores (read them with ORDER BY)."""
    con.register("_incoming", table)
    if not ordered:
        con.execute("SET preserve_insertion_order = false")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {columns} FROM _incoming", list(values))
    finally:
        if not ordered:
            con.execute("RESET preserve_insertion_order")
        con.unregister("_incoming")


def _comparison(spec: dict):
    field, kind, limits = spec["field"], spec["kind"], spec.get("thresholds")
    if kind == "exact":
        return cl.ExactMatch(field)
    if kind == "levenshtein":
        return cl.LevenshteinAtThresholds(field, [int(x) for x in (limits or [1, 2])])
    if kind == "jaro_winkler":
        return cl.JaroWinklerAtThresholds(field, limits or [0.9, 0.7])
    if not spec.get("day_month_swap"):
        return cl.AbsoluteDateDifferenceAtThresholds(field, metrics=["day"] * len(limits or [1]),
                                                     thresholds=limits or [1], input_is_string=True)
    return cl.CustomComparison(
        [cll.NullLevel(field), cll.ExactMatchLevel(field), cll.CustomLevel(_swapped(field), "day and month swapped"),
         *[cll.AbsoluteDateDifferenceLevel(field, input_is_string=True, threshold=t, metric="day")
           for t in (limits or [1])],
         cll.ElseLevel()], output_column_name=field)


def _swapped(field: str) -> str:
    """Two ISO dates of one year whose day and month are swapped: a clerk's slip, not another
    person (it counts as a near match, so ``must_agree`` does not veto it)."""
    left, right = f'"{field}_l"', f'"{field}_r"'
    return (f"substr({left}, 1, 4) = substr({right}, 1, 4) AND substr({left}, 6, 2) = substr({right}, 9, 2) "
            f"AND substr({left}, 9, 2) = substr({right}, 6, 2)")


def _quiet():
    logging.getLogger("splink").setLevel(logging.WARNING)


def train(con, spec: dict, seed: int = 1) -> dict:
    """Train on the ``records`` table of ``con``; the model as Splink's settings JSON."""
    _quiet()
    db = DuckDBAPI(connection=con)
    blocking = [block_on(*rule) for rule in spec["blocking"]]
    settings = SettingsCreator(link_type="dedupe_only", blocking_rules_to_generate_predictions=blocking,
                               comparisons=[_comparison(c) for c in spec["comparisons"]],
                               retain_matching_columns=True)
    linker = Linker(db.register("records"), settings)
    linker.training.estimate_probability_two_random_records_match(blocking[:2], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=3e5, seed=seed)
    # Blocks on shared contacts are full of relatives; EM learns from the rules named
    # for training (by default all blocking rules).
    for rule in spec.get("training") or spec["blocking"]:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
    return linker.misc.save_model_to_json()


def _veto(spec: dict) -> str:
    # A pair whose distinguishing fields (first name, birth date) both have values and
    # disagree is never "same": relatives share every contact of their premise, and
    # agreeing contacts outweigh any single disagreement in the model.
    return " OR ".join(f"gamma_{field} = 0" for field in spec.get("must_agree") or []) or "FALSE"


def predict(con, spec: dict, model: dict, new: str | None = None) -> str:
    """Score pairs at or above the review threshold into the table ``pairs`` (l, r, p, vetoed):
    all pairs of ``records``, or with ``new`` (a table of the same shape) the pairs of new
    records with each other and with ``records``. Returns the table's name."""
    _quiet()
    _, review = thresholds(spec)
    db = DuckDBAPI(connection=con)
    veto = _veto(spec)
    if new is None:
        linker = Linker(db.register("records"), model)
        found = [linker.inference.predict(threshold_match_probability=review)]
    else:
        linker = Linker(db.register("records"), model)
        fresh, old = db.register(new), db.register("records")
        found = [linker.inference.predict_within(fresh, threshold_match_probability=review),
                 linker.inference.predict_between(fresh, old, threshold_match_probability=review)]
    selects = " UNION ALL ".join(
        f"SELECT unique_id_l AS l, unique_id_r AS r, match_probability AS p, ({veto}) AS vetoed "
        f"FROM {df.physical_name} WHERE unique_id_l <> unique_id_r" for df in found)
    con.execute(f"CREATE OR REPLACE TABLE pairs AS {selects}")
    return "pairs"


def link_arrays(con, spec: dict) -> tuple:
    """``(left, right, probability)`` arrays of the ``pairs`` at or above "same" and not vetoed."""
    same, _ = thresholds(spec)
    rows = con.sql(f"SELECT l, r, p FROM pairs WHERE p >= {float(same)} AND NOT vetoed").to_arrow_table()
    return tuple(rows.column(c).to_numpy() for c in ("l", "r", "p"))


def review_pairs(con, spec: dict, decided: set | None = None) -> list:
    """The pairs below "same" (or vetoed) as (l, r, p), without the pairs people decided already."""
    same, _ = thresholds(spec)
    rows = con.sql(f"SELECT l, r, p FROM pairs WHERE NOT (p >= {float(same)} AND NOT vetoed)").fetchall()
    decided = decided or set()
    return [(a, b, p) for a, b, p in rows if (min(a, b), max(a, b)) not in decided]


def split_pairs(con, spec: dict, decided: set | None = None) -> tuple[list, list]:
    """``(links, review)`` from the ``pairs`` table: links are (l, r, p) at or above "same" and
    not vetoed; review pairs are the rest, without the pairs people decided already."""
    return list(zip(*(a.tolist() for a in link_arrays(con, spec)))), review_pairs(con, spec, decided)


def match(rows, spec: dict, seed: int = 1, decisions=()) -> MatchResult:
    """Cluster ``rows`` (dicts with ``id`` and the raw fields ``spec`` names), in memory.
    ``decisions``: (id_a, id_b, "same" | "different") that people made."""
    con = duckdb.connect()
    load(con, normalised_table(rows, spec["fields"]))
    model = train(con, spec, seed)
    predict(con, spec, model)
    links, review = split_pairs(con, spec, {_key(a, b) for a, b, _ in decisions})
    pairs = [(int(a), int(b), float(p)) for a, b, p in con.execute("SELECT l, r, p FROM pairs").fetchall()]
    con.close()
    clusters = cluster([r["id"] for r in rows], links, decisions)
    return MatchResult(clusters=clusters, review=review, pairs_scored=len(pairs), pairs=pairs, model=model)


def _key(a, b) -> tuple:
    return (min(a, b), max(a, b))


def cluster(ids, links, decisions=()) -> dict:
    """Clusters of ``ids`` from ``links`` (a, b, probability) and people's ``decisions``:
    each id to the smallest id of its cluster (see :func:`cluster_arrays`)."""
    ids = list(ids)
    arrays = [np.fromiter((link[k] for link in links), float if k == 2 else np.int64, len(links)) for k in range(3)]
    nodes, labels = cluster_arrays(np.asarray(ids, np.int64), *arrays, decisions)
    out = dict(zip(nodes.tolist(), labels.tolist()))
    return {i: out[i] for i in ids}


def cluster_arrays(ids, left, right, probability, decisions=()) -> tuple:
    """``(nodes, label)``: every id (of ``ids`` and the links ``left[k]``-``right[k]``), sorted,
    and the smallest id of its cluster. "same" decisions are joined first; a "different"
    pair's edge is cut, and no chain of other edges may join the two either (the edges are
    taken strongest first, and one that would put a "different" pair together is skipped).

    Components come from SciPy's sparse graph (millions of links in a second); only the
    components that hold both ids of a "different" pair are rebuilt edge by edge."""
    same = np.asarray([(a, b) for a, b, verdict in decisions if verdict == "same"], np.int64).reshape(-1, 2)
    apart = np.asarray([(a, b) for a, b, verdict in decisions if verdict == "different"], np.int64).reshape(-1, 2)
    keep = ~np.isin(_pair_key(left, right), _pair_key(apart[:, 0], apart[:, 1]))
    nodes, label = components(np.concatenate([ids, apart.ravel()]), np.concatenate([same[:, 0], left[keep]]),
                              np.concatenate([same[:, 1], right[keep]]))
    at = {int(n): i for i, n in enumerate(nodes[np.searchsorted(nodes, apart.ravel())])} if len(apart) else {}
    torn = {int(label[at[a]]) for a, b in apart.tolist() if label[at[a]] == label[at[b]]}
    if not torn:
        return nodes, label
    inside = np.isin(label, list(torn))
    of = dict(zip(nodes[inside].tolist(), label[inside].tolist()))
    order = np.argsort(-probability, kind="stable")
    ordered = [(a, b) for a, b, k in zip(left[order].tolist(), right[order].tolist(), keep[order].tolist())
               if k and of.get(a) is not None]
    again = connected_components(list(of), [(a, b) for a, b in same.tolist() if a in of] + ordered,
                                 [(a, b) for a, b in apart.tolist() if a in of])
    label = label.copy()
    label[inside] = [again[n] for n in nodes[inside].tolist()]
    return nodes, label


def _pair_key(a, b):
    """One int64 per unordered pair (ids, or a master's negated id, within ±2^31)."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return lo * (1 << 32) + hi


def components(ids, left, right) -> tuple:
    """``(nodes, label)``: every node of ``ids`` and the edges ``left``-``right`` (int64
    arrays), sorted, and the smallest node of its connected component, by SciPy."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as scipy_components
    nodes = _distinct(np.concatenate([np.asarray(ids, np.int64), left, right]))
    if not len(nodes):
        return nodes, nodes
    if nodes[-1] - nodes[0] + 1 == len(nodes):   # ids without gaps: a node's place is arithmetic
        li, ri = left - nodes[0], right - nodes[0]
    else:
        li, ri = np.searchsorted(nodes, left), np.searchsorted(nodes, right)
    graph = coo_matrix((np.ones(len(li), np.int8), (li, ri)), shape=(len(nodes), len(nodes)))
    _, label = scipy_components(graph, directed=False)
    # nodes are sorted, so in a stable sort by component each component's first is its smallest
    order = np.argsort(label, kind="stable")
    first = order[np.flatnonzero(np.diff(label[order], prepend=-1))]
    smallest = np.empty(label.max() + 1, np.int64)
    smallest[label[first]] = nodes[first]
    return nodes, smallest[label]


def _distinct(values):
    """The distinct values, sorted (a sort: NumPy's hashing ``unique`` is slower on millions)."""
    values = np.sort(values)
    return values[np.diff(values, prepend=values[:1] - 1) != 0] if len(values) else values


def connected_components(ids, links, apart=()) -> dict:
    """Each id to the smallest id of its component (union-find); a link that would join
    the two ids of an ``apart`` pair is skipped."""
    parent = {i: i for i in ids}
    for a, b in list(links) + list(apart):
        parent.setdefault(a, a)
        parent.setdefault(b, b)
    forbid: dict = {}
    for a, b in apart:
        forbid.setdefault(a, set()).add(b)
        forbid.setdefault(b, set()).add(a)
    # per root: the ids that must stay out of its component
    banned = {i: set(others) for i, others in forbid.items()}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for a, b in links:
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        if banned and (any(root(x) == rb for x in banned.get(ra, ())) or
                       any(root(x) == ra for x in banned.get(rb, ()))):
            continue
        keep, gone = min(ra, rb), max(ra, rb)
        parent[gone] = keep
        if gone in banned:
            banned.setdefault(keep, set()).update(banned.pop(gone))
    return {i: root(i) for i in ids}
