"""A second app for record generators and approvals, shaped nothing like the service desk:
equipment upkeep. Assets of a plant are inspected on their own periodicity while in service;
purchases are signed off by the manager and the reviewers named on the purchase itself."""
from __future__ import annotations

import pytest

from runtime import clock

PERIODS = [{"value": v} for v in ("daily", "weekly", "monthly", "quarterly", "half_yearly", "yearly")]
PASSWORD = "pass-word-123"


def upkeep_app(rule="all", deadline: str | None = "2 business days", every=None) -> dict:
    generate = {
        "source": "asset", "when": "status == 'in_service'", "every": every or {"field": "every"},
        "valid_from": "in_service_from", "valid_to": "retire_on", "target": "inspection",
        "set": {"asset": "id", "title": "concat('Осмотр: ', name)", "due": "period_end",
                "period": "concat(str(period_start), '..', str(period_end))", "inspector": "keeper"}}
    approval = {"name": "sign_off", "title": {"ru": "Подпись закупки", "en": "Purchase sign-off"},
                "entity": "purchase", "start": "review",
                "approvers": {"fields": ["manager", "reviewers.reviewer"]}, "rule": rule,
                "on_approved": "approve", "on_rejected": "reject", "notify": {"template": "asked"}}
    if deadline:
        approval.update(deadline=deadline, on_timeout="reject",
                        notify_timeout={"template": "late", "to": ["created_by"]})
    roles = {"read": ["engineer", "buyer"], "create": ["engineer", "buyer"], "update": ["engineer", "buyer"]}
    return {
        "app": {"name": "upkeep", "title": "Upkeep", "timezone": "Europe/Moscow",
                "roles": [{"name": "engineer"}, {"name": "buyer"}, {"name": "board"}]},
        "entities": {
            "asset": {
                "title": "Asset", "title_field": "name",
                "fields": {"name": {"type": "string", "required": True, "max_length": 40},
                           "every": {"type": "choice", "choices": PERIODS},
                           "in_service_from": {"type": "date"}, "retire_on": {"type": "date"},
                           "keeper": {"type": "user"}},
                "permissions": roles,
                "statuses": [{"name": "in_service", "category": "in_work", "initial": True},
                             {"name": "retired", "category": "done"}],
                "transitions": [{"name": "retire", "from": "in_service", "to": "retired"}]},
            "inspection": {
                "title": "Inspection", "title_field": "title",
                "fields": {"asset": {"type": "link", "entity": "asset"},
                           "title": {"type": "string", "required": True, "max_length": 30},
                           "due": {"type": "date", "required": True}, "period": {"type": "string"},
                           "inspector": {"type": "user"}},
                "permissions": roles},
            "purchase": {
                "title": "Purchase", "title_field": "title",
                "fields": {"title": {"type": "string", "required": True}, "manager": {"type": "user"},
                           "reviewers": {"type": "table", "fields": {"reviewer": {"type": "user"}}}},
                "permissions": {"read": ["buyer", "board", "engineer"], "create": ["buyer"], "update": ["buyer"]},
                "statuses": [{"name": "draft", "category": "open", "initial": True},
                             {"name": "review", "category": "waiting"},
                             {"name": "approved", "category": "done"},
                             {"name": "rejected", "category": "cancelled"}],
                "transitions": [
                    {"name": "submit", "from": "draft", "to": "review", "roles": ["buyer"]},
                    {"name": "withdraw", "from": "review", "to": "draft", "roles": ["buyer"]},
                    {"name": "approve", "from": "review", "to": "approved", "roles": ["board"]},
                    {"name": "reject", "from": "review", "to": "rejected", "roles": ["board"]},
                    {"name": "revise", "from": "rejected", "to": "draft", "roles": ["buyer"]}]},
        },
        "schedules": {"schedules": [{"name": "inspections", "cron": "0 7 * * *", "generate": generate}]},
        "notifications": {"templates": {
            "asked": {"channels": ["inapp"], "subject": "Подпишите: {{ record.title }} ({{ approval }})", "body": "-"},
            "late": {"channels": ["inapp"], "subject": "Не подписано: {{ record.title }}",
                                                 "body": "Срок подписи истёк"}}},
        "approvals": {"approvals": [approval]},
    }


def user(loom, name: str, *roles: str, app: str = "upkeep") -> int:
    return loom.accounts.create_user(name, PASSWORD, roles=[f"{app}:{r}" for r in roles])


@pytest.fixture
def frozen():
    """The platform clock, frozen by the test (``frozen(instant)``) and thawed afterwards."""
    yield clock.freeze
    clock.thaw()
