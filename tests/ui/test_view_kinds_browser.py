"""Calendar, Gantt and map views in a real browser: a planned work dragged to another day of the
works calendar changes its due date (and a user who may not edit it sees the entry return); a
municipal project's stages with dependencies show bars and the critical path; configuration items
with a point are markers on the map (no tiles: tests never reach the internet). Screenshots of the
four view kinds, desktop and phone, go to docs/screenshots/."""
from __future__ import annotations

from pathlib import Path

from ..conftest import APPS
from .conftest import PASSWORD
from .test_browser import _need_browser, russian_page, server, sign_in  # noqa: F401  (the served app)

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"": (1400, 1000), "-phone": (390, 844)}


def _shots(page, url: str, name: str) -> None:
    for suffix, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.goto(url)
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / f"{name}{suffix}.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_a_calendar_entry_dragged_to_another_day_changes_its_date(server):  # noqa: F811
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    create = loom.records.create
    work = create("service_desk", "planned_work", {"work": "Проверка резервных копий СЭД", "due": "2026-03-10"})
    create("service_desk", "planned_work", {"work": "Обновление антивирусных баз", "due": "2026-03-16"})
    create("service_desk", "planned_work", {"work": "Замена картриджей", "due": "2026-03-24"})
    loom.accounts.create_user("cab1", PASSWORD, full_name="Член КК", roles=["service_desk:cab"])
    url = f"{base}/ui/service_desk/planned_work?view=calendar&date=2026-03-01"  # a calendar view opens as one
    with russian_page(1400, 1000) as page:
        sign_in(page, base, "agent")
        page.goto(url)
        expect(page.locator("#cal-title")).to_contain_text("Март 2026")
        entry = page.locator(f".cal-entry[data-id='{work['id']}']")
        expect(entry).to_be_visible()
        assert entry.get_attribute("draggable") == "true"
        entry.drag_to(page.locator("td[data-date='2026-03-12']"))
        expect(page.locator(f"td[data-date='2026-03-12'] .cal-entry[data-id='{work['id']}']")).to_be_visible()
        page.wait_for_timeout(500)  # the entry moves at once; let the request finish before reading the database
        assert str(loom.records.get("service_desk", "planned_work", work["id"])["due"]) == "2026-03-12"
        page.goto(url)
        expect(page.locator(f"td[data-date='2026-03-12'] .cal-entry[data-id='{work['id']}']")).to_be_visible()
        _shots(page, url, "calendar")
        page.goto(url.replace("date=2026-03-01", "date=2026-03-12"))
        page.click(".cal-modes a[data-mode=week]")
        expect(page.locator("table.calendar.week td")).to_have_count(7)
        expect(page.locator("#cal-title")).to_contain_text("9 мар. 2026")
        # a stale row version is refused with its reason and the entry goes back
        now = loom.records.get("service_desk", "planned_work", work["id"])
        loom.records.update("service_desk", "planned_work", work["id"], {"work": "Проверка резервных копий"},
                            now["row_version"])
        page.locator(f".cal-entry[data-id='{work['id']}']").drag_to(page.locator("td[data-date='2026-03-13']"))
        expect(page.locator("#calendar-message")).not_to_be_empty()
        expect(page.locator(f"td[data-date='2026-03-12'] .cal-entry[data-id='{work['id']}']")).to_be_visible()
        assert str(loom.records.get("service_desk", "planned_work", work["id"])["due"]) == "2026-03-12"


def test_a_project_gantt_shows_bars_and_the_critical_path(server):  # noqa: F811
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    loom.store.install(APPS / "municipal", author="tester")
    pm = loom.accounts.create_user("pm", PASSWORD, full_name="Сергеев Виктор", roles=["municipal:project_manager"])
    create = loom.records.create
    project = create("municipal", "project", {"name": "Благоустройство набережной", "manager": pm})
    stages = {}
    for name, start, end, after, progress in [
            ("Проектирование", "2026-03-01", "2026-04-30", [], 100),
            ("Закупка", "2026-05-01", "2026-05-31", ["Проектирование"], 60),
            ("Согласования", "2026-05-01", "2026-05-20", ["Проектирование"], 40),
            ("Строительство", "2026-06-01", "2026-09-30", ["Закупка", "Согласования"], 10)]:
        stages[name] = create("municipal", "stage", {
            "project": project["id"], "name": name, "planned_start": start, "planned_end": end, "budget": "1000000.00",
            "progress": progress, "predecessors": [stages[a]["id"] for a in after]})
    url = f"{base}/ui/municipal/stage?view=plan&project={project['id']}"
    with russian_page(1400, 1000) as page:
        sign_in(page, base, "pm")
        page.goto(url)
        expect(page.locator(".gantt-bar")).to_have_count(4)
        critical = page.locator(".gantt-row:has(.gantt-bar.critical) .gantt-label a")
        expect(critical).to_have_text(["Проектирование", "Закупка", "Строительство"])
        expect(page.locator(f".gantt-row[data-id='{stages['Строительство']['id']}']")).to_contain_text("после")
        expect(page.locator(".gantt-progress").first).to_be_visible()
        _shots(page, url, "gantt")


def test_records_with_a_point_are_markers_on_the_map(server):  # noqa: F811
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    create = loom.records.create
    for name, site in [("Сервер СЭД", "56.8380,60.5970"), ("Сервер СУБД", "56.8381,60.5971"),
                       ("Коммутатор Минобра", "56.8395,60.6080"), ("Коммутатор Минздрава", "56.9000,60.7000")]:
        create("service_desk", "ci", {"name": name, "ci_type": "hardware", "site": site})
    create("service_desk", "ci", {"name": "Лицензия СЭД", "ci_type": "software"})  # no point: not on the map
    url = f"{base}/ui/service_desk/ci?view=map"
    with russian_page(1400, 1000) as page:
        sign_in(page, base, "agent")
        page.goto(url)
        expect(page.locator("#map-count")).to_have_text("4")
        expect(page.locator("#map .leaflet-marker-icon").first).to_be_visible()
        icons = page.locator("#map .leaflet-marker-icon")
        clusters = page.locator("#map .marker-cluster")
        # four points, the two servers close enough to share a cluster at this zoom
        counted = sum(int(t) for t in clusters.all_inner_texts()) + icons.count() - clusters.count()
        assert counted == 4
        assert not page.locator("#map .leaflet-tile").count()  # no tile source configured: nothing fetched
        _shots(page, url, "map")


def test_kanban_screenshots(server):  # noqa: F811
    _need_browser()
    from playwright.sync_api import expect
    base, _ = server
    with russian_page(1400, 1000) as page:
        sign_in(page, base, "agent")
        page.goto(f"{base}/ui/service_desk/request?view=board")
        expect(page.locator(".board-column").first).to_be_visible()
        _shots(page, f"{base}/ui/service_desk/request?view=board", "kanban")
