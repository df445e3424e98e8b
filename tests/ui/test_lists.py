"""List-page extras through the test client: saved views, bulk actions, export to xlsx and csv."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

from openpyxl import load_workbook

from runtime.records import SYSTEM

from .conftest import PASSWORD, Browser
from .test_pages import make_request, text

LIST = "/ui/service_desk/request"


def statuses(loom) -> dict:
    from sqlalchemy import select
    t = loom.entity_tables("service_desk", "request").main
    with loom.engine.connect() as c:
        return {r.id: (r.status, r.deleted_at is not None) for r in c.execute(select(t.c.id, t.c.status, t.c.deleted_at))}


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
    body = text(opened)
    assert body.count("Критический") >= 2 and "Низкий" not in body  # the filter applies
    assert 'class="chip active"' in opened.get_data(as_text=True)
    # saving under the same name replaces the state
    signed_in.post(f"{LIST}/saved-views", {"name": "Критичные", "state": "priority=4"}, token_from=LIST)
    html = signed_in.get(LIST).get_data(as_text=True)
    assert len(re.findall(r'class="saved-view">Критичные<', html)) == 1
    assert "priority=4" in re.search(r'<a href="([^"]+)" class="saved-view">Критичные</a>', html).group(1)
    # another user neither sees nor deletes it
    service_desk.accounts.create_user("other", PASSWORD, roles=["agent"])
    other = Browser(ui_app.test_client())
    other.login("other")
    assert "Критичные" not in text(other.get(LIST))
    from sqlalchemy import select

    from runtime import tables
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


def test_bulk_checks_permissions_per_record(browser, service_desk, data):
    """A user without the transition's role gets each record refused; nothing changes."""
    reqs = make_request(service_desk, data, 2)
    service_desk.accounts.create_user("guest", PASSWORD, roles=["client"])
    browser.login("guest")
    html = browser.get(LIST).get_data(as_text=True)
    assert 'value="transition:take"' not in html  # not offered
    r = browser.post(f"{LIST}/bulk", {"action": "transition:take", "id": [str(x["id"]) for x in reqs]},
                     token_from=LIST)
    html = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert flashes(html, "ok") == [] and len(flashes(html, "error")) == 2
    assert all(s == ("registered", False) for s in statuses(service_desk).values())


def test_bulk_delete(signed_in, service_desk, data):
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
    from runtime.ui import lists
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
