"""The CMDB lab (tests/ui/lab/cmdb_lab): a small app for link filters, the record graph and the
organiser, shaped unlike the service desk. ``seed`` gives every test the same world:

* organisations Минздрав (o1) and Минфин (o2); services Почта (o1's contract), СЭД (o2's),
  Архив (inactive, in o1's contract);
* configuration items of o1: Портал -runs_on-> Сервер приложений -depends_on-> База (confidential)
  -part_of-> Стойка, and Шлюз of o2;
* department Эксплуатация whose team is the group ``ops`` (eng1 in it, eng2 not);
* users: eng1, eng2 (engineers), clerk (sees non-confidential items and the tickets they registered).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from runtime import clock
from runtime.core.config import Settings
from runtime.data import tables as platform
from runtime.web import create_app
from tests.api.conftest import Client
from tests.ui.conftest import Browser

LAB = Path(__file__).resolve().parent / "cmdb_lab"
PASSWORD = "lab-pass-123"
APP = "cmdb_lab"


def seed(loom) -> dict:
    create = lambda entity, data: loom.records.create(APP, entity, data)["id"]  # noqa: E731
    ids = {"o1": create("organization", {"name": "Минздрав"}), "o2": create("organization", {"name": "Минфин"})}
    ids.update(mail=create("service", {"name": "Почта"}), edms=create("service", {"name": "СЭД"}),
               archive=create("service", {"name": "Архив", "active": False}))
    create("contract", {"code": "К-1", "organization": ids["o1"], "services": [ids["mail"], ids["archive"]]})
    create("contract", {"code": "К-2", "organization": ids["o2"], "services": [ids["edms"]]})
    for key, name, kind, org, secret in (("portal", "Портал", "service", "o1", False),
                                         ("server", "Сервер приложений", "hardware", "o1", False),
                                         ("db", "База", "software", "o1", True),
                                         ("rack", "Стойка", "hardware", "o1", False),
                                         ("gate", "Шлюз", "hardware", "o2", False)):
        ids[key] = create("ci", {"name": name, "kind": kind, "organization": ids[org], "confidential": secret})
    for a, b, kind in (("portal", "server", "runs_on"), ("server", "db", "depends_on"), ("db", "rack", "part_of")):
        create("ci_relation", {"source": ids[a], "target": ids[b], "kind": kind})
    ops = loom.accounts.create_group("ops", title={"ru": "Эксплуатация", "en": "Operations"})
    ids["ops_dep"] = create("department", {"name": "Эксплуатация", "team": "ops"})
    ids["bare_dep"] = create("department", {"name": "Без группы"})
    for name, full, role in (("eng1", "Инженер Первый", "engineer"), ("eng2", "Инженер Второй", "engineer"),
                             ("clerk", "Диспетчер Анна", "clerk")):
        ids[name] = loom.accounts.create_user(name, PASSWORD, full_name=full, roles=[f"{APP}:{role}"])
    loom.accounts.add_to_group(ids["eng1"], ops)
    return ids


@pytest.fixture
def lab(loom):
    loom.store.install(LAB, author="tester")
    return loom


@pytest.fixture
def world(lab) -> dict:
    return seed(lab)


@pytest.fixture
def web(lab, tmp_path):
    app = create_app(Settings(tmp_path, lab.database_url), lab)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def api(web, lab, world):
    """``api("eng1")``: a JSON client with that user's token."""
    def client(username: str) -> Client:
        with lab.engine.connect() as c:
            uid = c.execute(select(platform.user.c.id).where(platform.user.c.username == username)).scalar_one()
        return Client(web.test_client(), lab.accounts.issue_token(uid))
    return client


@pytest.fixture
def signed_in(web, world):
    """``signed_in("eng1")``: a cookie session of that user."""
    def session(username: str) -> Browser:
        browser = Browser(web.test_client())
        assert browser.login(username, PASSWORD).status_code == 302
        return browser
    return session


@pytest.fixture
def frozen():
    yield clock.freeze
    clock.thaw()
