"""Failed sign-ins are limited per username and address: in Redis when the Loom has one, so every
web worker shares the count, else in the process."""
from __future__ import annotations

import time
import uuid

import pytest
from redis import Redis

from runtime.core.config import Settings
from runtime.core.loom import Loom
from runtime.security import throttle
from runtime.web import create_app
from tests.conftest import make_loom

from .conftest import PASSWORD, Browser


def _web(loom, home, prefix):
    app = create_app(Settings(home, loom.database_url, loom.redis_url), loom)
    app.config.update(TESTING=True, LOOM_LOGIN_THROTTLE_PREFIX=prefix)
    return app


@pytest.fixture
def prefix(redis_url):
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    name = f"test:login:{uuid.uuid4().hex[:10]}"
    yield name
    r = Redis.from_url(redis_url)
    for key in r.scan_iter(f"{name}:*"):
        r.delete(key)


@pytest.fixture
def two_workers(tmp_path, redis_url, prefix):
    """Two web apps, each with a Loom of its own, over one database and one Redis."""
    url = f"sqlite:///{tmp_path / 'loom.db'}"
    first = make_loom(url, tmp_path / "files")
    first.redis_url = redis_url
    first.accounts.create_user("agent", PASSWORD, roles=["service_desk:agent"])
    second = Loom(url, files_dir=tmp_path / "files", redis_url=redis_url)
    second.load()
    yield (Browser(_web(first, tmp_path / "a", prefix).test_client()),
           Browser(_web(second, tmp_path / "b", prefix).test_client()))
    first.engine.dispose()
    second.engine.dispose()


@pytest.mark.redis
def test_failures_on_one_worker_lock_the_other(two_workers, redis_url, prefix):
    one, other = two_workers
    for _ in range(throttle.LIMIT):
        assert one.login(password="wrong").status_code == 401
    assert other.login().status_code == 429  # the right password, refused on the other worker
    token = other.http.post("/api/v1/auth/token", json={"username": "agent", "password": PASSWORD})
    assert token.status_code == 429
    keys = list(Redis.from_url(redis_url).scan_iter(f"{prefix}:*"))
    assert len(keys) == 2  # the pair and the address
    assert all(0 < Redis.from_url(redis_url).ttl(k) <= throttle.WINDOW + 1 for k in keys)
    # Another address is not blocked by this pair's failures.
    elsewhere = other.http.post("/login", data={"username": "agent", "password": PASSWORD,
                                                "csrf_token": other.token()},
                                environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert elsewhere.status_code == 302


@pytest.mark.redis
def test_a_sign_in_on_one_worker_forgets_the_failures_on_the_other(two_workers):
    one, other = two_workers
    for _ in range(throttle.LIMIT - 1):
        assert one.login(password="wrong").status_code == 401
    assert other.login().status_code == 302
    for _ in range(throttle.LIMIT - 1):
        assert one.login(password="wrong").status_code == 401
    assert one.login().status_code == 302


@pytest.mark.redis
def test_an_address_failing_for_many_usernames_is_blocked(redis_url, prefix):
    limits = throttle.Throttle(throttle.RedisCounter(redis_url), prefix=prefix, address_limit=3)
    for name in ("a", "b", "c"):
        assert not limits.blocked(name, "10.1.1.1")
        limits.failed(name, "10.1.1.1")
    assert limits.blocked("d", "10.1.1.1")
    assert not limits.blocked("d", "10.1.1.2")
    limits.succeeded("a", "10.1.1.1")  # a success clears the pair, not the address
    assert limits.blocked("a", "10.1.1.1")


@pytest.mark.redis
def test_failures_expire_with_the_window(redis_url, prefix):
    limits = throttle.Throttle(throttle.RedisCounter(redis_url), prefix=prefix, limit=2, window=1)
    limits.failed("agent", "127.0.0.1")
    limits.failed("agent", "127.0.0.1")
    assert limits.blocked("agent", "127.0.0.1")
    time.sleep(1.2)
    assert not limits.blocked("agent", "127.0.0.1")


def test_without_a_reachable_redis_the_process_counts():
    limits = throttle.Throttle(throttle.RedisCounter("redis://127.0.0.1:1/0"), prefix="unreachable")
    for _ in range(throttle.LIMIT):
        assert not limits.blocked("agent", "127.0.0.1")
        limits.failed("agent", "127.0.0.1")
    assert limits.blocked("agent", "127.0.0.1")


def test_the_token_endpoint_is_limited_like_the_login_page(browser):
    api = browser.http
    for _ in range(throttle.LIMIT):
        r = api.post("/api/v1/auth/token", json={"username": "agent", "password": "wrong"})
        assert r.status_code == 401
    r = api.post("/api/v1/auth/token", json={"username": "agent", "password": PASSWORD})
    assert r.status_code == 429 and r.mimetype == "application/problem+json"
    assert browser.login().status_code == 429  # one count for both ways in
