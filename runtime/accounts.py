"""Users, groups and API tokens. Passwords are argon2 hashes; tokens are stored as SHA-256."""
from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update

from . import tables as platform
from .records import Actor
from .storage import utcnow

_hasher = PasswordHasher()
TOKEN_CACHE_SECONDS = 2.0
_DUMMY_HASH = _hasher.hash("timing-equaliser")


def generate_password() -> str:
    return secrets.token_urlsafe(12)


class Accounts:
    def __init__(self, loom):
        self.loom = loom
        self._token_cache: dict[str, tuple[Actor, float]] = {}

    def create_user(self, username: str, password: str | None, *, email: str | None = None,
                    full_name: str | None = None, roles=(), is_admin: bool = False, lang: str = "ru",
                    organization: str | None = None) -> int:
        u = platform.user
        with self.loom.engine.begin() as c:
            return c.execute(insert(u).values(
                username=username, email=email, full_name=full_name,
                password_hash=_hasher.hash(password) if password else None, is_active=True, is_admin=is_admin,
                roles=list(roles), lang=lang, organization=organization, created_at=utcnow()
            ).returning(u.c.id)).scalar_one()

    def exists(self, username: str) -> bool:
        with self.loom.reader.connect() as c:
            return c.execute(select(platform.user.c.id).where(platform.user.c.username == username)).first() is not None

    def set_password(self, username: str, password: str) -> None:
        with self.loom.engine.begin() as c:
            c.execute(update(platform.user).where(platform.user.c.username == username)
                      .values(password_hash=_hasher.hash(password)))

    def authenticate(self, username: str, password: str) -> Actor | None:
        """The actor for a correct password, else None (in about the same time either way)."""
        u = platform.user
        with self.loom.reader.connect() as c:
            row = c.execute(select(u).where(u.c.username == username, u.c.is_active.is_(True))).mappings().first()
        try:
            _hasher.verify(row["password_hash"] if row and row["password_hash"] else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row["password_hash"]:
            return None
        with self.loom.engine.begin() as c:
            c.execute(update(u).where(u.c.id == row["id"]).values(last_login_at=utcnow()))
        return self._actor(row)

    def issue_token(self, user_id: int, name: str = "api") -> str:
        secret = "loom_" + secrets.token_urlsafe(32)
        with self.loom.engine.begin() as c:
            c.execute(insert(platform.api_token).values(
                user_id=user_id, name=name, token_hash=_digest(secret), created_at=utcnow()))
        return secret

    def actor_for_token(self, secret: str) -> Actor | None:
        """The token's user; answers from a short cache so a busy client costs no query per call.

        A revoked token or a deactivated user stops working within ``TOKEN_CACHE_SECONDS``.
        """
        digest = _digest(secret)
        now = time.monotonic()
        hit = self._token_cache.get(digest)
        if hit is not None and hit[1] > now:
            return dataclasses.replace(hit[0])  # a copy: callers set the client address on it
        actor = self._lookup_token(digest)
        if len(self._token_cache) > 10_000:
            self._token_cache.clear()
        if actor is not None:
            self._token_cache[digest] = (actor, now + TOKEN_CACHE_SECONDS)
        return dataclasses.replace(actor) if actor is not None else None

    def forget_tokens(self) -> None:
        self._token_cache.clear()

    def _lookup_token(self, digest: str) -> Actor | None:
        t, u = platform.api_token, platform.user
        with self.loom.reader.connect() as c:
            row = c.execute(select(u, t.c.expires_at).join(t, t.c.user_id == u.c.id)
                            .where(t.c.token_hash == digest, u.c.is_active.is_(True))).mappings().first()
        if row is None or (row["expires_at"] is not None and row["expires_at"] < utcnow()):
            return None
        return self._actor(row)

    def actor_for_id(self, user_id: int) -> Actor | None:
        u = platform.user
        with self.loom.reader.connect() as c:
            row = c.execute(select(u).where(u.c.id == user_id, u.c.is_active.is_(True))).mappings().first()
        return self._actor(row) if row else None

    @staticmethod
    def _actor(row) -> Actor:
        return Actor(row["id"], row["username"], tuple(row["roles"] or ()), bool(row["is_admin"]))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
