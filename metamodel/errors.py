"""Problems found in metadata, each pointing at a file, a line and a path."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an app's metadata.

    ``path`` is a dotted path inside the file (``fields.priority.choices``);
    ``line`` is 1-based and ``None`` when the document did not come from text
    (for example a draft edited in the designer).
    """

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


class MetadataError(Exception):
    """Raised with every problem found, never just the first one."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(path) -> str:
    """Render a JSON path (a sequence of keys and indexes) as ``a.b[2].c``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def undotted(text: str) -> tuple:
    """The path :func:`dotted` rendered: ``a.b[2].c`` -> ``("a", "b", 2, "c")``."""
    out: list = []
    for part in text.replace("[", ".[").split("."):
        if part.startswith("[") and part.endswith("]") and part[1:-1].isdigit():
            out.append(int(part[1:-1]))
        elif part:
            out.append(part)
    return tuple(out)
