"""Notifications: recipients, sandboxed templates, in-app rows and the e-mail outbox.

Every database test runs on SQLite and on PostgreSQL (the ``loom`` fixture); e-mail goes
to a real SMTP server (aiosmtpd) on a free local port.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from metamodel import MetadataError
from runtime import clock
from runtime.behaviour.notifications import Recipient, TemplateFailed, check_recipient, check_templates
from runtime.data import tables as platform

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)

ASSIGNED = {
    "channels": ["email", "inapp"],
    "subject": {"ru": "Назначено: {{ record.number }} {{ record.title }}",
                "en": "Assigned: {{ record.number }} {{ record.title }}"},
    "body": {"ru": "Группа {{ record._titles.support_group }}, статус {{ record._titles.status }}, "
                   "исполнитель {{ record._titles.assignee }}, уровень {{ level }}.\n{{ url }}\n",
             "en": "Group {{ record._titles.support_group }}, status {{ record._titles.status }}, "
                   "assignee {{ record._titles.assignee }}, level {{ level }}.\n{{ url }}\n"},
}


def desk_doc(**templates) -> dict:
    return {
        "app": {"name": "desk", "title": "Desk", "roles": [{"name": "agent"}]},
        "entities": {
            "system": {"title": "System", "fields": {
                "name": {"type": "string", "required": True},
                "technical_owner": {"type": "user"},
                "team": {"type": "group"}}},
            "ticket": {"title": "Ticket", "fields": {
                "title": {"type": "string", "required": True},
                "assignee": {"type": "user"},
                "support_group": {"type": "group"},
                "system": {"type": "link", "entity": "system"},
                "watchers": {"type": "table", "fields": {"person": {"type": "user"}, "team": {"type": "group"},
                                                         "address": {"type": "email"}, "note": {"type": "string"}}}},
                "statuses": [{"name": "new", "title": {"ru": "Новая", "en": "New"}, "initial": True}]},
        },
        "notifications": {"templates": {"assigned": ASSIGNED, **templates}},
    }


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((sorted(envelope.rcpt_tos), msg))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield inbox
    controller.stop()


@pytest.fixture
def frozen():
    with clock.frozen(T0):
        yield


@pytest.fixture
def desk(loom):
    """The desk app, users, a group and a ticket; ``desk.ids`` names them."""
    loom.store.publish(desk_doc(), author="t")
    acc = loom.accounts
    ids = {
        "alice": acc.create_user("alice", None, email="alice@example.com", full_name="Алиса", roles=["desk:agent"]),
        "bob": acc.create_user("bob", None, email="Bob@Example.com", full_name="Bob", lang="en"),
        "carol": acc.create_user("carol", None, full_name="Карина"),
        "dave": acc.create_user("dave", None, email="dave@example.com"),
        "erin": acc.create_user("erin", None, email="erin@example.com", roles=["desk:agent"], lang="en"),
    }
    acc.update_user(ids["dave"], is_active=False)
    line1 = ids["line1"] = acc.create_group("line1", title={"ru": "Первая линия", "en": "First line"},
                                            email="line1@example.com")
    acc.update_group(line1, lead_id=ids["erin"])
    for name in ("alice", "carol", "dave"):
        acc.add_to_group(ids[name], line1)
    system = loom.records.create("desk", "system", {"name": "ERP", "technical_owner": ids["alice"], "team": line1})
    ticket = loom.records.create("desk", "ticket", {"title": "Не печатает", "assignee": ids["bob"],
                                                    "support_group": line1, "system": system["id"]})
    ids["ticket"] = ticket["id"]
    loom.ids = ids
    return loom


def resolve(loom, specs, record_id=None, record=None):
    with loom.engine.connect() as c:
        if record is None:
            record = loom.records.get("desk", "ticket", record_id or loom.ids["ticket"], conn=c)
        return loom.notifier.recipients(c, "desk", "ticket", record, specs)


def users(recipients) -> list:
    return [r.user_id for r in recipients]


def send(loom, template="assigned", **kwargs):
    kwargs.setdefault("record_id", loom.ids["ticket"])
    with loom.engine.begin() as c:
        return loom.notifier.send(c, "desk", template, entity="ticket", **kwargs)


def outbox(loom) -> list:
    o = platform.outbox
    with loom.engine.connect() as c:
        return c.execute(select(o).order_by(o.c.id)).all()


def inapp(loom) -> list:
    """The templates' in-app notifications (not the personal "assigned to you" ones)."""
    n = platform.notification
    with loom.engine.connect() as c:
        return c.execute(select(n).where(n.c.kind.is_(None)).order_by(n.c.id)).all()


# ---------------------------------------------------------------- recipients

def test_recipient_specs_resolve_over_the_record(desk):
    ids = desk.ids
    assert resolve(desk, ["assignee"]) == [Recipient(ids["bob"], "Bob@Example.com", "en", "Bob", "bob")]
    group = resolve(desk, ["support_group"])  # active members, then the group's own address
    assert users(group) == [ids["alice"], ids["carol"], None]
    assert group[1].email is None and group[2] == Recipient(None, "line1@example.com", "ru", "Первая линия")
    assert users(resolve(desk, ["support_group.lead"])) == [ids["erin"]]
    assert users(resolve(desk, ["system.technical_owner"])) == [ids["alice"]]
    assert users(resolve(desk, ["system.team.lead"])) == [ids["erin"]]
    assert users(resolve(desk, ["system.team"])) == [ids["alice"], ids["carol"], None]
    assert users(resolve(desk, ["role:agent"])) == [ids["alice"], ids["erin"]]
    root = desk.accounts.create_user("root", None, is_admin=True)
    assert users(resolve(desk, ["role:admin"])) == [root]  # the admin flag is the admin role
    assert resolve(desk, ["group:line1"]) == group
    assert users(resolve(desk, ["user:carol"])) == [ids["carol"]]
    assert resolve(desk, ["user:dave", "user:nobody", "group:nobody"]) == []  # inactive or unknown: nobody
    assert resolve(desk, ["ops@example.com"]) == [Recipient(None, "ops@example.com")]
    assert users(resolve(desk, ["created_by", "updated_by"], record={"created_by": ids["carol"]})) == [ids["carol"]]


def test_recipients_are_deduplicated_in_order(desk):
    ids = desk.ids
    got = resolve(desk, ["assignee", "user:bob", "bob@example.com", "support_group", "role:agent",
                         "alice@EXAMPLE.com", "line1@example.com"])
    assert [(r.user_id, r.email) for r in got] == [
        (ids["bob"], "Bob@Example.com"), (ids["alice"], "alice@example.com"), (ids["carol"], None),
        (None, "line1@example.com"), (ids["erin"], "erin@example.com")]
    got = resolve(desk, ["bob@example.com", "assignee"])  # mailed once; bob is still notified in the app
    assert [(r.user_id, r.email) for r in got] == [(None, "bob@example.com"), (ids["bob"], None)]


def test_empty_fields_resolve_to_nobody(desk):
    bare = desk.records.create("desk", "ticket", {"title": "Пусто"})
    assert resolve(desk, ["assignee", "support_group", "support_group.lead", "system.technical_owner",
                          "system.team.lead", "created_by"], record_id=bare["id"]) == []


def test_a_tables_user_group_and_email_columns_name_everyone_on_its_rows(desk):
    ids = desk.ids
    ticket = desk.records.create("desk", "ticket", {"title": "Наблюдатели", "watchers": [
        {"person": ids["carol"], "address": "boss@example.com"}, {"person": ids["alice"]},
        {"person": ids["carol"], "team": ids["line1"]}, {"note": "пустая строка"}]})
    assert users(resolve(desk, ["watchers.person"], record_id=ticket["id"])) == [ids["alice"], ids["carol"]]
    assert users(resolve(desk, ["watchers.team"], record_id=ticket["id"])) == [ids["alice"], ids["carol"], None]
    assert resolve(desk, ["watchers.address"], record_id=ticket["id"]) == [Recipient(None, "boss@example.com")]
    stored = {"id": ticket["id"]}  # a record given without its rows: the stored rows are read
    assert users(resolve(desk, ["watchers.person"], record=stored)) == [ids["alice"], ids["carol"]]
    send(desk, record_id=ticket["id"], to=["watchers.person"])
    assert sorted(n.user_id for n in inapp(desk)) == [ids["alice"], ids["carol"]]
    assert check_recipient(desk.live["desk"].app, "ticket", "watchers.person") is None


@pytest.mark.parametrize("spec, message", [
    ("watchers.note", "'note' is not a user, group or e-mail column of the table 'watchers'"),
    ("watchers.persn", "did you mean 'person'?"),
    ("nosuch", "'nosuch' is not a user, group, e-mail or link field of 'ticket'"),
    ("assignee.email", "followed by 'email'"),
    ("system", "unknown recipient 'system'"),
    ("support_group.members", "followed by 'members'"),
    ("system.name", "'name' is not a user, group, e-mail or link field of 'system'"),
    ("role:", "unknown recipient 'role:'"),
])
def test_unknown_recipient_specs_are_named(desk, spec, message):
    with pytest.raises(ValueError, match=message):
        resolve(desk, [spec])
    assert message in check_recipient(desk.live["desk"].app, "ticket", spec)


def test_check_recipient_accepts_every_kind_of_spec(desk):
    app = desk.live["desk"].app
    for spec in ("assignee", "support_group", "support_group.lead", "system.technical_owner", "system.team.lead",
                 "created_by", "updated_by", "role:agent", "group:line1", "user:alice", "boss@example.com"):
        assert check_recipient(app, "ticket", spec) is None, spec


# ---------------------------------------------------------------- rendering and rows

def test_send_renders_each_language_and_writes_inapp_and_outbox_rows(desk):
    ids = desk.ids
    out = send(desk, to=["assignee", "support_group"], cc=["support_group.lead", "user:bob"], context={"level": 2})
    notes = inapp(desk)
    assert out["inapp"] == [n.id for n in notes]
    assert [n.user_id for n in notes] == [ids["bob"], ids["alice"], ids["carol"], ids["erin"]]  # to, then cc
    number = desk.records.get("desk", "ticket", ids["ticket"])["number"]
    assert notes[0].title == f"Assigned: {number} Не печатает"
    assert notes[1].title == f"Назначено: {number} Не печатает"
    url = f"{desk.base_url}/ui/desk/ticket/{ids['ticket']}"
    assert notes[0].body == f"Group First line, status New, assignee Bob, level 2.\n{url}\n"
    assert notes[1].body == f"Группа Первая линия, статус Новая, исполнитель Bob, уровень 2.\n{url}\n"
    assert {(n.template, n.app, n.entity, n.record_id) for n in notes} == {("assigned", "desk", "ticket", ids["ticket"])}

    mails = outbox(desk)
    assert out["email"] == [m.id for m in mails]
    assert [(m.recipient, m.cc) for m in mails] == [  # the copy goes on the first mail only
        ("Bob@Example.com", ["erin@example.com"]), ("alice@example.com", []), ("line1@example.com", [])]
    assert mails[0].subject.startswith("Assigned:") and mails[1].subject.startswith("Назначено:")
    assert {m.state for m in mails} == {"pending"} and {m.attempts for m in mails} == {0}
    assert len({m.message_id for m in mails}) == 3
    assert all(m.message_id.startswith("<") and m.message_id.endswith("@loom>") for m in mails)


def test_copies_become_mails_when_nobody_is_addressed(desk):
    out = send(desk, to=["user:carol"], cc=["support_group.lead"])  # carol has no address
    assert [(m.recipient, m.cc) for m in outbox(desk)] == [("erin@example.com", [])]
    assert len(out["inapp"]) == 2


def test_channels_decide_which_rows_are_written(desk):
    desk.store.publish(desk_doc(note={"channels": ["inapp"], "subject": "Note {{ record.title }}", "body": "x"},
                                mail={"channels": ["email"], "subject": "Mail", "body": "x"}), author="t")
    assert send(desk, "note", to=["assignee", "ops@example.com"]) == {"inapp": [inapp(desk)[0].id], "email": []}
    assert inapp(desk)[0].title == "Note Не печатает"
    out = send(desk, "mail", to=["assignee"])
    assert out["inapp"] == [] and len(out["email"]) == 1 and len(inapp(desk)) == 1


def test_a_given_record_is_rendered_without_loading_it(desk):
    desk.store.publish(desk_doc(short={"channels": ["inapp"], "subject": "{{ record.title }} / {{ target }}",
                                       "body": "{{ url }}"}), author="t")
    send(desk, "short", record_id=None, record={"id": 7, "title": "Draft", "assignee": desk.ids["bob"]},
         to=["assignee"], context={"target": "reaction"})
    note = inapp(desk)[0]
    assert (note.title, note.body, note.record_id) == ("Draft / reaction", f"{desk.base_url}/ui/desk/ticket/7", 7)


def test_missing_names_render_empty(desk):
    desk.store.publish(desk_doc(lenient={"channels": ["inapp"], "subject": "[{{ nosuch }}{{ record.nosuch.deeper }}]",
                                         "body": "{{ record.system.name }}"}), author="t")
    send(desk, "lenient", to=["assignee"])
    assert (inapp(desk)[0].title, inapp(desk)[0].body) == ("[]", "")


def test_record_fields_win_over_dict_methods(desk):
    desk.store.publish(desk_doc(fields={"channels": ["inapp"], "subject": "{{ record.items }} {{ record.update }}",
                                        "body": ""}), author="t")
    send(desk, "fields", record_id=None, record={"items": 3, "update": "u"}, to=["user:bob"])
    assert inapp(desk)[0].title == "3 u"


@pytest.mark.parametrize("source", [
    "{{ record.__class__.__mro__ }}",
    "{{ record.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__ }}",
    "{{ record.pop('title') }}",
    "{{ url.format.__globals__ }}",
])
def test_the_sandbox_refuses_unsafe_access(desk, source):
    desk.store.publish(desk_doc(evil={"channels": ["inapp", "email"], "subject": "hi", "body": f"ok\n{source}"}),
                       author="t")
    with pytest.raises(TemplateFailed, match=r"'evil', body \(en\), line 2: .*unsafe") as info:
        send(desk, "evil", to=["assignee"])
    assert info.value.extra == {"template": "evil", "part": "body", "line": 2}
    assert inapp(desk) == [] and outbox(desk) == []  # the caller's transaction rolled back


def test_template_errors_name_the_template_and_line(desk):
    desk.store.publish(desk_doc(div={"channels": ["inapp"], "subject": "s", "body": "a\nb\n{{ 1 // 0 }}"}),
                       author="t")
    with pytest.raises(TemplateFailed, match=r"'div', body \(ru\), line 3: .*division"):
        send(desk, "div", to=["user:alice"])
    with pytest.raises(TemplateFailed, match="no notification template 'nosuch'"):
        send(desk, "nosuch", to=["user:bob"])
    # a template that does not compile never gets published (see also test_publish_refuses_...)
    with pytest.raises(MetadataError, match=r"templates.syntax.subject.en: line 1: unexpected end of template"):
        desk.store.publish(desk_doc(syntax={"channels": ["inapp"], "subject": {"ru": "ok", "en": "{{ record.title"},
                                            "body": "b"}), author="t")


def test_check_templates_reports_what_does_not_compile():
    templates = {"ok": ASSIGNED,
                 "bad": {"subject": {"ru": "{% if x %}", "en": "fine"}, "body": "a\n{{ x | no_such_filter }}"}}
    assert check_templates(templates) == [
        (("notifications", "templates", "bad", "subject", "ru"),
         ("line 1: Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or "
          "'endif'. The innermost block that needs to be closed is 'if'.")),
        (("notifications", "templates", "bad", "body"), "line 2: No filter named 'no_such_filter'."),
    ]


# ---------------------------------------------------------------- delivery

def test_deliver_sends_over_smtp(desk, smtp, monkeypatch):
    monkeypatch.setenv("LOOM_MAIL_FROM", "desk@example.com")
    desk.smtp_url = smtp.url
    send(desk, to=["assignee", "user:alice"], cc=["support_group.lead"], context={"level": 1})
    rows = outbox(desk)
    assert [desk.notifier.deliver(r.id) for r in rows] == ["sent", "sent"]
    assert desk.notifier.deliver(rows[0].id) == "sent"  # already sent: nothing happens
    assert len(smtp.messages) == 2
    (rcpt, msg), (rcpt_ru, msg_ru) = smtp.messages
    assert rcpt == ["Bob@Example.com", "erin@example.com"]
    assert (msg["From"], msg["To"], msg["Cc"]) == ("desk@example.com", "Bob@Example.com", "erin@example.com")
    assert msg["Subject"] == rows[0].subject and msg["Message-ID"] == rows[0].message_id
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content().replace("\r\n", "\n") == rows[0].body  # CRLF on the wire
    assert rcpt_ru == ["alice@example.com"] and msg_ru["Cc"] is None
    assert msg_ru["Subject"].startswith("Назначено:") and "Первая линия" in msg_ru.get_content()
    after = outbox(desk)
    assert [(r.state, r.attempts, r.error, r.lease_until) for r in after] == [("sent", 1, None, None)] * 2
    assert all(r.sent_at is not None for r in after)


def test_smtp_down_keeps_the_row_pending_and_a_later_attempt_sends_it(desk, frozen):
    port = free_port()
    desk.smtp_url = f"smtp://127.0.0.1:{port}"
    send(desk, to=["assignee"])
    row = outbox(desk)[0]
    assert desk.notifier.deliver(row.id) == "pending"
    failed = outbox(desk)[0]
    assert (failed.state, failed.attempts) == ("pending", 1) and "ConnectionRefusedError" in failed.error
    assert desk.notifier.deliver(row.id) == "pending" and outbox(desk)[0].attempts == 1  # not due yet

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.advance(dt.timedelta(minutes=1))
        assert desk.notifier.deliver(row.id) == "sent"
    finally:
        controller.stop()
    sent = outbox(desk)[0]
    assert (sent.state, sent.attempts, sent.error) == ("sent", 2, None)
    assert inbox.messages[0][1]["Message-ID"] == row.message_id


def test_delivery_gives_up_after_five_attempts(desk, frozen):
    desk.smtp_url = f"smtp://127.0.0.1:{free_port()}"
    send(desk, to=["assignee"])
    row_id = outbox(desk)[0].id
    states = []
    for _ in range(6):
        states.append(desk.notifier.deliver(row_id))
        clock.advance(dt.timedelta(hours=2))
    assert states == ["pending"] * 4 + ["failed", "failed"]
    row = outbox(desk)[0]
    assert (row.state, row.attempts, row.lease_until) == ("failed", 5, None)


def test_a_leased_row_is_taken_only_after_its_lease_expires(desk, smtp, frozen):
    desk.smtp_url = smtp.url
    send(desk, to=["assignee"])
    row_id = outbox(desk)[0].id
    o = platform.outbox
    with desk.engine.begin() as c:  # another worker is sending it
        c.execute(update(o).where(o.c.id == row_id).values(state="sending", attempts=1,
                                                           lease_until=T0 + dt.timedelta(minutes=5)))
    assert desk.notifier.deliver(row_id) == "sending"
    assert desk.notifier.deliver_pending() == 0
    assert smtp.messages == [] and outbox(desk)[0].attempts == 1

    clock.advance(dt.timedelta(minutes=6))  # that worker died
    assert desk.notifier.deliver(row_id) == "sent"
    assert len(smtp.messages) == 1 and (outbox(desk)[0].state, outbox(desk)[0].attempts) == ("sent", 2)


def test_a_late_outcome_does_not_overwrite_a_newer_attempt(desk, smtp, frozen):
    desk.smtp_url = smtp.url
    send(desk, to=["assignee"])
    stale = desk.notifier._claim(outbox(desk)[0].id)  # a worker takes it and stalls past its lease
    clock.advance(dt.timedelta(minutes=6))
    assert desk.notifier.deliver(stale.id) == "sent"
    desk.notifier._failed(stale, OSError("late"))
    row = outbox(desk)[0]
    assert (row.state, row.attempts, row.error) == ("sent", 2, None)


def test_deliver_pending_sends_what_is_due(desk, smtp):
    send(desk, to=["assignee", "user:alice", "ops@example.com"])
    assert desk.notifier.deliver_pending() == 0  # no SMTP configured: everything waits
    assert desk.notifier.deliver(outbox(desk)[0].id) == "not configured"  # the e-mail channel has no server
    assert {(r.state, r.attempts) for r in outbox(desk)} == {("pending", 0)}
    desk.smtp_url = smtp.url
    assert desk.notifier.deliver_pending(limit=2) == 2
    assert desk.notifier.deliver_pending() == 1
    assert desk.notifier.deliver_pending() == 0
    assert sorted(rcpt[0] for rcpt, _ in smtp.messages) == ["Bob@Example.com", "alice@example.com", "ops@example.com"]


def test_deliver_pending_stops_at_the_first_failure(desk):
    desk.smtp_url = f"smtp://127.0.0.1:{free_port()}"
    send(desk, to=["assignee", "user:alice"])
    assert desk.notifier.deliver_pending() == 0
    assert [r.attempts for r in outbox(desk)] == [1, 0]


def test_a_malformed_smtp_url_is_refused_before_claiming(desk, caplog):
    desk.smtp_url = "http://mail.example.com"
    send(desk, to=["assignee"])
    # the channel is not ready, and says why in the log; the row waits unclaimed
    assert desk.notifier.deliver(outbox(desk)[0].id) == "not configured"
    assert outbox(desk)[0].state == "pending" and outbox(desk)[0].attempts == 0
    assert "plugin 'email', channel 'email': ready() failed" in caplog.text and "LOOM_SMTP_URL" in caplog.text


def test_publish_refuses_a_template_that_does_not_compile(loom):
    from metamodel import MetadataError
    doc = {"app": {"name": "tpl", "title": "Tpl"},
           "entities": {"note": {"title": "Note", "fields": {"title": {"type": "string"}}}},
           "notifications": {"templates": {"broken": {"subject": "ok", "body": {"ru": "Привет\n{{ record.title "}}}},
           "scripts": {}}
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="t")
    text = str(err.value)
    assert "notifications.yaml" in text and "templates.broken.body.ru" in text and "line 2" in text
