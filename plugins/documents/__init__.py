"""Printable documents: templates per entity as app metadata, printed as PDF (HTML
through WeasyPrint) or DOCX (docxtpl), from a record's page, from a list's selected
records, and from scripts (``print_document``). See ``docs/plugins.md`` and
``docs/decisions/0018-printable-documents.md``.

An app keeps its templates in ``extensions/documents.yaml`` (see :mod:`.schema`):
they are versioned, hashed and published with the app like any other metadata.
No secrets, no settings.
"""
from __future__ import annotations

from pathlib import Path

from runtime.plugin_api import (DocumentRenderer, MetadataKind, NavLink, ScriptFunction, add_nav_link,
                                add_record_buttons, hookimpl, is_analyst)

from . import render, service
from .schema import KIND, SCHEMA, check

HERE = Path(__file__).resolve().parent


def N_(message: str) -> str:
    """Marks a string for extraction; the top bar translates it with the plugin's catalog."""
    return message


def _render_pdf(template: bytes, context: dict) -> bytes:
    html = render.render_text(render.HTML_ENV, template.decode("utf-8"), context, "template")
    return render.pdf_from_html([html])


def _render_docx(template: bytes, context: dict) -> bytes:
    return render.docx(template, context, "template")


def print_document(call, template: str, record_id, attach: bool = True) -> dict:
    """``print_document("act", record.id)`` in a script: print the app's template for a
    record as the script's user and keep it in the template's ``attach_to`` field (with
    ``attach=False``: only check it prints). Returns ``{id, filename, size, content_type}``."""
    tpl = service.template(call.platform, call.app, str(template))
    if not attach:
        name, content = service.print_record(call.platform, call.records, tpl, int(record_id))
        return {"id": None, "filename": name, "size": len(content), "content_type": tpl.media_type}
    info = service.attach(call.platform, call.records, tpl, int(record_id))
    return {k: info.get(k) for k in ("id", "filename", "size", "content_type")}


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind(KIND, SCHEMA, title={"ru": "Печатные формы", "en": "Printable documents"}, check=check)]


@hookimpl
def loom_document_renderers():
    return [DocumentRenderer("pdf", render.PDF, _render_pdf, ".pdf"),
            DocumentRenderer("docx", render.DOCX, _render_docx, ".docx")]


@hookimpl
def loom_script_functions():
    return [ScriptFunction("print_document", print_document,
                           doc="print_document(template, record_id, attach=True): print an app's document "
                               "template for a record and attach the file to it")]


@hookimpl
def loom_web_app(app, loom):
    from .web import bp, buttons
    app.register_blueprint(bp)
    add_record_buttons(app, buttons)
    add_nav_link(app, NavLink("nav-documents", N_("Documents"), "documents.design_index", visible=is_analyst))


@hookimpl
def loom_translation_dirs():
    return [HERE / "translations"]
