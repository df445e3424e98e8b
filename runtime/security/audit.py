"""The append-only audit log: who changed what, when, from where, before and after.

Entries form a hash chain. Entry ``seq`` N stores the hash of entry N-1
(``prev_hash``) and ``hash = sha256(prev_hash + canonical JSON of its own
content)``, so changing, removing or reordering any stored entry breaks
every hash after it; ``loom audit verify`` walks the chain and names the
first entry that does not fit.

The chain head (last ``seq`` and hash) lives in the one-row table
``loom_audit_head``. An append reads it ``FOR UPDATE`` inside the writing
transaction, so on PostgreSQL concurrent writers take turns and a rolled
back transaction leaves no gap; on SQLite writers are serialised already
(``BEGIN IMMEDIATE``). The head also lets verify notice entries cut off
the end of the log. On PostgreSQL a trigger refuses UPDATE, DELETE and
TRUNCATE of ``loom_audit`` (revision 0003).

Whoever can write the database can also rebuild a whole plain chain. With
``LOOM_AUDIT_KEY`` set (a secret kept outside the database) every new entry is
hashed with HMAC-SHA256 under that key instead, and the first such entry is an
``audit.keyed`` marker; verify then requires every entry after the marker to be
keyed, and the marker itself to be there, so a log rewritten without the key no
longer verifies. ``loom audit anchor`` prints the head signed with the key, to keep
off the machine; ``loom audit verify --anchor`` checks the log still holds it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update

from runtime.data import tables as platform
from runtime.data.storage import utcnow

GENESIS = "0" * 64
PRIVILEGED = "_privileged"  # key of ``after`` naming the privileged hook that made a change (never a field name)
CONTENT = ("seq", "at", "user_id", "username", "ip", "action", "app", "entity", "record_id", "before", "after")


# Built once: every change appends an entry, and a statement built per call costs SQLAlchemy a
# new cache key each time (a third of an append, measured by bench/bench_api.py --profile).
_head = platform.audit_head
_READ_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1).with_for_update()
_APPEND = insert(platform.audit)
_MOVE_HEAD = update(_head).where(_head.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))


KEYED = "audit.keyed"  # the action of the entry from which on the chain is keyed


class Audit:
    def __init__(self, key: str | None = None):
        self.key = key or None  # LOOM_AUDIT_KEY: entries are HMACs under it

    def ensure_keyed(self, conn) -> bool:
        """With a key, start the keyed part of the chain unless the last entry is keyed already
        (run at start-up, so the marker precedes every keyed change). True when it appended."""
        if not self.key:
            return False
        last = conn.execute(select(platform.audit).order_by(platform.audit.c.seq.desc()).limit(1)).mappings().first()
        if last is not None and last["hash"] == entry_hash(last["prev_hash"], last, self.key):
            return False
        self.record(conn, None, KEYED, None, None, None, {"scheme": "hmac-sha256"}, username="loom")
        return True

    def record(self, conn, actor, action: str, entity, record_id, before, after, username: str | None = None) -> None:
        """Append one entry on ``conn``'s transaction (it commits or rolls back with the change).

        A change a privileged hook made for a user is theirs, marked ``after._privileged``
        with the hook (``Actor.elevated_by``)."""
        if getattr(actor, "elevated_by", None):
            after = {**(after or {}), PRIVILEGED: actor.elevated_by}
        last = conn.execute(_READ_HEAD).one()
        seq, prev = last.seq, last.hash
        row = {"seq": seq + 1, "at": utcnow(), "user_id": getattr(actor, "id", None),
               "username": username or getattr(actor, "username", None), "ip": getattr(actor, "ip", None),
               "action": action, "app": entity.app if entity is not None else None,
               "entity": entity.name if entity is not None else None, "record_id": record_id,
               "before": _plain(before), "after": _plain(after)}
        row["prev_hash"], row["hash"] = prev, entry_hash(prev, row, self.key)
        conn.execute(_APPEND, row)
        conn.execute(_MOVE_HEAD, {"new_seq": row["seq"], "new_hash": row["hash"]})


def entry_hash(prev_hash: str, row, key: str | None = None) -> str:
    """sha256 of the previous hash and the entry's content; HMAC-SHA256 under ``key`` when given."""
    message = (prev_hash + canonical(row)).encode()
    if key:
        return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def sign_anchor(key: str, seq: int, head: str) -> str:
    """The signature of an anchor: the chain's head as of entry ``seq``, under the audit key."""
    return hmac.new(key.encode(), f"loom-audit-anchor:{seq}:{head}".encode(), hashlib.sha256).hexdigest()


def check_anchor(conn, key: str, anchor: dict) -> str | None:
    """What is wrong with ``anchor`` (``{"seq", "hash", "signature"}``) against the log, or None."""
    try:
        seq, head, signature = int(anchor["seq"]), str(anchor["hash"]), str(anchor["signature"])
    except (KeyError, TypeError, ValueError):
        return "the anchor needs seq, hash and signature"
    if not hmac.compare_digest(sign_anchor(key, seq, head), signature):
        return "the anchor's signature does not match: it was not made with this LOOM_AUDIT_KEY"
    stored = conn.execute(select(platform.audit.c.hash).where(platform.audit.c.seq == seq)).scalar()
    if stored is None:
        return f"entry {seq} of the anchor is no longer in the log"
    if stored != head:
        return f"entry {seq} no longer has the anchored hash: the log was rewritten"
    return None


def canonical(row) -> str:
    """The content of an entry as one exact string: sorted keys, no spaces, UTC microseconds."""
    content = {k: row[k] for k in CONTENT}
    content["at"] = _utc(content["at"])
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _utc(value) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back the UTC it was given, without a zone
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value):
    """The value as the JSON column will give it back, so the hash is computed on exactly that."""
    return None if value is None else json.loads(json.dumps(value, default=str))


@dataclass
class Verdict:
    ok: bool
    entries: int
    problem: str | None = None
    row_id: int | None = None  # the first row that is wrong, when there is one
    head: str | None = None  # the last hash: keep it elsewhere to notice a rewritten log later


def verify(conn, batch: int = 5000, key: str | None = None) -> Verdict:
    """Walk the chain in ``seq`` order; report the first entry that is changed or missing.

    With ``key``, entries from the ``audit.keyed`` marker on must be HMACs under it, and the
    marker must be there (a log rebuilt without the key has none)."""
    a, head = platform.audit, platform.audit_head
    expected, prev, count, keyed = 1, GENESIS, 0, False
    while True:
        rows = conn.execute(select(a).where(a.c.seq >= expected).order_by(a.c.seq).limit(batch)).mappings().all()
        for row in rows:
            if row["seq"] != expected:
                return Verdict(False, count, f"entry {expected} is missing: the log jumps to entry {row['seq']} "
                                             f"(row id {row['id']})", row["id"])
            if row["prev_hash"] != prev:
                return Verdict(False, count, f"row id {row['id']} (entry {row['seq']}) does not follow the entry "
                                             f"before it: that entry was changed or removed", row["id"])
            if key and row["hash"] == entry_hash(prev, row, key):
                keyed = keyed or row["action"] == KEYED
            elif keyed:
                return Verdict(False, count, f"row id {row['id']} (entry {row['seq']}) is not keyed with "
                                             f"LOOM_AUDIT_KEY although the entries before it are: it was "
                                             f"written or changed without the key", row["id"])
            elif row["hash"] != entry_hash(prev, row):
                hint = "" if key else " (or the log is keyed: set LOOM_AUDIT_KEY to verify it)"
                return Verdict(False, count, f"row id {row['id']} (entry {row['seq']}) was changed after it "
                                             f"was written{hint}", row["id"])
            prev, expected, count = row["hash"], expected + 1, count + 1
        if len(rows) < batch:
            break
    tip = conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1)).first()
    if tip is None:
        return Verdict(False, count, "the chain head (table loom_audit_head) is missing")
    tip_seq, tip_hash = tip.seq, tip.hash
    if tip_seq > count:
        return Verdict(False, count, f"entries {count + 1}..{tip_seq} at the end of the log are missing")
    if (tip_seq, tip_hash) != (count, prev):
        return Verdict(False, count, f"the chain head (entry {tip_seq}) does not match the last entry ({count})")
    if key and count and not keyed:
        return Verdict(False, count, "no entry is keyed with LOOM_AUDIT_KEY: the log was rebuilt without the "
                                     "key, or the key is wrong")
    return Verdict(True, count, head=prev)
