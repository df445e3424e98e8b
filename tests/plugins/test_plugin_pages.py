"""A plugin's page that lets a record-service error through answers as the platform's pages
do: 404, 403 and 422, a page for a browser and a problem document for a JSON client, though
the plugin registered no error handler of its own."""
from __future__ import annotations

import pytest
from flask import Blueprint

from runtime.core.config import Settings
from runtime.data.values import FieldError
from runtime.errors import Forbidden, NotFound, ValidationFailed
from runtime.extension import PluginHost, hookimpl
from runtime.web import create_app
from tests.conftest import make_loom

bp = Blueprint("shelf", __name__, url_prefix="/shelf")
FAILURES = {"missing": NotFound("no record 7"), "secret": Forbidden("not yours"),
            "wrong": ValidationFailed([FieldError("title", "is required")])}


@bp.get("/<what>")
def page(what):
    raise FAILURES[what]


class Shelf:
    @staticmethod
    @hookimpl
    def loom_web_app(app, loom):
        app.register_blueprint(bp)


@pytest.fixture
def client(tmp_path):
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.plugins = PluginHost(extra=[("shelf", Shelf)])
    yield create_app(Settings(tmp_path, loom.database_url, secret="s"), loom).test_client()
    loom.engine.dispose()


@pytest.mark.parametrize(("what", "status", "text"), [
    ("missing", 404, "no record 7"), ("secret", 403, "not yours"), ("wrong", 422, "title: is required")])
def test_record_service_errors_on_a_plugin_page(client, what, status, text):
    page = client.get(f"/shelf/{what}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == status and page.mimetype == "text/html"
    assert text in page.get_data(as_text=True)
    problem = client.get(f"/shelf/{what}", headers={"Accept": "application/json"})
    assert problem.status_code == status and problem.mimetype == "application/problem+json"
    assert problem.get_json()["status"] == status and problem.get_json()["detail"] == text
