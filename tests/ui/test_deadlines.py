"""The deadline of a record in lists and on "my tasks": SLA targets (service desk requests) and due
dates (municipal assignments), time left, amber, red, sortable and filterable as ``_deadline``."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from runtime import clock
from runtime.data import deadlines
from runtime.data.query import BadQuery, Filter, ListQuery
from runtime.data.records import SYSTEM

from .conftest import PASSWORD

APP = "service_desk"
LIST = f"/ui/{APP}/request"


def make(loom, data, subject, **extra):
    return loom.records.create(APP, "request", {
        "subject": subject, "description": "Описание", "organization": data["organization"]["id"],
        "module": data["module"]["id"], **extra})


def deadline_cells(html: str) -> dict[str, str]:
    """``{record number: state}`` of the list's deadline column."""
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL):
        number = re.search(r">(REQ-\d+)<", row)
        state = re.search(r'class="due (\w+)"', row)
        if number and state:
            out[number.group(1)] = state.group(1)
    return out


def test_an_sla_target_gives_the_deadline_column_and_the_due_soon_card(signed_in, service_desk, data):
    """The reported bug: a critical request's 1-hour reaction target counts as due within 24 h."""
    loom = service_desk
    agent = loom.accounts.authenticate("agent", PASSWORD).id
    start = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)  # Monday 10:00 in Moscow, working hours
    clock.freeze(start)
    try:
        urgent = make(loom, data, "Срочная по SLA", priority="1", assignee=agent)  # no due_at at all
        calm = make(loom, data, "Спокойная", priority="4", assignee=agent)
        with loom.reader.connect() as c:
            marks = deadlines.for_rows(loom, c, loom.entity_tables(APP, "request"),
                                       [{"id": urgent["id"]}, {"id": calm["id"]}])
        assert marks[urgent["id"]].at == start + dt.timedelta(hours=1)  # the reaction target
        assert marks[urgent["id"]].state(start) == "ok"
        assert marks[urgent["id"]].state(start + dt.timedelta(minutes=50)) == "soon"  # under a quarter left

        home = signed_in.get("/ui/").get_data(as_text=True)
        soon = re.search(r'id="tasks-due_soon">(.*?)</section>', home, re.DOTALL).group(1)
        assert "Срочная по SLA" in soon
        assert soon.index("Срочная по SLA") < soon.index("Спокойная")  # its reaction is due the next working day
        link = re.search(r'<a href="([^"]+)" class="section-link">', soon).group(1).replace("&amp;", "&")
        assert "_deadline__gte=now" in link and "_deadline__lte=now" in link
        listed = signed_in.get(link).get_data(as_text=True)
        assert listed.index(urgent["number"]) < listed.index(calm["number"])  # the card's list shows the same

        clock.freeze(start + dt.timedelta(hours=2))  # the reaction target is missed
        html = signed_in.get(f"{LIST}?view=all").get_data(as_text=True)
        assert deadline_cells(html)[urgent["number"]] == "overdue"
        assert deadline_cells(html)[calm["number"]] == "ok"
        assert "просрочено на" in html
        home = signed_in.get("/ui/").get_data(as_text=True)
        overdue = re.search(r'id="tasks-overdue">(.*?)</section>', home, re.DOTALL).group(1)
        assert "Срочная по SLA" in overdue and "Спокойная" not in overdue
        # sortable: the soonest deadline first, and back
        html = signed_in.get(f"{LIST}?view=all&sort=_deadline").get_data(as_text=True)
        assert html.index(urgent["number"]) < html.index(calm["number"])
        assert 'class="sort asc">Срок' in html
        html = signed_in.get(f"{LIST}?view=all&sort=-_deadline").get_data(as_text=True)
        assert html.index(calm["number"]) < html.index(urgent["number"])
    finally:
        clock.thaw()


def test_the_deadline_keyset_pages_through_every_record_once(service_desk, data):
    loom = service_desk
    made = [make(loom, data, f"Заявка {i}", due_at=(clock.now() + dt.timedelta(hours=i % 4)).isoformat(),
                 priority="4") for i in range(7)]
    et = loom.entity_tables(APP, "request")
    seen, after = [], None
    with loom.reader.connect() as c:
        while True:
            page = ListQuery(loom, et).run(c, [], ["_deadline"], limit=3, after=after, actor=SYSTEM)
            seen += [r["id"] for r in page.items]
            if not page.next_cursor:
                break
            after = page.next_cursor
    assert sorted(seen) == sorted(r["id"] for r in made) and len(seen) == len(set(seen))


def test_an_entity_without_a_deadline_refuses_the_key(service_desk, data):
    et = service_desk.entity_tables(APP, "organization")
    with service_desk.reader.connect() as c, pytest.raises(BadQuery, match="no deadline"):
        ListQuery(service_desk, et).run(c, [Filter("_deadline", "lt", "now")], [], actor=SYSTEM)


def test_the_api_filters_and_sorts_by_the_deadline(ui_app, service_desk, data):
    from tests.api.conftest import Client
    loom = service_desk
    agent = loom.accounts.authenticate("agent", PASSWORD).id
    late = make(loom, data, "Просрочена", priority="4", due_at=(clock.now() - dt.timedelta(hours=1)).isoformat())
    make(loom, data, "Не спешит", priority="4", due_at=(clock.now() + dt.timedelta(days=20)).isoformat())
    api = Client(ui_app.test_client(), loom.accounts.issue_token(agent))
    r = api.get(f"/api/v1/{APP}/request?_deadline__lt=now&sort=_deadline")
    assert r.status_code == 200, r.get_json()
    assert [x["id"] for x in r.get_json()["items"]] == [late["id"]]
    r = api.get(f"/api/v1/{APP}/organization?_deadline__lt=now")
    assert r.status_code == 400 and "_deadline" in r.get_data(as_text=True)
