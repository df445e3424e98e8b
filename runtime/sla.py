"""SLA policies: targets measured in business time, pauses, escalations."""
from __future__ import annotations


class SLA:
    def __init__(self, loom):
        self.loom = loom
