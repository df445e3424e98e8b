"""Columns to fields, and a row's cells to the values a save takes.

A column is suggested for the field whose name or title (ru or en) matches its header,
ignoring case, spaces, punctuation and ``ё``. A link cell names its record by number
(``ORG-000001``) or by title; a choice cell by code or label; a user cell by e-mail or
id; a date may be written ``31.12.2026`` as Russian offices do, a number ``1 234,50``.
"""
from __future__ import annotations

import re

IMPORTABLE = ("column", "point", "assoc")
_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


class CellError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", str(text).lower().replace("ё", "е"))


def importable(model) -> dict:
    """The fields a file may fill: ``{name: field}``."""
    return {name: f for name, f in model.fields.items()
            if f.type != "computed" and f.storage in IMPORTABLE}


def _titles(f) -> list[str]:
    title = f.spec.get("title")
    names = [f.name]
    if isinstance(title, dict):
        names.extend(v for v in title.values() if v)
    elif title:
        names.append(title)
    return names


def suggest(header: list[str], model) -> dict[str, str]:
    """``{column: field}`` for the columns whose header names a field."""
    fields = importable(model)
    by_key = {}
    for name, f in fields.items():
        for title in _titles(f):
            by_key.setdefault(_key(title), name)
    out, taken = {}, set()
    for column in header:
        name = by_key.get(_key(column))
        if name and name not in taken:
            out[column] = name
            taken.add(name)
    return out


def clean(mapping: dict, header: list[str], model) -> dict[str, str]:
    """A mapping posted by a form or recalled from before, kept to this file's columns and the
    entity's importable fields, each field once."""
    fields = importable(model)
    out, taken = {}, set()
    for column in header:
        name = mapping.get(column)
        if name in fields and name not in taken:
            out[column] = name
            taken.add(name)
    return out


class Converter:
    """Cells to values for one import, as ``records`` (the importing user) may see them."""

    def __init__(self, platform, records, app: str, model):
        self.platform, self.records, self.app, self.model = platform, records, app, model
        self._found: dict = {}

    def row(self, cells: dict[str, str], mapping: dict[str, str]) -> tuple[dict, list[CellError]]:
        values, errors = {}, []
        for column, name in mapping.items():
            text = (cells.get(column) or "").strip()
            if text == "":
                continue  # an empty cell leaves the field to its default
            f = self.model.fields[name]
            try:
                values[name] = self.value(f, text)
            except CellError as exc:
                errors.append(exc)
        return values, errors

    def value(self, f, text: str):
        kind = f.value_type
        if f.storage == "assoc":
            return [self._link(f, part.strip()) for part in re.split(r"[;\n]", text) if part.strip()]
        if kind == "choice":
            return self._choice(f, text)
        if kind == "link":
            return self._link(f, text)
        if kind == "user":
            return self._user(f, text)
        if kind in ("date", "datetime"):
            return _date(text)
        if kind in ("integer", "decimal", "money"):
            return re.sub(r"[\s\u00a0]", "", text).replace(",", ".")
        if kind == "boolean":
            return {"+": "true", "-": "false", "истина": "true", "ложь": "false"}.get(text.lower(), text)
        return text

    def _choice(self, f, text: str) -> str:
        low = text.lower()
        for c in f.choices:
            if c.value == text:
                return c.value
        for c in f.choices:
            labels = [c.value] + (list(c.title.values()) if isinstance(c.title, dict) else [c.title] if c.title else [])
            if any(str(label).lower() == low for label in labels):
                return c.value
        return text  # the save names the allowed values

    def _link(self, f, text: str) -> int:
        key = (f.name, text)
        if key not in self._found:
            self._found[key] = self._lookup(f, text)
        found = self._found[key]
        if isinstance(found, CellError):
            raise found
        return found

    def _lookup(self, f, text: str):
        app, _, entity = (f.target or "").rpartition(".")
        app = app or self.app
        try:
            title_field = self.platform.entity_model(app, entity).title_field
        except Exception:  # noqa: BLE001 - a target that went away is the save's error to name
            return CellError(f.name, f"no entity {f.target}")
        for where in ({"number": text}, {title_field: text}):
            found = self.records.find(app, entity, where, limit=2)
            if len(found) == 1:
                return found[0]["id"]
            if len(found) > 1:
                return CellError(f.name, f"several {f.target} records are titled {text!r}; write the number")
        if text.isdigit():
            return int(text)  # an id: the save checks it exists and may be linked
        return CellError(f.name, f"no {f.target} record with number or title {text!r}")

    def _user(self, f, text: str):
        if text.isdigit():
            return int(text)
        user = self.platform.accounts.user(email=text)
        if user is None:
            raise CellError(f.name, f"no user with e-mail {text!r}")
        return user["id"]


def _date(text: str) -> str:
    m = _DATE.match(text)
    if not m:
        return text
    day, month, year, hour, minute, second = m.groups()
    out = f"{year}-{int(month):02d}-{int(day):02d}"
    if hour is not None:
        out += f"T{int(hour):02d}:{minute}:{second or '00'}"
    return out
