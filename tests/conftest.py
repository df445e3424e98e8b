"""Shared fixtures: a fresh Loom on real SQLite and on real PostgreSQL.

PostgreSQL comes from ``LOOM_TEST_PG_URL`` (``scripts/services.sh`` starts
one); each test gets its own schema, so tests run in parallel safely. When
``LOOM_REQUIRE_SERVICES=1`` (CI, ``make test``) a missing server is an
error, never a silent skip.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "apps_config"
PG_URL = os.environ.get("LOOM_TEST_PG_URL")
REDIS_URL = os.environ.get("LOOM_TEST_REDIS_URL")
IMAP_URL = os.environ.get("LOOM_TEST_IMAP_URL")
REQUIRE = os.environ.get("LOOM_REQUIRE_SERVICES") == "1"


def _need(url, what):
    if url:
        return
    if REQUIRE:
        pytest.fail(f"{what} is required (LOOM_REQUIRE_SERVICES=1) but its URL is not set")
    pytest.skip(f"{what} not available: run scripts/services.sh start and export its URLs")


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    _need(PG_URL, "PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as c:
        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def redis_url():
    _need(REDIS_URL, "Redis")
    return REDIS_URL


@pytest.fixture
def imap_url():
    """The dovecot ``scripts/services.sh`` starts (user ``loom``, password ``loom``)."""
    _need(IMAP_URL, "IMAP (dovecot)")
    return IMAP_URL


def make_loom(url: str, files_dir: Path):
    from runtime.core.loom import Loom
    loom = Loom(url, files_dir=files_dir)
    loom.upgrade_db()
    loom.load()
    return loom


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A database URL for each backend in turn: the same test runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'loom.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def loom(db_url, tmp_path):
    """A migrated, empty Loom on each backend."""
    instance = make_loom(db_url, tmp_path / "files")
    yield instance
    instance.engine.dispose()


@pytest.fixture
def sqlite_loom(tmp_path):
    instance = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    yield instance
    instance.engine.dispose()


@pytest.fixture
def service_desk(loom):
    """``loom`` with the service desk demo app published (no fixtures loaded) and the groups its
    routing names (``fixtures/_accounts.yaml``, without its demo users)."""
    from metamodel.yamlio import load_yaml
    from runtime.data.fixtures import load_accounts
    loom.store.install(APPS / "service_desk", author="tester")
    accounts, _ = load_yaml((APPS / "service_desk/fixtures/_accounts.yaml").read_text(encoding="utf-8"),
                            "_accounts.yaml")
    load_accounts(loom, "service_desk", {"groups": [{k: v for k, v in g.items() if k != "lead"}
                                                     for g in accounts["groups"]]})
    return loom
