"""Records that are messages (an entity's ``delivery:``): checked at publish, put into the outbox
in the change that made them (record service, bulk create), sent through the channel each
names, the outcome of every attempt written back on the record; a manual channel is a work
list; a dedicated plugin's channel replaces a generic gateway of the same name. On SQLite and
PostgreSQL (the ``loom`` fixture)."""
from __future__ import annotations

import copy
import datetime as dt

import pytest
from sqlalchemy import select

from metamodel import MetadataError
from runtime import clock
from runtime.data import tables as platform
from runtime.extension import (
    Channel,
    ChannelError,
    MessageRefused,
    PluginHost,
    hookimpl,
)
from runtime.extension.platform import Platform
from tests.conftest import make_loom

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SENT, ANSWERS = [], {}


class PagerPlugin:
    """A channel ``pager`` that keeps what it sends; ``ANSWERS[address]`` makes an attempt fail."""

    @staticmethod
    @hookimpl
    def loom_notification_channels():
        def deliver(message, settings):
            failure = ANSWERS.get(message.recipient)
            if failure is not None:
                raise failure
            SENT.append(message)
        return [Channel(name="pager", deliver=deliver, address=lambda who: who.get("address")),
                Channel(name="sms", deliver=lambda m, s: SENT.append(m), address=lambda who: who.get("phone"))]


DELIVERY = {"channel": "channel", "address": "number_to", "text": "text", "subject": {"ru": "Вызов", "en": "Call"},
            "state": "state", "attempts": "tries", "sent_at": "sent_on", "error": "why", "manual": ["phone"],
            "via": {"beeper": "pager"}}


def doc(delivery=None) -> dict:
    return {
        "app": {"name": "crew", "title": "Crew", "roles": [{"name": "dispatcher"}]},
        "entities": {"call": {
            "title": "Call", "number": "C-{0000}", "title_field": "text",
            "fields": {
                "channel": {"type": "choice", "choices": [{"value": v} for v in ("pager", "beeper", "phone")]},
                "number_to": {"type": "string"},
                "text": {"type": "text"},
                "state": {"type": "choice", "readonly": True,
                          "choices": [{"value": v} for v in ("queued", "sent", "failed", "manual")]},
                "tries": {"type": "integer", "readonly": True},
                "sent_on": {"type": "datetime", "readonly": True},
                "why": {"type": "string", "readonly": True}},
            "permissions": {"read": ["dispatcher"], "create": ["dispatcher"], "update": ["dispatcher"]},
            "delivery": copy.deepcopy(delivery or DELIVERY)}},
    }


@pytest.fixture
def crew(db_url, tmp_path):
    SENT.clear()
    ANSWERS.clear()
    loom = make_loom(db_url, tmp_path / "files")
    loom.plugins = PluginHost(extra=[("pager", PagerPlugin)])
    loom.store.publish(doc(), author="t")
    with clock.frozen(T0):
        yield loom
    loom.engine.dispose()


def outbox(loom) -> list[dict]:
    o = platform.outbox
    with loom.engine.connect() as c:
        return [dict(r) for r in c.execute(select(o).where(o.c.entity == "call").order_by(o.c.id)).mappings()]


def test_a_record_goes_out_through_its_channel_and_keeps_the_outcome(crew):
    loom = crew
    call = loom.records.create("crew", "call", {"channel": "beeper", "number_to": "4711", "text": "Выезд на ТП-7\nСрочно"})
    assert (call["state"], call["tries"]) == ("queued", None)
    [row] = outbox(loom)
    # "beeper" goes through the channel ``via`` names; the subject is the section's
    assert (row["channel"], row["recipient"], row["subject"], row["state"]) == ("pager", "4711", "Вызов", "pending")
    ANSWERS["4711"] = ChannelError("pager network busy")
    assert loom.notifier.deliver(row["id"]) == "pending"
    busy = loom.records.get("crew", "call", call["id"])
    assert (busy["state"], busy["tries"], busy["why"], busy["sent_on"]) == ("queued", 1, "ChannelError: pager network busy",
                                                                          None)
    assert busy["row_version"] == call["row_version"]  # the platform's fields: nobody editing it conflicts
    del ANSWERS["4711"]
    clock.advance(dt.timedelta(minutes=1))
    assert loom.notifier.deliver_pending() == 1
    done = loom.records.get("crew", "call", call["id"])
    assert (done["state"], done["tries"], done["why"]) == ("sent", 2, None)
    assert done["sent_on"] == "2026-03-02T09:01:00Z"
    assert [m.body for m in SENT] == ["Выезд на ТП-7\nСрочно"]


def test_refused_manual_and_unreachable_records(crew):
    loom = crew
    ANSWERS["0000"] = MessageRefused("no such pager")
    refused = loom.records.create("crew", "call", {"channel": "pager", "number_to": "0000", "text": "Выезд"})
    loom.notifier.deliver_pending()
    got = loom.records.get("crew", "call", refused["id"])
    assert (got["state"], got["tries"], got["why"]) == ("failed", 1, "MessageRefused: no such pager")  # no retry
    by_phone = loom.records.create("crew", "call", {"channel": "phone", "number_to": "+7 912", "text": "Позвонить"})
    nowhere = loom.records.create("crew", "call", {"channel": "pager", "text": "Без адреса"})
    assert by_phone["state"] == "manual" and (nowhere["state"], nowhere["why"]) == (
        "failed", "no address for channel 'pager'")
    # history imported with its state is not sent again
    old = loom.records.create("crew", "call", {"channel": "pager", "number_to": "4711", "text": "Было", "state": "sent"})
    assert old["state"] == "sent"
    assert [r["record_id"] for r in outbox(loom)] == [refused["id"]]


def test_records_made_in_bulk_go_out_too(crew):
    loom = crew
    ids = Platform(loom).records().bulk_create("crew", "call", [
        {"channel": "pager", "number_to": "1", "text": "Один"}, {"channel": "phone", "number_to": "2", "text": "Два"}])
    assert [loom.records.get("crew", "call", i)["state"] for i in ids] == ["queued", "manual"]
    assert [r["record_id"] for r in outbox(loom)] == [ids[0]]


def test_publishing_names_what_is_wrong(crew):
    loom = crew
    wrong = dict(DELIVERY, address="phone_number", attempts="text", manual=["phone", "fax"])
    broken = doc(wrong)
    broken["entities"]["call"]["fields"]["state"]["choices"] = [{"value": "queued"}, {"value": "sent"}]
    with pytest.raises(MetadataError) as err:
        loom.store.publish(broken, author="t")
    message = str(err.value)
    assert "delivery.address: no field 'phone_number'" in message
    assert "delivery.attempts: field 'text' is a text" in message
    assert "lacks the delivery state(s) failed, manual" in message
    assert "delivery.manual[1]: 'fax' is not a choice of 'channel'" in message
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc(dict(DELIVERY, via={"beeper": "telegraph"})), author="t")
    assert "channel 'telegraph', but no such notification channel is installed" in str(err.value)


def test_a_dedicated_channel_replaces_the_generic_gateway(crew):
    # the webhooks plugin's HTTP gateway ``sms`` gives way to the pager plugin's own
    assert crew.plugins.channels()["sms"].fallback is False
    assert not [f for f in crew.plugins.failures if "sms" in str(f)]
    assert PluginHost().channels()["sms"].fallback is True
