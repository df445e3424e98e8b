"""The rooms stay rooms: imports run one way and never in a circle.

Reads every module's imports with ``ast`` (function-level imports included: a
lazy import is still a dependency) and checks them against the layering that
``runtime/__init__.py`` and ARCHITECTURE.md describe.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("metamodel", "runtime", "designer", "plugins")

#: runtime's rooms, lowest first; a room may import the rooms of lower rank only.
RANKS = {
    "runtime.errors": 0, "runtime.clock": 0, "runtime.extension": 0, "runtime.metrics": 0,
    "runtime.sandbox": 1,
    "runtime.data": 2,
    "runtime.security": 3, "runtime.behaviour": 3,  # peers: neither imports the other
    "runtime.core": 4,
    "runtime.web": 5,
    "runtime.cli": 6, "runtime.plugin_api": 6,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    found = {}
    for top in OURS:
        for path in (ROOT / top).rglob("*.py"):
            found[module_name(path)] = path
    return found


MODULES = source_modules()


def imports_of(name: str, path: Path) -> set[str]:
    """The modules of ours that ``name`` imports (``from x import y`` counts y when y is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from pkg import mod`` depends on mod; ``from mod import name`` on mod
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in MODULES else stem for a in node.names]
        else:
            continue
        for target in targets:
            if target in MODULES and target.split(".")[0] in OURS:
                found.add(target)
    found.discard(name)
    return found


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def room(name: str) -> str | None:
    for prefix in sorted(RANKS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return None


def test_every_runtime_module_has_a_room():
    homeless = [n for n in MODULES if n.startswith("runtime.") and room(n) is None]
    assert not homeless, f"add these to a room (RANKS): {homeless}"


def test_metamodel_imports_nothing_of_ours():
    bad = {n: sorted(i for i in deps if not i.startswith("metamodel"))
           for n, deps in GRAPH.items() if n.startswith("metamodel")}
    assert not {n: d for n, d in bad.items() if d}


def test_runtime_never_imports_the_designer_or_plugins():
    bad = {n: sorted(i for i in deps if i.split(".")[0] in ("designer", "plugins"))
           for n, deps in GRAPH.items() if n.split(".")[0] == "runtime"}
    assert not {n: d for n, d in bad.items() if d}


def test_plugins_import_only_the_plugin_api():
    bad = {}
    for name, deps in GRAPH.items():
        if name.split(".")[0] != "plugins":
            continue
        own = ".".join(name.split(".")[:2])  # a plugin's own package
        wrong = sorted(d for d in deps if d != "runtime.plugin_api" and not d.startswith(own))
        if wrong:
            bad[name] = wrong
    assert not bad


def test_lower_rooms_never_import_higher_ones():
    bad = []
    for name, deps in GRAPH.items():
        here = room(name)
        if here is None:
            continue
        for dep in deps:
            there = room(dep)
            if there is None or there == here:
                continue
            if RANKS[there] >= RANKS[here]:
                bad.append(f"{name} -> {dep} ({here} may not import {there})")
    assert not bad, "\n".join(bad)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that reach each other."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_no_import_circles():
    assert strongly_connected(GRAPH) == []


@pytest.mark.parametrize("graph, circles", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_circle_finder_finds_circles(graph, circles):
    assert strongly_connected(graph) == circles
