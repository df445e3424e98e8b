"""The behaviour engine's entry: what happens around every change of a record."""
from __future__ import annotations


class Behaviour:
    def __init__(self, loom):
        self.loom = loom
