"""The notifications page: the user's own in-app notifications, newest first, marked read one by one
or all at once, with the unread count in the top bar."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import insert, select

from runtime.data import comments
from runtime.data import tables as platform
from runtime.data.records import Actor

from .test_pages import make_request

PAGE = "/ui/notifications"


def user_id(loom, name: str) -> int:
    with loom.engine.connect() as c:
        return c.execute(select(platform.user.c.id).where(platform.user.c.username == name)).scalar_one()


def notify(loom, uid: int, n: int = 1, **extra) -> list[int]:
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
    n_ = platform.notification
    with loom.engine.begin() as c:
        return [c.execute(insert(n_).values(user_id=uid, title=extra.get("title", f"Уведомление {i}"),
                                            body=extra.get("body"), app=extra.get("app"), entity=extra.get("entity"),
                                            record_id=extra.get("record_id"),
                                            created_at=start + dt.timedelta(minutes=i)).returning(n_.c.id)).scalar_one()
                for i in range(n)]


def badge(html: str) -> str | None:
    found = re.search(r'id="unread-count"[^>]*>([^<]+)<', html)
    return found.group(1) if found else None


def items(html: str) -> list[str]:
    return re.findall(r'<li class="notification card[^"]*" id="notification-(\d+)"', html)


def test_a_mention_shows_on_the_page_with_a_link_to_the_record(signed_in, service_desk, data):
    req = make_request(service_desk, data)[0]
    boss = service_desk.accounts.create_user("boss", None, roles=["service_desk:agent"])
    assert badge(signed_in.get("/ui/").get_data(as_text=True)) is None
    comments.add(service_desk, "service_desk", "request", req["id"], "@agent посмотрите, пожалуйста",
                 Actor(boss, "boss", ("service_desk:agent",)))
    assert badge(signed_in.get("/ui/").get_data(as_text=True)) == "1"
    html = signed_in.get(PAGE).get_data(as_text=True)
    assert "@boss: Обращение номер 000" in html and "посмотрите, пожалуйста" in html
    assert f'href="/ui/service_desk/request/{req["id"]}"' in html


def test_only_ones_own_notifications_newest_first(signed_in, service_desk, data):
    mine = notify(service_desk, user_id(service_desk, "agent"), 3)
    other = service_desk.accounts.create_user("other", None, roles=["service_desk:agent"])
    notify(service_desk, other, 1, title="Чужое уведомление")
    html = signed_in.get(PAGE).get_data(as_text=True)
    assert items(html) == [str(i) for i in reversed(mine)]
    assert "Чужое уведомление" not in html and badge(html) == "3"


def test_marking_read_one_and_all(signed_in, service_desk, data):
    first, second, third = notify(service_desk, user_id(service_desk, "agent"), 3)
    other = service_desk.accounts.create_user("other", None, roles=["service_desk:agent"])
    [theirs] = notify(service_desk, other, 1)

    assert signed_in.http.post(f"{PAGE}/{first}/read").status_code == 400  # CSRF
    r = signed_in.post(f"{PAGE}/{first}/read", token_from=PAGE)
    assert r.status_code == 302 and r.headers["Location"] == PAGE
    html = signed_in.get(PAGE).get_data(as_text=True)
    assert badge(html) == "2"
    assert items(signed_in.get(f"{PAGE}?unread=1").get_data(as_text=True)) == [str(third), str(second)]

    signed_in.post(f"{PAGE}/{theirs}/read", token_from=PAGE)  # someone else's: nothing happens
    n = platform.notification
    with service_desk.engine.connect() as c:
        assert c.execute(select(n.c.read_at).where(n.c.id == theirs)).scalar_one() is None

    r = signed_in.post(f"{PAGE}/read-all", token_from=PAGE)
    html = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert "Отмечено как прочитанные: 2" in html and badge(html) is None
    assert items(html) == [str(third), str(second), str(first)]  # still listed, as read
    assert items(signed_in.get(f"{PAGE}?unread=1").get_data(as_text=True)) == []
    with service_desk.engine.connect() as c:
        assert c.execute(select(n.c.read_at).where(n.c.id == theirs)).scalar_one() is None


def test_pages_of_thirty_and_a_capped_badge(signed_in, service_desk, data):
    ids = notify(service_desk, user_id(service_desk, "agent"), 101)
    html = signed_in.get(PAGE).get_data(as_text=True)
    assert badge(html) == "99+"
    assert items(html) == [str(i) for i in reversed(ids[-30:])]
    next_url = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert items(signed_in.get(next_url).get_data(as_text=True)) == [str(i) for i in reversed(ids[-60:-30])]


def test_the_page_needs_a_sign_in(browser):
    r = browser.get(PAGE)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
