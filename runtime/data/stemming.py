"""A Russian stemmer (the Snowball algorithm) for full-text search on SQLite.

PostgreSQL stems with ``to_tsvector('russian', ...)``; SQLite's FTS5 does not,
so a search there matches the stem of each Russian word as a prefix: "пароля"
and "паролей" both become ``парол*`` and find "пароль". Words in other scripts
are left as they are.
"""
from __future__ import annotations

import re

VOWELS = "аеиоуыэюя"
_GERUND = (("в", "вши", "вшись"), ("ив", "ивши", "ившись", "ыв", "ывши", "ывшись"))
_ADJECTIVE = ("ее", "ие", "ые", "ое", "ими", "ыми", "ей", "ий", "ый", "ой", "ем", "им", "ым", "ом", "его", "ого",
              "ему", "ому", "их", "ых", "ую", "юю", "ая", "яя", "ою", "ею")
_PARTICIPLE = (("ем", "нн", "вш", "ющ", "щ"), ("ивш", "ывш", "ующ"))
_REFLEXIVE = ("ся", "сь")
_VERB = (("ла", "на", "ете", "йте", "ли", "й", "л", "ем", "н", "ло", "но", "ет", "ют", "ны", "ть", "ешь", "нно"),
         ("ила", "ыла", "ена", "ейте", "уйте", "ите", "или", "ыли", "ей", "уй", "ил", "ыл", "им", "ым", "ен", "ило",
          "ыло", "ено", "ят", "ует", "уют", "ит", "ыт", "ены", "ить", "ыть", "ишь", "ую", "ю"))
_NOUN = ("а", "ев", "ов", "ие", "ье", "е", "иями", "ями", "ами", "еи", "ии", "и", "ией", "ей", "ой", "ий", "й", "иям",
         "ям", "ием", "ем", "ам", "ом", "о", "у", "ах", "иях", "ях", "ы", "ь", "ию", "ью", "ю", "ия", "ья", "я")
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


def _strip(word: str, start: int, endings, after_a: bool = False) -> str | None:
    """``word`` without the longest of ``endings`` lying in its region from ``start``; with
    ``after_a``, only an ending that follows а or я (which stays). None when none fits."""
    for ending in sorted(endings, key=len, reverse=True):
        if word.endswith(ending) and len(word) - len(ending) >= start:
            if after_a and not (len(word) > len(ending) and word[-len(ending) - 1] in "ая"):
                continue
            return word[:-len(ending)]
    return None


def _grouped(word: str, start: int, groups) -> str | None:
    first = _strip(word, start, groups[0], after_a=True)
    second = _strip(word, start, groups[1])
    if first is None or second is None:
        return first if second is None else second
    return first if len(first) < len(second) else second  # the longer ending wins


def _regions(word: str) -> tuple[int, int]:
    rv = next((i + 1 for i, ch in enumerate(word) if ch in VOWELS), len(word))

    def r(after: int) -> int:
        for i in range(max(after, 1), len(word)):
            if word[i] not in VOWELS and word[i - 1] in VOWELS:
                return i + 1
        return len(word)
    r1 = r(0)
    return rv, r(r1)


def stem(word: str) -> str:
    """The Snowball stem of a Russian word (lower-cased, ё as е)."""
    word = word.lower().replace("ё", "е")
    rv, r2 = _regions(word)
    out = _grouped(word, rv, _GERUND)
    if out is None:
        out = _strip(word, rv, _REFLEXIVE) or word
        adjective = _strip(out, rv, _ADJECTIVE)
        if adjective is not None:
            out = _grouped(adjective, rv, _PARTICIPLE) or adjective
        else:
            out = _grouped(out, rv, _VERB) or _strip(out, rv, _NOUN) or out
    if out.endswith("и") and len(out) - 1 >= rv:
        out = out[:-1]
    derivational = _strip(out, r2, ("ост", "ость"))
    out = derivational if derivational is not None else out
    if out.endswith("нн") and len(out) - 1 >= rv:
        out = out[:-1]
    else:
        superlative = _strip(out, rv, ("ейш", "ейше"))
        if superlative is not None:
            out = superlative[:-1] if superlative.endswith("нн") else superlative
        elif out.endswith("ь") and len(out) - 1 >= rv:
            out = out[:-1]
    return out


def search_term(word: str) -> str:
    """What an FTS5 prefix query should match for ``word``: its stem when Russian."""
    if not CYRILLIC.search(word) or not word.isalpha():
        return word
    stemmed = word.lower()[:len(stem(word))]  # the word's own letters: the index keeps ё as written
    return stemmed if len(stemmed) >= 2 else word
