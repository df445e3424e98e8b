"""Roles belong to apps: a user's role ``agent`` becomes ``<app>:agent``.

Before, ``loom_user.roles`` held bare names that counted in every app, so a
user given ``agent`` for one app was an ``agent`` of every app declaring that
role. Each bare name is rewritten to ``app:name`` for every app whose live
version declares it - exactly what the user could do before, now spelled
out, so an administrator can take away what was never meant (the roles page
lists it). Platform roles (``analyst``) stay bare; a name no app declares is
left as it was and grants nothing. See docs/decisions/0013-app-scoped-roles.md.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PLATFORM_ROLES = ("analyst",)

user = sa.table("loom_user", sa.column("id", sa.Integer), sa.column("roles", sa.JSON))
app = sa.table("loom_app", sa.column("name", sa.String), sa.column("current_version", sa.Integer))
version = sa.table("loom_app_version", sa.column("app", sa.String), sa.column("number", sa.Integer),
                   sa.column("document", sa.JSON))


def declared_roles(conn) -> dict[str, list[str]]:
    """Role name -> the apps whose live version declares it."""
    rows = conn.execute(sa.select(app.c.name, version.c.document)
                        .join(version, (version.c.app == app.c.name) & (version.c.number == app.c.current_version)))
    out: dict[str, list[str]] = {}
    for name, document in rows:
        for role in ((document or {}).get("app") or {}).get("roles") or []:
            out.setdefault(role["name"], []).append(name)
    return out


def scoped(roles, declared: dict[str, list[str]]) -> list[str]:
    out = []
    for role in roles or []:
        if ":" in role or role in PLATFORM_ROLES or role not in declared:
            targets = [role]
        else:
            targets = [f"{a}:{role}" for a in sorted(declared[role])]
        out.extend(r for r in targets if r not in out)
    return out


def upgrade():
    conn = op.get_bind()
    declared = declared_roles(conn)
    for user_id, roles in conn.execute(sa.select(user.c.id, user.c.roles)).all():
        new = scoped(roles, declared)
        if new != list(roles or []):
            conn.execute(user.update().where(user.c.id == user_id).values(roles=new))


def downgrade():
    conn = op.get_bind()
    for user_id, roles in conn.execute(sa.select(user.c.id, user.c.roles)).all():
        bare = []
        for role in roles or []:
            name = role.rpartition(":")[2]
            if name not in bare:
                bare.append(name)
        conn.execute(user.update().where(user.c.id == user_id).values(roles=bare))
