"""The review page: pairs side by side with differing fields marked, "same"/"different" buttons
(CSRF), permissions; one decision in headless Chromium, in Russian."""
from __future__ import annotations

import pytest

from plugins.masterdata import service, state
from runtime.plugin_api import Platform
from tests.conftest import make_loom
from tests.importer import conftest as web
from tests.masterdata.conftest import APP, PASSWORD, put
from tests.masterdata.synth import generate
from tests.ui.test_browser import _need_browser, russian_page

PAGE = "/masterdata/consumers/source_record"


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(web, "PASSWORD", PASSWORD)
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.install(APP, author="tester")
    loom.accounts.create_user("olga", PASSWORD, full_name="Ольга Операторова", roles=["consumers:operator"])
    loom.accounts.create_user("vera", PASSWORD, roles=[])
    platform = Platform(loom)
    records, _ = generate(600, seed=11)
    put(platform, records)
    service.run(platform, "consumers", "source_record")
    server = web.serve(loom, tmp_path)
    yield f"http://127.0.0.1:{server.server_port}", platform
    server.shutdown()
    loom.engine.dispose()


def test_pairs_need_the_role_and_decisions_the_csrf_token(site):
    base, platform = site
    waiting = len(state.review(platform, "consumers", "source_record")["pairs"])
    assert waiting
    outsider = web.Client(base)
    outsider.sign_in("vera")
    assert outsider.get(PAGE)[0] == 403
    olga = web.Client(base)
    olga.sign_in("olga")
    status, page = olga.get(PAGE)
    assert status == 200 and 'class="differs"' in page and 'data-verdict="same"' in page
    a, b, _ = state.review(platform, "consumers", "source_record")["pairs"][0]
    assert olga.post(PAGE + "/decide", {"a": a, "b": b, "verdict": "same"}, token=False)[0] == 400
    assert olga.post(PAGE + "/decide", {"a": a, "b": b, "verdict": "maybe"})[0] == 422
    assert olga.post(PAGE + "/decide", {"a": a, "b": b, "verdict": "different"})[0] == 200
    assert (min(a, b), max(a, b), "different") in state.decisions(platform, "consumers", "source_record")


def test_one_decision_in_a_browser(site):
    _need_browser()
    from playwright.sync_api import expect
    base, platform = site
    before = len(state.review(platform, "consumers", "source_record")["pairs"])
    with russian_page(1180, 860) as page:
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(base + PAGE)
        expect(page.locator("h1")).to_contain_text("Мастер-данные")
        first = page.locator(".masterdata-pair").first
        pair = first.get_attribute("data-pair")
        expect(first.locator("tr.differs").first).to_be_visible()
        first.locator("button[data-verdict=same]").click()
        expect(page.locator("#masterdata-waiting")).to_have_text(str(before - 1))
        assert page.locator(f".masterdata-pair[data-pair='{pair}']").count() == 0
    a, b = (int(x) for x in pair.split("-"))
    assert (min(a, b), max(a, b), "same") in state.decisions(platform, "consumers", "source_record")
