"""Loading an app's ``fixtures/`` (dictionaries, demo data) through the record service.

Link values (also in a table's rows) may name the target record by its title field
(``organization: Минздрав области``) instead of an id, a user field the user by username and a group
field the group by name, so fixtures read like the data they are.

``fixtures/_accounts.yaml`` declares demo staff: groups (with a lead) and users with
this app's roles and their groups. They are made before the records, so records can
name them; a user or group that exists already is kept, and given what it lacks. A user
with an ``organization`` is an external contact of that organisation's record (named by
its title once the records exist): the portal is all they reach.
"""
from __future__ import annotations

from sqlalchemy import select

from metamodel import Problem
from metamodel.document import file_of
from metamodel.errors import dotted
from metamodel.validate import ACCOUNTS

from runtime.errors import LoomError

from . import tables as platform
from .records import SYSTEM
from .values import FieldError, check, coerce

class FixtureError(LoomError):
    """A fixture the platform cannot load; the message names its file and record."""

    status, title = 422, "Invalid fixture"


_SCALAR_SKIP = ("link", "user", "group", "table", "computed", "rollup", "file")  # checked elsewhere, or not a value


def fixture_problems(app, source=None) -> list[Problem]:
    """What loading the fixtures would refuse, found before anything is written: a value its
    field refuses (type, pattern, choices, bounds) and a link naming, by title, a record that
    no fixture of this app creates. ``source`` (the folder's SourceMap) gives the lines."""
    titles = {name: {r.get(app.entities[name].title_field) for r in records}
              for name, records in app.fixtures.items() if name != ACCOUNTS and name in app.entities}
    problems = []

    def add(path: tuple, message: str) -> None:
        filename, inner = file_of(path)
        problems.append(Problem(filename, dotted(inner), message, source.line(filename, inner) if source else None))

    for name, records in app.fixtures.items():
        entity = app.entities.get(name)
        if name == ACCOUNTS or entity is None:
            continue
        for i, record in enumerate(records):
            for key, value in record.items():
                f = entity.fields.get(key)
                if f is None or value is None:
                    continue
                if f.target is not None and f.type not in ("user", "group"):
                    target = f.target.rpartition(".")[2] if f.target.rpartition(".")[0] in ("", app.name) else None
                    known = titles.get(target)
                    for v in value if isinstance(value, list) else [value]:
                        if isinstance(v, str) and known is not None and v not in known:
                            add(("fixtures", name, i, key), f"no {target} titled {v!r} among this app's fixtures "
                                                            f"({app.entities[target].title_field} of "
                                                            f"fixtures/{target}.yaml)")
                elif f.type not in _SCALAR_SKIP and f.storage == "column":
                    try:
                        stored = coerce(f, value)
                        if stored is not None:
                            check(f, stored)
                    except FieldError as exc:
                        add(("fixtures", name, i, key), exc.message)
    return problems


def load_fixtures(loom, app_name: str) -> int:
    """Create the demo accounts, then every fixture record of ``app_name`` in one transaction;
    return how many records."""
    live = loom.live[app_name]
    fixtures = dict(live.app.fixtures)
    accounts = fixtures.pop(ACCOUNTS, None)
    if accounts:
        load_accounts(loom, app_name, accounts)
    order = _dependency_order(live.app, list(fixtures))
    created = 0
    with loom.engine.begin() as conn:
        for entity_name in order:
            et = live.tables[entity_name]
            for i, record in enumerate(fixtures[entity_name]):
                data = {k: _resolve(loom, conn, et, k, v) for k, v in record.items()}
                try:
                    loom.records._insert(conn, et, data, SYSTEM)
                except FixtureError:
                    raise
                except LoomError as exc:  # a rule only the record service knows (required, unique, a hook)
                    raise FixtureError(f"fixtures/{entity_name}.yaml [{i}]: {exc.detail}") from None
                created += 1
    if accounts:
        _bind_contacts(loom, live, accounts)
    return created


def _bind_contacts(loom, live, accounts: dict) -> None:
    """Make the users with an ``organization`` external contacts of that organisation's record
    (the portal's ``organisation_entity``, named by its title), now that the records exist."""
    entity = (live.app.document.get("portal") or {}).get("organisation_entity")
    contacts = [a for a in accounts.get("users", []) if a.get("organization")]
    if not contacts or not entity:
        return
    et, u = live.tables[entity], platform.user
    column = et.main.c[et.entity.title_field]
    bound = []
    with loom.engine.connect() as conn:
        for account in contacts:
            found = conn.execute(select(et.main.c.id).where(column == account["organization"])).scalar()
            if found is None:
                raise FixtureError(f"fixtures/_accounts.yaml: user {account['username']}: no {entity} titled "
                                   f"{account['organization']!r}")
            user_id = conn.execute(select(u.c.id).where(u.c.username == account["username"])).scalar_one()
            bound.append((user_id, f"{live.app.name}.{entity}:{found}"))
    for user_id, organization in bound:  # each an audited change of its own, after the reads are closed
        loom.accounts.update_user(user_id, organization=organization, external=True)


def _dependency_order(app, names: list[str]) -> list[str]:
    done, order = set(), []

    def visit(name, stack=()):
        if name in done or name in stack:
            return
        fields = list(app.entities[name].fields.values())
        fields += [c for f in fields if f.storage == "child" for c in f.children.values()]  # a table's links
        for f in fields:
            target = (f.target or "").rpartition(".")[2]
            if target in names and target != name:
                visit(target, stack + (name,))
        done.add(name)
        order.append(name)

    for name in names:
        visit(name)
    return order


def load_accounts(loom, app_name: str, spec: dict) -> dict[str, int]:
    """Make the groups and users of ``_accounts.yaml`` (audited as the system's); return user ids
    by username. Existing ones are reused: a user gains the roles and groups it lacks."""
    u, g, ug = platform.user, platform.group, platform.user_group
    with loom.engine.connect() as c:
        group_ids = dict(c.execute(select(g.c.name, g.c.id)).all())
    for group in spec.get("groups", []):
        if group["name"] not in group_ids:
            group_ids[group["name"]] = loom.accounts.create_group(group["name"], group.get("title"),
                                                                  group.get("email"))
    user_ids = {}
    for account in spec.get("users", []):
        roles = [f"{app_name}:{role}" for role in account.get("roles", [])]
        with loom.engine.connect() as c:
            row = c.execute(select(u.c.id, u.c.roles).where(u.c.username == account["username"])).first()
            member_of = set(c.execute(select(ug.c.group_id).where(ug.c.user_id == row.id)).scalars()) if row else set()
        if row is None:
            user_id = loom.accounts.create_user(account["username"], account.get("password"),
                                                email=account.get("email"), full_name=account.get("full_name"),
                                                roles=roles, lang=account.get("lang", "ru"))
        else:
            user_id = row.id
            missing = [r for r in roles if r not in (row.roles or [])]
            if missing:
                loom.accounts.update_user(user_id, roles=list(row.roles or []) + missing)
        for name in account.get("groups", []):
            if group_ids[name] not in member_of:
                loom.accounts.add_to_group(user_id, group_ids[name])
        user_ids[account["username"]] = user_id
    for group in spec.get("groups", []):
        if group.get("lead"):
            loom.accounts.update_group(group_ids[group["name"]], lead_id=user_ids[group["lead"]])
    return user_ids


def _resolve(loom, conn, et, key, value, f=None):
    f = f if f is not None else et.entity.fields.get(key)
    if f is not None and f.type == "table" and isinstance(value, list):  # a row's user, group and link cells too
        return [{k: _resolve(loom, conn, et, f"{key}.{k}", v, f.children[k]) if k in f.children else v
                 for k, v in row.items()} if isinstance(row, dict) else row for row in value]
    if f is not None and f.type in ("user", "group") and isinstance(value, str):
        return _principal(conn, f.type, value, et, key)
    if f is not None and f.storage == "child" and isinstance(value, list):  # a table's link columns too
        return [{k: _lookup(loom, conn, et, f.children[k], v) if k in f.children and f.children[k].target else v
                 for k, v in row.items()} if isinstance(row, dict) else row for row in value]
    if f is None or f.target is None:
        return value
    if isinstance(value, list):
        return [_lookup(loom, conn, et, f, v) for v in value]
    return _lookup(loom, conn, et, f, value)


def _lookup(loom, conn, et, f, value):
    if not isinstance(value, str):
        return value
    app, _, name = f.target.rpartition(".")
    target = loom.entity_tables(app or et.entity.app, name)
    column = target.main.c[target.entity.title_field]
    found = conn.execute(select(target.main.c.id).where(column == value)).scalar()
    if found is None:
        raise FixtureError(f"fixtures/{et.entity.name}.yaml {f.name}: no {name} titled {value!r}")
    return found


def _principal(conn, kind: str, name: str, et, key: str) -> int:
    """The id of the user (by username) or group (by name) a fixture names."""
    table = platform.user if kind == "user" else platform.group
    column = table.c.username if kind == "user" else table.c.name
    found = conn.execute(select(table.c.id).where(column == name)).scalar()
    if found is None:
        raise FixtureError(f"fixtures/{et.entity.name}.yaml {key}: no {kind} {name!r}")
    return found
