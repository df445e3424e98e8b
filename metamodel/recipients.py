"""Recipient specs: whom a notification reaches, written over a record (docs/behaviour.md, "Recipients").

One parser serves publishing (every spec of an app is checked) and the notifier
(which resolves the plan it returns against a record):

=============================  ==========================================  ===============================
spec                           means                                       plan
=============================  ==========================================  ===============================
``assignee``, ``created_by``   a user field of the record                  ``("path", links, name, "user")``
``support_group``              a group field: its members and its address  ``("path", links, name, "group")``
``support_group.lead``         the lead of the group in that field         ``("path", links, name, "lead")``
``email``                      an e-mail field: that address, no account   ``("path", links, name, "email")``
``system.technical_owner``     the same, after following link fields       ``links`` lists the link fields
``co_executors.executor``      a user, group or e-mail column of a table:  ``("rows", table, column, kind)``
                               every row's
``field:correspondent.email``  the same path, said explicitly              as the path
``role:agent``                 every active user with the role             ``("role", "agent")``
``group:line1``                the group's members and its address         ``("group", "line1")``
``group:line1.lead``           the group's lead                            ``("group_lead", "line1")``
``user:alice``                 one user                                    ``("user", "alice")``
``ops@example.com``            a literal address                           ``("email", "ops@example.com")``
=============================  ==========================================  ===============================
"""
from __future__ import annotations

import difflib
import re

EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
NAME = re.compile(r"[\w.\-]+")
USER_SYSTEM_FIELDS = ("created_by", "updated_by")
PREFIXES = ("role", "group", "user")
FIELD_PREFIX = "field"


def parse_recipient(spec: str, entity, resolve) -> tuple:
    """Turn a recipient spec into a plan (see the table above); ``ValueError`` says what is wrong.

    ``entity`` is the :class:`metamodel.Entity` a path starts from (``None`` when there is
    no record); ``resolve(field)`` returns the entity a link field points at, or ``None``
    when it cannot be known here (the rest of the path is then not checked: ``("unchecked",
    spec)``).
    """
    kind, _, arg = spec.partition(":")
    if kind in PREFIXES and arg and NAME.fullmatch(arg):
        if kind == "group" and arg.endswith(".lead"):
            return ("group_lead", arg[:-len(".lead")])
        return (kind, arg)
    if EMAIL.fullmatch(spec):
        return ("email", spec)
    path = arg if kind == FIELD_PREFIX and arg else spec
    if entity is None:
        raise ValueError(f"recipient {spec!r} is a field of a record, and there is no record here")
    return _path(spec, path, entity, resolve)


def _path(spec: str, path: str, entity, resolve) -> tuple:
    links, parts = [], path.split(".")
    for i, part in enumerate(parts):
        rest = parts[i + 1:]
        f = entity.fields.get(part)
        if part in USER_SYSTEM_FIELDS or (f is not None and f.value_type == "user"):
            if not rest:
                return ("path", tuple(links), part, "user")
        elif f is not None and f.value_type == "group":
            if rest in ([], ["lead"]):
                return ("path", tuple(links), part, "lead" if rest else "group")
        elif f is not None and f.value_type == "email":
            if not rest:
                return ("path", tuple(links), part, "email")
        elif f is not None and f.storage == "child" and not links and len(rest) == 1:
            column = f.children.get(rest[0])
            if column is not None and column.value_type in ("user", "group", "email"):
                return ("rows", part, rest[0], column.value_type)
            raise ValueError(f"unknown recipient {spec!r}: {rest[0]!r} is not a user, group or e-mail column of "
                             f"the table {part!r}" + _hint(rest[0], f.children))
        elif f is not None and f.value_type == "link" and f.storage == "column" and rest:
            links.append(f)
            entity = resolve(f)
            if entity is None:
                return ("unchecked", spec)
            continue
        hint = _hint(part, [*entity.fields, *USER_SYSTEM_FIELDS]) if f is None else ""
        raise ValueError(f"unknown recipient {spec!r}: {part!r} is not a user, group, e-mail or link field "
                         f"of {entity.name!r}" + (f" followed by {'.'.join(rest)!r}" if rest else "") + hint)
    raise ValueError(f"unknown recipient {spec!r}: it ends in a link; name a user, group or e-mail field "
                     f"of the linked record ({path}.<field>)")


def _hint(word: str, names) -> str:
    close = difflib.get_close_matches(word, sorted(names), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
