"""Calendar, Gantt and map views (``views[].kind``): each data endpoint is a list query with a
few more filters, so row rules and hidden fields apply as in lists; a calendar reads only its
window; a Gantt marks the critical path; a map lists the records that have a point."""
import pytest

from metamodel.errors import MetadataError
from runtime.core.config import Settings
from runtime.web import create_app
from tests.api.conftest import Client

CAL = {"name": "cal", "kind": "calendar", "calendar": {"start": "begins", "end": "ends", "card": ["cost"]}}
GANTT = {"name": "plan", "kind": "gantt", "gantt": {"start": "begins", "end": "ends", "progress": "done_pct",
                                                     "depends_on": "after", "card": ["cost"]}}
MAP = {"name": "map", "kind": "map", "map": {"point": "place", "card": ["cost"]}}


def app_doc(extra=None):
    return {
        "app": {"name": "works", "title": "Works", "roles": [{"name": "boss"}, {"name": "worker"}]},
        "entities": {"job": {
            "title": "Job",
            "title_field": "title",
            "fields": {"title": {"type": "string", "required": True}, "cost": {"type": "integer"},
                       "mine": {"type": "boolean"}, "begins": {"type": "date"}, "ends": {"type": "date"},
                       "done_pct": {"type": "integer"}, "place": {"type": "geo"},
                       "after": {"type": "multilink", "entity": "job"}},
            "views": [{"name": "all", "columns": ["title"]}, CAL, GANTT, MAP, *([extra] if extra else [])],
            "permissions": {"read": ["boss", "worker"], "create": ["boss"], "update": ["boss"],
                            "fields": {"cost": {"hidden": ["worker"]}},
                            "rows": [{"roles": ["worker"], "condition": "mine == true"}]},
        }},
    }


@pytest.fixture
def works(loom, tmp_path):
    loom.store.publish(app_doc(), author="tester")
    http = create_app(Settings(tmp_path, loom.database_url), loom).test_client()

    def client(name, roles):
        uid = loom.accounts.create_user(name, f"pw-{name}-1234", roles=roles)
        return Client(http, loom.accounts.issue_token(uid))

    boss, worker = client("boss", ["works:boss"]), client("worker", ["works:worker"])
    ids = {}
    # design 1-10 -> build 10-30 -> hand over 30-35; paperwork 10-15 beside build; one far away in May
    for title, begins, ends, after, place, mine in [
            ("design", "2026-03-01", "2026-03-10", [], {"lat": 56.83, "lon": 60.60}, True),
            ("build", "2026-03-10", "2026-03-30", ["design"], {"lat": 56.84, "lon": 60.61}, False),
            ("paperwork", "2026-03-10", "2026-03-15", ["design"], None, True),
            ("hand over", "2026-03-30", "2026-04-04", ["build", "paperwork"], None, True),
            ("later", "2026-05-02", "2026-05-03", [], {"lat": 55.75, "lon": 37.62}, True)]:
        made = boss.post("/api/v1/works/job", {"title": title, "begins": begins, "ends": ends, "cost": 7, "done_pct": 50,
                                               "after": [ids[a] for a in after], "place": place, "mine": mine})
        assert made.status_code == 201, made.data
        ids[title] = made.get_json()["id"]
    return boss, worker, ids


def test_a_calendar_reads_its_window_only(works):
    boss, worker, _ = works
    body = boss.get("/api/v1/works/job/calendars/cal?start=2026-03-09&end=2026-03-15").get_json()
    assert [e["title"] for e in body["entries"]] == ["design", "build", "paperwork"]
    assert body["editable"] is True and body["entries"][0]["cost"] == 7
    april = boss.get("/api/v1/works/job/calendars/cal?start=2026-04-01&end=2026-04-30").get_json()
    assert [e["title"] for e in april["entries"]] == ["hand over"]  # began in March, ends in April
    mine = worker.get("/api/v1/works/job/calendars/cal?start=2026-03-01&end=2026-03-31").get_json()
    assert [e["title"] for e in mine["entries"]] == ["design", "paperwork", "hand over"]
    assert all("cost" not in e for e in mine["entries"]) and mine["editable"] is False
    filtered = boss.get("/api/v1/works/job/calendars/cal?start=2026-03-01&end=2026-03-31&title__startswith=p").get_json()
    assert [e["title"] for e in filtered["entries"]] == ["paperwork"]


@pytest.mark.parametrize("query, field", [("start=2026-03-01", "end"), ("start=март&end=2026-03-02", "start"),
                                          ("start=2026-01-01&end=2026-06-01", "end"),
                                          ("start=2026-03-02&end=2026-03-01", "end")])
def test_a_bad_calendar_window_is_400_naming_the_argument(works, query, field):
    boss, _, _ = works
    answer = boss.get(f"/api/v1/works/job/calendars/cal?{query}")
    assert answer.status_code == 400, answer.data
    assert field in answer.get_json()["detail"]


def test_a_gantt_marks_the_critical_path(works):
    boss, worker, ids = works
    body = boss.get("/api/v1/works/job/gantts/plan").get_json()
    bars = {b["title"]: b for b in body["bars"]}
    assert {t for t, b in bars.items() if b["critical"]} == {"later"}  # May's job ends last; March has slack
    assert bars["hand over"]["after"] == [ids["build"], ids["paperwork"]] and bars["build"]["done_pct"] == 50
    one = boss.get("/api/v1/works/job/gantts/plan?begins__lt=2026-05-01").get_json()
    assert {b["title"] for b in one["bars"] if b["critical"]} == {"design", "build", "hand over"}
    # a worker sees no "build": the hand-over's predecessor he cannot read is left out, and so is its cost
    theirs = {b["title"]: b for b in worker.get("/api/v1/works/job/gantts/plan").get_json()["bars"]}
    assert "build" not in theirs and theirs["hand over"]["after"] == [ids["paperwork"]]
    assert "cost" not in theirs["design"]


def test_a_map_shows_the_records_with_a_point(works):
    boss, worker, _ = works
    body = boss.get("/api/v1/works/job/maps/map").get_json()
    assert sorted(m["title"] for m in body["markers"]) == ["build", "design", "later"]
    assert {"lat": 56.83, "lon": 60.6} in [m["place"] for m in body["markers"]]
    near = boss.get("/api/v1/works/job/maps/map?place__near=56.83,60.6,5km").get_json()
    assert sorted(m["title"] for m in near["markers"]) == ["build", "design"]
    theirs = worker.get("/api/v1/works/job/maps/map").get_json()
    assert sorted(m["title"] for m in theirs["markers"]) == ["design", "later"]
    assert all("cost" not in m for m in theirs["markers"])


def test_a_view_of_another_kind_is_404(works):
    boss, _, _ = works
    assert boss.get("/api/v1/works/job/maps/cal").status_code == 404
    assert boss.get("/api/v1/works/job/gantts/nope").status_code == 404
    assert boss.get("/api/v1/works/job/calendars/all?start=2026-03-01&end=2026-03-02").status_code == 404


@pytest.mark.parametrize("view, message", [
    ({"name": "b", "kind": "calendar", "calendar": {"start": "title"}}, "calendar start needs a date or datetime field"),
    ({"name": "b", "kind": "calendar", "calendar": {"start": "when"}}, "unknown field"),
    ({"name": "b", "kind": "gantt", "gantt": {"start": "begins", "end": "ends", "depends_on": "title"}}, "link or multilink"),
    ({"name": "b", "kind": "gantt", "gantt": {"start": "begins", "end": "ends", "progress": "title"}}, "integer or decimal"),
    ({"name": "b", "kind": "map", "map": {"point": "begins"}}, "map point needs a geo field"),
    ({"name": "b", "kind": "map"}, "map"),
    ({"name": "b", "gantt": {"start": "begins", "end": "ends"}}, "gantt"),
])
def test_bad_views_are_refused_at_publish(loom, view, message):
    with pytest.raises(MetadataError) as caught:
        loom.store.publish(app_doc(view), author="tester")
    assert message in str(caught.value)


def _browser(loom, tmp_path, name):
    """A session signed in through the login form, as a browser is, with its CSRF token."""
    import re
    loom.accounts.set_password(name, "pw-browser-1234")
    client = create_app(Settings(tmp_path, loom.database_url), loom).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": name, "password": "pw-browser-1234", "csrf_token": token}).status_code == 302
    return client, re.search(r'name="csrf-token" content="([^"]+)"', client.get("/ui/").get_data(as_text=True)).group(1)


def test_a_moved_entry_is_saved_as_the_form_would_or_refused_with_the_reason(works, loom, tmp_path):
    boss, _, ids = works
    url = f"/ui/works/job/{ids['design']}/reschedule/cal"
    version = boss.get(f"/api/v1/works/job/{ids['design']}").get_json()["row_version"]
    worker, token = _browser(loom, tmp_path, "worker")
    page = worker.get("/ui/works/job?view=cal&date=2026-03-05", follow_redirects=True).get_data(as_text=True)
    assert 'data-editable="false"' in page and 'draggable="true"' not in page
    refused = worker.post(url, data={"days": "2", "row_version": version, "csrf_token": token})
    assert refused.status_code == 403 and refused.get_json()["error"]
    chief, token = _browser(loom, tmp_path, "boss")
    assert 'draggable="true"' in chief.get("/ui/works/job/calendar/cal?date=2026-03-05").get_data(as_text=True)
    moved = chief.post(url, data={"days": "2", "row_version": version, "csrf_token": token})
    assert moved.status_code == 200, moved.data
    record = boss.get(f"/api/v1/works/job/{ids['design']}").get_json()
    assert (record["begins"], record["ends"]) == ("2026-03-03", "2026-03-12")
    stale = chief.post(url, data={"days": "1", "row_version": version, "csrf_token": token})
    assert stale.status_code == 409 and stale.get_json()["error"]
    assert chief.post(url, data={"days": "two", "row_version": version, "csrf_token": token}).status_code == 400
