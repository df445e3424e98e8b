"""Notification templates (sandboxed jinja2), recipients, in-app rows and the e-mail outbox."""
from __future__ import annotations


class Notifier:
    def __init__(self, loom):
        self.loom = loom
