"""What people decided and what waits for them, kept in the plugin's durable state.

- decisions: pairs of source records people called "same" or "different", with who,
  when and why; every run honours them (``match.cluster``);
- the review queue of each run: pairs the model scored between "review" and "same";
- the log of merges, so that splitting a merged master can give the sources back to
  the master they came from.
"""
from __future__ import annotations

from runtime.plugin_api import now


def _key(app: str, entity: str, what: str) -> str:
    return f"masterdata:{app}.{entity}:{what}"


def decision_log(platform, app: str, entity: str) -> list[dict]:
    return platform.state(_key(app, entity, "decisions"), [])


def decisions(platform, app: str, entity: str) -> list[tuple]:
    """The standing decisions as (a, b, verdict): the last word on each pair."""
    last = {}
    for d in decision_log(platform, app, entity):
        last[(min(d["a"], d["b"]), max(d["a"], d["b"]))] = d["verdict"]
    return [(a, b, verdict) for (a, b), verdict in last.items() if verdict in ("same", "different")]


def decide(platform, app: str, entity: str, pairs, verdict: str, user: str | None, reason: str = "") -> None:
    """Record ``verdict`` (``same``, ``different`` or ``withdrawn``) on each (a, b) of ``pairs``."""
    log = decision_log(platform, app, entity)
    at = now().isoformat()
    log.extend({"a": int(a), "b": int(b), "verdict": verdict, "user": user, "reason": reason, "at": at}
               for a, b in pairs)
    platform.save_state(_key(app, entity, "decisions"), log)


def save_review(platform, app: str, entity: str, run_id: int, pairs) -> None:
    platform.save_state(_key(app, entity, "review"), {"run": run_id, "pairs": [[int(a), int(b), round(float(p), 4)]
                                                                              for a, b, p in pairs]})


def review(platform, app: str, entity: str) -> dict:
    """The newest run's queue without the pairs decided since: ``{"run", "pairs": [[a, b, p]]}``."""
    queue = platform.state(_key(app, entity, "review"), {"run": None, "pairs": []})
    decided = {(a, b) for a, b, _ in decisions(platform, app, entity)}
    queue["pairs"] = [p for p in queue["pairs"] if (min(p[0], p[1]), max(p[0], p[1])) not in decided]
    return queue


def merges(platform, app: str, entity: str) -> list[dict]:
    return platform.state(_key(app, entity, "merges"), [])


def note_merge(platform, app: str, entity: str, entry: dict) -> None:
    platform.save_state(_key(app, entity, "merges"), [*merges(platform, app, entity), entry])
