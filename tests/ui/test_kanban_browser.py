"""The service desk's request board in a real browser: a card dragged to another column fires
the transition and stays there; a move no transition allows is refused with the reason and the
card returns to its column."""
from __future__ import annotations

from pathlib import Path

from .test_browser import _need_browser, russian_page, server, sign_in  # noqa: F401  (the served app)

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_a_dragged_card_moves_and_a_refused_one_returns(server):  # noqa: F811
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    registered = loom.records.find("service_desk", "request", {"status": "registered"})
    assert len(registered) >= 2
    first, second = registered[0], registered[1]
    with russian_page(1400, 860) as page:
        sign_in(page, base, "agent")
        page.goto(f"{base}/ui/service_desk/request?view=board")  # a kanban view opens as a board
        column = page.locator(".board-column[data-value=in_work]")
        expect(column.locator("h2")).to_contain_text("В работе")
        before = int(column.locator(".count").inner_text())
        page.locator(f".board-card[data-id='{first['id']}']").drag_to(column.locator(".board-cards"))
        expect(column.locator(f".board-card[data-id='{first['id']}']")).to_be_visible()
        expect(column.locator(".count")).to_have_text(str(before + 1))
        page.wait_for_timeout(500)  # the card moves at once; let the request finish before reading the database
        assert loom.records.get("service_desk", "request", first["id"])["status"] == "in_work"
        page.screenshot(path=str(SHOTS / "kanban.png"))
        done = page.locator(".board-column[data-value=done]")
        page.locator(f".board-card[data-id='{second['id']}']").drag_to(done.locator(".board-cards"))
        expect(page.locator("#board-message")).to_contain_text("Нет перехода")
        expect(page.locator(f".board-column[data-value=registered] .board-card[data-id='{second['id']}']")).to_be_visible()
        assert loom.records.get("service_desk", "request", second["id"])["status"] == "registered"


def test_swimlanes_show_people_by_name_and_a_card_dragged_to_another_lane_changes_its_field(server):  # noqa: F811
    """The request board by assignee: one lane per person, named, and the lane without an
    assignee; a card dragged into another lane gets that lane's value (an edit the agent may
    make), and one dragged to another column of its lane fires the transition."""
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    agent = loom.actor("agent")
    first, second = loom.records.find("service_desk", "request", {"status": "registered"})[:2]
    loom.records.update("service_desk", "request", first["id"], {"assignee": agent.id}, first["row_version"])
    with russian_page(1400, 860) as page:
        sign_in(page, base, "agent")
        page.goto(f"{base}/ui/service_desk/request/board/team_board")
        lane = page.locator(f".board-lane[data-lane='{agent.id}']")
        expect(lane.locator(".board-lane-title")).to_have_text("Анна Агентова")
        expect(page.locator(".board-lane[data-lane=''] .board-lane-title")).to_have_text("Без значения")
        card = lane.locator(f".board-card[data-id='{first['id']}']")
        expect(card).to_be_visible()
        expect(card).not_to_contain_text("Исполнитель")  # the lane says who; the card does not repeat it
        page.locator(f".board-card[data-id='{second['id']}']").drag_to(
            lane.locator(".board-column[data-value=registered] .board-cards"))
        expect(lane.locator(f".board-card[data-id='{second['id']}']")).to_be_visible()
        page.wait_for_timeout(500)
        assert loom.records.get("service_desk", "request", second["id"])["assignee"] == agent.id
        page.locator(f".board-card[data-id='{second['id']}']").drag_to(
            lane.locator(".board-column[data-value=in_work] .board-cards"))
        expect(lane.locator(f".board-column[data-value=in_work] .board-card[data-id='{second['id']}']")).to_be_visible()
        expect(page.locator(".board-head[data-value=in_work] .total")).to_have_text("1")
        page.wait_for_timeout(500)
        moved = loom.records.get("service_desk", "request", second["id"])
        assert (moved["status"], moved["assignee"]) == ("in_work", agent.id)
        page.screenshot(path=str(SHOTS / "kanban-swimlanes.png"))
