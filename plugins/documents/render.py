"""Rendering: an HTML template (sandboxed jinja) to PDF with WeasyPrint, a DOCX
template with docxtpl (the same sandboxed jinja inside Word's XML).

Templates are app metadata written by analysts, so they run in jinja's
immutable sandbox (no attribute starting with ``_``, no mutation of the
context) and WeasyPrint fetches nothing: an ``<img src>`` or stylesheet that is
not a ``data:`` URL is refused, so a template can neither read the server's
files nor reach the network.
"""
from __future__ import annotations

import base64
import binascii
import io
import sys
import zipfile

from jinja2 import TemplateError as JinjaError
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from runtime.plugin_api import LoomError

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class TemplateProblem(LoomError):
    """A template that does not compile or fails while rendering: names where and which line."""

    status = 422
    title = "Bad document template"

    def __init__(self, where: str, message: str, line: int | None = None):
        self.where, self.message, self.line = where, message, line
        at = f"{where}, template line {line}" if line else where
        super().__init__(f"{at}: {message}", template=where, line=line)


def _money(value, scale: int = 2) -> str:
    """``1234.5`` -> ``1 234,50``: how a Russian document writes an amount."""
    if value in (None, ""):
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    text = f"{number:,.{scale}f}".replace(",", "\u00a0")
    return text.replace(".", ",")


def environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=autoescape, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    return env


HTML_ENV = environment(autoescape=True)
TEXT_ENV = environment(autoescape=False)


def _line_in(name: str) -> int | None:
    """The template line of the exception being handled: jinja rewrites tracebacks so
    that frames of template code carry the template's name and line."""
    tb, line = sys.exc_info()[2], None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def check_html(source: str, where: str) -> None:
    """Raise :class:`TemplateProblem` (with the line) when ``source`` is not a valid template."""
    try:
        HTML_ENV.compile(source)  # compiling, not only parsing, finds an unknown filter or test
    except TemplateSyntaxError as exc:
        raise TemplateProblem(where, exc.message or str(exc), exc.lineno) from None


def record_paths(source: str):
    """``(line, path)`` of every ``record.x`` and ``record.link.y`` a template reads (attribute
    or constant subscript), to be checked against the entity's fields at publish."""
    from jinja2 import nodes
    try:
        tree = HTML_ENV.parse(source)
    except TemplateSyntaxError:
        return  # reported by check_html
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        parts, current = [], node
        while isinstance(current, (nodes.Getattr, nodes.Getitem)):
            key = current.attr if isinstance(current, nodes.Getattr) else getattr(current.arg, "value", None)
            if not isinstance(key, str):
                break
            parts.append(key)
            current = current.node
        else:
            if isinstance(current, nodes.Name) and current.name == "record" and len(parts) in (1, 2):
                yield node.lineno, tuple(reversed(parts))


def render_text(env, source: str, context: dict, where: str) -> str:
    """Render a jinja template; any failure becomes a :class:`TemplateProblem` with its line."""
    try:
        # compiled with ``where`` as its file name, so a failure's traceback shows the template's line
        code = env.compile(source, name=where, filename=where)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(where, exc.message or str(exc), exc.lineno) from None
    try:
        return env.template_class.from_code(env, code, env.make_globals(None)).render(context)
    except JinjaError as exc:
        raise TemplateProblem(where, str(exc), _line_in(where)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise TemplateProblem(where, f"{type(exc).__name__}: {exc}", _line_in(where)) from None


def html_documents(sources: list[str]):
    """WeasyPrint documents laid out from HTML strings."""
    from weasyprint import HTML  # imported late: loading pango takes a moment
    from weasyprint.urls import URLFetcher
    fetcher = URLFetcher(allowed_protocols=("data",))  # no file:, no http: a template reaches nothing
    return [HTML(string=s, url_fetcher=fetcher).render() for s in sources]


def pdf_from_html(sources: list[str]) -> bytes:
    """One PDF of several HTML documents, each starting on a new page."""
    docs = html_documents(sources)
    pages = [page for doc in docs for page in doc.pages]
    return docs[0].copy(pages).write_pdf()


def decode_docx(data: str, where: str) -> bytes:
    """The DOCX bytes of a template's ``docx`` (base64), checked to be a Word document."""
    try:
        raw = base64.b64decode(data, validate=False)
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            if "word/document.xml" not in z.namelist():
                raise TemplateProblem(where, "is not a Word document (no word/document.xml inside)")
    except (binascii.Error, zipfile.BadZipFile, ValueError) as exc:
        if isinstance(exc, TemplateProblem):
            raise
        raise TemplateProblem(where, f"is not a base64-encoded DOCX file: {exc}") from None
    return raw


def check_docx(raw: bytes, where: str) -> None:
    """Compile the jinja inside a DOCX (as docxtpl prepares it) to find syntax errors before printing."""
    from docxtpl import DocxTemplate
    tpl = DocxTemplate(io.BytesIO(raw))
    tpl.init_docx()
    xml = tpl.patch_xml(tpl.get_xml())
    try:
        TEXT_ENV.compile(xml)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(where, f"{exc.message} (word/document.xml after docxtpl's preparation)",
                              exc.lineno) from None


def docx(raw: bytes, context: dict, where: str) -> bytes:
    from docxtpl import DocxTemplate
    tpl = DocxTemplate(io.BytesIO(raw))
    try:
        tpl.render(context, jinja_env=environment(autoescape=True))
    except TemplateSyntaxError as exc:
        raise TemplateProblem(where, exc.message or str(exc), exc.lineno) from None
    except JinjaError as exc:
        raise TemplateProblem(where, str(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise TemplateProblem(where, f"{type(exc).__name__}: {exc}") from None
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()
