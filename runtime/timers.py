"""Timers: rows with a due time, each fired exactly once by whoever claims it first."""
from __future__ import annotations


class Timers:
    def __init__(self, loom):
        self.loom = loom
        self.handlers = {}
