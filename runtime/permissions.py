"""Who may do what: one place for the API, the UI, exports, search and scripts.

Entity permissions come from metadata (``permissions: {read: [roles], ...}``);
an entity without them is open to every signed-in user, and ``admin`` may
do everything.
"""
from __future__ import annotations

from .errors import Forbidden

OPERATIONS = ("read", "create", "update", "delete")


class Permissions:
    def allowed(self, actor, entity, op: str) -> bool:
        if actor is None or actor.is_admin or actor.system:
            return True
        roles = (entity.spec.get("permissions") or {}).get(op)
        if roles is None:
            return True
        return bool(set(roles) & set(actor.roles))

    def require(self, actor, entity, op: str) -> None:
        if not self.allowed(actor, entity, op):
            raise Forbidden(f"you may not {op} {entity.name} records: that needs one of the roles "
                            f"{', '.join((entity.spec.get('permissions') or {}).get(op, []))}")

    def restrict(self, query, et, actor):
        """Narrow a select to the rows ``actor`` may read (row-level rules hook in here)."""
        return query

    def mask(self, record: dict, entity, actor) -> None:
        """Remove fields hidden from ``actor``'s roles."""
        if actor is None or actor.is_admin or actor.system:
            return
        for name, rule in ((entity.spec.get("permissions") or {}).get("fields") or {}).items():
            if set(rule.get("hidden", [])) & set(actor.roles):
                record.pop(name, None)
