"""Limits on failed sign-ins, for the login page and the API's token endpoint.

``LIMIT`` failures of one username from one address within ``WINDOW`` seconds
block that pair until the oldest of them ages out; ``ADDRESS_LIMIT`` failures
from one address, whatever the usernames, block the address. A successful
sign-in forgets the pair's failures (not the address's).

With Redis (``Loom.redis_url``) the failures are counted there, in sorted sets
that expire with the window, so every web worker sees the same numbers; without
Redis, or while it cannot be reached, they are counted in this process.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import defaultdict, deque

LIMIT = 5
ADDRESS_LIMIT = 50
WINDOW = 300
PREFIX = "loom:login"
MAX_KEYS = 50_000

log = logging.getLogger(__name__)


class MemoryCounter:
    """Failure times per key, in this process."""

    def __init__(self):
        self.times: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def _recent(self, key: str, since: float) -> deque:
        q = self.times[key]
        while q and q[0] <= since:
            q.popleft()
        return q

    def counts(self, keys: list[str], window: float) -> list[int]:
        since = time.time() - window
        with self.lock:
            return [len(self._recent(k, since)) if k in self.times else 0 for k in keys]

    def add(self, keys: list[str], window: float) -> None:
        now = time.time()
        with self.lock:
            if len(self.times) > MAX_KEYS:
                self.times.clear()
            for k in keys:
                self._recent(k, now - window).append(now)

    def clear(self, key: str) -> None:
        with self.lock:
            self.times.pop(key, None)


class RedisCounter:
    """Failure times per key in Redis sorted sets (score: the time), shared by every process.

    Each key expires ``window`` seconds after its last failure. When Redis fails,
    the counting goes on in this process until it answers again.
    """

    def __init__(self, url: str):
        from redis import Redis
        self.redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.fallback = MemoryCounter()

    def _safely(self, name: str, *args):
        from redis.exceptions import RedisError
        try:
            return getattr(self, "_" + name)(*args)
        except RedisError as exc:
            log.warning("login throttle: Redis unavailable (%s); counting in this process", exc)
            return getattr(self.fallback, name)(*args)

    def counts(self, keys, window):
        return self._safely("counts", keys, window)

    def add(self, keys, window):
        return self._safely("add", keys, window)

    def clear(self, key):
        return self._safely("clear", key)

    def _counts(self, keys, window) -> list[int]:
        since = f"({time.time() - window}"
        pipe = self.redis.pipeline(transaction=False)
        for k in keys:
            pipe.zcount(k, since, "+inf")
        return [int(n) for n in pipe.execute()]

    def _add(self, keys, window) -> None:
        now = time.time()
        pipe = self.redis.pipeline(transaction=True)
        for k in keys:
            pipe.zremrangebyscore(k, "-inf", now - window)
            pipe.zadd(k, {f"{now}:{uuid.uuid4().hex[:8]}": now})
            pipe.expire(k, int(window) + 1)
        pipe.execute()

    def _clear(self, key) -> None:
        self.redis.delete(key)


class Throttle:
    def __init__(self, counter, *, prefix: str = PREFIX, limit: int = LIMIT,
                 address_limit: int = ADDRESS_LIMIT, window: float = WINDOW):
        self.counter, self.prefix = counter, prefix
        self.limit, self.address_limit, self.window = limit, address_limit, window

    def _keys(self, username: str, address: str | None) -> list[str]:
        return [f"{self.prefix}:pair:{json.dumps([username.lower(), address])}",
                f"{self.prefix}:address:{address}"]

    def blocked(self, username: str, address: str | None) -> bool:
        pair, from_address = self.counter.counts(self._keys(username, address), self.window)
        return pair >= self.limit or from_address >= self.address_limit

    def failed(self, username: str, address: str | None) -> None:
        self.counter.add(self._keys(username, address), self.window)

    def succeeded(self, username: str, address: str | None) -> None:
        self.counter.clear(self._keys(username, address)[0])


def for_app(app) -> Throttle:
    """The web app's throttle: in Redis when its Loom has a ``redis_url``.

    ``LOOM_LOGIN_THROTTLE_PREFIX`` in the app's config names its Redis keys.
    """
    found = app.extensions.get("loom_login_throttle")
    if found is None:
        url = app.extensions["loom"].redis_url
        found = Throttle(RedisCounter(url) if url else MemoryCounter(),
                         prefix=app.config.get("LOOM_LOGIN_THROTTLE_PREFIX", PREFIX))
        found = app.extensions.setdefault("loom_login_throttle", found)
    return found


def allow(app, key: str, limit: int, window: float) -> bool:
    """Count one attempt at ``key`` (say, a form sent from one address) and say whether it is
    within ``limit`` per ``window`` seconds; shares the sign-in throttle's counter (Redis or this process)."""
    counter = for_app(app).counter
    full = f"loom:limit:{key}"
    if counter.counts([full], window)[0] >= limit:
        return False
    counter.add([full], window)
    return True
