"""Errors the services raise; the API turns each into an RFC 7807 problem."""
from __future__ import annotations

import re

# What a URL in an error text may carry that nobody but the server's log should read: the
# userinfo of ``https://user:pass@host`` and the values of query keys that name a secret.
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/@]+@", re.IGNORECASE)
_SECRET_QUERY = re.compile(
    r"([?&;][^\s=&#;?]*(?:key|token|secret|passw(?:or)?d|pwd|signature|sig|auth|credential)[^\s=&#;]*=)"
    r"[^\s&#;'\"<>]+", re.IGNORECASE)
_BEARER = re.compile(r"(\bBearer\s+)[^\s'\"]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` (an exception's message) without the credentials a URL or header in it held.

    Channels and plugin functions fail with texts their authors wrote (``gateway
    https://u:p@sms.example/send?api_key=...: timed out``); the platform stores and shows
    them to ordinary users, so it masks what looks like a secret before it does.
    """
    text = _USERINFO.sub(r"\1***@", text)
    text = _SECRET_QUERY.sub(r"\1***", text)
    return _BEARER.sub(r"\1***", text)


class LoomError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail, self.extra = detail, extra

    def problem(self) -> dict:
        return {"type": f"https://loom.dev/problems/{self.__class__.__name__}", "title": self.title,
                "status": self.status, "detail": self.detail, **self.extra}


class ValidationFailed(LoomError):
    """One or more fields are wrong; ``errors`` lists each field and why."""

    status, title = 422, "Invalid record"

    def __init__(self, errors: list):
        self.errors = errors
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(detail, errors=[{"field": e.field, "message": e.message} for e in errors])


class NotFound(LoomError):
    status, title = 404, "Not found"


class Forbidden(LoomError):
    status, title = 403, "Forbidden"


class Conflict(LoomError):
    status, title = 409, "Conflict"


class Unauthorized(LoomError):
    status, title = 401, "Unauthorized"
