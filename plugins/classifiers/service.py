"""Training from the app's records, keeping the model, and ``suggest()`` for scripts."""
from __future__ import annotations

import threading

from runtime.plugin_api import now

from . import model as fitting

_cache: dict = {}
_lock = threading.Lock()


def key(app: str, name: str) -> str:
    return f"classifiers:{app}:{name}"


def spec_of(platform, app: str, name: str) -> dict:
    section = platform.app_section(app, "classifiers") or {}
    spec = (section.get("classifiers") or {}).get(name)
    if spec is None:
        known = ", ".join(sorted(section.get("classifiers") or {})) or "none"
        raise LookupError(f"app {app!r} declares no classifier {name!r}; declared: {known}")
    return spec


def examples(platform, app: str, spec: dict) -> tuple[list[str], list[str]]:
    """The labelled texts of the classifier's entity (records without a label or text skipped)."""
    texts, labels, after = [], [], None
    records = platform.records()
    while True:
        page = records.page(app, spec["entity"], limit=500, after=after, sort=("id",))
        for row in page["items"]:
            text = " ".join(str(row.get(f) or "") for f in spec["text"]).strip()
            label = row.get(spec["label"])
            if text and label not in (None, ""):
                texts.append(text)
                labels.append(str(label))
        after = page.get("next")
        if not after:
            return texts, labels


def evaluate(texts: list[str], labels: list[str], holdout: float) -> dict:
    """Fit on all but a held-back part and measure it there, against the majority label."""
    train_x, test_x, train_y, test_y = fitting.split(texts, labels, holdout)
    fitted = fitting.fit(train_x, train_y)
    return {"train": len(train_x), "test": len(test_x), "accuracy": fitting.accuracy(fitted, test_x, test_y),
            "baseline": fitting.majority(train_y, test_y)}


def train(platform, app: str, name: str) -> dict:
    """Measure on a held-back part, then fit on every example and keep the model."""
    spec = spec_of(platform, app, name)
    texts, labels = examples(platform, app, spec)
    if len(set(labels)) < 2:
        raise LookupError(f"classifier {name!r} needs examples of two labels at least; "
                          f"{spec['entity']!r} has {len(labels)} labelled record(s)")
    report = evaluate(texts, labels, spec.get("holdout", 0.2))
    fitted = fitting.fit(texts, labels)
    fitted["trained_at"] = now().isoformat()
    fitted["examples"] = len(texts)
    fitted["report"] = report
    platform.save_state(key(app, name), fitted)
    platform.save_state(key(app, name) + ":trained_at", fitted["trained_at"])
    return {"examples": len(texts), "labels": len(set(labels)), **report}


def loaded(platform, app: str, name: str) -> dict | None:
    """The kept model, read once per process and again after it was retrained (a small stamp
    says when; the model itself is read only when the stamp moved)."""
    k = key(app, name)
    stamp = platform.state(k + ":trained_at")
    if stamp is None:
        return None
    with _lock:
        hit = _cache.get(k)
    if hit is not None and hit.get("trained_at") == stamp:
        return hit
    fitted = platform.state(k)
    with _lock:
        _cache[k] = fitted
    return fitted


def suggest(call, name, text):
    """``suggest(name, text)`` in a script: the label, or ``None`` when the classifier is not trained
    yet or less sure than its ``min_confidence``."""
    spec = spec_of(call.platform, call.app, str(name))
    fitted = loaded(call.platform, call.app, str(name))
    if fitted is None or not text:
        return None
    label, probability = fitting.predict(fitted, str(text))
    return label if label is not None and probability >= spec.get("min_confidence", 0.2) else None
