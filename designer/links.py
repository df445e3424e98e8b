"""Where in the designer a spot of an app is edited: ``editor_url(app, file, path)``.

``file`` is a file of the app folder (``entities/request.yaml``, ``sla.yaml``,
``scripts/hooks.py``, ...) and ``path`` the dotted path inside it, as
:class:`metamodel.Problem` names them. The URL opens the editor that owns that
part, with ``#<path>`` so the editor can highlight the spot; anything without
an editor of its own opens in the raw YAML view.
"""
from __future__ import annotations

import re
from urllib.parse import quote

from metamodel.document import SECTIONS

PREFIX = "/designer/apps"

# entity keys with a dedicated editor; every other key has the schema-driven section editor
ENTITY_EDITORS = {
    "fields": "fields", "title_field": "fields", "number": "fields", "indexes": "fields", "search": "fields",
    "title": "fields", "plural": "fields", "name": "fields", "description": "fields",
    "form": "form",
    "statuses": "workflow", "transitions": "workflow",
    "views": "views",
}

_ENTITY_FILE = re.compile(r"entities/([^/]+)\.ya?ml")
_SECTION_FILE = re.compile(r"([a-z_]+)\.ya?ml")
_EXTENSION_FILE = re.compile(r"extensions/([^/]+)\.ya?ml")


def first_key(path: str) -> str:
    """The top key of a dotted path: ``fields.priority.choices[0]`` -> ``fields``."""
    return re.split(r"[.\[]", path or "", maxsplit=1)[0]


def app_url(app: str) -> str:
    return f"{PREFIX}/{quote(app)}/"


def raw_url(app: str, item: str) -> str:
    return f"{PREFIX}/{quote(app)}/raw/{quote(item)}"


def entity_url(app: str, entity: str, key: str = "") -> str:
    """The editor of ``key`` of an entity (its fields editor for the whole entity)."""
    base = f"{PREFIX}/{quote(app)}/entities/{quote(entity)}"
    editor = ENTITY_EDITORS.get(key or "fields")
    return f"{base}/{editor}" if editor else f"{base}/section/{quote(key)}"


def entity_editor_url(app: str, entity: str, editor: str) -> str:
    """An entity's editor by its name: ``fields``, ``form``, ``workflow`` or ``views``."""
    return f"{PREFIX}/{quote(app)}/entities/{quote(entity)}/{editor}"


def section_url(app: str, kind: str) -> str:
    return f"{PREFIX}/{quote(app)}/sections/{quote(kind)}"


def extension_url(app: str, kind: str) -> str:
    """The editor of ``extensions/<kind>.yaml``, a metadata kind a plugin adds."""
    return f"{PREFIX}/{quote(app)}/extensions/{quote(kind)}"


def script_url(app: str, file: str) -> str:
    return f"{PREFIX}/{quote(app)}/scripts/{quote(file)}"


def editor_url(app: str, file: str, path: str = "") -> str:
    """The URL of the editor that fixes ``path`` in ``file`` of ``app``."""
    file = file or "app.yaml"
    if m := _ENTITY_FILE.fullmatch(file):
        url = entity_url(app, m.group(1), first_key(path))
    elif file.startswith("scripts/"):
        url = script_url(app, file[len("scripts/"):])
    elif file in ("app.yaml", "app.yml"):
        url = section_url(app, "app")
    elif (m := _SECTION_FILE.fullmatch(file)) and m.group(1) in SECTIONS:
        url = section_url(app, m.group(1))
    elif m := _EXTENSION_FILE.fullmatch(file):
        url = extension_url(app, m.group(1))
    elif file.startswith("fixtures/"):
        url = raw_url(app, file)
    else:  # not a file of the folder (a storage refusal names the app): the app's page
        url = app_url(app)
    return f"{url}#{path}" if path else url
