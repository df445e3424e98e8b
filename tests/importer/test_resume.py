"""An import stopped after its first chunk continues after its last committed row: the same
rows in the end, none twice; on SQLite and PostgreSQL through the job itself, and on
PostgreSQL with Redis through real ``loom worker`` processes, one killed mid-import."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from metamodel import read_folder
from plugins.importer import engine
from runtime.core.loom import Loom
from runtime.errors import Conflict
from runtime.extension.platform import Platform
from tests.jobs.conftest import pytest_runtest_makereport, services  # noqa: F401 - the RQ harness

from .conftest import APP, PASSWORD


def csv_of(n: int) -> bytes:
    return ("Наименование;Артикул\n" + "".join(f"Товар {i};R-{i:05d}\n" for i in range(1, n + 1))).encode()


def start(platform: Platform, rows: int, chunk: int) -> int:
    params = {"filename": "много.csv", "username": "klara", "lang": "ru", "header": ["Наименование", "Артикул"],
              "mapping": {"Наименование": "name", "Артикул": "code"}, "chunk": chunk}
    run_id = platform.start_file_run(engine.KIND, "stock", "product", "klara", params, csv_of(rows), rows)
    assert platform.set_file_run_state(run_id, "queued", only_from=("new",))
    return run_id


def counts(loom: Loom) -> tuple[int, int]:
    with loom.engine.connect() as c:
        return tuple(c.execute(text("SELECT count(*), count(DISTINCT code) FROM stock__product")).one())


def test_a_stopped_import_continues_after_its_last_committed_row(stock):
    platform = Platform(stock)
    run_id = start(platform, 45, chunk=10)
    assert engine.run(platform, run_id, chunks=1) == "running"  # the worker stops after one chunk
    run = platform.file_run(run_id)
    assert (run["state"], run["done"], run["written"]) == ("running", 10, 10) and counts(stock) == (10, 10)

    with pytest.raises(Conflict):  # a worker that read the run before that chunk cannot write it again
        with platform.file_run_step(run_id, 0, 10, "klara"):
            pass
    assert engine.run(platform, run_id) == "done"  # a new job continues
    assert engine.run(platform, run_id) == "done"  # and a duplicate of it finds nothing to do
    run = platform.file_run(run_id)
    assert (run["state"], run["done"], run["written"], run["rejected"]) == ("done", 45, 45, 0)
    assert counts(stock) == (45, 45)
    assert platform.file_run_content(run_id) == b""  # a finished run lets its file go


def test_a_failing_chunk_rolls_back_whole_and_the_run_says_why(stock):
    platform = Platform(stock)
    run_id = start(platform, 25, chunk=10)
    engine.run(platform, run_id, chunks=1)
    stock.accounts.update_user(stock.actor("klara").id, roles=[])  # the importer lost the right meanwhile
    assert engine.run(platform, run_id) == "done"
    run = platform.file_run(run_id)
    assert (run["done"], run["written"], run["rejected"]) == (25, 10, 15)  # refused rows, not a crash
    assert "may not create" in platform.file_run_rejects(run_id)[0]["error"]


@pytest.mark.postgres
def test_a_killed_worker_is_replaced_and_the_import_finishes_once(services):
    loom = services.loom
    doc, _ = read_folder(APP)
    loom.store.publish(doc, author="tester")
    loom.accounts.create_user("klara", PASSWORD, roles=["stock:clerk"])
    platform = Platform(loom)
    rows = 1500
    run_id = start(platform, rows, chunk=25)
    platform.enqueue(engine.JOB, run_id)
    worker = services.worker()
    deadline = time.monotonic() + 60
    while platform.file_run(run_id)["done"] < 25:
        assert time.monotonic() < deadline, services.logs()
        time.sleep(0.02)
    services.kill(worker)  # SIGKILL mid-import: the chunk in flight rolls back
    stopped = platform.file_run(run_id)
    assert stopped["state"] == "running" and 25 <= stopped["done"] < rows, stopped
    assert counts(loom)[0] == stopped["done"]  # exactly the committed chunks

    services.worker()  # a restarted worker queues the unfinished import again (loom_worker_started)
    deadline = time.monotonic() + 120
    while platform.file_run(run_id)["state"] != "done":
        assert time.monotonic() < deadline, services.logs()
        time.sleep(0.2)
    assert counts(loom) == (rows, rows)
    assert platform.file_run(run_id)["written"] == rows


def test_the_progress_page_queues_again_an_import_whose_job_went_silent(stock, served):
    import datetime as dt

    from sqlalchemy import update

    from runtime.data import tables

    from .conftest import Client
    platform = Platform(stock)
    run_id = start(platform, 30, chunk=10)
    engine.run(platform, run_id, chunks=1)  # then its worker died
    client = Client(served)
    client.sign_in("klara")
    path = f"/import/stock/product/{run_id}/status.json"
    assert client.json(path)["state"] == "running"  # recently active: left alone
    assert counts(stock) == (10, 10)
    with stock.engine.begin() as c:
        c.execute(update(tables.file_run).where(tables.file_run.c.id == run_id)
                  .values(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)))
    client.json(path)  # silent for ten minutes: queued again
    deadline = time.monotonic() + 30
    while client.json(path)["state"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert counts(stock) == (30, 30)
