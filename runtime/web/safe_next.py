"""The one check for ``?next=`` and other redirect targets a request names.

Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
``/\t/evil.com`` is ``//evil.com``: another site. A target is followed only when
it is a plain path on this site: it starts with a single ``/``, holds no
whitespace, control character or backslash, and parses with no scheme and no
host. Anything else gives the fallback, never an error.
"""
from __future__ import annotations

from urllib.parse import urlsplit


def is_safe_path(target: str | None, prefix: str = "/") -> bool:
    """Is ``target`` a path on this site under ``prefix``?"""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return False
    if any(ch <= " " or ch == "\x7f" or ch == "\\" for ch in target):
        return False
    try:
        parts = urlsplit(target)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc and target.startswith(prefix)


def safe_next(target: str | None, fallback: str, prefix: str = "/") -> str:
    """``target`` when :func:`is_safe_path`, else ``fallback``."""
    return target if is_safe_path(target, prefix) else fallback
