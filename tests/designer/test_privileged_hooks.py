"""The designer shows privileged hooks: the hooks editor offers the flag (from the schema), the
workflow and fields editors get it from the same schema, and a script's page says which of its
hooks run with system rights. A transition to $previous is offered as a target."""
from __future__ import annotations

import json

from .test_editors import TICKET, editor_data, it_support, page, save  # noqa: F401 - it_support is a fixture

SCRIPT = "/designer/apps/it_support/scripts/tickets.py"


def test_the_hooks_editor_offers_the_privileged_flag(it_support, ann):  # noqa: F811
    data = editor_data(page(ann.get(f"{TICKET}/section/hooks")))
    schema = json.dumps(data)
    assert '"privileged"' in schema and '"before_save"' in schema and "system rights" in schema


def test_a_scripts_page_says_which_hooks_run_privileged(it_support, ann):  # noqa: F811
    before = page(ann.get(SCRIPT))
    assert "runs with system rights" not in before
    hooks = {"default": "tickets.py:defaults", "validate": "tickets.py:check_contact", "privileged": ["default"]}
    saved = save(ann, f"{TICKET}/section/hooks", hooks)
    assert saved.status_code in (200, 302), page(saved)
    after = page(ann.get(SCRIPT))
    refs = after.split('id="script-refs"')[1]
    default = refs.split("hooks.default")[1].split("</li>")[0]
    validate = refs.split("hooks.validate")[1].split("</li>")[0]
    assert "runs with system rights" in default and "runs with system rights" not in validate
    assert 'id="script-privileged"' in after


def test_the_aggregation_editor_and_the_workflow_editor_see_the_new_keys(it_support, ann):  # noqa: F811
    aggregations = editor_data(page(ann.get(f"{TICKET}/section/aggregations")))
    assert '"privileged"' in json.dumps(aggregations)
    workflow = page(ann.get(f"{TICKET}/workflow"))
    assert "Runs with system rights" in workflow and "previous status" in workflow
