"""The import in headless Chromium: from the product list's "Импорт" button through upload,
column mapping and the dry run to the finished import with its progress bar and the file of
rejected rows. Screenshots go to docs/screenshots/import-*.png."""
from __future__ import annotations

import pytest

from tests.conftest import make_loom
from tests.ui.test_browser import SHOTS, _need_browser, russian_page

from .conftest import APP, PASSWORD, serve


@pytest.fixture
def site(tmp_path):
    loom = make_loom(f"sqlite:///{tmp_path / 'loom.db'}", tmp_path / "files")
    loom.store.install(APP, author="tester")
    loom.accounts.create_user("klara", PASSWORD, full_name="Клара Кладовщикова", roles=["stock:clerk"])
    loom.records.create("stock", "supplier", {"name": "Северный завод", "region": "north"})
    loom.records.create("stock", "supplier", {"name": "Южная база", "region": "south"})
    server = serve(loom, tmp_path)
    yield f"http://127.0.0.1:{server.server_port}", loom
    server.shutdown()
    loom.engine.dispose()


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"import-{name}.png"), full_page=True)


def test_upload_map_check_and_import_in_a_browser(site, tmp_path):
    _need_browser()
    from playwright.sync_api import expect
    base, loom = site
    SHOTS.mkdir(parents=True, exist_ok=True)
    lines = ["Товар;Артикул;Цена;Вид;Регион;Поставщик;Дата поставки"]
    for i in range(1, 41):
        kind, region, supplier = ("Продукты", "north", "Северный завод") if i % 2 else ("tool", "south", "SUP-002")
        lines.append(f"Позиция {i};P-{i:03d};{i * 10},50;{kind};{region};{supplier};0{1 + i % 9}.12.2026")
    lines[7] = "Гвозди;P-007;5;tool;north;Южная база;"   # the link filter refuses it
    lines[12] = ";P-012;12;food;;;"                       # no name
    lines[20] = "Клей;P-020;дёшево;tool;;;"               # not a number
    upload = tmp_path / "товары.csv"
    upload.write_bytes("\r\n".join(lines).encode("cp1251"))
    with russian_page(1180, 860) as page:
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "klara")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{base}/ui/stock/product")
        page.click("[data-plugin-button=import]")
        page.set_input_files("input[name=file]", str(upload))
        shot(page, "upload")
        page.click("#import-upload button[type=submit]")

        expect(page.locator("#import-map")).to_be_visible()
        expect(page.locator("text=Кодировка cp1251, разделитель ;")).to_be_visible()
        # "Товар" names no field: the analyst maps it by hand
        assert page.locator("select[data-column='Артикул']").input_value() == "code"
        page.select_option("select[data-column='Товар']", "name")
        shot(page, "map")
        page.click("#dry-run")

        expect(page.locator("#check-summary")).to_contain_text("можно сохранить: 37, с ошибками: 3")
        expect(page.locator("#check-errors tbody tr")).to_have_count(3)
        expect(page.locator("#check-errors")).to_contain_text("Поставщик")
        assert loom.records.find("stock", "product") == []  # the dry run wrote nothing
        shot(page, "check")
        page.click("#import-start button[type=submit]")

        expect(page.locator("#import-status")).to_have_attribute("data-state", "done", timeout=60_000)
        expect(page.locator("#import-written")).to_have_text("37")
        expect(page.locator("#import-rejected")).to_have_text("3")
        expect(page.locator("#import-bar")).to_have_attribute("aria-valuenow", "100")
        with page.expect_download() as download:
            page.click("#rejected-file")
        rejected = download.value.path().read_bytes().decode("utf-8-sig").splitlines()
        assert len(rejected) == 4 and rejected[0].endswith(";Ошибка") and rejected[1].startswith("Гвозди;P-007")
        shot(page, "progress")
    assert len(loom.records.find("stock", "product", limit=100)) == 37
