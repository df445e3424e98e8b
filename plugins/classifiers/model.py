"""Fitting (scikit-learn) and predicting (plain Python over the fitted numbers).

The features are words cut to a stem of six letters, and pairs of neighbouring stems, weighted by
TF-IDF; the classifier is a multinomial logistic regression. What is kept is the vocabulary,
the IDF weights, the coefficients (small ones dropped) and the classes: JSON that any worker
reads back without unpickling anything.
"""
from __future__ import annotations

import math
import re

WORD = re.compile(r"[0-9a-zа-яё]+")
STEM = 6
PRUNE = 0.005  # coefficients smaller than this change no prediction that matters


def tokens(text: str) -> list[str]:
    """Stems and neighbouring pairs of stems of ``text`` (lower case, ё as е)."""
    words = [w[:STEM] for w in WORD.findall((text or "").lower().replace("ё", "е")) if len(w) > 1]
    return words + [a + " " + b for a, b in zip(words, words[1:])]


def fit(texts: list[str], labels: list[str]) -> dict:
    """A fitted model of ``texts`` and their ``labels``, as plain numbers."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(analyzer=tokens, min_df=2, sublinear_tf=True)
    x = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=10.0, max_iter=2000)
    classifier.fit(x, labels)
    vocabulary = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
    weights = []
    for row in classifier.coef_:
        weights.append({str(i): round(float(w), 4) for i, w in enumerate(row) if abs(w) >= PRUNE})
    if len(classifier.classes_) == 2:  # scikit-learn keeps one row for two classes: the second's
        weights = [{k: -w for k, w in weights[0].items()}, weights[0]]
        intercept = [-float(classifier.intercept_[0]), float(classifier.intercept_[0])]
    else:
        intercept = [float(b) for b in classifier.intercept_]
    return {"vocabulary": vocabulary, "idf": [round(float(v), 5) for v in vectorizer.idf_],
            "classes": [str(c) for c in classifier.classes_], "weights": weights, "intercept": intercept}


def predict(model: dict, text: str) -> tuple[str | None, float]:
    """The most likely class of ``text`` and its probability (``None, 0`` for an empty text)."""
    vocabulary, idf = model["vocabulary"], model["idf"]
    counts: dict[int, int] = {}
    for term in tokens(text):
        i = vocabulary.get(term)
        if i is not None:
            counts[i] = counts.get(i, 0) + 1
    if not counts:
        return None, 0.0
    vector = {str(i): (1 + math.log(n)) * idf[i] for i, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values()))
    scores = [b + sum(w.get(i, 0.0) * v for i, v in vector.items()) / norm
              for w, b in zip(model["weights"], model["intercept"])]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    best = max(range(len(scores)), key=scores.__getitem__)
    return model["classes"][best], exps[best] / sum(exps)


def split(texts: list[str], labels: list[str], holdout: float, seed: int = 17):
    """A stratified split: about ``holdout`` of each label's examples held back."""
    from sklearn.model_selection import train_test_split
    return train_test_split(texts, labels, test_size=holdout, random_state=seed, stratify=labels)


def accuracy(model: dict, texts: list[str], labels: list[str]) -> float:
    right = sum(1 for text, label in zip(texts, labels) if predict(model, text)[0] == label)
    return right / len(labels) if labels else 0.0


def majority(train_labels: list[str], test_labels: list[str]) -> float:
    """The accuracy of always answering the most frequent training label."""
    top = max(set(train_labels), key=train_labels.count)
    return sum(1 for label in test_labels if label == top) / len(test_labels) if test_labels else 0.0
