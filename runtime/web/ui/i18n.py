"""The UI's language: ru (default) or en, chosen per session.

Interface strings are written in English in the code (``t("Sign in")``, or
``tc(context, "...")`` where one English word needs two translations) and
translated through gettext catalogs with Flask-Babel:
``runtime/translations/ru/LC_MESSAGES/messages.po`` (and the designer's own
catalog, see :func:`translation_directories`). ``make translations`` extracts
the strings, updates the catalog and compiles it. A string that is chosen at
run time is marked with :func:`N_` where it is written, so extraction finds it.

Metadata titles (``{ru, en}``) go through ``metamodel.title_text``; dates and
numbers are formatted by Flask-Babel for the chosen locale.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from pathlib import Path

from flask import has_request_context, session
from flask_babel import format_date, format_datetime, format_decimal, get_translations

from metamodel.model import title_text

LANGS = ("ru", "en")
DEFAULT = "ru"
RUNTIME_TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def translation_directories(extra=()) -> str:
    """``BABEL_TRANSLATION_DIRECTORIES``: the runtime's catalogs, then the plugins' (``extra``).

    Flask-Babel merges the catalogs of every directory into one (a directory
    without a catalog for the locale adds nothing), so all share ``t()``.
    """
    return ";".join(str(d) for d in (RUNTIME_TRANSLATIONS, *extra))


def N_(message: str) -> str:  # noqa: N802  (the gettext convention)
    """Mark ``message`` for extraction; it is translated later, where it is shown."""
    return message


def lang() -> str:
    value = session.get("lang") if has_request_context() else None
    return value if value in LANGS else DEFAULT


def t(message: str, **kw) -> str:
    """An interface string in the session's language; ``kw`` fill its ``{name}`` fields."""
    text = get_translations().gettext(message)
    return text.format(**kw) if kw else text


def tc(context: str, message: str, **kw) -> str:
    """:func:`t` for a word whose translation depends on where it stands (gettext's msgctxt):
    ``tc("history", "changed")`` is a noun in the record's history."""
    text = get_translations().pgettext(context, message)
    return text.format(**kw) if kw else text


def tt(title) -> str:
    """A metadata title (``{ru, en}`` or plain) in the session's language."""
    return title_text(title, lang())


# English messages of the record service that the forms show as they are; the
# catalog translates them (``message`` looks them up).
SERVICE_MESSAGES = (N_("is required"), N_("needs at least one row"), N_("is required: attach a file"),
                    N_("is read-only: the app sets it"), N_("is read-only for your role"),
                    N_("is required: upload another file before deleting the last one"))

# Messages with values in them: each is a msgid whose ``{0}``, ``{1}`` match
# the parts of the service's text that vary (its translation may drop some).
PATTERNS = [
    N_("at least {0} characters required, got {1}"),
    N_("at most {0} characters allowed, got {1}"),
    N_("must be at least {0}, got {1}"),
    N_("must be at most {0}, got {1}"),
    N_("{0} is not a valid number"),
    N_("{0} is not a valid whole number"),
    N_("{0} is not a valid amount"),
    N_("{0} is not a valid date (YYYY-MM-DD)"),
    N_("{0} is not a valid date and time (ISO 8601)"),
    N_("{0} has more than {1} digits after the point"),
    N_("{0} is not an e-mail address"),
    N_("{0} is not a phone number"),
    N_("is required to {0}"),
    N_("{0}: only {1} files are accepted"),
    N_("{0} is larger than {1} MB"),
    N_("{0} is not one of {1}"),
    N_("{0} does not match the pattern {1}"),
    N_("{0} is not a valid {1}"),
]


def _pattern(msgid: str) -> re.Pattern:
    parts = re.split(r"\{\d\}", msgid)
    return re.compile("^" + "(.+?)".join(re.escape(p) for p in parts) + "$", re.S)


_COMPILED = [(_pattern(p), p) for p in PATTERNS]


def message(text: str) -> str:
    """A validation message from the services, translated when the catalog knows it."""
    translations = get_translations()
    found = translations.gettext(text)
    if found != text:
        return found
    for pattern, msgid in _COMPILED:
        match = pattern.match(text)
        if match:
            translated = translations.gettext(msgid)
            return translated.format(*match.groups()) if translated != msgid else text
    return text


def fmt_datetime(value) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return format_datetime(value, "short")
    return format_date(value, "medium")


def fmt_date(value) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return format_date(value, "medium")


def fmt_number(value, scale: int | None = None) -> str:
    if value in (None, ""):
        return ""
    try:
        d = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        return str(value)
    if scale is not None:
        return format_decimal(d, format="#,##0." + "0" * scale if scale else "#,##0")
    return format_decimal(d)
