"""Batch runs (batches.yaml) on a small library app, nothing like housing: monthly fines for
overdue loans. A run goes over members in chunks; a rerun of the month replaces its fines; a
run stopped half-way and resumed ends where an uninterrupted one does; publishing names wrong
references; only the roles the batch names may start it."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from metamodel import MetadataError
from runtime.behaviour.scheduler import Scheduler
from runtime.data import tables as platform
from runtime.errors import Conflict, Forbidden, ValidationFailed

from .conftest import user

SCRIPT = '''import datetime


def fines(members, params, loaded):
    """A fine per overdue loan: 10.50 a day past due, up to the month's end."""
    y, m = params["month"].split("-")
    end = datetime.date(int(y), int(m), 1)
    end = (end.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - datetime.timedelta(days=1)
    out = []
    for member in members:
        for loan in member.loans:
            if loan.returned or loan.due >= end:
                continue
            days = (end - loan.due).days
            out.append({"member": member.id, "book": loan.book, "days": days,
                        "amount": Decimal("10.50") * days * params["rate"], "month": params["month"]})
        for note in loaded["notes"].get(member.id, []):
            out.append({"member": member.id, "book": "note: " + note.text, "days": 0, "amount": 0,
                        "month": params["month"]})
    return out
'''


def library_app(**batch_changes) -> dict:
    batch = {"name": "fines", "title": {"ru": "Штрафы за месяц", "en": "Monthly fines"}, "source": "member",
             "filter": [{"field": "active", "value": True}],
             "params": {"month": {"type": "month", "required": True, "title": {"ru": "Месяц", "en": "Month"}},
                        "rate": {"type": "integer", "default": 1}},
             "key": ["month"], "script": "fines.py:fines", "results": "fine", "source_field": "member",
             "load": [{"name": "notes", "entity": "note", "by": "member"}],
             "chunk": 2, "roles": ["librarian"]}
    batch.update(batch_changes)
    roles = {"read": ["librarian", "reader"], "create": ["librarian"], "update": ["librarian"]}
    return {
        "app": {"name": "library", "title": "Library", "timezone": "Europe/Moscow",
                "roles": [{"name": "librarian"}, {"name": "reader"}]},
        "entities": {
            "member": {"title": "Member", "title_field": "name", "permissions": roles,
                       "fields": {"name": {"type": "string", "required": True},
                                  "active": {"type": "boolean", "default": True},
                                  "loans": {"type": "table", "fields": {
                                      "book": {"type": "string"}, "due": {"type": "date"},
                                      "returned": {"type": "boolean"}}}}},
            "note": {"title": "Note", "title_field": "text", "permissions": roles,
                     "fields": {"member": {"type": "link", "entity": "member"}, "text": {"type": "string"}}},
            "fine": {"title": "Fine", "title_field": "book", "permissions": roles,
                     "fields": {"member": {"type": "link", "entity": "member", "required": True},
                                "book": {"type": "string"}, "days": {"type": "integer"},
                                "amount": {"type": "money", "required": True},
                                "month": {"type": "string", "max_length": 7},
                                "batch_key": {"type": "string", "max_length": 200, "readonly": True}}},
        },
        "batches": {"batches": [batch]},
        "scripts": {"fines.py": SCRIPT},
    }


@pytest.fixture
def library(loom):
    loom.store.publish(library_app(), author="tester")
    loom.ids = seed(loom)
    return loom


def seed(loom) -> dict:
    """Five members (one inactive) with their loans, and a note; their ids by name."""
    rows = [("Анна", True, [("Война и мир", "2026-03-10", False), ("Идиот", "2026-03-30", True)]),
            ("Борис", True, [("Обломов", "2026-02-25", False)]),
            ("Вера", False, [("Бесы", "2026-03-01", False)]),  # inactive: not in the selection
            ("Глеб", True, []),
            ("Дина", True, [("Нос", "2026-03-31", False), ("Шинель", "2026-03-20", False)])]
    ids = {}
    for name, active, loans in rows:
        ids[name] = loom.records.create("library", "member", {
            "name": name, "active": active,
            "loans": [{"book": b, "due": d, "returned": r} for b, d, r in loans]})["id"]
    loom.records.create("library", "note", {"member": ids["Глеб"], "text": "потерял билет"})
    return ids


def fines(loom, month=None):
    rows = loom.records.find("library", "fine", where={"month": month} if month else None, limit=200)
    return sorted((r["book"], r["days"], Decimal(r["amount"])) for r in rows)


# March 2026 ends on the 31st: Война и мир 21 days, Обломов 34, Шинель 11; Нос is due that day.
MARCH = [("note: потерял билет", 0, Decimal("0.00")), ("Война и мир", 21, Decimal("220.50")),
         ("Обломов", 34, Decimal("357.00")), ("Шинель", 11, Decimal("115.50"))]


def test_a_run_goes_over_the_selection_in_chunks_and_a_rerun_replaces_its_results(library):
    run = library.batches.start("library", "fines", {"month": "2026-03"})
    assert run["state"] == "done" and run["total"] == 4 and run["done"] == 4
    assert run["chunks"] == 2 and run["results"] == 4 and run["run_key"] == "fines:month=2026-03"
    assert fines(library) == MARCH
    again = library.batches.start("library", "fines", {"month": "2026-03"})
    assert again["id"] == run["id"] and again["results"] == 4
    assert fines(library) == MARCH  # replaced, not doubled
    library.batches.start("library", "fines", {"month": "2026-04"})
    assert len(fines(library)) == 9 and fines(library, "2026-03") == MARCH
    # the rate is no key parameter: a rerun with another rate replaces March's fines
    library.batches.start("library", "fines", {"month": "2026-03", "rate": 2})
    assert fines(library, "2026-03")[1] == ("Война и мир", 21, Decimal("441.00"))
    assert len(fines(library)) == 9


def test_a_run_stopped_half_way_resumes_at_its_last_committed_chunk(library, frozen):
    frozen(dt.datetime(2026, 4, 1, 9, tzinfo=dt.timezone.utc))
    run = library.batches.start("library", "fines", {"month": "2026-03"}, enqueue=False)
    half = library.batches.work(run["id"], max_chunks=1)  # the worker dies after its first chunk
    assert half["state"] == "running" and half["done"] == 2 and half["chunks"] == 1
    assert len(fines(library)) == 2
    with pytest.raises(Conflict, match="is running"):  # still within its lease
        library.batches.start("library", "fines", {"month": "2026-03"})
    frozen(dt.datetime(2026, 4, 1, 9, 5, tzinfo=dt.timezone.utc))  # the lease ran out: the scheduler resumes it
    assert Scheduler(library).tick()["batches"] == 1
    done = library.batches.get(run["id"])
    assert done["state"] == "done" and done["done"] == 4 and done["chunks"] == 2
    assert fines(library) == MARCH
    with library.engine.connect() as c:
        actions = [a for a, in c.execute(select(platform.audit.c.action).where(
            platform.audit.c.action.like("batch_%")).order_by(platform.audit.c.seq))]
    assert actions == ["batch_start", "batch_chunk", "batch_chunk", "batch_done"]


def test_an_explicit_list_replaces_only_its_records_results(library):
    library.batches.start("library", "fines", {"month": "2026-03"})
    run = library.batches.start("library", "fines", {"month": "2026-03", "rate": 3}, ids=[library.ids["Борис"]])
    assert run["total"] == 1 and run["results"] == 1
    got = dict(((b, a) for b, _, a in fines(library)))
    assert got["Обломов"] == Decimal("1071.00") and got["Война и мир"] == Decimal("220.50")


def test_a_failing_chunk_fails_the_run_and_keeps_what_committed(library):
    broken = library_app()
    broken["scripts"]["fines.py"] = SCRIPT.replace('"amount": Decimal', '"amount": 1 / 0 * Decimal')
    library.store.publish(broken, author="tester")
    run = library.batches.start("library", "fines", {"month": "2026-03"})
    assert run["state"] == "failed" and run["done"] == 0
    assert "division by zero" in str(run["error"])
    library.store.publish(library_app(), author="tester")
    resumed = library.batches.resume(run["id"])
    assert resumed["state"] == "done" and fines(library) == MARCH


def test_parameters_and_permissions(library):
    with pytest.raises(ValidationFailed) as exc:
        library.batches.start("library", "fines", {"month": "март", "colour": "red"})
    assert {e.field for e in exc.value.errors} == {"month", "colour"}
    with pytest.raises(ValidationFailed, match="is required"):
        library.batches.start("library", "fines", {})
    reader = library.accounts.actor_for_id(user(library, "reader1", "reader", app="library"))
    with pytest.raises(Forbidden, match="librarian"):
        library.batches.start("library", "fines", {"month": "2026-03"}, actor=reader)


@pytest.mark.parametrize("change, where, message", [
    ({"key": ["period"]}, "key[0]", "unknown parameter 'period'"),
    ({"results": "note"}, "results", "needs a text field 'batch_key'"),
    ({"source": "members"}, "source", "unknown entity 'members'"),
    ({"script": "fines.py:fine"}, "", "defines no function 'fine'"),
    ({"source_field": "book"}, "source_field", "must link to member"),
    ({"load": [{"name": "notes", "entity": "note", "by": "text"}]}, "load[0].by", "must link to member"),
    ({"roles": ["cashier"]}, "roles[0]", "unknown role 'cashier'"),
    ({"filter": [{"field": "activ", "value": True}]}, "filter[0].field", "unknown field 'activ'"),
])
def test_publishing_names_a_wrong_reference(loom, change, where, message):
    with pytest.raises(MetadataError) as exc:
        loom.store.publish(library_app(**change), author="tester")
    text = str(exc.value)
    assert message in text and "batches" in text and (not where or where in text), text


def test_results_with_save_hooks_are_refused(loom):
    doc = library_app()
    doc["entities"]["fine"]["hooks"] = {"before_save": "fines.py:fines"}
    with pytest.raises(MetadataError, match="save hooks"):
        loom.store.publish(doc, author="tester")


# ---------------------------------------------------------------------- through HTTP
@pytest.fixture
def web(library, tmp_path):
    from runtime.core.config import Settings
    from runtime.web import create_app
    return create_app(Settings(tmp_path, library.database_url), library)


def test_the_api_starts_a_run_shows_its_progress_and_refuses_others(library, web):
    from tests.api.conftest import Client
    librarian = user(library, "lib1", "librarian", app="library")
    reader = user(library, "rdr1", "reader", app="library")
    api = Client(web.test_client(), library.accounts.issue_token(librarian))
    [listed] = api.get("/api/v1/library/_batches").get_json()
    assert listed["name"] == "fines" and listed["params"]["month"]["type"] == "month"
    started = api.post("/api/v1/library/_batches/fines/runs", json={"params": {"month": "2026-03"}})
    assert started.status_code == 202, started.get_json()
    run = api.get(started.headers["Location"]).get_json()
    assert (run["state"], run["percent"], run["results"]) == ("done", 100, 4)
    bad = api.post("/api/v1/library/_batches/fines/runs", json={"params": {"month": "13/2026"}})
    assert bad.status_code == 422 and "month" in bad.get_data(as_text=True)
    other = Client(web.test_client(), library.accounts.issue_token(reader))
    assert other.get("/api/v1/library/_batches").get_json() == []
    assert other.post("/api/v1/library/_batches/fines/runs", json={"params": {"month": "2026-03"}}).status_code == 403
    assert other.get(started.headers["Location"]).status_code == 403
    assert fines(library) == MARCH


def test_the_start_form_and_the_progress_page(library, web):
    from tests.ui.conftest import Browser
    from .conftest import PASSWORD
    user(library, "lib2", "librarian", app="library")
    page = Browser(web.test_client())
    page.login("lib2", PASSWORD)
    listing = page.get("/ui/library/batches").get_data(as_text=True)
    assert 'id="batch-fines"' in listing and "Штрафы за месяц" in listing and 'type="month"' in listing
    assert 'id="nav-batches"' in listing
    answer = page.post("/ui/library/batches/fines", {"month": "2026-03"}, token_from="/ui/library/batches")
    assert answer.status_code == 302
    progress = page.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'id="batch-bar"' in progress and 'value="100"' in progress and "fines:month=2026-03" in progress
    refused = page.post("/ui/library/batches/fines", {"month": ""}, token_from="/ui/library/batches")
    assert refused.status_code == 400
    user(library, "rdr2", "reader", app="library")
    other = Browser(web.test_client())
    other.login("rdr2", PASSWORD)
    assert other.get("/ui/library/batches").status_code == 403
    assert 'id="nav-batches"' not in other.get("/ui/library/member").get_data(as_text=True)


def test_loom_batch_runs_and_resumes_from_the_command_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from runtime.cli import main
    from tests.conftest import make_loom
    db = f"sqlite:///{tmp_path / 'loom.db'}"
    monkeypatch.setenv("LOOM_DATABASE_URL", db)
    monkeypatch.setenv("LOOM_HOME", str(tmp_path))
    loom = make_loom(db, tmp_path / "files")
    loom.store.publish(library_app(), author="tester")
    seed(loom)
    run = loom.batches.start("library", "fines", {"month": "2026-02"}, enqueue=False)
    loom.batches.work(run["id"], max_chunks=1)
    loom.engine.dispose()
    runner = CliRunner()
    done = runner.invoke(main, ["batch", "library", "fines", "month=2026-03"])
    assert done.exit_code == 0, done.output
    assert "fines:month=2026-03: done, 4 of 4 records, 4 results" in done.output
    resumed = runner.invoke(main, ["batch", "library", "fines", "--resume", str(run["id"])])
    assert resumed.exit_code == 1 and "is running" in resumed.output  # its lease still holds
    wrong = runner.invoke(main, ["batch", "library", "fine", "month=2026-03"])
    assert wrong.exit_code == 1 and "batches: fines" in wrong.output
    bad = runner.invoke(main, ["batch", "library", "fines", "month"])
    assert bad.exit_code == 1 and "name=value" in bad.output
