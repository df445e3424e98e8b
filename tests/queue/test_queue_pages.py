"""Queue pages on an app of their own (a bank branch): the section is checked at publish; the
terminal makes a record of the declared entity with the chosen choice; the board lists the
records called to a desk and counts those waiting; another app's queue or a user without rights
gets nothing."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from metamodel import MetadataError, read_folder
from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import make_loom
from tests.ui.conftest import Browser

APP = Path(__file__).parent / "bank_app"


@pytest.fixture
def bank(db_url, tmp_path):
    loom = make_loom(db_url, tmp_path / "files")
    loom.store.install(APP, author="tester")
    loom.accounts.create_user("kassa", "kassa-pass-1", roles=["bank:teller"])
    loom.accounts.create_user("outsider", "outsider-pass-1")
    branch = loom.records.create("bank", "branch", {"name": "Отделение на Ленина"})
    desk = loom.records.create("bank", "desk", {"label": "Стойка 3"})
    web = create_app(Settings(tmp_path, loom.database_url, secret="queue-tests"), loom)
    yield loom, web, branch, desk
    loom.engine.dispose()


def test_terminal_and_board_of_another_apps_queue(bank):
    loom, web, branch, desk = bank
    kiosk = Browser(web.test_client())
    kiosk.post("/login", {"username": "kassa", "password": "kassa-pass-1"})
    url = f"/queue/bank/hall/{branch['id']}"
    page = kiosk.get(url + "/terminal").get_data(as_text=True)
    assert "Выберите услугу" in page and "Кредиты" in page and "Отделение на Ленина" in page
    taken = kiosk.post(url + "/terminal", {"choice": "loans"}).get_data(as_text=True)
    assert 'id="queue-number">L1<' in taken
    [visit] = loom.records.find("bank", "visit", None, ["id"], 10, loom.actor("kassa"))
    assert (visit["branch"], visit["purpose"], visit["status"]) == (branch["id"], "loans", "queued")
    assert 'id="queue-waiting">1<' in kiosk.get(url + "/board/rows").get_data(as_text=True)
    loom.records.update("bank", "visit", visit["id"], {"desk": desk["id"]}, visit["row_version"], loom.actor("kassa"))
    loom.workflow.transition("bank", "visit", visit["id"], "call", {}, actor=loom.actor("kassa"))
    rows = kiosk.get(url + "/board/rows").get_data(as_text=True)
    assert "<td>L1</td><td>Стойка 3</td>" in rows and 'id="queue-waiting">0<' in rows
    assert kiosk.post(url + "/terminal", {"choice": "mortgage"}).status_code == 400
    assert kiosk.get(f"/queue/bank/nothing/{branch['id']}/board").status_code == 404
    outsider = Browser(web.test_client())
    outsider.post("/login", {"username": "outsider", "password": "outsider-pass-1"})
    assert outsider.get(url + "/board").status_code == 403
    assert outsider.get(url + "/board/rows").status_code == 403
    assert outsider.get(url + "/terminal").status_code == 403


def test_publishing_names_a_wrong_field_and_status(loom):
    doc, _ = read_folder(APP)
    doc = copy.deepcopy(doc)
    hall = doc["extensions"]["queue"]["queues"]["hall"]
    hall["choice"], hall["called"] = "code", ["at_dsk"]
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="tester")
    message = str(err.value)
    assert "queues.hall.choice" in message and "'code' is a string field, expected choice" in message
    assert "queues.hall.called[0]" in message and "no status 'at_dsk'" in message
