"""Fixtures of the portal tests: the service desk with two client organisations, a contact of
each, staff, requests with files and comments of both kinds, and articles."""
from __future__ import annotations

import io
import re
import socket
import threading

import pytest

from runtime.core.config import Settings
from runtime.data.files import Upload
from runtime.web import create_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "portal-pass-1"
APP = "service_desk"


class Client:
    """A test client keeping its cookie, posting forms with the CSRF token of the page they are on."""

    def __init__(self, http):
        self.http = http

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def post(self, url, data=None, token_from=None, **kw):
        data = dict(data or {})
        page = self.http.get(token_from or url).get_data(as_text=True)
        match = TOKEN.search(page)
        if match:
            data.setdefault("csrf_token", match.group(1))
        return self.http.post(url, data=data, **kw)

    def login(self, username, password=PASSWORD):
        return self.post(f"/portal/{APP}/login", {"username": username, "password": password})


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        from email import message_from_bytes, policy
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def links(self, to: str) -> list[str]:
        out = []
        for rcpt, msg in self.messages:
            if to in rcpt:
                out += re.findall(r"https?://\S+", msg.get_content())
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield inbox
    controller.stop()


def seed(loom) -> dict:
    """Two client organisations with a contact, a request, files and comments each; staff; articles."""
    create = loom.records.create
    dep = create(APP, "department", {"name": "Отдел сопровождения"})
    mod = create(APP, "module", {"name": "СЭД", "code": "EDMS", "department": dep["id"]})
    orgs = [create(APP, "organization", {"short_name": name, "inn": inn})
            for name, inn in (("Минздрав", "6658000001"), ("Минфин", "6658000002"))]
    accounts = loom.accounts
    accounts.create_user("agent", PASSWORD, full_name="Анна Агентова", roles=[f"{APP}:agent"])
    accounts.create_user("dispatcher", PASSWORD, full_name="Дмитрий Диспетчеров", roles=[f"{APP}:dispatcher"])
    out = {"module": mod, "orgs": orgs, "users": [], "requests": [], "secrets": [], "desk": loom}
    for i, org in enumerate(orgs):
        name = f"client{i + 1}@org{i + 1}.example"
        accounts.create_user(name, PASSWORD, email=name, full_name=f"Клиент {i + 1}", roles=[f"{APP}:client"],
                             organization=f"{APP}.organization:{org['id']}", external=True)
        secret = f"SECRET-{i + 1}-internal"
        req = create(APP, "request", {
            "subject": f"Не открывается СЭД у организации {i + 1}", "description": f"Описание заявки {i + 1}",
            "organization": org["id"], "module": mod["id"], "labor_hours": "2.5", "hourly_rate": "1000"},
            files={"attachments": [Upload(f"screen{i + 1}.png", "image/png", io.BytesIO(b"png-%d" % i))]})
        staff = loom.actor("agent")
        loom.records.comment(APP, "request", req["id"], f"Публичный ответ {i + 1}", staff, public=True)
        loom.records.comment(APP, "request", req["id"], secret, staff)
        out["users"].append(name)
        out["requests"].append(req)
        out["secrets"].append(secret)
    create(APP, "article", {"title": "Как сбросить пароль", "kind": "instruction", "category": "access",
                            "published": True, "body": "Нажмите «Забыли пароль?» и откройте ссылку из письма."})
    create(APP, "article", {"title": "Внутренний регламент паролей", "kind": "article", "category": "access",
                            "published": False, "body": "СЕКРЕТНАЯ статья для специалистов: смена паролей."})
    return out


@pytest.fixture
def desk(service_desk):
    return service_desk


@pytest.fixture
def web(desk, tmp_path):
    app = create_app(Settings(tmp_path, desk.database_url), desk)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def world(desk):
    return seed(desk)


@pytest.fixture
def client(web, world):
    return Client(web.test_client())
