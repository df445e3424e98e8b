"""The desk's requests declare channels: a request from the portal is answered on the portal
(the public comment and a notice), one the requester wants by e-mail goes over SMTP."""
from __future__ import annotations

from sqlalchemy import select

from runtime.data import tables

from .conftest import APP, Client
from .test_isolation import P


def test_a_portal_request_is_answered_on_the_portal_and_one_by_email_over_smtp(web, world, desk, smtp):
    c = Client(web.test_client())
    c.login(world["users"][0])
    r = c.post(f"{P}/p/new_request", {"subject": "Не печатает акт сверки", "description": "Пустая страница",
                                      "module": str(world["module"]["id"])})
    assert r.status_code == 302, r.get_data(as_text=True)
    [saved] = desk.records.find(APP, "request", {"subject": "Не печатает акт сверки"})
    assert saved["channel"] == "portal" and saved["reply_channel"] == "portal"
    staff = desk.actor("agent")
    answer = desk.records.comment(APP, "request", saved["id"], "Исправлено в версии 4.2", staff, public=True)
    assert answer["answer"]["channel"] == "portal"
    client = desk.accounts.user(email=world["users"][0])
    n = tables.notification
    with desk.engine.connect() as conn:
        notices = conn.execute(select(n.c.body).where(n.c.user_id == client["id"], n.c.record_id == saved["id"])).all()
    assert [row.body for row in notices] == ["Исправлено в версии 4.2"]
    listing = c.get(f"{P}/p/requests").get_data(as_text=True)  # the notice, on every portal page
    assert "Новые ответы" in listing and f"{P}/p/request/{saved['id']}" in listing and saved["number"] in listing
    assert "Исправлено в версии 4.2" in c.get(f"{P}/p/request/{saved['id']}").get_data(as_text=True)
    assert "Новые ответы" not in c.get(f"{P}/p/requests").get_data(as_text=True)  # opened: read

    desk.smtp_url = smtp.url
    by_mail = desk.records.create(APP, "request", {
        "subject": "Звонок: нет доступа к отчётам", "description": "Позвонили по телефону", "channel": "phone",
        "reply_channel": "email", "requester_email": "ivanov@org1.example", "organization": world["orgs"][0]["id"],
        "module": world["module"]["id"]}, staff, channel="ui")
    assert by_mail["channel"] == "phone"  # what the agent chose stays
    desk.records.comment(APP, "request", by_mail["id"], "Доступ выдан", staff, public=True)
    desk.notifier.deliver_pending()
    mails = [m for rcpt, m in smtp.messages if rcpt == ["ivanov@org1.example"]]
    assert [m["Subject"] for m in mails] == [f"[{by_mail['number']}] Звонок: нет доступа к отчётам"]
