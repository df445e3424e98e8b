"""Printing: find an app's template, render it for one record or several, attach the result.

Every read goes through ``records`` (the record service acting as the printing user),
so a user prints only what they may read, and attaching needs the right to update
the record and its file field.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.plugin_api import Forbidden, LoomError, NotFound

from . import render
from .context import Linked, record_context, title_text
from .schema import KIND, where

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_LIST = 200  # records one list print renders at most


@dataclass(frozen=True)
class Template:
    app: str
    name: str
    spec: dict

    @property
    def entity(self) -> str:
        return self.spec["entity"]

    @property
    def is_docx(self) -> bool:
        return "docx" in self.spec

    @property
    def media_type(self) -> str:
        return render.DOCX if self.is_docx else render.PDF

    @property
    def suffix(self) -> str:
        return ".docx" if self.is_docx else ".pdf"

    def title(self, language: str | None = None) -> str:
        return title_text(self.spec.get("title"), language) or self.name

    def allowed(self, actor) -> bool:
        """Whether the template's ``roles`` let ``actor`` print it (reading the record is checked apart)."""
        roles = self.spec.get("roles")
        if not roles or actor.is_admin or actor.system:
            return True
        return any(f"{self.app}:{r}" in actor.roles for r in roles)


def templates(section, app: str, entity: str | None = None) -> list[Template]:
    """The templates of a documents section (live or draft), for ``entity`` or all."""
    found = ((section or {}).get("templates") or {}).items()
    return [Template(app, name, spec) for name, spec in found if entity is None or spec.get("entity") == entity]


def template(platform, app: str, name: str) -> Template:
    for tpl in templates(platform.app_section(app, KIND), app):
        if tpl.name == name:
            return tpl
    raise NotFound(f"app {app!r} has no document template {name!r}")


def usable(tpl: Template, records) -> Template:
    """``tpl`` if the user may print it; NotFound otherwise (as if it did not exist)."""
    if not tpl.allowed(records.actor):
        raise NotFound(f"app {tpl.app!r} has no document template {tpl.name!r} for you")
    return tpl


def _html(tpl: Template, context: dict) -> str:
    return render.render_text(render.HTML_ENV, tpl.spec["html"], context, where(tpl.name, "html"))


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def filename(tpl: Template, context: dict) -> str:
    """The file's name: the template's ``filename`` (jinja) or its title plus the record's number."""
    if tpl.spec.get("filename"):
        stem = render.render_text(render.TEXT_ENV, tpl.spec["filename"], context, where(tpl.name, "filename"))
    else:
        stem = f"{tpl.title()} {context['record'].get('number') or context['record'].get('id')}"
    stem = _UNSAFE.sub("_", stem).strip(" .") or tpl.name
    return stem[:150] + tpl.suffix


def print_record(platform, records, tpl: Template, record_id: int) -> tuple[str, bytes]:
    """``(file name, content)`` of ``tpl`` for one record the user may read."""
    usable(tpl, records)
    context = record_context(platform, records, tpl.app, tpl.entity, record_id, related=tpl.spec.get("related"))
    if tpl.is_docx:
        raw = render.decode_docx(tpl.spec["docx"], where(tpl.name, "docx"))
        return filename(tpl, context), render.docx(raw, context, where(tpl.name, "docx"))
    return filename(tpl, context), render.pdf_from_html([_html(tpl, context)])


def print_list(platform, records, tpl: Template, record_ids: list[int]) -> tuple[str, bytes]:
    """One PDF of ``tpl`` for each of ``record_ids`` in turn, each record from a new page.
    A record the user may not read is NotFound (nothing is printed)."""
    usable(tpl, records)
    if tpl.is_docx:
        raise LoomError(f"{tpl.name} is a Word template; only HTML templates print several records into one PDF")
    ids = list(dict.fromkeys(int(i) for i in record_ids))
    if not ids:
        raise LoomError("choose the records to print")
    if len(ids) > MAX_LIST:
        raise LoomError(f"at most {MAX_LIST} records print at once; {len(ids)} were chosen")
    linked = Linked(platform, records, tpl.app)
    pages = [_html(tpl, record_context(platform, records, tpl.app, tpl.entity, i, linked,
                                       related=tpl.spec.get("related"))) for i in ids]
    return f"{tpl.title()} ({len(ids)}).pdf", render.pdf_from_html(pages)


def attach(platform, records, tpl: Template, record_id: int) -> dict:
    """Print ``tpl`` for a record and keep the file in the template's ``attach_to`` field."""
    field = tpl.spec.get("attach_to")
    if not field:
        raise Forbidden(f"the template {tpl.name!r} names no file field to attach to (attach_to)")
    name, content = print_record(platform, records, tpl, record_id)
    return records.attach(tpl.app, tpl.entity, record_id, field, name, content, tpl.media_type)
