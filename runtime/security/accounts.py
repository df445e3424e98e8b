"""Users, groups and API tokens. Passwords are argon2 hashes; tokens are stored as SHA-256.

Sign-ins (successful and failed) and every change to who a user is - roles,
admin flag, groups, organisation, password, tokens - go to the audit log.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, insert, select, update

from runtime import clock

from runtime.data import tables as platform
from runtime.data.records import Actor
from runtime.data.storage import utcnow
from runtime.errors import LoomError, NotFound

from .permissions import app_role, role_error

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
                    organization: str | None = None, external: bool = False, by: Actor | None = None) -> int:
        roles = self.check_roles(roles)
        if external and is_admin:
            raise ValueError("an external user cannot be an administrator")
        u = platform.user
        with self.loom.engine.begin() as c:
            user_id = c.execute(insert(u).values(
                username=username, email=email, full_name=full_name,
                password_hash=_hasher.hash(password) if password else None, is_active=True, is_admin=is_admin,
                roles=list(roles), lang=lang, organization=organization, external=external, created_at=utcnow()
            ).returning(u.c.id)).scalar_one()
            self._audit(c, by, "user.create", user_id, None,
                        {"username": username, "roles": list(roles), "is_admin": is_admin,
                         "organization": organization, "external": external})
        return user_id

    def update_user(self, user_id: int, by: Actor | None = None, **changes) -> None:
        """Change ``roles``, ``is_admin``, ``is_active``, ``organization`` or ``external`` of a user (audited)."""
        allowed = {"roles", "is_admin", "is_active", "organization", "email", "full_name", "lang", "external"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))} of a user")
        if "roles" in changes:
            changes["roles"] = self.check_roles(changes["roles"])
        u = platform.user
        with self.loom.engine.begin() as c:
            old = c.execute(select(*[u.c[k] for k in changes], u.c.is_admin.label("_admin"), u.c.external.label("_ext"))
                            .where(u.c.id == user_id)).mappings().first()
            if old is None:
                raise NotFound(f"no user {user_id}")
            if changes.get("is_admin", old["_admin"]) and changes.get("external", old["_ext"]):
                raise ValueError("an external user cannot be an administrator")
            c.execute(update(u).where(u.c.id == user_id).values(**changes))
            self._audit(c, by, "user.update", user_id, {k: v for k, v in old.items() if not k.startswith("_")},
                        changes)
        self.forget_tokens()

    def check_roles(self, roles) -> list[str]:
        """``roles`` as a list, or ValueError naming the first that is not ``app:role`` (or a
        platform role), with the apps that declare a bare name as the way to write it."""
        roles = list(roles)
        for role in roles:
            problem = role_error(role)
            if problem:
                apps = [name for name, live in sorted(self.loom.live.items()) if role in live.app.roles]
                raise ValueError(problem + (f", e.g. {' or '.join(repr(app_role(a, role)) for a in apps)}"
                                            if apps else ""))
        return roles

    def create_group(self, name: str, title=None, email: str | None = None, by: Actor | None = None) -> int:
        g = platform.group
        with self.loom.engine.begin() as c:
            group_id = c.execute(insert(g).values(name=name, title=title, email=email).returning(g.c.id)).scalar_one()
            self._audit(c, by, "group.create", None, None, {"group": group_id, "name": name})
        return group_id

    def update_group(self, group_id: int, by: Actor | None = None, **changes) -> None:
        """Change ``title``, ``email`` or ``lead_id`` of a group (audited)."""
        unknown = set(changes) - {"title", "email", "lead_id"}
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))} of a group")
        g = platform.group
        with self.loom.engine.begin() as c:
            old = c.execute(select(*[g.c[k] for k in changes]).where(g.c.id == group_id)).mappings().first()
            if old is None:
                raise NotFound(f"no group {group_id}")
            c.execute(update(g).where(g.c.id == group_id).values(**changes))
            self._audit(c, by, "group.update", None, {"group": group_id, **dict(old)}, {"group": group_id, **changes})

    def add_to_group(self, user_id: int, group_id: int, by: Actor | None = None) -> None:
        with self.loom.engine.begin() as c:
            c.execute(insert(platform.user_group).values(user_id=user_id, group_id=group_id))
            self._audit(c, by, "group.add_member", user_id, None, {"group": group_id})
        self.forget_tokens()

    def remove_from_group(self, user_id: int, group_id: int, by: Actor | None = None) -> None:
        ug = platform.user_group
        with self.loom.engine.begin() as c:
            c.execute(delete(ug).where(ug.c.user_id == user_id, ug.c.group_id == group_id))
            self._audit(c, by, "group.remove_member", user_id, {"group": group_id}, None)
        self.forget_tokens()

    def exists(self, username: str) -> bool:
        with self.loom.reader.connect() as c:
            return c.execute(select(platform.user.c.id).where(platform.user.c.username == username)).first() is not None

    def user(self, *, user_id: int | None = None, email: str | None = None) -> dict | None:
        """A user's row without the password hash (by id, or by e-mail, case-insensitively), or None."""
        u = platform.user
        cond = u.c.id == user_id if user_id is not None else func.lower(u.c.email) == (email or "").strip().lower()
        with self.loom.reader.connect() as c:
            row = c.execute(select(u).where(cond).order_by(u.c.id)).mappings().first()
        return {k: v for k, v in row.items() if k != "password_hash"} if row else None

    def password_link(self, secret: str, user_id: int, purpose: str) -> str:
        """A signed token for ``purpose`` (``invite``, ``reset``): it names the user and a
        fingerprint of their password hash, so it stops working once a password is set
        with it (single use); its age is checked by :meth:`redeem_link`."""
        return _links(secret, purpose).dumps({"u": user_id, "f": self._fingerprint(user_id),
                                              "at": int(clock.now().timestamp())})

    def redeem_link(self, secret: str, token: str, purpose: str, max_age: dt.timedelta,
                    password: str | None = None) -> dict:
        """The user a link of :meth:`password_link` is for, raising ``LinkInvalid`` when it is
        forged, expired or used; with ``password``, set it (which spends the link)."""
        try:
            data = _links(secret, purpose).loads(token)
        except BadSignature:
            raise LinkInvalid("the link is not valid") from None
        if clock.now().timestamp() - data.get("at", 0) > max_age.total_seconds():
            raise LinkInvalid("the link has expired")
        u = platform.user
        with self.loom.engine.begin() as c:
            row = c.execute(select(u).where(u.c.id == data.get("u"), u.c.is_active.is_(True))
                            .with_for_update()).mappings().first()
            if row is None or _fingerprint(row["password_hash"]) != data.get("f"):
                raise LinkInvalid("the link has already been used")
            if password is not None:
                c.execute(update(u).where(u.c.id == row["id"]).values(password_hash=_hasher.hash(password)))
                self._audit(c, None, "user.password", row["id"], None, {"username": row["username"], "by": purpose})
            return {k: v for k, v in row.items() if k != "password_hash"}

    def _fingerprint(self, user_id: int) -> str:
        u = platform.user
        with self.loom.reader.connect() as c:
            return _fingerprint(c.execute(select(u.c.password_hash).where(u.c.id == user_id)).scalar())

    def set_password(self, username: str, password: str, by: Actor | None = None) -> None:
        u = platform.user
        with self.loom.engine.begin() as c:
            user_id = c.execute(update(u).where(u.c.username == username)
                                .values(password_hash=_hasher.hash(password)).returning(u.c.id)).scalar()
            self._audit(c, by, "user.password", user_id, None, {"username": username})

    def authenticate(self, username: str, password: str, ip: str | None = None) -> Actor | None:
        """The actor for a correct password, else None (in about the same time either way).

        Both outcomes are audited with the client address; a failure names the username tried.
        """
        u = platform.user
        with self.loom.reader.connect() as c:
            row = c.execute(select(u).where(u.c.username == username, u.c.is_active.is_(True))).mappings().first()
        try:
            _hasher.verify(row["password_hash"] if row and row["password_hash"] else _DUMMY_HASH, password)
            ok = row is not None and bool(row["password_hash"])
        except (VerificationError, InvalidHashError):
            ok = False
        with self.loom.engine.begin() as c:
            who = Actor(row["id"] if row else None, username[:150], ip=ip)
            if not ok:
                self.loom.audit.record(c, who, "login_failed", None, None, None, None)
                return None
            c.execute(update(u).where(u.c.id == row["id"]).values(last_login_at=utcnow()))
            self.loom.audit.record(c, who, "login", None, None, None, None)
            return self._actor(c, row)

    def issue_token(self, user_id: int, name: str = "api", by: Actor | None = None) -> str:
        secret = "loom_" + secrets.token_urlsafe(32)
        with self.loom.engine.begin() as c:
            token_id = c.execute(insert(platform.api_token).values(
                user_id=user_id, name=name, token_hash=_digest(secret), created_at=utcnow()
            ).returning(platform.api_token.c.id)).scalar_one()
            self._audit(c, by, "token.issue", user_id, None, {"token": token_id, "name": name})
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
            if row["external"]:  # a client's contact reaches the portal only, never the API
                return None
            return self._actor(c, row)

    def actor_for_id(self, user_id: int) -> Actor | None:
        u = platform.user
        with self.loom.reader.connect() as c:
            row = c.execute(select(u).where(u.c.id == user_id, u.c.is_active.is_(True))).mappings().first()
            return self._actor(c, row) if row else None

    @staticmethod
    def _actor(conn, row) -> Actor:
        """The actor of a user row, with the group ids row-level permissions need."""
        ug = platform.user_group
        groups = tuple(sorted(conn.execute(select(ug.c.group_id).where(ug.c.user_id == row["id"])).scalars()))
        return Actor(row["id"], row["username"], tuple(row["roles"] or ()), bool(row["is_admin"]),
                     groups=groups, organization=row["organization"], external=bool(row["external"]))

    def _audit(self, conn, by, action: str, user_id, before, after) -> None:
        """Audit a change to an account; ``record_id`` is the user it concerns."""
        self.loom.audit.record(conn, by, action, None, user_id, before, after)


class LinkInvalid(LoomError):
    """A password link that is forged, expired or already used."""

    status = 400


def _links(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"loom.account.{purpose}")


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "-").encode()).hexdigest()[:16]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
