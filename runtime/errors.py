"""Errors the services raise; the API turns each into an RFC 7807 problem."""
from __future__ import annotations


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
