"""Notification templates (sandboxed jinja2), recipients, in-app rows and the outbox.

:meth:`Notifier.send` works inside the caller's transaction: it renders an app's
template for each recipient in their language and writes ``loom_notification``
rows (in-app) and ``loom_outbox`` rows, one per recipient of each other channel
the template names. Channels out are plugins (``loom_notification_channels``);
e-mail is the first (``plugins/email``). Nothing leaves the process until that
change commits.

:meth:`Notifier.deliver` is a job that sends one outbox row through its channel. It claims
the row with a lease (``state='sending'``, ``lease_until``) in a short committed
transaction, talks to the server outside any transaction, then marks the row
``sent``. Delivery is **at least once** by design: a worker killed after the
server accepted a message but before it marked the row sent leaves a lease that
expires, and another worker sends the message again. Every copy carries the
row's ``Message-ID``, so the receiving side can drop the duplicate. Never
sending a message twice would mean sometimes never sending it at all.

A failed attempt puts the row back to ``pending`` with its error and, in
``lease_until``, the earliest time to try again; after :data:`MAX_ATTEMPTS` the
row is ``failed`` for good, and at once when the channel's server refused the message
(:class:`~runtime.extension.MessageRefused`: an unknown number).
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import time
import uuid
from dataclasses import dataclass, replace

from jinja2 import ChainableUndefined, TemplateSyntaxError
from jinja2.sandbox import SecurityError
from sqlalchemy import insert, or_, select, update

from metamodel import title_text
from metamodel.recipients import USER_SYSTEM_FIELDS, parse_recipient
from runtime import clock
from runtime.data import tables as platform
from runtime.data.roles import PLATFORM_ROLES, app_role
from runtime.errors import LoomError, NotFound, redact
from runtime.extension import MessageRefused, OutgoingMessage
from runtime.sandbox import templates as limited

LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
RETRY_DELAYS = tuple(dt.timedelta(minutes=m) for m in (1, 5, 15, 60))  # after attempt 1, 2, 3, 4
DEFAULT_CHANNELS = ("email", "inapp")
log = logging.getLogger("loom.notifications")


class TemplateFailed(LoomError):
    """A notification template does not exist, does not compile or failed to render."""

    status, title = 422, "Notification template error"


@dataclass(frozen=True)
class Recipient:
    """Someone to notify: a user (``user_id``), a bare address (``email`` only), or both."""

    user_id: int | None
    email: str | None
    lang: str = "ru"
    name: str | None = None
    username: str | None = None


# ---------------------------------------------------------------------- templates
class _Environment(limited.LimitedEnvironment):
    """The sandbox with the scripts' limits (steps, time, sizes; see
    :mod:`runtime.sandbox.templates`), but an unsafe attribute is an error rather than a
    silently empty value, and ``record.items`` is the field ``items``, not ``dict.items``."""

    def getattr(self, obj, attribute):
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj, attribute):
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")


# Text e-mail: no autoescape. A missing name renders empty (analysts write these), and
# ``record.link.field`` on a missing value stays empty instead of failing.
_ENV = _Environment(autoescape=False, undefined=ChainableUndefined, keep_trailing_newline=True)
_compile = functools.lru_cache(maxsize=1024)(_ENV.from_string)


def _texts(text) -> list[tuple[str | None, str]]:
    """``(lang, source)`` pairs of a template text: a plain string or ``{ru: ..., en: ...}``."""
    if text is None:
        return []
    if isinstance(text, str):
        return [(None, text)]
    return [(lang, source) for lang, source in text.items() if isinstance(source, str)]


def _line(exc: Exception) -> int | None:
    """The template line an error points at (jinja2 puts template frames into the traceback)."""
    if getattr(exc, "lineno", None):
        return exc.lineno
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def check_templates(templates: dict) -> list[tuple[tuple, str]]:
    """``(document path, message)`` for every subject or body of ``notifications.yaml:
    templates`` that does not compile, for publish-time validation."""
    problems = []
    for name, spec in (templates or {}).items():
        for part in ("subject", "body"):
            for lang, source in _texts(spec.get(part)):
                path = ("notifications", "templates", name, part) + ((lang,) if lang else ())
                try:
                    _compile(source)
                except TemplateSyntaxError as exc:
                    problems.append((path, f"line {exc.lineno}: {exc.message}"))
    return problems


def render(name: str, part: str, text, lang: str, context: dict) -> str:
    """Render template ``name``'s ``part`` in ``lang`` (falling back to ``ru``)."""
    source = title_text(text, lang)
    try:
        return limited.render(_compile(source), context)
    except limited.TemplateLimitExceeded as exc:
        raise TemplateFailed(f"notification template {name!r}, {part} ({lang}): {exc.message}",
                             template=name, part=part, guard=exc.guard) from None
    except Exception as exc:  # noqa: BLE001 - any failure of an analyst's template reads the same
        line = _line(exc)
        where = f", line {line}" if line else ""
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise TemplateFailed(f"notification template {name!r}, {part} ({lang}){where}: {message}",
                             template=name, part=part, line=line) from None


# ---------------------------------------------------------------------- recipient specs
def check_recipient(app, entity: str, spec: str) -> str | None:
    """Why ``spec`` is not a recipient of ``app``'s ``entity``, or ``None`` when it is.
    Links into other apps are followed no further."""
    def resolve(f):
        other, _, name = f.target.rpartition(".")
        return app.entities.get(name) if other in ("", app.name) else None

    try:
        parse_recipient(spec, app.entities[entity], resolve)
    except ValueError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------- the notifier
class Notifier:
    def __init__(self, loom):
        self.loom = loom

    def templates(self, app: str) -> dict:
        """The app's notification templates by name (``notifications.yaml: templates``)."""
        live = self.loom.live.get(app)
        if live is None:
            raise NotFound(f"no published app {app!r}")
        return live.app.section("notifications").get("templates") or {}

    # ------------------------------------------------------------------ recipients
    def recipients(self, conn, app: str, entity: str | None, record: dict | None, specs) -> list[Recipient]:
        """Resolve recipient specs (``docs/behaviour.md``, "Recipients") over ``record``:
        active users and bare addresses, in order, each once."""
        return self._collect(conn, app, entity, record, specs, set())

    def _collect(self, conn, app, entity, record, specs, seen: set) -> list[Recipient]:
        """Recipients of ``specs`` whose user id and address are not in ``seen`` (which grows)."""
        start = self.loom.entity_tables(app, entity).entity if entity else None
        out = []
        for spec in specs:
            for r in self._resolve(conn, app, parse_recipient(spec, start, self._target), record or {}, entity):
                address = ("email", r.email.lower()) if r.email else None
                if address in seen:  # already mailed: a user still gets the in-app notification
                    r = replace(r, email=None)
                if (r.user_id and ("user", r.user_id) not in seen) or (not r.user_id and r.email):
                    out.append(r)
                seen.add(("user", r.user_id))
                if address:
                    seen.add(address)
        return out

    def _target(self, f):
        return self.loom.entity_tables(*_split(f)).entity

    def _resolve(self, conn, app: str, plan: tuple, record: dict, entity: str | None = None) -> list[Recipient]:
        kind, *args = plan
        u, g = platform.user, platform.group
        if kind == "rows":
            return self._rows(conn, app, entity, record, *args)
        if kind == "email":
            return [Recipient(None, args[0])]
        if kind == "user":
            return _users(conn, u.c.username == args[0])
        if kind == "role":
            return _with_role(conn, app, args[0])
        if kind == "group":
            return _group(conn, g.c.name == args[0])
        if kind == "group_lead":
            return _users(conn, u.c.id == select(g.c.lead_id).where(g.c.name == args[0]).scalar_subquery())
        links, name, what = args
        record = self._follow(conn, record, links)
        value = record.get(name) if record else None
        if value in (None, ""):
            return []
        if what == "email":  # a correspondent who is not a user: the address alone, in the default language
            return [Recipient(None, str(value))]
        if what == "user":
            return _users(conn, u.c.id == value)
        if what == "group":
            return _group(conn, g.c.id == value)
        lead = select(g.c.lead_id).where(g.c.id == value).scalar_subquery()
        return _users(conn, u.c.id == lead)

    def _rows(self, conn, app: str, entity: str, record: dict, table: str, column: str, kind: str) -> list[Recipient]:
        """Everyone a table's user, group or e-mail column names, row by row (the rows as the
        record carries them, else as stored)."""
        rows = record.get(table)
        if isinstance(rows, list):
            values = [row.get(column) for row in rows if isinstance(row, dict)]
        elif record.get("id") is not None:
            child = self.loom.entity_tables(app, entity).children[table]
            values = list(conn.execute(select(child.c[column]).where(child.c.parent_id == record["id"])
                                       .order_by(child.c.id)).scalars())
        else:
            values = []
        values = [v.get("id") if isinstance(v, dict) else v for v in values]  # a JSON record's {id, title}
        values = list(dict.fromkeys(v for v in values if v not in (None, "")))
        if not values:
            return []
        if kind == "email":
            return [Recipient(None, str(v)) for v in values]
        if kind == "user":
            return _users(conn, platform.user.c.id.in_(values))
        return [r for v in values for r in _group(conn, platform.group.c.id == v)]

    def _follow(self, conn, record: dict, links) -> dict | None:
        """The record at the end of a chain of link fields (``None`` where a link is empty)."""
        for f in links:
            if record.get(f.name) is None:
                return None
            t = self.loom.entity_tables(*_split(f)).main
            record = conn.execute(select(t).where(t.c.id == record[f.name])).mappings().first()
            if record is None:
                return None
        return record

    # ------------------------------------------------------------------ send
    def send(self, conn, app: str, template: str, *, entity: str | None = None, record_id: int | None = None,
             to=(), cc=(), context: dict | None = None, record: dict | None = None) -> dict:
        """Render ``template`` for each recipient and write in-app and outbox rows in ``conn``'s
        transaction; return their ids as ``{"inapp": [...], "email": [...]}``.

        ``to`` get the e-mail; ``cc`` are copied on it (on the first one, so nobody gets
        a copy per addressee) and get in-app notifications like ``to``.
        """
        spec = self.templates(app).get(template)
        if spec is None:
            raise TemplateFailed(f"app {app!r} has no notification template {template!r}", template=template)
        if record is None and record_id is not None:
            et = self.loom.entity_tables(app, entity)
            row = self.loom.records._fetch(conn, et, record_id, include_deleted=True)
            record = self.loom.records.to_json(conn, et, row, None, related=False)
        record = dict(record or {})
        record_id = record_id if record_id is not None else record.get("id")
        seen = set()
        to_list = self._collect(conn, app, entity, record, to, seen)
        cc_list = self._collect(conn, app, entity, record, cc, seen)
        renderer = _Renderer(template, spec, self._context(conn, app, entity, record, record_id, context or {}))
        channels = spec.get("channels") or DEFAULT_CHANNELS
        ids = {"inapp": [], "email": []}  # and a list per other channel that sent something
        where = {"template": template, "app": app, "entity": entity, "record_id": record_id}
        if "inapp" in channels:
            ids["inapp"] = [self._inapp(conn, r, renderer, where) for r in to_list + cc_list if r.user_id]
        for name in channels:
            if name == "inapp":
                continue
            self._channel(name)
            mails = [(r, a) for r in to_list if (a := self._address_of(conn, name, r, renderer, where))]
            copies = [a for r in cc_list if (a := self._address_of(conn, name, r, renderer, where))]
            if not mails:  # nobody to copy them on: the copies become messages of their own
                mails, copies = [(None, a) for a in copies], []
            ids.setdefault(name, []).extend(
                self._outbox(conn, name, r, address, copies if i == 0 else [], renderer, where)
                for i, (r, address) in enumerate(mails))
        return ids

    def _address_of(self, conn, name: str, r: Recipient, renderer: _Renderer, where: dict) -> str | None:
        """The recipient's address on channel ``name``; when the channel fails to say, the message
        is kept as failed with the reason, and the change that sends it stands."""
        who = _address_book(r)
        address, error = self.address(name, who)
        if error is not None:
            subject, body = renderer(r.lang)
            self.unaddressed(conn, name, who, subject, body, error, **where)
        return address

    def address(self, name: str, who: dict) -> tuple[str | None, str | None]:
        """``(address, None)``: what channel ``name``'s ``address(who)`` picks (``None``: not
        reachable there); ``(None, error)`` when it raised, logged with the plugin's name."""
        try:
            return self.loom.plugins.channels()[name].address(who) or None, None
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not undo the user's change
            return None, self._plugin_error(name, "address()", exc)

    def unaddressed(self, conn, channel: str, who: dict, subject: str, body: str, error: str, **where) -> int:
        """Keep a message its channel could not address as ``failed``, so the outbox shows why."""
        recipient = who.get("email") or who.get("username") or who.get("name") or f"user {who.get('user_id')}"
        o = platform.outbox
        return conn.execute(insert(o).values(
            channel=channel, recipient=str(recipient)[:255], cc=[], subject=subject[:255], body=body, state="failed",
            attempts=0, created_at=clock.now(), message_id=f"<{uuid.uuid4()}@loom>", error=error,
            **{"template": None, **where}).returning(o.c.id)).scalar_one()

    def _plugin_error(self, name: str, what: str, exc: Exception) -> str:
        """The text of a channel's failure, naming its plugin, credentials masked; logged in full."""
        owner = self.loom.plugins.owner("loom_notification_channels", name)
        error = redact(f"plugin {owner!r}, channel {name!r}: {what} failed: {type(exc).__name__}: {exc}")[:2000]
        log.error("%s", error, exc_info=exc)
        return error

    def mail(self, conn, to: str, subject: str, body: str, channel: str = "email", *, app=None, entity=None,
             record_id=None, cc=()) -> int:
        """One message that no template makes (a password link, a webhook call): an outbox row in ``conn``."""
        self._channel(channel)
        o = platform.outbox
        return conn.execute(insert(o).values(
            channel=channel, recipient=to, cc=list(cc), subject=subject[:255], body=body, state="pending",
            attempts=0, created_at=clock.now(), message_id=f"<{uuid.uuid4()}@loom>", template=None, app=app,
            entity=entity, record_id=record_id).returning(o.c.id)).scalar_one()

    def outbox_rows(self, channel: str, limit: int = 100) -> list[dict]:
        """The newest outbox rows of ``channel``, for a delivery log."""
        o = platform.outbox
        with self.loom.reader.connect() as c:
            rows = c.execute(select(o).where(o.c.channel == channel).order_by(o.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def unread(self, user_id: int, app: str | None = None, limit: int = 20) -> list[dict]:
        """A user's unread in-app notifications (of ``app``), newest first."""
        n = platform.notification
        query = select(n.c.id, n.c.title, n.c.body, n.c.app, n.c.entity, n.c.record_id, n.c.created_at).where(
            n.c.user_id == user_id, n.c.read_at.is_(None))
        if app is not None:
            query = query.where(n.c.app == app)
        with self.loom.reader.connect() as c:
            return [dict(r._mapping) for r in c.execute(query.order_by(n.c.id.desc()).limit(limit))]

    def mark_read(self, user_id: int, app: str, entity: str, record_id: int) -> int:
        """Mark a user's notifications about one record read; how many were unread."""
        n = platform.notification
        with self.loom.engine.begin() as c:
            return c.execute(update(n).where(n.c.user_id == user_id, n.c.read_at.is_(None), n.c.app == app,
                                             n.c.entity == entity, n.c.record_id == record_id)
                             .values(read_at=clock.now())).rowcount

    def sent_about(self, message_ids: list[str]) -> dict | None:
        """``{app, entity, record_id}`` of the newest outbox row about a record whose
        ``message_id`` is one of ``message_ids`` (a reply's ``In-Reply-To``/``References``)."""
        wanted = [m.strip() for m in message_ids if m and m.strip()][:50]
        if not wanted:
            return None
        o = platform.outbox
        with self.loom.reader.connect() as c:
            row = c.execute(select(o.c.app, o.c.entity, o.c.record_id).where(
                o.c.message_id.in_(wanted), o.c.record_id.is_not(None)).order_by(o.c.id.desc()).limit(1)).first()
        return dict(row._mapping) if row is not None else None

    def _inapp(self, conn, r: Recipient, renderer: _Renderer, where: dict) -> int:
        subject, body = renderer(r.lang)
        n = platform.notification
        return conn.execute(insert(n).values(user_id=r.user_id, title=subject[:255], body=body,
                                             created_at=clock.now(), **where).returning(n.c.id)).scalar_one()

    def _channel(self, name: str):
        channel = self.loom.plugins.channels().get(name)
        if channel is None:
            raise TemplateFailed(f"no notification channel {name!r} is installed; installed: "
                                 f"{', '.join(['inapp', *sorted(self.loom.plugins.channels())])}")
        return channel

    def _outbox(self, conn, channel: str, r: Recipient | None, address: str, cc: list[str], renderer: _Renderer,
                where: dict) -> int:
        subject, body = renderer(r.lang if r is not None else "ru")
        o = platform.outbox
        return conn.execute(insert(o).values(
            channel=channel, recipient=address, cc=cc, subject=subject[:255], body=body, state="pending",
            attempts=0, created_at=clock.now(), message_id=f"<{uuid.uuid4()}@loom>", **where
        ).returning(o.c.id)).scalar_one()

    def _context(self, conn, app: str, entity: str | None, record: dict, record_id, extra: dict) -> _Context:
        titles = self._titles(conn, app, entity, record) if entity else {}
        if record_id is not None:
            url = f"{self.loom.base_url}/ui/{app}/{entity}/{record_id}"
        else:
            url = f"{self.loom.base_url}/ui/{app}/"
        return _Context({"record": record, "app": app, "entity": entity, "url": url, **extra}, titles)

    def _titles(self, conn, app: str, entity: str, record: dict) -> dict:
        """Display names of the record's status, choices, users, groups and links; a value
        is a string or a ``{ru, en}`` title, picked per language when rendering."""
        e = self.loom.entity_tables(app, entity).entity
        out = {}
        if record.get("status") is not None:
            out["status"] = next((s.get("title", s["name"]) for s in e.statuses if s["name"] == record["status"]),
                                 record["status"])
        users = {name: record.get(name) for name in USER_SYSTEM_FIELDS}
        for f in e.fields.values():
            value = record.get(f.name)
            if value is None or f.storage != "column":
                continue
            if f.value_type == "user":
                users[f.name] = value
            elif f.value_type == "group":
                title = conn.execute(select(platform.group.c.title, platform.group.c.name)
                                     .where(platform.group.c.id == value)).first()
                if title is not None:
                    out[f.name] = title.title or title.name
            elif f.value_type == "link":
                et = self.loom.entity_tables(*_split(f))
                column = et.main.c.get(et.entity.title_field, et.main.c.number)
                out[f.name] = conn.execute(select(column).where(et.main.c.id == value)).scalar()
            elif f.value_type == "choice":
                out[f.name] = next((c.title or c.value for c in f.choices if c.value == value), value)
        ids = {v for v in users.values() if v is not None}
        if ids:
            u = platform.user
            names = {r.id: r.full_name or r.username
                     for r in conn.execute(select(u.c.id, u.c.full_name, u.c.username).where(u.c.id.in_(ids)))}
            out.update({k: names[v] for k, v in users.items() if v in names})
        return out

    # ------------------------------------------------------------------ delivery
    def deliver(self, outbox_id: int) -> str:
        """Send one outbox row through its channel (a job); return its state afterwards,
        or ``"not configured"`` while the channel is not set up (the row waits), or ``"refused"``
        when the channel's server refused it for good (:class:`MessageRefused`; stored failed)."""
        o = platform.outbox
        with self.loom.reader.connect() as c:
            name = c.execute(select(o.c.channel).where(o.c.id == outbox_id)).scalar()
        channel = self.loom.plugins.channels().get(name)
        if name is None or channel is None or not self._ready(name, channel):
            return "missing" if name is None else "not configured"
        row = self._claim(outbox_id)
        if row is None:
            return self._state(outbox_id)
        try:
            channel.deliver(_outgoing(row), self._config())
        except Exception as exc:  # noqa: BLE001 - a channel's failure is an attempt that failed, retried later
            return self._failed(row, exc)
        self._settle(row, state="sent", sent_at=clock.now(), lease_until=None, error=None)
        return "sent"

    def _config(self) -> dict:
        """What channels may read of the platform's settings."""
        return {"smtp_url": self.loom.smtp_url, "base_url": self.loom.base_url}

    def ready_channels(self) -> list[str]:
        """The installed channels that are set up to send (e-mail once ``LOOM_SMTP_URL`` is set...)."""
        return [n for n, ch in self.loom.plugins.channels().items() if self._ready(n, ch)]

    def _ready(self, name: str, channel) -> bool:
        """Whether ``channel`` is set up; one whose ``ready()`` raises is not (its messages wait),
        and the other channels still deliver."""
        try:
            return bool(channel.ready(self._config()))
        except Exception as exc:  # noqa: BLE001 - one plugin's bug must not stop every channel
            self._plugin_error(name, "ready()", exc)
            return False

    def deliver_pending(self, limit: int = 100, seconds: float = 0) -> int:
        """Deliver the rows that are due, oldest first, for the scheduler's tick; return how many
        were sent. A channel's first failed attempt ends its part: its server is likely down, and
        the rest can wait for the next tick instead of each spending an attempt (a message the
        server refused for good says nothing about the server). With ``seconds``, batches of
        ``limit`` follow one another until none is left or the time is up (a delivery job working
        through the 50,000 notices of an outage)."""
        ready = self.ready_channels()
        if not ready:
            return 0
        o, sent, down = platform.outbox, 0, set()
        deadline = time.monotonic() + seconds
        while True:
            channels = [n for n in ready if n not in down]
            if not channels:
                return sent
            with self.loom.reader.connect() as c:
                rows = c.execute(select(o.c.id, o.c.channel).where(_deliverable(clock.now()), o.c.channel.in_(channels))
                                 .order_by(o.c.id).limit(limit)).all()
            for outbox_id, channel in rows:
                if channel in down:
                    continue
                state = self.deliver(outbox_id)
                if state in ("pending", "failed"):
                    down.add(channel)
                sent += state == "sent"
            if len(rows) < limit or time.monotonic() >= deadline:
                return sent

    def _claim(self, outbox_id: int):
        """Take the row for one attempt, or ``None`` when it is not due or another worker holds it."""
        o, now = platform.outbox, clock.now()
        with self.loom.engine.begin() as c:
            return c.execute(update(o).where(o.c.id == outbox_id, _deliverable(now))
                             .values(state="sending", lease_until=now + LEASE, attempts=o.c.attempts + 1)
                             .returning(o)).first()

    def _failed(self, row, exc: Exception) -> str:
        # ordinary users read it (the outbox, a delivery record's error field): no credentials
        error = redact(f"{type(exc).__name__}: {exc}")[:2000]
        if isinstance(exc, MessageRefused):
            self._settle(row, state="failed", lease_until=None, error=error)
            return "refused"
        if row.attempts >= MAX_ATTEMPTS:
            self._settle(row, state="failed", lease_until=None, error=error)
            return "failed"
        delay = RETRY_DELAYS[min(row.attempts, len(RETRY_DELAYS)) - 1]
        self._settle(row, state="pending", lease_until=clock.now() + delay, error=error)
        return "pending"

    def _settle(self, row, **values) -> None:
        """Record an attempt's outcome, unless the lease expired and another attempt took the row;
        a message that is a record (an entity's ``delivery:``) gets the outcome on the record too."""
        o = platform.outbox
        with self.loom.engine.begin() as c:
            if c.execute(update(o).where(o.c.id == row.id, o.c.attempts == row.attempts).values(**values)).rowcount:
                self.loom.deliveries.settled(c, row, values)

    def _state(self, outbox_id: int) -> str:
        o = platform.outbox
        with self.loom.reader.connect() as c:
            return c.execute(select(o.c.state).where(o.c.id == outbox_id)).scalar() or "missing"


# ---------------------------------------------------------------------- helpers
def _is_title(value) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= {"ru", "en"}


class _Context:
    """The rendering context of one notification; ``record._titles`` is per language."""

    def __init__(self, names: dict, titles: dict):
        self.names, self.titles = names, titles

    def for_lang(self, lang: str) -> dict:
        titles = {k: title_text(v, lang) if isinstance(v, (dict, str)) else v for k, v in self.titles.items()}
        names = {k: title_text(v, lang) if _is_title(v) else v for k, v in self.names.items()}  # {ru, en} values
        return {**names, "record": {**self.names["record"], "_titles": titles}, "lang": lang}


class _Renderer:
    """``(subject, body)`` of one template for a language, rendered once per language."""

    def __init__(self, name: str, spec: dict, context: _Context):
        self.name, self.spec, self.context = name, spec, context
        self.done: dict[str, tuple[str, str]] = {}

    def __call__(self, lang: str) -> tuple[str, str]:
        if lang not in self.done:
            context = self.context.for_lang(lang)
            subject = render(self.name, "subject", self.spec.get("subject", ""), lang, context)
            body = render(self.name, "body", self.spec.get("body", ""), lang, context)
            self.done[lang] = (" ".join(subject.split()), body)  # a header is one line
        return self.done[lang]


def _split(f) -> tuple[str, str]:
    other, _, name = f.target.rpartition(".")
    return other or f.entity.app, name


def _users(conn, *where) -> list[Recipient]:
    u = platform.user
    rows = conn.execute(select(u.c.id, u.c.email, u.c.lang, u.c.full_name, u.c.username)
                        .where(u.c.is_active.is_(True), *where).order_by(u.c.id))
    return [Recipient(r.id, r.email or None, r.lang or "ru", r.full_name or r.username, r.username) for r in rows]


def _with_role(conn, app: str, role: str) -> list[Recipient]:
    """Active users with ``role`` of ``app`` (``admin``: the administrators; a platform role such as
    ``analyst`` as it is). Roles are a JSON list: filtered here, the same on both backends."""
    u = platform.user
    rows = conn.execute(select(u.c.id, u.c.roles, u.c.is_admin).where(u.c.is_active.is_(True)))
    stored = role if role in PLATFORM_ROLES else app_role(app, role)
    ids = [r.id for r in rows if stored in (r.roles or []) or (role == "admin" and r.is_admin)]
    return _users(conn, u.c.id.in_(ids)) if ids else []


def _group(conn, where) -> list[Recipient]:
    """A group's active members, then the group's own address."""
    g, ug, u = platform.group, platform.user_group, platform.user
    group = conn.execute(select(g.c.id, g.c.name, g.c.title, g.c.email).where(where)).first()
    if group is None:
        return []
    members = _users(conn, u.c.id.in_(select(ug.c.user_id).where(ug.c.group_id == group.id)))
    if group.email:
        members.append(Recipient(None, group.email, name=title_text(group.title) or group.name))
    return members


def _deliverable(now: dt.datetime):
    """Rows an attempt may take: pending and due, or sending with an expired lease."""
    o = platform.outbox
    return or_((o.c.state == "pending") & (o.c.lease_until.is_(None) | (o.c.lease_until <= now)),
               (o.c.state == "sending") & (o.c.lease_until < now))


def _address_book(r: Recipient) -> dict:
    """What a channel may use to reach a recipient (see ``Channel.address``): the same keys as
    an answer's (``runtime.behaviour.answers``); users have no phone, so ``address`` is empty here."""
    return {"email": r.email, "user_id": r.user_id, "username": r.username, "name": r.name, "lang": r.lang,
            "address": None}


def _outgoing(row) -> OutgoingMessage:
    return OutgoingMessage(id=row.id, channel=row.channel, recipient=row.recipient, subject=row.subject,
                           body=row.body, message_id=row.message_id, cc=tuple(row.cc or ()), app=row.app,
                           entity=row.entity, record_id=row.record_id)
