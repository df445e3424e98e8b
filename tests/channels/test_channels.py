"""Channels (entity ``channels:``): a record remembers where it came from, and public comments
answer its requester through the channel they chose: e-mail over real SMTP (aiosmtpd),
in-app, the portal, or a plugin's channel. On SQLite and PostgreSQL, on a test app."""
from __future__ import annotations

import copy
import email
import re
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from metamodel import MetadataError
from runtime.core.config import Settings
from runtime.core.loom import Loom
from runtime.data import comments, tables
from runtime.extension import Channel, InboundEvent, PluginHost, hookimpl
from runtime.web import create_app

SENT = []


class SmsPlugin:
    """A plugin channel: text messages to the requester's phone (kept in SENT)."""

    @staticmethod
    @hookimpl
    def loom_notification_channels():
        return [Channel(name="sms", deliver=lambda message, settings: SENT.append(message),
                        address=lambda who: who.get("address"))]


CHANNELS = {"source": "came_from", "reply": "answer_by", "requester": "requester", "email": "email",
            "address": "phone", "allowed": ["email", "inapp", "portal", "sms"], "default": "email"}


def claims_doc(channels=None) -> dict:
    return {
        "app": {"name": "claims", "title": {"ru": "Претензии", "en": "Claims"}, "version": "1.0",
                "roles": [{"name": "clerk", "title": "Clerk"}]},
        "entities": {"claim": {
            "title": "Claim", "number": "CLM-{0000}", "title_field": "subject",
            "fields": {
                "subject": {"type": "string", "required": True},
                "came_from": {"type": "string"},
                "answer_by": {"type": "choice", "choices": [{"value": v} for v in ("email", "inapp", "portal", "sms")]},
                "requester": {"type": "user"},
                "email": {"type": "email"},
                "phone": {"type": "string"}},
            "statuses": [{"name": "new", "title": "New", "initial": True}],
            "permissions": {"read": ["clerk", "authenticated"], "create": ["clerk", "authenticated"],
                            "update": ["clerk"]},
            "channels": copy.deepcopy(channels or CHANNELS)}},
    }


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"


@pytest.fixture
def smtp():
    inbox = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{port}"
    yield inbox
    controller.stop()


@pytest.fixture
def claims(db_url, tmp_path, smtp):
    SENT.clear()
    loom = Loom(db_url, files_dir=tmp_path / "files", smtp_url=smtp.url,
                plugins=PluginHost(extra=[("sms", SmsPlugin)]))
    loom.upgrade_db()
    loom.load()
    loom.store.publish(claims_doc(), author="t")
    loom.ids = {
        "clerk": loom.accounts.create_user("clerk", "clerk-pass-1", email="clerk@claims.test", roles=["claims:clerk"]),
        "vera": loom.accounts.create_user("vera", "vera-pass-1", email="vera@example.org", roles=["claims:clerk"]),
    }
    yield loom
    loom.engine.dispose()


def csrf(client, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)


def as_user(loom, name):
    return loom.accounts.actor_for_id(loom.ids[name])


def answer(loom, record, text="Ответ по претензии"):
    """The clerk answers with a public comment; the outbox is delivered."""
    comment = loom.records.comment("claims", "claim", record["id"], text, as_user(loom, "clerk"), public=True)
    loom.notifier.deliver_pending()
    return comment["answer"]


def notifications(loom, user_id) -> list:
    n = tables.notification
    with loom.engine.connect() as c:
        return c.execute(select(n.c.title, n.c.body).where(n.c.user_id == user_id)).all()


def test_the_api_and_the_ui_record_where_a_record_came_from(claims, tmp_path):
    app = create_app(Settings(tmp_path, claims.database_url, secret="s"), claims)
    token = claims.accounts.issue_token(claims.ids["vera"])
    api = app.test_client().post("/api/v1/claims/claim", json={"subject": "По API", "requester": claims.ids["vera"]},
                                 headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 201, api.get_json()
    assert api.get_json()["came_from"] == "api" and api.get_json()["answer_by"] == "email"  # api not allowed: default
    ui = app.test_client()
    ui.post("/login", data={"username": "vera", "password": "vera-pass-1", "csrf_token": csrf(ui, "/login")})
    page = ui.post("/ui/claims/claim/new", data={"subject": "Через форму",
                                                  "csrf_token": csrf(ui, "/ui/claims/claim/new")})
    assert page.status_code in (302, 303), page.data[:500]
    [made] = claims.records.find("claims", "claim", {"subject": "Через форму"}, [], 5)
    assert made["came_from"] == "ui" and made["answer_by"] == "email"


def test_inbound_records_remember_their_origin_and_a_chosen_channel_stays(claims):
    made = claims.inbound.receive(InboundEvent(channel="mailin", app="claims", entity="claim", external_id="<m1@x>",
                                               sender="someone@example.org", fields={"subject": "Письмо"},
                                               origin="email"))
    record = claims.records.get("claims", "claim", made["record_id"])
    assert record["came_from"] == "email" and record["answer_by"] == "email"
    chosen = claims.records.create("claims", "claim", {"subject": "Смс", "answer_by": "sms"}, channel="portal")
    assert chosen["came_from"] == "portal" and chosen["answer_by"] == "sms"
    portal = claims.records.create("claims", "claim", {"subject": "С портала"}, channel="portal")
    assert portal["answer_by"] == "portal"  # came by the portal, answered there


def test_an_answer_goes_by_email_over_smtp_with_the_number_in_its_subject(claims, smtp):
    record = claims.records.create("claims", "claim", {"subject": "Счёт", "email": "petr@example.org"}, channel="email")
    sent = answer(claims, record)
    assert sent["channel"] == "email"
    [msg] = smtp.messages
    assert msg["To"] == "petr@example.org"
    assert msg["Subject"] == f"[{record['number']}] Счёт"
    assert "Ответ по претензии" in msg.get_content()
    outbox = claims.notifier.outbox_rows("email")
    assert outbox[0]["record_id"] == record["id"] and outbox[0]["message_id"] == msg["Message-ID"]


def test_an_answer_goes_in_app_and_nothing_is_mailed(claims, smtp):
    record = claims.records.create("claims", "claim", {"subject": "В приложении", "requester": claims.ids["vera"],
                                                       "answer_by": "inapp"}, channel="ui")
    assert answer(claims, record)["channel"] == "inapp"
    assert notifications(claims, claims.ids["vera"]) == [(f"[{record['number']}] В приложении", "Ответ по претензии")]
    assert smtp.messages == []


def test_an_answer_on_the_portal_is_the_public_comment_and_its_notice(claims, smtp):
    record = claims.records.create("claims", "claim", {"subject": "Портал", "requester": claims.ids["vera"]},
                                   channel="portal")
    assert answer(claims, record)["channel"] == "portal"
    shown = claims.records.comments("claims", "claim", record["id"], as_user(claims, "vera"), public_only=True)
    assert [c["body"] for c in shown] == ["Ответ по претензии"]
    [(title, body)] = notifications(claims, claims.ids["vera"])
    assert record["number"] in title and body == "Ответ по претензии"
    assert smtp.messages == []


def test_an_answer_goes_through_a_plugin_channel(claims, smtp):
    record = claims.records.create("claims", "claim", {"subject": "Смс", "phone": "+79001234567",
                                                       "answer_by": "sms"}, channel="api")
    assert answer(claims, record)["channel"] == "sms"
    [msg] = SENT
    assert msg.recipient == "+79001234567" and msg.body == "Ответ по претензии" and msg.record_id == record["id"]
    assert smtp.messages == []


def test_internal_comments_and_the_requesters_own_words_are_not_answers(claims, smtp):
    record = claims.records.create("claims", "claim", {"subject": "Своё", "requester": claims.ids["vera"],
                                                       "answer_by": "email"}, channel="ui")
    internal = claims.records.comment("claims", "claim", record["id"], "Для своих", as_user(claims, "clerk"))
    own = claims.records.comment("claims", "claim", record["id"], "Я сама", as_user(claims, "vera"), public=True)
    assert internal["answer"] is None and own["answer"] is None
    claims.notifier.deliver_pending()
    assert smtp.messages == []
    comments.set_public(claims, "claims", "claim", record["id"], internal["id"], True, as_user(claims, "clerk"))
    claims.notifier.deliver_pending()  # made public: now it answers
    assert [m["To"] for m in smtp.messages] == ["vera@example.org"]


@pytest.mark.parametrize("change, where, words", [
    ({"requester": "subject"}, "channels.requester", "must be created_by, a user field or an e-mail field"),
    ({"source": "nope"}, "channels.source", "no field 'nope'"),
    ({"allowed": ["email", "fax"]}, "channels.allowed[1]", "no channel 'fax' to answer through"),
    ({"default": "portal", "allowed": ["email"]}, "channels.default", "not one of allowed"),
])
def test_publish_checks_the_channels_section(claims, change, where, words):
    with pytest.raises(MetadataError) as err:
        claims.store.publish(claims_doc({**CHANNELS, **change}), author="t")
    text = "\n".join(str(p) for p in err.value.problems)
    assert where in text and words in text, text


def test_a_reply_choice_must_offer_every_allowed_channel(claims):
    doc = claims_doc()
    doc["entities"]["claim"]["fields"]["answer_by"]["choices"] = [{"value": "email"}]
    with pytest.raises(MetadataError) as err:
        claims.store.publish(doc, author="t")
    assert "has no choice 'inapp'" in str(err.value)
