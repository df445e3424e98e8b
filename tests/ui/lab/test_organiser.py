"""The personal organiser (docs/metadata.md, "Personal organiser") on SQLite and PostgreSQL:
the signed-in user's open assignments as the entity's ``tasks:`` declares them, a month
calendar of due dates, the approvals awaiting them, and never a record they may not read."""
from __future__ import annotations

import datetime as dt
import re

from .conftest import APP

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone.utc)


def ticket(lab, subject, assignee, deadline=None, status=None, creator=None):
    data = {"subject": subject, "assignee": assignee, "deadline": deadline}
    if status:
        data["status"] = status
    actor = lab.actor(creator) if creator else lab.actor()
    return lab.records.create(APP, "ticket", data, actor=actor)["id"]


def tasks_of(html: str) -> list[str]:
    block = html[html.index('id="organiser-assignments"'):html.index('id="organiser-approvals"')]
    return re.findall(r'<li data-task="[^"]+"><a href="[^"]+">([^<]+)</a>', block)


def day(html: str, iso: str) -> list[str]:
    cell = re.search(rf'<td[^>]*data-date="{iso}">(.*?)</td>', html, re.S).group(1)
    return re.findall(r'class="due-item[^"]*" href="[^"]+"[^>]*>([^<]+)</a>', cell)


def test_open_assignments_of_the_user_with_a_month_calendar(lab, world, signed_in, frozen):
    frozen(NOW)
    ticket(lab, "Заменить диск", world["eng1"], "2026-03-12")
    ticket(lab, "Просрочено", world["eng1"], "2026-03-02")
    ticket(lab, "Без срока", world["eng1"])
    ticket(lab, "В апреле", world["eng1"], "2026-04-03")
    ticket(lab, "Отложено", world["eng1"], "2026-03-12", status="parked")   # not an open status of tasks:
    ticket(lab, "Сделано", world["eng1"], "2026-03-12", status="done")
    ticket(lab, "Чужая", world["eng2"], "2026-03-12")
    page = signed_in("eng1").get("/ui/organiser")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    names = [n.split(" · ")[-1] for n in tasks_of(html)]
    assert names == ["Просрочено", "Заменить диск", "В апреле", "Без срока"]   # soonest due first
    assert 'id="month-title">Март 2026' in html
    assert day(html, "2026-03-12") == ["Заменить диск"]
    assert "overdue" in re.search(r'data-date="2026-03-02">(.*?)</td>', html, re.S).group(1)
    april = signed_in("eng1").get("/ui/organiser?month=2026-04").get_data(as_text=True)
    assert 'id="month-title">Апрель 2026' in april
    assert day(april, "2026-04-03") == ["В апреле"]
    assert 'href="/ui/organiser?month=2026-03"' in april and 'href="/ui/organiser?month=2026-05"' in april
    assert 'id="nav-organiser"' in html


def test_the_organiser_calendar_shows_a_week_or_a_day_as_calendar_views_do(lab, world, signed_in, frozen):
    frozen(NOW)
    ticket(lab, "Заменить диск", world["eng1"], "2026-03-12")
    ticket(lab, "Через неделю", world["eng1"], "2026-03-19")
    week = signed_in("eng1").get("/ui/organiser?mode=week&date=2026-03-11").get_data(as_text=True)
    assert len(re.findall(r'<td[^>]*data-date="', week)) == 7
    assert day(week, "2026-03-12") == ["Заменить диск"] and 'data-date="2026-03-19"' not in week
    assert 'href="/ui/organiser?mode=week&amp;date=2026-03-18"' in week  # the next week
    one = signed_in("eng1").get("/ui/organiser?mode=day&date=2026-03-19").get_data(as_text=True)
    assert len(re.findall(r'<td[^>]*data-date="', one)) == 1 and day(one, "2026-03-19") == ["Через неделю"]


def test_a_task_the_user_may_not_read_is_not_listed(lab, world, signed_in, frozen):
    frozen(NOW)
    ticket(lab, "Чужая заявка", world["clerk"], "2026-03-12", creator="eng1")   # the clerk sees own only
    ticket(lab, "Своя заявка", world["clerk"], "2026-03-13", creator="clerk")
    html = signed_in("clerk").get("/ui/organiser").get_data(as_text=True)
    assert [n.split(" · ")[-1] for n in tasks_of(html)] == ["Своя заявка"]
    assert "Чужая заявка" not in html


def test_the_home_page_uses_the_tasks_declaration(lab, world, signed_in, frozen):
    frozen(NOW)
    ticket(lab, "Отложено", world["eng1"], "2026-03-12", status="parked")
    ticket(lab, "Срочно", world["eng1"], "2026-03-10")
    html = signed_in("eng1").get("/ui/").get_data(as_text=True)
    mine = html[html.index('id="tasks-mine"'):]
    assert "Срочно" in mine and "Отложено" not in html
