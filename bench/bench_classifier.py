"""The utility app's topic classifier on held-back labelled appeals, against the majority label.

Reads the labelled appeals the app ships (``apps_config/utility/fixtures/training_appeal.yaml``,
written by ``scripts/utility_training_appeals.py``), holds back a stratified 20 % (five splits
by seed), fits the plugin's model (TF-IDF over word stems and stem pairs, logistic regression,
scikit-learn) on the rest, and prints the accuracy of the kept model's prediction (plain Python
over the fitted numbers, as ``suggest()`` runs) beside always answering the most frequent
label, with their ratio, and the time to fit and to predict one appeal.

    .venv/bin/python bench/bench_classifier.py
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.classifiers import model  # noqa: E402

DATA = ROOT / "apps_config/utility/fixtures/training_appeal.yaml"


def main() -> None:
    rows = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    texts, labels = [r["text"] for r in rows], [r["topic_code"] for r in rows]
    print(f"# {len(rows)} labelled appeals, {len(set(labels))} topics; 20 % held back, 5 seeds")
    accuracies, baselines, fits, predicts = [], [], [], []
    for seed in range(5):
        train_x, test_x, train_y, test_y = model.split(texts, labels, 0.2, seed=seed)
        t0 = time.perf_counter()
        fitted = model.fit(train_x, train_y)
        fits.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        accuracies.append(model.accuracy(fitted, test_x, test_y))
        predicts.append((time.perf_counter() - t0) / len(test_x))
        baselines.append(model.majority(train_y, test_y))
    acc, base = statistics.mean(accuracies), statistics.mean(baselines)
    print(f"held back per split     {len(test_x)}")
    print(f"accuracy                {acc:.3f}  (min {min(accuracies):.3f}, max {max(accuracies):.3f})")
    print(f"majority-class baseline {base:.3f}")
    print(f"ratio                   {acc / base:.1f}x")
    print(f"fit                     {statistics.mean(fits) * 1000:.0f} ms")
    print(f"predict one appeal      {statistics.mean(predicts) * 1e6:.0f} us")


if __name__ == "__main__":
    main()
