"""Keeping nested objects shallow enough for C code.

Some C code recurses without checking the recursion limit: hashing a
tuple hashes its items, and ``next()`` on a ``map`` over a ``map`` over
... calls down the whole chain. A script can add one level per loop
iteration, and some 100,000 levels exhaust an 8 MiB C stack: the
process dies. Two defences:

* iterator chains get a Python frame at every level (:class:`Chained`),
  so the interpreter's recursion limit applies and a deep chain ends in
  ``RecursionError`` instead of a crash;
* tuples are checked for depth where scripts make them: tuple displays,
  ``tuple()``, ``*args``, ``zip``/``enumerate``/``dict.items`` items,
  ``exc.args`` and ``hash()``.
"""

from __future__ import annotations

from .state import exceed

#: Deepest tuple nesting a script may build. Real data nests a few levels.
MAX_NESTING = 1000


def check_nesting(value):
    """Stop the script if the tuple ``value`` nests deeper than allowed."""
    for part in value:
        if type(part) is tuple:
            break
    else:
        return value  # the common case: no tuple inside
    seen = set()
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            exceed("recursion", f"tuples nested more than {MAX_NESTING} levels deep")
        for part in item:
            if type(part) is tuple and part and id(part) not in seen:
                seen.add(id(part))
                stack.append((part, depth + 1))
    return value


def checked_items(iterator):
    """Yield the tuples of ``iterator`` after checking their depth."""
    for item in iterator:
        check_nesting(item)
        yield item


class Chained:
    """An iterator whose ``__next__`` is a Python frame.

    Wrapping every lazily chained iterator in one makes the chain's
    depth count against the recursion limit.
    """

    __slots__ = ("_it",)

    def __init__(self, iterator):
        self._it = iterator

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)


#: Iterators that do not pull from another iterator.
_LEAVES = frozenset(
    type(iter(sample))
    for sample in ([], (), "", b"", bytearray(), {}, set(), range(0), {}.keys(), {}.values(), {}.items())
) | {type(reversed([])), type(reversed(())), Chained}


def guarded_getiter(obj):
    """``_getiter_``: ``iter(obj)``, wrapped if it may be a chain."""
    iterator = iter(obj)
    kind = type(iterator)
    if kind in _LEAVES:
        return iterator
    # Generators too: CPython 3.11 resumes a generator from C without a
    # recursion check, so even a chain of generator frames can crash.
    return Chained(iterator)


def guarded_map(func, *iterables):
    return map(func, *[guarded_getiter(iterable) for iterable in iterables])


def guarded_filter(func, iterable):
    return filter(func, guarded_getiter(iterable))


def guarded_zip(*iterables, strict=False):
    return checked_items(zip(*[guarded_getiter(iterable) for iterable in iterables], strict=strict))


def guarded_enumerate(iterable, start=0):
    return checked_items(enumerate(guarded_getiter(iterable), start))


def guarded_tuple(value):
    """``_tuple_``: a tuple display or ``*args`` the script made."""
    return check_nesting(value)


def guarded_hash(obj):
    if type(obj) is tuple:
        check_nesting(obj)
    return hash(obj)


def dict_items(mapping):
    # A list instead of a view: C consumers like sorted() or list() would
    # copy the pairs without the check.
    return list(checked_items(iter(dict.items(mapping))))


def dict_popitem(mapping):
    return check_nesting(mapping.popitem())
