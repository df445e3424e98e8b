"""Fixtures of the import tests: the stock app (products linked to suppliers by a link
filter on their region), a clerk who may create products, a viewer who may not, and the
web app served on loopback with a cookie-keeping HTTP client that uploads files."""
from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import make_loom

APP = Path(__file__).resolve().parent / "stock_app"
PASSWORD = "stock-pass-1"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Client:
    """What a browser does over HTTP, minus the rendering: cookies, forms with their CSRF
    token, file uploads; redirects are followed and the final URL kept."""

    def __init__(self, base: str):
        self.base, self.url = base, None
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        status, body = self.raw(path)
        return status, body.decode()

    def raw(self, path: str) -> tuple[int, bytes]:
        return self._open(urllib.request.Request(self.base + path))

    def json(self, path: str) -> dict:
        status, body = self.raw(path)
        assert status == 200, body
        return json.loads(body)

    def post(self, path: str, form: dict, token: bool = True) -> tuple[int, str]:
        form = dict(form)
        if token:
            form.setdefault("csrf_token", self.token())
        data = urllib.parse.urlencode(form).encode()
        status, body = self._open(urllib.request.Request(self.base + path, data=data, method="POST"))
        return status, body.decode()

    def upload(self, path: str, filename: str, content: bytes, token: bool = True) -> tuple[int, str]:
        boundary = uuid.uuid4().hex
        parts = []
        if token:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                         f'{self.token()}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     f'Content-Type: application/octet-stream\r\n\r\n'.encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        request = urllib.request.Request(self.base + path, data=b"".join(parts), method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        status, body = self._open(request)
        return status, body.decode()

    def _open(self, request) -> tuple[int, bytes]:
        try:
            with self.opener.open(request, timeout=60) as response:
                self.url = response.url
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def token(self) -> str:
        _, page = self.get("/login")
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def sign_in(self, username: str) -> None:
        status, _ = self.post("/login", {"username": username, "password": PASSWORD})
        assert status == 200 and not self.url.endswith("/login"), f"{username} could not sign in"


@pytest.fixture
def stock(db_url, tmp_path):
    loom = make_loom(db_url, tmp_path / "files")
    loom.store.install(APP, author="tester")
    loom.accounts.create_user("klara", PASSWORD, full_name="Клара Кладовщикова", roles=["stock:clerk"])
    loom.accounts.create_user("vova", PASSWORD, full_name="Вова Наблюдатель", roles=["stock:viewer"])
    create = loom.records.create
    create("stock", "supplier", {"name": "Северный завод", "region": "north"})
    create("stock", "supplier", {"name": "Южная база", "region": "south"})
    yield loom
    loom.engine.dispose()


def serve(loom, tmp_path):
    from werkzeug.serving import make_server
    app = create_app(Settings(tmp_path, loom.database_url, secret="import-tests"), loom)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def served(stock, tmp_path):
    server = serve(stock, tmp_path)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
