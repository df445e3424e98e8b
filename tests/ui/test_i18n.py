"""The gettext catalogs: compiled files up to date, every UI string translated, the runtime's and
the designer's catalogs merged."""
from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import session

import designer
from runtime.core.config import Settings
from runtime.extension import PluginHost, hookimpl
from runtime.web import create_app
from runtime.web.ui import i18n
from tests.conftest import ROOT

DESIGNER_TRANSLATIONS = Path(designer.__file__).resolve().parent / "translations"
CATALOG_DIRS = (i18n.RUNTIME_TRANSLATIONS, DESIGNER_TRANSLATIONS)
KEYWORDS = {"t": None, "N_": None, "tc": ((1, "c"), 2)}  # as in `make translations`


def _po_files() -> list[Path]:
    return sorted(p for d in CATALOG_DIRS if d.is_dir() for p in d.glob("*/LC_MESSAGES/*.po"))


def _read_po(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def _messages(catalog) -> dict:
    return {(m.context, m.id): m.string for m in catalog if m.id}


def test_every_compiled_catalog_matches_its_po():
    files = _po_files()
    assert i18n.RUNTIME_TRANSLATIONS / "ru/LC_MESSAGES/messages.po" in files
    stale = []
    for po in files:
        mo = po.with_suffix(".mo")
        compiled = io.BytesIO()
        write_mo(compiled, _read_po(po))  # what `pybabel compile` would write
        compiled.seek(0)
        if not mo.exists():
            stale.append(f"{mo} is missing")
            continue
        with mo.open("rb") as f:
            if _messages(read_mo(f)) != _messages(read_mo(compiled)):
                stale.append(f"{mo} is older than {po.name}")
    assert not stale, "run `make translations`: " + "; ".join(stale)


def _extracted(cfg: Path = ROOT / "babel.cfg") -> dict[tuple, list[str]]:
    """{(context, msgid): [file:line, ...]} of the strings `make translations` extracts."""
    with cfg.open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[tuple, list[str]] = {}
    for filename, lineno, msgid, _, context in extract_from_dir(str(ROOT), method_map, options_map,
                                                                keywords=KEYWORDS):
        found.setdefault((context, msgid), []).append(f"{filename}:{lineno}")
    return found


def test_every_ui_string_has_a_russian_translation():
    found = _extracted()
    # templates, Python, N_ markers and contexts are all extracted
    assert {(None, "Sign in"), (None, "{0} is larger than {1} MB"), ("history", "changed")} <= set(found)
    ru = _read_po(i18n.RUNTIME_TRANSLATIONS / "ru/LC_MESSAGES/messages.po")
    missing = []
    for (context, msgid), where in sorted(found.items(), key=lambda item: (item[0][0] or "", item[0][1])):
        entry = ru.get(msgid, context=context)
        if not (entry and entry.string and not entry.fuzzy):
            missing.append(f"{msgid!r} ({', '.join(where)})")
    assert not missing, "no Russian for: " + "; ".join(missing)


def test_every_designer_string_has_a_russian_translation():
    found = _extracted(DESIGNER_TRANSLATIONS / "babel.cfg")
    assert (None, "Publish") in found or len(found) > 100  # the designer's pages were extracted
    catalogs = [_read_po(d / "ru/LC_MESSAGES/messages.po") for d in CATALOG_DIRS]
    missing = [f"{msgid!r} ({', '.join(where)})" for (context, msgid), where in sorted(found.items(), key=str)
               if not any((e := c.get(msgid, context=context)) and e.string and not e.fuzzy for c in catalogs)]
    assert not missing, "no Russian for: " + "; ".join(missing)


def test_no_ui_string_is_hidden_from_extraction_in_an_f_string():
    """``f"{t('Row')} ..."`` would be translated at run time but never extracted."""
    hidden = []
    for path in sorted((ROOT / "runtime").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                hidden += [f"{path.relative_to(ROOT)}:{call.lineno}" for call in ast.walk(node)
                           if isinstance(call, ast.Call) and getattr(call.func, "id", None) in KEYWORDS
                           and call.args and isinstance(call.args[0], ast.Constant)]
    assert not hidden


def test_the_runtime_and_designer_catalogs_agree():
    """Flask-Babel merges them into one: a msgid translated twice must read the same."""
    by_locale: dict[tuple, dict] = {}
    clashes = []
    for po in _po_files():
        locale = po.parent.parent.name
        for key, text in _messages(_read_po(po)).items():
            seen = by_locale.setdefault((locale, po.stem), {})
            if text and seen.get(key, text) != text:
                clashes.append(f"{locale}: {key!r} is {seen[key]!r} in one catalog and {text!r} in another; "
                               f"give one of them a context (tc)")
            seen.setdefault(key, text)
    assert not clashes


def _write_catalog(root: Path, entries: dict) -> None:
    folder = root / "ru" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = 'msgid ""\nmsgstr ""\n"Language: ru\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
    po += "".join(f'msgid "{k}"\nmsgstr "{v}"\n\n' for k, v in entries.items())
    (folder / "messages.po").write_text(po, encoding="utf-8")
    with (folder / "messages.mo").open("wb") as f:
        write_mo(f, read_po(io.StringIO(po)))


@pytest.fixture
def web(sqlite_loom, tmp_path):
    def make():
        app = create_app(Settings(tmp_path, sqlite_loom.database_url), sqlite_loom)
        app.config["TESTING"] = True
        return app
    return make


def _say(app, lang: str, *messages: str) -> list[str]:
    with app.test_request_context("/"):
        session["lang"] = lang
        return [i18n.t(m) for m in messages]


def test_both_catalog_directories_are_configured(web):
    dirs = web().config["BABEL_TRANSLATION_DIRECTORIES"].split(";")
    assert dirs[0] == str(i18n.RUNTIME_TRANSLATIONS)  # installed plugins' catalogs follow, by plugin name
    assert {str(ROOT / "designer" / "translations")} | {str(ROOT / "plugins" / p / "translations")
                                                         for p in ("bpmn", "documents", "portal")} <= set(dirs[1:])
    assert all(Path(d).is_absolute() for d in dirs)


class Catalog:
    """A plugin that brings a catalog of its own, in place of the designer's."""

    def __init__(self, folder: Path):
        self.folder = folder

    @hookimpl
    def loom_translation_dirs(self):
        return [self.folder]


def with_catalog(loom, tmp_path, folder: Path):
    loom.plugins = PluginHost(disabled={"designer"}, extra=[("catalog", Catalog(folder))])
    app = create_app(Settings(tmp_path, loom.database_url), loom)
    app.config["TESTING"] = True
    return app


def test_a_plugins_catalog_is_merged_with_the_runtimes(sqlite_loom, tmp_path):
    folder = tmp_path / "plugin-translations"
    _write_catalog(folder, {"Publish the draft": "Опубликовать черновик"})
    app = with_catalog(sqlite_loom, tmp_path, folder)
    assert app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[-1] == str(folder)
    assert _say(app, "ru", "Publish the draft", "Sign in") == ["Опубликовать черновик", "Вход"]
    assert _say(app, "en", "Publish the draft", "Sign in") == ["Publish the draft", "Sign in"]


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_a_plugin_directory_without_catalogs_changes_nothing(sqlite_loom, tmp_path, state):
    folder = tmp_path / "nothing"
    if state == "empty":
        folder.mkdir()
    app = with_catalog(sqlite_loom, tmp_path, folder)
    assert _say(app, "ru", "Sign in", "Done: {n}") == ["Вход", "Выполнено: {n}"]


def test_format_fields_are_filled_after_translation(web):
    app = web()
    with app.test_request_context("/"):
        assert i18n.t("Done: {n}", n=3) == "Выполнено: 3"
        assert i18n.tc("history", "changed") == "изменение"
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert i18n.t("Done: {n}", n=3) == "Done: 3"


@pytest.mark.parametrize("text, ru", [
    ("is required", "обязательное поле"),
    ("at least 3 characters required, got 1", "не короче 3 символов (сейчас 1)"),
    ("must be at most 10, got 12", "не больше 10"),
    ("'abc' is not a valid whole number", "не целое число"),
    ("'2024-13' is not a valid date (YYYY-MM-DD)", "неверная дата"),
    ("1.234 has more than 2 digits after the point", "не больше 2 знаков после запятой"),
    ("scan.exe: only pdf, png files are accepted", "scan.exe: допускаются только файлы pdf, png"),
    ("big.pdf is larger than 5 MB", "big.pdf: файл больше 5 МБ"),
    ("something nobody translated", "something nobody translated"),
])
def test_service_messages_are_translated(web, text, ru):
    app = web()
    with app.test_request_context("/"):
        assert i18n.message(text) == ru
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert i18n.message(text) == text
