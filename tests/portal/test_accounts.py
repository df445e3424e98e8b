"""Accounts of a client's contacts: invitation by staff, a password link that expires (7 days)
and works once, self-service reset by e-mail (2 hours); the letters go over real SMTP."""
from __future__ import annotations

import datetime as dt

import pytest

from runtime import clock

from .conftest import APP, PASSWORD, Client

P = f"/portal/{APP}"


@pytest.fixture
def mail(desk, smtp):
    desk.smtp_url = smtp.url
    return smtp


@pytest.fixture
def frozen():
    clock.freeze(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))
    yield
    clock.thaw()


def staff(web, username="dispatcher") -> Client:
    c = Client(web.test_client())
    assert c.post("/login", {"username": username, "password": PASSWORD}).status_code == 302
    return c


def invite(web, world, email="new@org1.example", org=0) -> str:
    c = staff(web)
    r = c.post(f"{P}/invite", {"full_name": "Новый Контакт", "email": email,
                               "organization": str(world["orgs"][org]["id"])})
    assert r.status_code == 302, r.get_data(as_text=True)
    return c


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def test_an_invited_contact_sets_a_password_once_and_is_confined(web, world, desk, mail, frozen):
    invite(web, world)
    user = desk.accounts.user(email="new@org1.example")
    assert user["external"] and user["organization"] == f"{APP}.organization:{world['orgs'][0]['id']}"
    assert user["roles"] == [f"{APP}:client"]
    (link,) = mail.links("new@org1.example")
    c = Client(web.test_client())
    page = c.get(path_of(link))
    assert page.status_code == 200 and "new@org1.example" in page.get_data(as_text=True)
    assert c.post(path_of(link), {"password": "short", "password2": "short"}).status_code == 422
    r = c.post(path_of(link), {"password": "a-new-pass-1", "password2": "a-new-pass-1"})
    assert r.status_code == 302
    assert "организации 1" in c.get(f"{P}/p/requests").get_data(as_text=True)  # signed in, their org's rows
    assert c.get("/ui/service_desk/request").status_code == 403
    # the link works once
    again = Client(web.test_client())
    assert again.get(path_of(link)).status_code == 400
    assert again.post(path_of(link), {"password": "other-pass-1", "password2": "other-pass-1"},
                      token_from=f"{P}/login").status_code == 400
    assert again.login("new@org1.example", "a-new-pass-1").status_code == 302


def test_an_invitation_expires_after_seven_days(web, world, mail, frozen):
    invite(web, world)
    (link,) = mail.links("new@org1.example")
    clock.advance(dt.timedelta(days=7, minutes=1))
    r = Client(web.test_client()).get(path_of(link))
    assert r.status_code == 400 and "истёк" in r.get_data(as_text=True)


def test_a_forged_link_is_refused(web, world, mail):
    invite(web, world)
    (link,) = mail.links("new@org1.example")
    assert Client(web.test_client()).get(path_of(link)[:-3] + "abc").status_code == 400
    # an invitation link is no reset link
    assert Client(web.test_client()).get(path_of(link).replace("/invite/", "/reset/")).status_code == 400


def test_only_staff_inviters_invite(web, world):
    client = Client(web.test_client())
    client.login(world["users"][0])
    assert client.get(f"{P}/invite").status_code == 403
    assert Client(web.test_client()).get(f"{P}/invite").status_code == 302  # to the sign-in page
    assert staff(web, "agent").get(f"{P}/invite").status_code == 200  # agents are inviters in portal.yaml


def test_an_existing_address_is_not_invited_twice(web, world, desk, mail):
    c = staff(web)
    r = c.post(f"{P}/invite", {"full_name": "X", "email": world["users"][0], "organization": str(world["orgs"][0]["id"])})
    assert r.status_code == 422 and mail.messages == []


def test_reset_by_email_within_two_hours_once(web, world, desk, mail, frozen):
    c = Client(web.test_client())
    r = c.post(f"{P}/reset", {"email": world["users"][1].upper()})
    assert r.status_code == 302
    (link,) = mail.links(world["users"][1])
    assert "/reset/" in link
    r = c.post(path_of(link), {"password": "reset-pass-2", "password2": "reset-pass-2"})
    assert r.status_code == 302
    assert Client(web.test_client()).login(world["users"][1], "reset-pass-2").status_code == 302
    assert Client(web.test_client()).get(path_of(link)).status_code == 400  # used
    # a second reset link expires after two hours
    c.post(f"{P}/reset", {"email": world["users"][1]}, token_from=f"{P}/reset")
    second = mail.links(world["users"][1])[-1]
    clock.advance(dt.timedelta(hours=2, minutes=1))
    assert Client(web.test_client()).get(path_of(second)).status_code == 400


def test_reset_answers_the_same_for_unknown_and_staff_addresses(web, world, desk, mail):
    c = Client(web.test_client())
    agent = [u for u in (desk.accounts.user(user_id=i) for i in range(1, 10)) if u and u["username"] == "agent"][0]
    desk.accounts.update_user(agent["id"], email="staff@centre.example")  # staff reset elsewhere, not here
    for email in ("nobody@nowhere.example", "staff@centre.example"):
        r = c.post(f"{P}/reset", {"email": email}, token_from=f"{P}/reset")
        assert r.status_code == 302
    assert mail.messages == []


def test_anonymous_access_request_confirms_by_mail_and_is_rate_limited(web, world, desk, mail, monkeypatch):
    monkeypatch.setenv("LOOM_SUBMISSION_LIMIT", "2")
    c = Client(web.test_client())
    form = {"full_name": "Иван Петров", "email": "ivan@org1.example", "organisation_name": "Минздрав",
            "reason": "Нужен доступ к СЭД"}
    assert c.post(f"{P}/p/access", form).status_code == 302
    assert c.post(f"{P}/p/access", form).status_code == 302
    assert c.post(f"{P}/p/access", form).status_code == 429
    assert len(desk.records.find(APP, "access_request", {})) == 2
    subjects = [m["Subject"] for rcpt, m in mail.messages if "ivan@org1.example" in rcpt]
    assert len(subjects) == 2 and subjects[0].startswith("Запрос доступа ACC-")
