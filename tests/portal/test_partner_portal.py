"""A partner portal configured from the docs alone (``works_app``): transitions that ask for
fields, page actions, link options of anonymous and signed-in visitors, and forms whose
``set:`` values fail. Every refusal is a message on the page, never a 500."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime.core.config import Settings
from runtime.web import create_app

from .conftest import PASSWORD, Client

APP = "works"
P = f"/portal/{APP}"
FOLDER = Path(__file__).resolve().parent / "works_app"


@pytest.fixture
def works(loom):
    """Two partners with a contractor each; a job of each partner in work and a done one of the
    first; an open and a closed vacancy."""
    loom.store.install(FOLDER, author="tester")
    create = loom.records.create
    partners = [create(APP, "partner", {"name": name}) for name in ("Стройка", "Ремонт")]
    out = {"loom": loom, "partners": partners, "users": [], "jobs": []}
    for i, partner in enumerate(partners):
        name = f"contractor{i + 1}@partner.example"
        loom.accounts.create_user(name, PASSWORD, email=name, full_name=f"Подрядчик {i + 1}",
                                  roles=[f"{APP}:contractor"], organization=f"{APP}.partner:{partner['id']}",
                                  external=True)
        out["users"].append(name)
        out["jobs"].append(create(APP, "job", {"title": f"Покраска фасада {i + 1}", "partner": partner["id"]}))
    out["done_job"] = loom.workflow.transition(APP, "job", create(APP, "job", {
        "title": "Замена окон", "partner": partners[0]["id"]})["id"], "contractor_done",
        {"contractor_report": "Окна заменены"}, actor=loom.actor(None))
    out["vacancies"] = [create(APP, "vacancy", {"title": "Маляр", "open": True}),
                        create(APP, "vacancy", {"title": "Кровельщик (закрыта)", "open": False})]
    return out


@pytest.fixture
def web(works, tmp_path):
    app = create_app(Settings(tmp_path, works["loom"].database_url), works["loom"])
    app.config["TESTING"] = True
    return app


def visitor(web, works, i=None) -> Client:
    c = Client(web.test_client())
    if i is not None:
        assert c.post(f"{P}/login", {"username": works["users"][i], "password": PASSWORD}).status_code == 302
    return c


def job(works, i=0) -> dict:
    return works["loom"].records.get(APP, "job", works["jobs"][i]["id"])


# ---------------------------------------------------------------------- transitions asking for fields
def test_a_transition_with_required_fields_asks_for_them_and_fires(web, works):
    c = visitor(web, works, 0)
    job_id = works["jobs"][0]["id"]
    page = c.get(f"{P}/p/job/{job_id}").get_data(as_text=True)
    assert 'data-transition="contractor_done"' in page
    # the button leads to a small form asking for the report, not for the date its set fills
    form = c.get(f"{P}/p/job/{job_id}/do/contractor_done")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'name="contractor_report"' in html and 'name="finished_on"' not in html
    # firing without the report: the form again with the field marked, the record unchanged
    r = c.post(f"{P}/p/job/{job_id}/do/contractor_done", {})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'class="field invalid"' in html and "Отчёт подрядчика" in html
    assert job(works)["status"] == "in_work"
    # a script's refusal: the reason on the page, nothing saved
    r = c.post(f"{P}/p/job/{job_id}/do/contractor_done", {"contractor_report": "-"})
    assert r.status_code == 422 and "Опишите выполненную работу" in r.get_data(as_text=True)
    assert job(works)["status"] == "in_work" and job(works)["contractor_report"] is None
    # with the report it fires, and the date is the one its set gave
    r = c.post(f"{P}/p/job/{job_id}/do/contractor_done", {"contractor_report": "Фасад покрашен"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/p/job/{job_id}")
    saved = job(works)
    assert (saved["status"], saved["contractor_report"]) == ("done", "Фасад покрашен")
    assert saved["finished_on"]


def test_a_refusal_for_a_field_the_visitor_cannot_fill_is_a_message_not_a_500(web, works):
    c = visitor(web, works, 0)
    job_id = works["jobs"][0]["id"]
    # price is hidden from contractors: the transition asks for nothing, and the refusal names it
    page = c.get(f"{P}/p/job/{job_id}").get_data(as_text=True)
    assert f'action="{P}/p/job/{job_id}/do/priced_done"' in page and 'name="price"' not in page
    r = c.post(f"{P}/p/job/{job_id}/do/priced_done", {"price": "100"}, token_from=f"{P}/p/job/{job_id}")
    assert r.status_code == 302
    html = c.get(r.headers["Location"]).get_data(as_text=True)
    assert 'class="flash error"' in html and "Цена" in html
    assert job(works)["status"] == "in_work" and job(works)["price"] is None
    # a transition no longer possible from the status: a message as well
    c.post(f"{P}/p/job/{job_id}/do/contractor_done", {"contractor_report": "Готово"})
    r = c.post(f"{P}/p/job/{job_id}/do/contractor_done", {"contractor_report": "Ещё раз"},
               token_from=f"{P}/p/jobs")
    assert r.status_code == 302
    assert 'class="flash error"' in c.get(r.headers["Location"]).get_data(as_text=True)
    assert job(works)["contractor_report"] == "Готово"


def test_another_partners_job_cannot_be_fired(web, works):
    c = visitor(web, works, 1)
    theirs = works["jobs"][0]["id"]
    assert c.get(f"{P}/p/job/{theirs}/do/contractor_done").status_code == 404
    r = c.post(f"{P}/p/job/{theirs}/do/contractor_done", {"contractor_report": "чужое"}, token_from=f"{P}/p/jobs")
    assert r.status_code == 404
    assert job(works)["status"] == "in_work"


# ---------------------------------------------------------------------- a form's set: values
def test_a_failing_set_value_is_named_on_the_forms_422_page(web, works):
    """An app published before set: literals were checked (publishing refuses them now): the
    form's refusal names the field it failed on, though the field is not on the form."""
    live = works["loom"].live[APP].app.document["portal"]
    page = next(p for p in live["pages"] if p["name"] == "apply")
    page["set"] = {"source": "portl"}
    c = visitor(web, works)
    r = c.post(f"{P}/p/apply", {"full_name": "Иван Петров", "vacancy": str(works["vacancies"][0]["id"])})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Источник:" in html and "portl" in html
    assert works["loom"].records.find(APP, "application", {}) == []


# ---------------------------------------------------------------------- page actions
def test_a_record_pages_action_runs_its_script_as_the_visitor(web, works):
    c = visitor(web, works, 0)
    job_id = works["jobs"][0]["id"]
    page = c.get(f"{P}/p/job/{job_id}").get_data(as_text=True)
    assert 'data-action="remind"' in page and "Напомнить менеджеру" in page
    r = c.post(f"{P}/p/job/{job_id}/run/remind", {}, token_from=f"{P}/p/job/{job_id}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/p/job/{job_id}")
    assert "Менеджер получил напоминание" in c.get(r.headers["Location"]).get_data(as_text=True)
    assert job(works)["reminders"] == 1
    history = works["loom"].records.get(APP, "job", job_id)
    assert history["updated_by"] == works["loom"].accounts.user(email=works["users"][0])["id"]
    # the script's reject: a message, nothing saved
    done = works["done_job"]["id"]
    r = c.post(f"{P}/p/job/{done}/run/remind", {}, token_from=f"{P}/p/job/{done}")
    assert "Работа уже выполнена" in c.get(r.headers["Location"]).get_data(as_text=True)
    assert works["loom"].records.get(APP, "job", done)["reminders"] is None
    # without the CSRF token: refused
    assert c.http.post(f"{P}/p/job/{job_id}/run/remind").status_code == 400
    assert job(works)["reminders"] == 1


def test_only_a_signed_in_visitor_who_sees_the_record_runs_an_action(web, works):
    mine = works["jobs"][0]["id"]
    other = visitor(web, works, 1)
    assert other.post(f"{P}/p/job/{mine}/run/remind", {}, token_from=f"{P}/p/jobs").status_code == 404
    assert other.post(f"{P}/p/job/{mine}/run/nothing", {}, token_from=f"{P}/p/jobs").status_code == 403
    anonymous = visitor(web, works)
    assert anonymous.post(f"{P}/p/job/{mine}/run/remind", {}, token_from=f"{P}/p/apply").status_code == 403
    assert job(works)["reminders"] is None


# ---------------------------------------------------------------------- link options
def options_of(html: str, name: str) -> list[str]:
    """The titles of the <option>s of the select ``name`` (the empty one left out)."""
    select = re.search(rf'<select id="f-{name}" name="{name}"[^>]*>(.*?)</select>', html, re.DOTALL).group(1)
    return [t for t in re.findall(r"<option [^>]*>([^<]*)</option>", select) if t]


def test_an_anonymous_form_offers_what_the_anonymous_list_page_shows(web, works):
    c = visitor(web, works)
    html = c.get(f"{P}/p/apply").get_data(as_text=True)
    assert options_of(html, "vacancy") == ["Маляр"]  # the open one: the vacancies page's filter
    assert options_of(html, "agency") == []  # no anonymous page shows partners
    assert c.get(f"{P}/p/apply/options/vacancy?q=мал").get_json() == {
        "items": [{"id": str(works["vacancies"][0]["id"]), "text": "Маляр"}], "more": False}
    # a closed vacancy's id, or a partner's, is refused though the form is saved as the system
    closed, open_ = works["vacancies"][1]["id"], works["vacancies"][0]["id"]
    r = c.post(f"{P}/p/apply", {"full_name": "Иван Петров", "vacancy": str(closed)})
    assert r.status_code == 422 and 'class="field invalid"' in r.get_data(as_text=True)
    r = c.post(f"{P}/p/apply", {"full_name": "Иван Петров", "vacancy": str(open_),
                                "agency": str(works["partners"][0]["id"])})
    assert r.status_code == 422
    assert works["loom"].records.find(APP, "application", {}) == []
    r = c.post(f"{P}/p/apply", {"full_name": "Иван Петров", "vacancy": str(open_)})
    assert r.status_code == 302
    saved = works["loom"].records.find(APP, "application", {})
    assert [(a["vacancy"], a["source"]) for a in saved] == [(open_, "portal")]


def test_a_signed_in_visitor_is_offered_what_the_links_filter_and_a_save_accept(web, works):
    c = visitor(web, works, 0)
    html = c.get(f"{P}/p/new_invoice").get_data(as_text=True)
    assert options_of(html, "job") == ["Замена окон"]  # done (the field's filter) and their partner's
    assert 'data-options="' in html  # a filtered link is asked again when the form changes
    found = c.get(f"{P}/p/new_invoice/options/job?q=окон").get_json()
    assert [x["text"] for x in found["items"]] == ["Замена окон"]
    assert c.get(f"{P}/p/new_invoice/options/job?q=фасад").get_json()["items"] == []
    # what is offered saves; what is not is refused by the same filter
    r = c.post(f"{P}/p/new_invoice", {"job": str(works["done_job"]["id"]), "amount": "1000"})
    assert r.status_code == 302
    r = c.post(f"{P}/p/new_invoice", {"job": str(works["jobs"][0]["id"]), "amount": "1000"})
    assert r.status_code == 422 and 'class="field invalid"' in r.get_data(as_text=True)


def test_a_long_list_shows_the_first_records_and_a_search_box(web, works):
    loom = works["loom"]
    for i in range(55):
        loom.records.create(APP, "vacancy", {"title": f"Вакансия {i:02d}", "open": True})
    c = visitor(web, works)
    html = c.get(f"{P}/p/apply").get_data(as_text=True)
    assert len(options_of(html, "vacancy")) == 50
    assert 'class="options-search"' in html and "поиск по названию" in html
    assert "Список показывает первые 50 записей" in html
    found = c.get(f"{P}/p/apply/options/vacancy?q=Вакансия 54").get_json()
    assert [x["text"] for x in found["items"]] == ["Вакансия 54"] and not found["more"]
    assert c.get(f"{P}/p/apply/options/vacancy").get_json()["more"] is True


def test_an_anonymous_visitor_learns_a_value_is_taken_not_by_whom(web, works):
    c = visitor(web, works)
    vacancy = str(works["vacancies"][0]["id"])
    first = c.post(f"{P}/p/apply", {"full_name": "Иван Петров", "email": "ivan@mail.example", "vacancy": vacancy})
    assert first.status_code == 302
    number = works["loom"].records.find(APP, "application", {})[0]["number"]
    again = c.post(f"{P}/p/apply", {"full_name": "Пётр Иванов", "email": " ivan@mail.example ", "vacancy": vacancy})
    html = again.get_data(as_text=True)
    assert again.status_code == 422 and "ivan@mail.example is already used by another record" in html, html
    assert number not in html
    assert len(works["loom"].records.find(APP, "application", {})) == 1
