"""YAML in and out: loading with line numbers, dumping byte-stable.

PyYAML's ``compose`` keeps the position of every node, so we build plain
Python data ourselves and remember the line of each path on the way. That
also lets us refuse duplicate keys, which PyYAML would silently merge.
"""
from __future__ import annotations

import yaml

from .errors import MetadataError, Problem, dotted


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps: dates stay strings, as in JSON."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str, filename: str) -> tuple[object, dict[tuple, int]]:
    """Parse ``text`` and return ``(data, lines)``.

    ``lines`` maps a path tuple (keys and list indexes) to its 1-based line.
    Raises :class:`MetadataError` naming the file and line on any syntax
    error or duplicate key.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise MetadataError([Problem(filename, "", f"YAML syntax error: {exc.problem}", line)]) from None
    finally:
        loader.dispose()
    if node is None:
        return None, {}
    lines: dict[tuple, int] = {}
    problems: list[Problem] = []
    data = _build(node, (), lines, problems, filename, loader)
    if problems:
        raise MetadataError(problems)
    return data, lines


def _build(node, path, lines, problems, filename, loader):
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                problems.append(Problem(filename, dotted(path), "mapping keys must be plain values",
                                        key_node.start_mark.line + 1))
                continue
            if key in out:
                problems.append(Problem(filename, dotted(path + (key,)),
                                        f"duplicate key {key!r} (first defined on line {lines[path + (key,)]})",
                                        key_node.start_mark.line + 1))
                continue
            out[key] = _build(value_node, path + (key,), lines, problems, filename, loader)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, path + (i,), lines, problems, filename, loader)
                for i, child in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


class _Dumper(yaml.SafeDumper):
    """Block style, Unicode kept, multi-line strings as literal blocks."""


_UNSAFE_BREAKS = ("\x85", "\u2028", "\u2029", "\r")


def _str_representer(dumper, value: str):
    if any(ch in value for ch in _UNSAFE_BREAKS):
        # YAML folds these line breaks when it reads plain or block text; escape them.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if "\n" in value and not any(line != line.rstrip() for line in value.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(data) -> str:
    """Dump ``data`` so that ``dump_yaml(load_yaml(dump_yaml(d))) == dump_yaml(d)``."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     default_flow_style=False, width=100, indent=2)
