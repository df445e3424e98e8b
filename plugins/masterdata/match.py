"""Matching source records into masters with Splink on DuckDB.

Training is unsupervised: u probabilities from random pairs, m probabilities by
expectation maximisation over each blocking rule in turn (a rule's own fields
are fixed while the others are learnt). Pairs at or above the "same"
threshold are joined into clusters (connected components); pairs between
"review" and "same" are returned for a person to decide.
"""
from __future__ import annotations

import dataclasses
import logging

import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from .normalise import NORMALISERS

DEFAULT_SAME, DEFAULT_REVIEW = 0.95, 0.6


@dataclasses.dataclass
class MatchResult:
    clusters: dict            # record id -> cluster id (the smallest record id in it)
    review: list              # (id_l, id_r, probability) between the thresholds
    pairs_scored: int
    pairs: list = dataclasses.field(default_factory=list)  # (id_l, id_r, probability) at or above review


def normalised_rows(rows, fields: dict) -> list[tuple]:
    """Rows as tuples (id, normalised field...) in the order of ``fields``."""
    funcs = [NORMALISERS[name] for name in fields.values()]
    return [(row["id"], *(f(row.get(field)) for f, field in zip(funcs, fields))) for row in rows]


def _comparison(spec: dict):
    field, kind, limits = spec["field"], spec["kind"], spec.get("thresholds")
    if kind == "exact":
        return cl.ExactMatch(field)
    if kind == "levenshtein":
        return cl.LevenshteinAtThresholds(field, [int(x) for x in (limits or [1, 2])])
    if kind == "jaro_winkler":
        return cl.JaroWinklerAtThresholds(field, limits or [0.9, 0.7])
    return cl.AbsoluteDateDifferenceAtThresholds(field, metrics=["day"] * len(limits or [1]),
                                                 thresholds=limits or [1], input_is_string=True)


def match(rows, spec: dict, seed: int = 1) -> MatchResult:
    """Cluster ``rows`` (dicts with ``id`` and the raw fields ``spec`` names)."""
    logging.getLogger("splink").setLevel(logging.WARNING)
    fields = spec["fields"]
    con = duckdb.connect()
    columns = ", ".join(f'"{name}" VARCHAR' for name in fields)
    con.execute(f"CREATE TABLE records (unique_id BIGINT, {columns})")
    con.executemany(f"INSERT INTO records VALUES ({', '.join('?' * (len(fields) + 1))})",
                    normalised_rows(rows, fields))
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
    limits = spec.get("thresholds") or {}
    same, review = limits.get("same", DEFAULT_SAME), limits.get("review", DEFAULT_REVIEW)
    predictions = linker.inference.predict(threshold_match_probability=review)
    # A pair whose distinguishing fields (first name, birth date) both have values and
    # disagree is never "same": relatives share every contact of their premise, and
    # agreeing contacts outweigh any single disagreement in the model.
    veto = " OR ".join(f"gamma_{field} = 0" for field in spec.get("must_agree") or []) or "FALSE"
    pairs = con.execute(f"SELECT unique_id_l, unique_id_r, match_probability, {veto} "
                        f"FROM {predictions.physical_name}").fetchall()
    con.close()
    scored = [(int(a), int(b), float(p)) for a, b, p, _ in pairs]
    linked = [(a, b) for (a, b, p), (*_, vetoed) in zip(scored, pairs) if p >= same and not vetoed]
    review_pairs = [(a, b, p) for (a, b, p), (*_, vetoed) in zip(scored, pairs) if p < same or vetoed]
    return MatchResult(clusters=connected_components([r["id"] for r in rows], linked),
                       review=review_pairs, pairs_scored=len(pairs), pairs=scored)


def connected_components(ids, links) -> dict:
    """Each id to the smallest id of its component (union-find)."""
    parent = {i: i for i in ids}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for a, b in links:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: root(i) for i in ids}
