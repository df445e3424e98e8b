"""The audit log's hash chain: appends, logins, account changes, tampering and concurrency."""
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select, text

from runtime.cli import main
from runtime.data import tables as platform
from runtime.data.records import Actor
from runtime.security.audit import GENESIS, entry_hash, verify

APP = "service_desk"


@pytest.fixture
def cli(db_url, tmp_path, monkeypatch):
    """``loom`` on the same database as the ``loom`` fixture."""
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "instance"))
    monkeypatch.setenv("LOOM_DATABASE_URL", db_url)

    def invoke(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    return invoke


@pytest.fixture
def busy(service_desk):
    """A service desk with a few records, edits and account changes in its log."""
    loom = service_desk
    org = loom.records.create(APP, "organization", {"short_name": "Минздрав", "inn": "6658000001"})
    loom.records.update(APP, "organization", org["id"], {"full_name": "Министерство здравоохранения"}, 1)
    loom.records.create(APP, "department", {"name": "Отдел сопровождения"})
    uid = loom.accounts.create_user("ivanov", None, roles=["service_desk:agent"])  # no password: no slow hashing
    loom.accounts.update_user(uid, roles=["service_desk:agent", "service_desk:dispatcher"], by=Actor(None, "admin"))
    group = loom.accounts.create_group("first_line")
    loom.accounts.add_to_group(uid, group)
    return loom


def entries(loom):
    a = platform.audit
    with loom.reader.connect() as c:
        return [dict(r) for r in c.execute(select(a).order_by(a.c.seq)).mappings()]


def raw(loom, sql, **params):
    with loom.engine.begin() as c:
        return c.execute(text(sql), params)


def test_every_entry_is_chained(busy, cli):
    log = entries(busy)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    prev = GENESIS
    for e in log:
        assert e["prev_hash"] == prev and e["hash"] == entry_hash(prev, e)
        prev = e["hash"]
    actions = [e["action"] for e in log]
    for action in ("publish", "create", "update", "user.create", "user.update", "group.create",
                   "group.add_member"):
        assert action in actions, action
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok, {len(log)} entries")


def test_sign_ins_and_account_changes_are_audited(busy):
    busy.accounts.set_password("ivanov", "correct horse")
    assert busy.accounts.authenticate("ivanov", "correct horse", ip="10.0.0.7") is not None
    assert busy.accounts.authenticate("ivanov", "wrong", ip="10.0.0.8") is None
    assert busy.accounts.authenticate("nobody", "x") is None
    log = entries(busy)
    assert log[-4]["action"] == "user.password" and log[-4]["after"] == {"username": "ivanov"}
    logins = [(e["action"], e["username"], e["ip"]) for e in log if e["action"].startswith("login")]
    assert logins == [("login", "ivanov", "10.0.0.7"), ("login_failed", "ivanov", "10.0.0.8"),
                      ("login_failed", "nobody", None)]
    change = next(e for e in log if e["action"] == "user.update")
    assert change["before"] == {"roles": ["service_desk:agent"]}
    assert change["after"] == {"roles": ["service_desk:agent", "service_desk:dispatcher"]}
    assert change["username"] == "admin"
    assert not any("correct horse" in str(e) or "argon2" in str(e) for e in log)  # no secrets in the log


def test_api_sign_in_is_audited_with_the_client_address(service_desk, tmp_path):
    from runtime.core.config import Settings
    from runtime.web import create_app
    service_desk.accounts.create_user("petrov", "s3cret-pass")
    client = create_app(Settings(tmp_path, service_desk.database_url), service_desk).test_client()
    assert client.post("/api/v1/auth/token", json={"username": "petrov", "password": "nope"}).status_code == 401
    assert client.post("/api/v1/auth/token", json={"username": "petrov", "password": "s3cret-pass"}).status_code == 201
    last = entries(service_desk)[-3:]
    assert [(e["action"], e["username"], e["ip"]) for e in last] == [
        ("login_failed", "petrov", "127.0.0.1"), ("login", "petrov", "127.0.0.1"), ("token.issue", None, None)]


def _allow_changes(loom):
    """PostgreSQL refuses changes to the log; a tamperer with enough rights switches that off first."""
    if loom.engine.dialect.name == "postgresql":
        raw(loom, "ALTER TABLE loom_audit DISABLE TRIGGER USER")


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # the trigger is PostgreSQL's
def test_postgres_refuses_update_delete_and_truncate(busy):
    assert busy.engine.dialect.name == "postgresql"
    victim = entries(busy)[2]["id"]
    for sql in ("UPDATE loom_audit SET username = 'mallory' WHERE id = :id", "DELETE FROM loom_audit WHERE id = :id",
                "TRUNCATE loom_audit"):
        with pytest.raises(Exception, match="append-only"):
            raw(busy, sql, id=victim)
    assert len(entries(busy)) > 3


def test_a_changed_entry_is_named(busy, cli):
    log = entries(busy)
    victim = log[len(log) // 2]
    _allow_changes(busy)
    raw(busy, "UPDATE loom_audit SET username = 'mallory' WHERE id = :id", id=victim["id"])
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert f"row id {victim['id']} (entry {victim['seq']}) was changed" in result.output
    assert f"after {victim['seq'] - 1} good entries" in result.output


def test_a_rehashed_entry_breaks_the_next_link(busy):
    """Recomputing the changed row's own hash is not enough: the next entry no longer follows it."""
    log = entries(busy)
    victim, after = log[3], log[4]
    forged = {**victim, "after": {"short_name": "Подделка"}}
    _allow_changes(busy)
    with busy.engine.begin() as c:
        c.execute(platform.audit.update().where(platform.audit.c.id == victim["id"])
                  .values(after=forged["after"], hash=entry_hash(victim["prev_hash"], forged)))
    with busy.reader.connect() as c:
        verdict = verify(c)
    assert not verdict.ok and verdict.row_id == after["id"]
    assert "does not follow the entry before it" in verdict.problem


def test_a_deleted_entry_is_named(busy, cli):
    log = entries(busy)
    gone = log[5]
    _allow_changes(busy)
    raw(busy, "DELETE FROM loom_audit WHERE id = :id", id=gone["id"])
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert f"entry {gone['seq']} is missing" in result.output and f"row id {log[6]['id']}" in result.output


def test_entries_cut_off_the_end_are_noticed(busy, cli):
    log = entries(busy)
    _allow_changes(busy)
    raw(busy, "DELETE FROM loom_audit WHERE seq > :seq", seq=len(log) - 2)
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert f"entries {len(log) - 1}..{len(log)} at the end of the log are missing" in result.output


def test_a_rolled_back_change_leaves_no_gap(service_desk):
    loom = service_desk
    from runtime.errors import ValidationFailed
    with pytest.raises(ValidationFailed), loom.engine.begin() as c:
        loom.records.create(APP, "organization", {"short_name": "Откат"}, conn=c)
        raise ValidationFailed([])
    loom.records.create(APP, "organization", {"short_name": "После отката"})
    with loom.reader.connect() as c:
        assert verify(c).ok


def test_concurrent_writers_keep_one_chain(service_desk):
    """Two writers of different entities share nothing but the chain head, which must serialise them."""
    loom = service_desk
    errors = []

    def write(entity, field):
        try:
            for i in range(20):
                loom.records.create(APP, entity, {field: f"{entity} {i}"})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=args)
               for args in (("organization", "short_name"), ("department", "name"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with loom.reader.connect() as c:
        verdict = verify(c)
    assert verdict.ok, verdict.problem
    assert len([e for e in entries(loom) if e["action"] == "create"]) == 40


def test_entries_from_before_the_chain_are_chained_by_the_upgrade(db_url):
    from sqlalchemy import column, table

    from runtime.core.loom import Loom
    from runtime.core.migrations import upgrade
    from runtime.data.storage import utcnow
    loom = Loom(db_url)
    try:
        upgrade(loom.engine, "0002")
        legacy = table("loom_audit", column("at"), column("action"), column("username"), column("after"))
        with loom.engine.begin() as c:
            c.execute(insert(legacy), [{"at": utcnow(), "action": "create", "username": "old",
                                        "after": f'{{"n": {i}}}'} for i in range(3)])
        upgrade(loom.engine)
        with loom.reader.connect() as c:
            verdict = verify(c)
        assert verdict.ok and verdict.entries == 3, verdict.problem
        with loom.engine.begin() as c:  # the next append continues the chain
            loom.audit.record(c, None, "test", None, None, None, {"after": "upgrade"})
        with loom.reader.connect() as c:
            assert verify(c).entries == 4
            assert [e["after"] for e in entries(loom)][:3] == [{"n": 0}, {"n": 1}, {"n": 2}]
    finally:
        loom.engine.dispose()
