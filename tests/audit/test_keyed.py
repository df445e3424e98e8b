"""The audit chain keyed with LOOM_AUDIT_KEY, and anchors signed with it."""
import json

import pytest
from click.testing import CliRunner

from runtime.cli import main
from runtime.core.loom import Loom
from runtime.data import tables as platform
from runtime.security.audit import GENESIS, KEYED, check_anchor, entry_hash, sign_anchor, verify

from .test_chain import _allow_changes, entries

APP = "service_desk"
KEY = "k3y-kept-off-the-database"


@pytest.fixture
def keyed(service_desk, db_url, tmp_path):
    """The desk's plain log, then the same database opened with a key, and a change made under it."""
    service_desk.records.create(APP, "organization", {"short_name": "До ключа"})
    loom = Loom(db_url, files_dir=tmp_path / "files", audit_key=KEY)
    loom.upgrade_db()  # start-up appends the marker
    loom.load()
    loom.records.create(APP, "organization", {"short_name": "После ключа"})
    yield loom
    loom.engine.dispose()


def verdict(loom, key=KEY):
    with loom.reader.connect() as c:
        return verify(c, key=key)


def test_entries_after_the_marker_are_hmacs(keyed):
    log = entries(keyed)
    marker = next(i for i, e in enumerate(log) if e["action"] == KEYED)
    assert marker == len(log) - 2  # the marker, then the change made under the key
    for i, e in enumerate(log):
        plain = entry_hash(e["prev_hash"], e)
        assert (e["hash"] == plain) == (i < marker)
        if i >= marker:
            assert e["hash"] == entry_hash(e["prev_hash"], e, KEY)
    assert verdict(keyed).ok and verdict(keyed).entries == len(log)
    # a second start with the same key adds no second marker
    keyed.upgrade_db()
    assert [e["action"] for e in entries(keyed)].count(KEYED) == 1


def test_without_the_key_or_with_another_the_keyed_log_does_not_verify(keyed):
    plain = verdict(keyed, key=None)
    assert not plain.ok and "set LOOM_AUDIT_KEY" in plain.problem
    wrong = verdict(keyed, key="not-the-key")
    assert not wrong.ok


def test_a_log_rebuilt_without_the_key_is_caught(keyed):
    """A tamperer rewrites an entry and recomputes every later hash in the plain scheme."""
    _allow_changes(keyed)
    log = entries(keyed)
    victim = len(log) - 1
    prev = log[victim - 1]["hash"]
    with keyed.engine.begin() as c:
        for e in log[victim:]:
            e = {**e, "username": "mallory", "prev_hash": prev}
            e["hash"] = entry_hash(prev, e)
            c.execute(platform.audit.update().where(platform.audit.c.id == e["id"])
                      .values(username="mallory", prev_hash=prev, hash=e["hash"]))
            prev = e["hash"]
        c.execute(platform.audit_head.update().values(hash=prev))
    found = verdict(keyed)
    assert not found.ok and "is not keyed with LOOM_AUDIT_KEY" in found.problem
    assert found.row_id == log[victim]["id"]

    # cutting the keyed part off altogether (the marker too) is caught as well
    with keyed.engine.begin() as c:
        marker = next(e for e in log if e["action"] == KEYED)
        c.execute(platform.audit.delete().where(platform.audit.c.seq >= marker["seq"]))
        c.execute(platform.audit_head.update().values(seq=marker["seq"] - 1, hash=marker["prev_hash"]))
    found = verdict(keyed)
    assert not found.ok and "no entry is keyed" in found.problem


def test_an_anchor_proves_the_head_it_signed(keyed):
    v = verdict(keyed)
    anchor = {"seq": v.entries, "hash": v.head, "signature": sign_anchor(KEY, v.entries, v.head)}
    with keyed.reader.connect() as c:
        assert check_anchor(c, KEY, anchor) is None
        assert "signature does not match" in check_anchor(c, "other", anchor)
        assert "signature does not match" in check_anchor(c, KEY, {**anchor, "hash": GENESIS})
        assert "needs seq, hash and signature" in check_anchor(c, KEY, {"seq": "x"})
    _allow_changes(keyed)
    with keyed.engine.begin() as c:
        c.execute(platform.audit.update().where(platform.audit.c.seq == v.entries).values(hash=GENESIS))
    with keyed.reader.connect() as c:
        assert "no longer has the anchored hash" in check_anchor(c, KEY, anchor)


def test_cli_anchor_then_verify_with_it(keyed, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "instance"))
    monkeypatch.setenv("LOOM_DATABASE_URL", db_url)
    runner = CliRunner()
    monkeypatch.delenv("LOOM_AUDIT_KEY", raising=False)
    refused = runner.invoke(main, ["audit", "anchor"])
    assert refused.exit_code == 1 and "set LOOM_AUDIT_KEY" in refused.output
    monkeypatch.setenv("LOOM_AUDIT_KEY", KEY)
    made = runner.invoke(main, ["audit", "anchor"])
    assert made.exit_code == 0, made.output
    anchor = json.loads(made.output)
    assert anchor["seq"] == len(entries(keyed)) and len(anchor["signature"]) == 64
    path = tmp_path / "anchor.json"
    path.write_text(made.output)
    keyed.records.create(APP, "organization", {"short_name": "Позже"})  # the log grows past the anchor
    held = runner.invoke(main, ["audit", "verify", "--anchor", str(path)])
    assert held.exit_code == 0 and "anchor held" in held.output
    path.write_text(json.dumps({**anchor, "signature": "0" * 64}))
    forged = runner.invoke(main, ["audit", "verify", "--anchor", str(path)])
    assert forged.exit_code == 1 and "signature does not match" in forged.output
