"""List-page extras through the test client: saved views, bulk actions, export to xlsx and csv."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

from openpyxl import load_workbook

from runtime.data.records import SYSTEM

from .conftest import PASSWORD, Browser, grant
from .test_pages import make_request, text

LIST = "/ui/service_desk/request"


def statuses(loom) -> dict:
    from sqlalchemy import select
    t = loom.entity_tables("service_desk", "request").main
    with loom.engine.connect() as c:
        return {r.id: (r.status, r.deleted_at is not None) for r in c.execute(select(t.c.id, t.c.status, t.c.deleted_at))}


def listed(response) -> str:
    """The page's text without the filter panel and the quick filters (whose options name every choice)."""
    html = re.sub(r'<details class="filter-panel".*?</details>', "", response.get_data(as_text=True), flags=re.DOTALL)
    html = re.sub(r'<tr class="quick-filters">.*?</tr>', "", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def flashes(html: str, category: str) -> list[str]:
    return [re.sub(r"\s+", " ", m) for m in re.findall(rf'<div class="flash {category}"[^>]*>(.*?)</div>', html, re.DOTALL)]


# ---------------------------------------------------------------------- saved views
def test_saved_view_round_trip_and_isolation(signed_in, ui_app, service_desk, data):
    make_request(service_desk, data, 2, priority="1")
    make_request(service_desk, data, 3, priority="4")
    state = "view=all&priority=1&sort=-created_at&q=Обращение"
    r = signed_in.post(f"{LIST}/saved-views", {"name": "Критичные", "state": state, "next": f"{LIST}?{state}"},
                       token_from=LIST)
    assert r.status_code == 302
    page = signed_in.get(r.headers["Location"])
    html = page.get_data(as_text=True)
    assert "Представление сохранено." in text(page)
    chip = re.search(r'<a href="([^"]+)" class="saved-view">Критичные</a>', html)
    assert chip, "the saved view is listed on the page"
    opened = signed_in.get(chip.group(1).replace("&amp;", "&"))
    body = listed(opened)
    assert body.count("Критический") >= 2 and "Низкий" not in body  # the filter applies
    assert 'class="chip active"' in opened.get_data(as_text=True)
    # saving under the same name replaces the state
    signed_in.post(f"{LIST}/saved-views", {"name": "Критичные", "state": "priority=4"}, token_from=LIST)
    html = signed_in.get(LIST).get_data(as_text=True)
    assert len(re.findall(r'class="saved-view">Критичные<', html)) == 1
    assert "priority=4" in re.search(r'<a href="([^"]+)" class="saved-view">Критичные</a>', html).group(1)
    # another user neither sees nor deletes it
    service_desk.accounts.create_user("other", PASSWORD, roles=["service_desk:agent"])
    other = Browser(ui_app.test_client())
    other.login("other")
    assert "Критичные" not in text(other.get(LIST))
    from sqlalchemy import select

    from runtime.data import tables
    with service_desk.engine.connect() as c:
        view_id = c.execute(select(tables.saved_view.c.id)).scalar_one()
    assert other.post(f"{LIST}/saved-views/{view_id}/delete", {}, token_from=LIST).status_code == 404
    assert "Критичные" in text(signed_in.get(LIST))
    # the owner deletes it
    r = signed_in.post(f"{LIST}/saved-views/{view_id}/delete", {"next": LIST}, token_from=LIST)
    assert r.status_code == 302 and r.headers["Location"] == LIST
    assert "Критичные" not in text(signed_in.get(LIST))


def test_saved_view_needs_name_and_valid_state(signed_in, service_desk, data):
    r = signed_in.post(f"{LIST}/saved-views", {"name": " ", "state": "priority=1"}, token_from=LIST)
    assert "Укажите название представления." in text(signed_in.get(r.headers["Location"]))
    r = signed_in.post(f"{LIST}/saved-views", {"name": "x", "state": "priority__bogus=1"}, token_from=LIST)
    assert "нельзя сохранить" in text(signed_in.get(r.headers["Location"]))
    assert signed_in.http.post(f"{LIST}/saved-views", data={"name": "x", "state": ""}).status_code == 400  # CSRF


# ---------------------------------------------------------------------- bulk actions
def test_bulk_transition_reports_the_refused_record(signed_in, service_desk, data):
    reqs = make_request(service_desk, data, 3)
    service_desk.workflow.transition("service_desk", "request", reqs[1]["id"], "take", actor=SYSTEM)
    page = signed_in.get(LIST)
    html = page.get_data(as_text=True)
    assert f'name="id" value="{reqs[0]["id"]}"' in html and 'value="transition:take"' in html
    r = signed_in.post(f"{LIST}/bulk", {"action": "transition:take", "id": [str(x["id"]) for x in reqs],
                                        "next": f"{LIST}?view=all"}, token_from=LIST)
    assert r.status_code == 302 and r.headers["Location"] == f"{LIST}?view=all"
    html = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert flashes(html, "ok") == ["Выполнено: 2"]
    errors = flashes(html, "error")
    assert len(errors) == 1 and reqs[1]["number"] in errors[0] and "in_work" in errors[0]
    now = statuses(service_desk)
    assert [now[x["id"]][0] for x in reqs] == ["in_work", "in_work", "in_work"]


def test_bulk_never_defaults_to_delete(signed_in, service_desk, data):
    """Even where delete is the only action, nothing is chosen until the user picks it."""
    grant(service_desk, "agent", "dispatcher")
    reqs = make_request(service_desk, data, 2)
    html = signed_in.get(LIST).get_data(as_text=True)
    select = re.search(r'<select name="action" required>(.*?)</select>', html, re.DOTALL).group(1)
    first = re.search(r"<option[^>]*>", select).group(0)
    assert 'value=""' in first and "selected" in first and "disabled" in first
    assert 'value="delete"' in select and not re.search(r'value="delete"[^>]*selected', select)
    r = signed_in.post(f"{LIST}/bulk", {"id": [str(x["id"]) for x in reqs]}, token_from=LIST)  # no action sent
    html = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert flashes(html, "error") == ["Выберите действие."]
    assert all(not deleted for _, deleted in statuses(service_desk).values())


def test_bulk_checks_permissions_per_record(browser, service_desk, data):
    """A user without the transition's role gets each record refused; nothing changes."""
    reqs = make_request(service_desk, data, 2)
    service_desk.accounts.create_user("guest", PASSWORD, roles=["service_desk:client"])
    browser.login("guest")
    html = browser.get(LIST).get_data(as_text=True)
    assert 'value="transition:take"' not in html  # not offered
    r = browser.post(f"{LIST}/bulk", {"action": "transition:take", "id": [str(x["id"]) for x in reqs]},
                     token_from=LIST)
    html = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert flashes(html, "ok") == [] and len(flashes(html, "error")) == 2
    assert all(s == ("registered", False) for s in statuses(service_desk).values())


def test_bulk_delete(signed_in, service_desk, data):
    grant(service_desk, "agent", "dispatcher")  # only dispatchers delete requests
    reqs = make_request(service_desk, data, 3)
    assert signed_in.http.post(f"{LIST}/bulk", data={"action": "delete", "id": "1"}).status_code == 400  # CSRF
    r = signed_in.post(f"{LIST}/bulk", {"action": "delete", "id": [str(reqs[0]["id"]), str(reqs[2]["id"]), "999"]},
                       token_from=LIST)
    html = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert flashes(html, "ok") == ["Выполнено: 2"] and len(flashes(html, "error")) == 1  # 999 does not exist
    now = statuses(service_desk)
    assert [now[x["id"]][1] for x in reqs] == [True, False, True]
    assert reqs[1]["number"] in text(signed_in.get(LIST)) and reqs[0]["number"] not in text(signed_in.get(LIST))
    r = signed_in.post(f"{LIST}/bulk", {"action": "launch", "id": "1"}, token_from=LIST)
    assert "Неизвестное действие." in text(signed_in.get(r.headers["Location"]))


# ---------------------------------------------------------------------- export
def xlsx_rows(response) -> list[list]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(response.get_data()))
    return [list(r) for r in wb.active.iter_rows(values_only=True)]


def test_export_xlsx_values_and_filters(signed_in, service_desk, data):
    make_request(service_desk, data, 2, priority="1", labor_hours="1.5")
    make_request(service_desk, data, 1, priority="4")
    rows = xlsx_rows(signed_in.get(f"{LIST}/export.xlsx?view=all&priority=1&sort=number"))
    head = rows[0]
    assert head[:6] == ["Номер", "Тема", "Организация", "Приоритет", "Статус", "Создано"]
    assert "Ставка, руб/ч" in head and "Трудозатраты, ч" in head and "Автор" in head
    assert len(rows) == 3  # header + the two priority-1 requests
    first = dict(zip(head, rows[1]))
    assert first["Номер"] == "REQ-000001" and first["Организация"] == "Минздрав"
    assert first["Приоритет"] == "Критический" and first["Статус"] == "Зарегистрирована"
    assert first["Модуль / система"] == "СЭД" and first["Канал"] == "Портал"
    assert isinstance(first["Создано"], dt.datetime)
    assert abs(first["Создано"] - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(minutes=5)
    assert float(first["Трудозатраты, ч"]) == 1.5
    # in English the titles follow
    signed_in.get("/lang/en")
    rows = xlsx_rows(signed_in.get(f"{LIST}/export.xlsx?view=all&priority=1"))
    assert rows[0][:3] == ["Number", "Subject", "Organisation"] and rows[1][3] == "Critical"


def test_export_keyset_batches_and_cap(signed_in, service_desk, data, monkeypatch):
    from runtime.web.ui import lists
    make_request(service_desk, data, 7)
    monkeypatch.setattr(lists, "EXPORT_BATCH", 2)
    rows = xlsx_rows(signed_in.get(f"{LIST}/export.xlsx?view=all&sort=number"))
    assert [r[0] for r in rows[1:]] == [f"REQ-{i:06d}" for i in range(1, 8)]
    monkeypatch.setattr(lists, "EXPORT_CAP", 5)
    r = signed_in.get(f"{LIST}/export.xlsx?view=all&sort=-number")
    rows = xlsx_rows(r)
    assert r.headers["X-Loom-Export-Truncated"] == "1"
    assert [x[0] for x in rows[1:6]] == [f"REQ-{i:06d}" for i in range(7, 2, -1)]
    assert len(rows) == 7 and "первые 5 записей" in rows[6][0]
    monkeypatch.setattr(lists, "EXPORT_CAP", 7)  # exactly the cap: no note
    assert len(xlsx_rows(signed_in.get(f"{LIST}/export.xlsx?view=all"))) == 8


def test_export_csv(signed_in, service_desk, data):
    make_request(service_desk, data, 2, priority="2", labor_hours="3")
    r = signed_in.get(f"{LIST}/export.csv?view=all&sort=number&q=Обращение")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    raw = r.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    head = rows[0]
    assert head[:4] == ["Номер", "Тема", "Организация", "Приоритет"] and len(rows) == 3
    first = dict(zip(head, rows[1]))
    assert first["Номер"] == "REQ-000001" and first["Организация"] == "Минздрав" and first["Приоритет"] == "Высокий"
    assert first["Трудозатраты, ч"] == "3.00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", first["Создано"])


def test_export_respects_hidden_fields_and_row_rules(browser, service_desk, data):
    from tests.permissions.conftest import permissioned_document
    service_desk.store.publish(permissioned_document(service_desk.store.document("service_desk")),
                               author="tester", comment="permissions")
    make_request(service_desk, data, 2, priority="1", hourly_rate="1500", labor_hours="2")  # agents see priority 1
    make_request(service_desk, data, 3, priority="3", hourly_rate="1500")  # ...but not these
    browser.login()  # agent: hourly_rate hidden
    rows = xlsx_rows(browser.get(f"{LIST}/export.xlsx?view=all"))
    assert "Ставка, руб/ч" not in rows[0] and "Заметка" in rows[0] and "Стоимость работ" in rows[0]
    assert len(rows) == 3 and all(r[3] == "Критический" for r in rows[1:])
    assert not any(v in (1500, "1500.00") for r in rows for v in r)
    r = browser.get(f"{LIST}/export.csv?view=all")
    head = next(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert "Ставка, руб/ч" not in head
    # filtering or sorting by a hidden field is refused, as on the page
    assert browser.get(f"{LIST}/export.xlsx?hourly_rate__gt=1").status_code == 403
    assert browser.get(f"{LIST}/export.csv?sort=hourly_rate").status_code == 403


# ---------------------------------------------------------------------- filter panel
def panel_html(html: str) -> str:
    m = re.search(r'<details class="filter-panel".*?</details>', html, re.DOTALL)
    assert m, "the list page has a filter panel"
    return m.group(0)


def control(panel: str, field: str) -> str:
    m = re.search(rf'<div class="control (\w+)" data-field="{field}"[^>]*>.*?</div>', panel, re.DOTALL)
    return m.group(0) if m else ""


def test_filter_panel_offers_controls_by_type(signed_in, service_desk, data):
    make_request(service_desk, data, 1)
    panel = panel_html(signed_in.get(LIST).get_data(as_text=True))
    priority = control(panel, "priority")
    assert 'name="priority__in"' in priority and "multiple" in priority
    assert ">Критический<" in priority and ">Низкий<" in priority and " hidden" not in priority.split(">")[0]
    assert 'name="status__in"' in control(panel, "status") and ">Зарегистрирована<" in control(panel, "status")
    org = control(panel, "organization")
    assert 'data-name="organization"' in org and 'role="combobox"' in org and "/options/organization" in org
    assert 'data-name="assignee"' in control(panel, "assignee")  # users are picked the same way
    created = control(panel, "created_at")
    assert 'type="date" name="created_at__gte"' in created and 'type="date" name="created_at__lte"' in created
    assert 'name="subject__contains"' in control(panel, "subject")
    # other stored fields wait under "more"
    channel = control(panel, "channel")
    assert 'name="channel__in"' in channel and channel.split(">")[0].endswith(" hidden")
    assert 'name="labor_hours__gte"' in control(panel, "labor_hours")
    assert 'type="date" name="due_at__lte"' in control(panel, "due_at")
    assert re.search(r'class="filter-more".*?<option value="channel">Канал</option>', panel, re.DOTALL)
    assert not control(panel, "works") and not control(panel, "attachments") and not control(panel, "id")
    assert "Применить" in panel and "Фильтр" in panel
    # English labels
    signed_in.get("/lang/en")
    panel = panel_html(signed_in.get(LIST).get_data(as_text=True))
    assert "Apply filters" in panel and ">Critical<" in control(panel, "priority") and "More filters" in panel


def test_filter_panel_never_offers_hidden_fields(browser, service_desk, data):
    from tests.permissions.conftest import permissioned_document
    service_desk.store.publish(permissioned_document(service_desk.store.document("service_desk")),
                               author="tester", comment="permissions")
    browser.login()  # agent: hourly_rate hidden
    panel = panel_html(browser.get(f"{LIST}?view=all").get_data(as_text=True))
    assert control(panel, "priority") and not control(panel, "hourly_rate") and "hourly_rate" not in panel


def test_filter_panel_narrows_the_list(signed_in, service_desk, data):
    from sqlalchemy import update
    reqs = (make_request(service_desk, data, 1, priority="1") + make_request(service_desk, data, 1, priority="2")
            + make_request(service_desk, data, 1, priority="2") + make_request(service_desk, data, 1, priority="4")
            + make_request(service_desk, data, 1, priority="1"))
    days = ["2026-01-10", "2026-02-03", "2026-02-28", "2026-02-15", "2026-03-01"]
    tb = service_desk.entity_tables("service_desk", "request").main
    with service_desk.engine.begin() as c:
        for r, day in zip(reqs, days):
            c.execute(update(tb).where(tb.c.id == r["id"])
                      .values(created_at=dt.datetime.fromisoformat(f"{day}T12:00:00+00:00")))
    # the panel's GET: priority multi-select, a created_at range, an untouched "any" and blanks; sort/search/view kept
    r = signed_in.get(f"{LIST}/filter", query_string=[
        ("view", "all"), ("sort", "number"), ("q", "Обращение"), ("priority__in", "1"), ("priority__in", "2"),
        ("created_at__gte", "2026-02-01"), ("created_at__lte", "2026-02-28"), ("subject__contains", ""),
        ("organization", ""), ("channel__in", ""), ("due_at__gte", "")])
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith(LIST + "?") and "subject__contains" not in location and "organization" not in location
    page = signed_in.get(location)
    body = text(page)
    shown = [x["number"] for x in reqs if x["number"] in body]
    assert shown == [reqs[1]["number"], reqs[2]["number"]]  # priority 1/2, created in February (28th inclusive)
    html = page.get_data(as_text=True)
    panel = panel_html(html)
    assert re.search(r'<option value="1" selected>Критический', panel) and re.search(r'<option value="2" selected>', panel)
    assert 'value="2026-02-01"' in panel and 'value="2026-02-28"' in panel
    for kept in ('name="view" value="all"', 'name="sort" value="number"', 'name="q" value="Обращение"'):
        assert kept in panel
    assert '<div class="chips">' in html  # the active filters show as chips; the panel stays folded
    # each chip still removes one filter
    chip = re.search(r'<span class="chip">Приоритет[^<]*<a href="([^"]+)"', html)
    assert chip
    body = text(signed_in.get(chip.group(1).replace("&amp;", "&")))
    assert [x["number"] for x in reqs if x["number"] in body] == [reqs[1]["number"], reqs[2]["number"], reqs[3]["number"]]
    # a single value, and the reset link keeps only view, sort and search
    r = signed_in.get(f"{LIST}/filter", query_string=[("view", "all"), ("priority__in", "4")])
    body = text(signed_in.get(r.headers["Location"]))
    assert [x["number"] for x in reqs if x["number"] in body] == [reqs[3]["number"]]
    reset = re.search(r'<a href="([^"]+)" class="reset-filters">', signed_in.get(r.headers["Location"]).get_data(as_text=True))
    assert reset.group(1).replace("&amp;", "&") == f"{LIST}?view=all"
