"""A channel plugin with a bug must not take the platform down with it: a ``ready()`` that
raises leaves that channel's messages waiting while the others go out; an ``address()``
that raises keeps the message failed with the reason and the user's change stands; and a
channel's error text never shows its credentials to users. On SQLite and PostgreSQL."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from runtime.data import tables as platform
from runtime.errors import redact
from runtime.extension import Channel, ChannelError, PluginHost, hookimpl
from tests.conftest import make_loom

SENT, FAULTS, ASKED = [], {}, []


class Gadgets:
    """Channels ``pager`` (whose ``ready``, ``address`` and ``deliver`` fail as ``FAULTS`` says)
    and ``beeper`` (which works)."""

    @staticmethod
    @hookimpl
    def loom_notification_channels():
        def fault(what):
            if what in FAULTS:
                raise FAULTS[what]

        def ready(config):
            fault("ready")
            return True

        def address(who):
            ASKED.append(dict(who))
            fault("address")
            return who.get("email")

        def deliver(message, config):
            fault("deliver")
            SENT.append(message)

        return [Channel(name="pager", deliver=deliver, address=address, ready=ready),
                Channel(name="beeper", deliver=lambda m, c: SENT.append(m), address=lambda who: who.get("email"))]


DOC = {
    "app": {"name": "crew", "title": "Crew", "roles": [{"name": "dispatcher"}]},
    "entities": {"job": {
        "title": "Job", "title_field": "title",
        "fields": {"title": {"type": "string", "required": True}, "owner": {"type": "user"},
                   "number_to": {"type": "string"}, "channel": {"type": "string"},
                   "state": {"type": "choice", "readonly": True,
                             "choices": [{"value": v} for v in ("queued", "sent", "failed", "manual")]},
                   "why": {"type": "string", "readonly": True}},
        "statuses": [{"name": "open", "initial": True}, {"name": "done"}],
        "transitions": [{"name": "finish", "from": "open", "to": "done",
                         "actions": [{"notify": {"template": "finished", "to": ["owner"]}}]}],
        "delivery": {"channel": "channel", "address": "number_to", "text": "title", "state": "state",
                     "error": "why"}}},
    "notifications": {"templates": {"finished": {"channels": ["pager", "beeper", "inapp"],
                                                 "subject": "Done: {{ record.title }}", "body": "{{ url }}"}}},
}


@pytest.fixture
def crew(db_url, tmp_path):
    SENT.clear()
    FAULTS.clear()
    ASKED.clear()
    loom = make_loom(db_url, tmp_path / "files")
    loom.plugins = PluginHost(extra=[("gadgets", Gadgets)])
    loom.store.publish(DOC, author="t")
    loom.owner_id = loom.accounts.create_user("olga", None, email="olga@example.com")
    yield loom
    loom.engine.dispose()


def outbox(loom) -> list:
    o = platform.outbox
    with loom.engine.connect() as c:
        return [dict(r) for r in c.execute(select(o).order_by(o.c.id)).mappings()]


def test_a_channel_whose_ready_raises_waits_and_the_others_deliver(crew, caplog):
    job = crew.records.create("crew", "job", {"title": "Насос", "owner": crew.owner_id})
    FAULTS["ready"] = KeyError("token")
    crew.workflow.transition("crew", "job", job["id"], "finish", {})
    ready = crew.notifier.ready_channels()
    assert "beeper" in ready and "pager" not in ready
    with caplog.at_level(logging.ERROR, "loom.notifications"):
        assert crew.notifier.deliver_pending() == 1
    assert [m.channel for m in SENT] == ["beeper"]
    pager = next(r for r in outbox(crew) if r["channel"] == "pager")
    assert crew.notifier.deliver(pager["id"]) == "not configured" and pager["state"] == "pending"
    assert "plugin 'gadgets', channel 'pager': ready() failed: KeyError: 'token'" in caplog.text


def test_a_channel_whose_address_raises_fails_its_message_and_the_change_stands(crew, caplog):
    job = crew.records.create("crew", "job", {"title": "Насос", "owner": crew.owner_id})
    FAULTS["address"] = KeyError("phone")
    with caplog.at_level(logging.ERROR, "loom.notifications"):
        done = crew.workflow.transition("crew", "job", job["id"], "finish", {})
    assert done["status"] == "done" and crew.records.get("crew", "job", job["id"])["status"] == "done"
    rows = {r["channel"]: r for r in outbox(crew)}
    assert (rows["pager"]["state"], rows["pager"]["recipient"]) == ("failed", "olga@example.com")
    assert rows["pager"]["error"] == "plugin 'gadgets', channel 'pager': address() failed: KeyError: 'phone'"
    assert rows["beeper"]["state"] == "pending"  # the other channel's message goes out as always
    assert "plugin 'gadgets', channel 'pager': address() failed" in caplog.text


SECRET = "https://acme:s3cr3t@sms.example/send?api_key=K3Y&to=1"


def test_a_channels_error_text_loses_its_credentials_before_users_see_it(crew):
    FAULTS["deliver"] = ChannelError(f"the gateway {SECRET}: timed out")
    call = crew.records.create("crew", "job", {"title": "Вызов", "channel": "pager", "number_to": "4711"})
    [row] = outbox(crew)
    assert crew.notifier.deliver(row["id"]) == "pending"
    stored = {outbox(crew)[0]["error"], crew.records.get("crew", "job", call["id"])["why"]}
    assert stored == {"ChannelError: the gateway https://***@sms.example/send?api_key=***&to=1: timed out"}


@pytest.mark.parametrize(("text", "masked"), [
    ("https://user:pass@host.example/x", "https://***@host.example/x"),
    ("smtp://mailer@mail.example:25 refused", "smtp://***@mail.example:25 refused"),
    ("GET /send?to=1&token=abc&x=2 failed", "GET /send?to=1&token=***&x=2 failed"),
    ("?apiKey=1;signature=2&password=3&Secret=4&page=5", "?apiKey=***;signature=***&password=***&Secret=***&page=5"),
    ("<urlopen error https://gw.example/x?access_token=abc>", "<urlopen error https://gw.example/x?access_token=***>"),
    ("Authorization: Bearer s3cr3t", "Authorization: Bearer ***"),
    ("no address for olga@example.com", "no address for olga@example.com"),
])
def test_redact_masks_credentials_in_urls(text, masked):
    assert redact(text) == masked


def test_a_channel_is_asked_with_the_documented_mapping(crew):
    job = crew.records.create("crew", "job", {"title": "Насос", "owner": crew.owner_id})
    crew.workflow.transition("crew", "job", job["id"], "finish", {})
    assert ASKED == [{"email": "olga@example.com", "user_id": crew.owner_id, "username": "olga", "name": "olga",
                      "lang": "ru", "address": None}]  # users have no phone: no "phone" key
