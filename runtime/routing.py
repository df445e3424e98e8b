"""Routing and assignment: ordered rules from routing.yaml and the assignment strategies."""
from __future__ import annotations


class Router:
    def __init__(self, loom):
        self.loom = loom
