"""Background jobs: RQ workers with LOOM_REDIS_URL, an in-process runner without."""
from __future__ import annotations


class Jobs:
    def __init__(self, loom):
        self.loom = loom
