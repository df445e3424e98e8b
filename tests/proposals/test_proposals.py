"""Improvement proposals (issue 19 item 6, issue 17 item 10), through real HTTP on SQLite and
PostgreSQL: a user files one from a record page, an outsider cannot, the analyst lists them by
status in the designer, answers with a status and links the published version, and the
proposer is notified and follows their proposals; the same through the API; revision 0017."""
from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, select

from runtime.core.migrations import config
from runtime.data import tables as platform

from tests.ui.conftest import Browser

from .conftest import api, sign_in

DESIGNER = "/designer/apps/service_desk/proposals"


def record_url(loom) -> str:
    return f"/ui/service_desk/request/{loom.request['id']}"


def proposals(loom) -> list:
    with loom.engine.connect() as c:
        return c.execute(select(platform.proposal).order_by(platform.proposal.c.id)).mappings().all()


def audit(loom, action: str) -> list:
    a = platform.audit
    with loom.engine.connect() as c:
        return c.execute(select(a.c.username, a.c.app, a.c.entity, a.c.record_id, a.c.before, a.c.after)
                         .where(a.c.action == action).order_by(a.c.seq)).all()


def notifications(loom, user_id: int) -> list:
    n = platform.notification
    with loom.engine.connect() as c:
        return c.execute(select(n.c.kind, n.c.title, n.c.body, n.c.link).where(n.c.user_id == user_id)
                         .order_by(n.c.id)).all()


def file_one(web, loom, what="Добавить поле «Телефон для связи»", why="Звоним заявителю") -> int:
    anna = sign_in(web, "anna")
    r = anna.post(record_url(loom) + "/proposals", {"what": what, "why": why}, token_from=record_url(loom))
    assert r.status_code == 302 and r.headers["Location"].endswith(record_url(loom))
    return proposals(loom)[-1]["id"]


def test_a_user_files_a_proposal_from_a_record_page(web, desk):
    anna = sign_in(web, "anna")
    page = anna.get(record_url(desk)).get_data(as_text=True)
    assert 'id="propose"' in page and "Suggest an improvement" in page and 'name="what"' in page
    r = anna.post(record_url(desk) + "/proposals", {"what": "  Добавить поле «Телефон»  ", "why": "Звоним"},
                  token_from=record_url(desk))
    assert r.status_code == 302
    [p] = proposals(desk)
    assert (p["app"], p["entity"], p["record_id"], p["user_id"]) == ("service_desk", "request", desk.request["id"],
                                                                     desk.ids["anna"])
    assert (p["what"], p["why"], p["status"], p["version"]) == ("Добавить поле «Телефон»", "Звоним", "new", None)
    assert p["record_title"].startswith(desk.request["number"])
    page = anna.get(record_url(desk)).get_data(as_text=True)
    assert f"Proposal #{p['id']} was sent" in page  # the flash
    assert "improvement proposed" in page  # the record's history
    [entry] = audit(desk, "proposal")
    assert (entry.username, entry.app, entry.entity, entry.record_id) == ("anna", "service_desk", "request",
                                                                          desk.request["id"])
    mine = anna.get("/ui/proposals").get_data(as_text=True)
    assert f'id="proposal-{p["id"]}"' in mine and "Добавить поле «Телефон»" in mine and "New" in mine
    own = anna.get(f"/ui/proposals/{p['id']}")
    assert own.status_code == 200 and "Звоним" in own.get_data(as_text=True)

    # an empty proposal is refused with the field named, and nothing is stored
    r = anna.post(record_url(desk) + "/proposals", {"what": "   "}, token_from=record_url(desk))
    assert "What to improve: is required" in anna.get(r.headers["Location"]).get_data(as_text=True)
    assert len(proposals(desk)) == 1


def test_an_outsider_may_not_file_nor_read_a_proposal(web, desk):
    pid = file_one(web, desk)
    olga = sign_in(web, "olga")  # no role in the service desk: may not read its requests
    r = olga.post(record_url(desk) + "/proposals", {"what": "Убрать поле"}, token_from="/ui/proposals")
    assert r.status_code == 403
    assert olga.get(f"/ui/proposals/{pid}").status_code == 404  # somebody else's proposal
    assert olga.get("/ui/proposals").get_data(as_text=True).count('class="notification card proposal') == 0
    assert olga.get(DESIGNER).status_code == 403  # no designer for a non-analyst
    assert api(web, desk, "olga").post(f"/api/v1/service_desk/request/{desk.request['id']}/proposals",
                                       {"what": "Убрать поле"}).status_code == 403
    # without a session, or without the form's CSRF token
    anonymous = Browser(web.test_client())
    r = anonymous.post(record_url(desk) + "/proposals", {"what": "x"}, token_from="/login")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert anonymous.http.post(record_url(desk) + "/proposals", data={"what": "x"}).status_code == 400
    anna = sign_in(web, "anna")
    assert anna.http.post(record_url(desk) + "/proposals", data={"what": "x"}).status_code == 400
    assert [p["id"] for p in proposals(desk)] == [pid]


def test_the_designer_lists_an_apps_proposals_by_status(web, desk):
    first = file_one(web, desk, what="Первое предложение")
    second = file_one(web, desk, what="Второе предложение")
    desk.proposals.answer("service_desk", first, desk.actor("ann"), status="rejected", comment="Не нужно")
    ann = sign_in(web, "ann")
    page = ann.get(DESIGNER).get_data(as_text=True)
    assert f'id="proposal-{first}"' in page and f'id="proposal-{second}"' in page
    assert "Первое предложение" in page and "Second" not in page and "Не нужно" in page
    assert 'id="filter-new"' in page and 'id="filter-rejected"' in page
    new = ann.get(DESIGNER + "?status=new").get_data(as_text=True)
    assert f'id="proposal-{second}"' in new and f'id="proposal-{first}"' not in new
    assert 'href="/ui/service_desk/request/' in new  # the record it was filed from
    overview = ann.get("/designer/apps/service_desk/").get_data(as_text=True)
    assert "Proposals (1)" in overview  # the sidebar counts those waiting for an answer
    ru = sign_in(web, "ann", lang="ru").get(DESIGNER).get_data(as_text=True)
    assert "Предложения по улучшению" in ru and "Отклонено" in ru and "Новое" in ru


def test_the_analyst_answers_and_links_a_version_and_the_proposer_is_notified(web, desk):
    pid = file_one(web, desk)
    doc = desk.store.document("service_desk")
    doc["entities"]["request"]["fields"]["contact_phone"] = {"type": "string", "title": {"ru": "Телефон",
                                                                                        "en": "Phone"}}
    version = desk.store.publish(doc, author="ann", comment="Телефон для связи в заявке").number
    ann = sign_in(web, "ann")
    page = ann.get(DESIGNER).get_data(as_text=True)
    assert f'<option value="{version}"' in page and "Телефон для связи в заявке" in page  # the versions to pick

    r = ann.post(f"{DESIGNER}/{pid}", {"status": "in_review", "comment": "Смотрим", "version": ""},
                 token_from=DESIGNER)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"{DESIGNER}#proposal-{pid}")
    assert (proposals(desk)[0]["status"], proposals(desk)[0]["comment"]) == ("in_review", "Смотрим")
    [told] = notifications(desk, desk.ids["anna"])
    assert told.kind == "proposal" and told.link == f"/ui/proposals/{pid}"
    assert told.title == f"Ваше предложение #{pid}: на рассмотрении" and told.body == "Смотрим"

    r = ann.post(f"{DESIGNER}/{pid}", {"status": "done", "comment": "Сделано", "version": str(version)},
                 token_from=DESIGNER)
    assert (proposals(desk)[0]["status"], proposals(desk)[0]["version"]) == ("done", version)
    told = notifications(desk, desk.ids["anna"])[-1]
    assert told.title == f"Ваше предложение #{pid}: принято, сделано"
    assert f"Версия {version}" in told.body and "Телефон для связи в заявке" in told.body
    answers = audit(desk, "proposal_answer")
    assert [a.after.get("status") for a in answers] == ["in_review", "done"] and answers[-1].after["version"] == version
    assert answers[-1].record_id == desk.request["id"] and answers[-1].username == "ann"

    # a version alone is news too; a comment alone is not
    desk.proposals.answer("service_desk", pid, desk.actor("ann"), version=1)
    assert notifications(desk, desk.ids["anna"])[-1].title == f"Ваше предложение #{pid}: изменение вошло в версию 1"
    desk.proposals.answer("service_desk", pid, desk.actor("ann"), comment="Уточнение")
    assert len(notifications(desk, desk.ids["anna"])) == 3

    # a version the app never published is refused
    r = ann.post(f"{DESIGNER}/{pid}", {"status": "done", "comment": "", "version": "99"}, token_from=DESIGNER)
    assert "has no published version 99" in ann.get(r.headers["Location"]).get_data(as_text=True)
    assert proposals(desk)[0]["version"] == 1

    # the proposer follows the link of the notification to the proposal and its version
    anna = sign_in(web, "anna")
    inbox = anna.get("/ui/notifications").get_data(as_text=True)
    assert f'href="/ui/proposals/{pid}"' in inbox
    mine = anna.get(f"/ui/proposals/{pid}").get_data(as_text=True)
    assert "Accepted, done" in mine and "Уточнение" in mine and "version 1" in mine
    assert anna.get("/ui/proposals?status=done").get_data(as_text=True).count(f'id="proposal-{pid}"') == 1
    assert f'id="proposal-{pid}"' not in anna.get("/ui/proposals?status=new").get_data(as_text=True)
    # only analysts answer
    assert anna.post(f"{DESIGNER}/{pid}", {"status": "rejected"}, token_from="/ui/proposals").status_code == 403


def test_proposals_through_the_api(web, desk):
    anna, ann, olga = (api(web, desk, name) for name in ("anna", "ann", "olga"))
    url = f"/api/v1/service_desk/request/{desk.request['id']}/proposals"
    r = anna.post(url, {"what": "Шаблон ответа по теме", "why": None})
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["status"] == "new" and made["proposer"] == "anna" and r.headers["Location"].endswith(
        f"/api/v1/service_desk/_proposals/{made['id']}")
    assert anna.post(url, {"what": ""}).status_code == 422
    assert anna.post(url, {"what": "x" * 2001}).get_json()["errors"][0]["field"] == "what"
    assert anna.post("/api/v1/service_desk/request/999999/proposals", {"what": "x"}).status_code == 404

    assert [p["id"] for p in anna.get("/api/v1/proposals").get_json()["items"]] == [made["id"]]
    assert olga.get("/api/v1/proposals").get_json() == {"items": [], "next": None}
    assert anna.get(f"/api/v1/service_desk/_proposals/{made['id']}").status_code == 200  # their own
    assert olga.get(f"/api/v1/service_desk/_proposals/{made['id']}").status_code == 404
    assert anna.get("/api/v1/service_desk/_proposals").status_code == 403  # the list is the analysts'
    assert anna.patch(f"/api/v1/service_desk/_proposals/{made['id']}", {"status": "done"}).status_code == 403

    listed = ann.get("/api/v1/service_desk/_proposals?status=new").get_json()
    assert [p["id"] for p in listed["items"]] == [made["id"]]
    assert ann.get("/api/v1/service_desk/_proposals?status=maybe").status_code == 422
    r = ann.patch(f"/api/v1/service_desk/_proposals/{made['id']}", {"status": "done", "version": 1,
                                                                    "comment": "Готово"})
    assert r.status_code == 200 and (r.get_json()["status"], r.get_json()["version"]) == ("done", 1)
    assert ann.patch(f"/api/v1/service_desk/_proposals/{made['id']}", {"version": 5}).status_code == 422
    cleared = ann.patch(f"/api/v1/service_desk/_proposals/{made['id']}", {"version": None, "comment": None})
    assert (cleared.get_json()["version"], cleared.get_json()["comment"], cleared.get_json()["status"]) == (
        None, None, "done")
    assert [n.kind for n in notifications(desk, desk.ids["anna"])] == ["proposal"]
    spec = ann.get("/api/v1/openapi.json").get_json()
    assert "post" in spec["paths"]["/api/v1/service_desk/request/{record_id}/proposals"]
    assert "patch" in spec["paths"]["/api/v1/service_desk/_proposals/{proposal_id}"]


def test_revision_0017_adds_the_proposals_and_goes_back(loom):
    def tables():
        return set(inspect(loom.engine).get_table_names())

    def notification_columns():
        return {c["name"] for c in inspect(loom.engine).get_columns("loom_notification")}

    assert "loom_proposal" in tables() and "link" in notification_columns()
    command.downgrade(config(loom.engine), "0016")
    assert "loom_proposal" not in tables() and "link" not in notification_columns()
    loom.upgrade_db()
    assert "loom_proposal" in tables() and "link" in notification_columns()
    indexes = {ix["name"] for ix in inspect(loom.engine).get_indexes("loom_proposal")}
    assert {"ix_loom_proposal_app", "ix_loom_proposal_user"} <= indexes


def test_the_proposal_pages_leave_no_interface_string_untranslated(web, desk):
    from tests.designer.test_translations import messages, page_strings

    pid = file_one(web, desk)
    desk.proposals.answer("service_desk", pid, desk.actor("ann"), status="in_review", comment="Смотрим", version=1)
    catalog = messages()
    russian = {ru: en for en, ru in catalog.items()}
    pages = {"ann": [DESIGNER, DESIGNER + "?status=in_review"],
             "anna": [record_url(desk), "/ui/proposals", f"/ui/proposals/{pid}", "/ui/notifications",
                      "/ui/notifications/settings"]}
    for lang in ("ru", "en"):
        leaks = []
        for user, urls in pages.items():
            browser = sign_in(web, user, lang=lang)
            for url in urls:
                response = browser.get(url)
                assert response.status_code == 200, url
                for s in page_strings(response.get_data(as_text=True)):
                    s = s.rstrip(":").strip()
                    if (lang == "ru" and s in catalog) or (lang == "en" and s in russian):
                        leaks.append((url, s))
        assert leaks == [], lang
