"""Warnings at publish that do not block it: a role that reads an entity with row rules none of
which names it sees every row (said once per role, silenced by a rule naming it)."""
from __future__ import annotations

from metamodel import validate_document
from metamodel.warnings import publish_warnings


def hiring(rows: list) -> dict:
    return {"app": {"name": "hr", "title": "HR", "roles": [{"name": r} for r in ("hr", "head", "interviewer")]},
            "entities": {"application": {"title": "Application", "fields": {"head": {"type": "user"}},
                                         "permissions": {"read": ["hr", "head", "interviewer"], "rows": rows}}}}


def test_a_reader_no_row_rule_names_is_warned_about():
    app = validate_document(hiring([{"roles": ["head"], "condition": "head == $user"}]))
    warned = [(w.file, w.path, w.message.split(" reads")[0]) for w in publish_warnings(None, app)]
    assert warned == [("entities/application.yaml", "permissions.read", "'hr'"),
                      ("entities/application.yaml", "permissions.read", "'interviewer'")]
    said = validate_document(hiring([{"roles": ["head"], "condition": "head == $user"},
                                     {"roles": ["hr"]}, {"roles": ["interviewer"], "own": True}]))
    assert publish_warnings(None, said) == []
    assert publish_warnings(None, validate_document(hiring([]))) == []  # no rules: everyone reads all, plainly
