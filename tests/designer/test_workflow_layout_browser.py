"""Issue 19, item 4: the diagram lays itself out. In real headless Chromium, the workflow editor of
the shipped service desk's change (nine statuses, a transition from three of them) and request
(a return to the previous status) opens laid out by dagre; one click on "Tidy the layout" lays
it out again, and then no two statuses overlap, no two transition labels overlap and no label
covers a status, measured from the page (getBoundingClientRect). A new status lands in free
space, whether added by the button or by a double click on a status."""
from __future__ import annotations

import pytest

from designer.drafts import Drafts

from ..ui.test_browser import SHOTS
from .conftest import analyst_page, live_designer

BASE = "/designer/apps/service_desk"

# the boxes of the statuses and of the labels, as the browser draws them
BOXES = """() => {
  const box = n => { const b = n.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  return {
    statuses: [...document.querySelectorAll('.wf-node')].map(n => [n.dataset.status, box(n.querySelector('.wf-box'))]),
    labels: [...document.querySelectorAll('.wf-edge .wf-label')].map(n => [n.textContent, box(n)]),
    at: Object.fromEntries([...document.querySelectorAll('.wf-node')].map(n => [n.dataset.status, n.getAttribute('transform')])),
  };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_designer(tmp_path_factory.mktemp("workflow-layout"), "service_desk") as served:
        yield served


@pytest.fixture
def page(server, chromium):
    with analyst_page(chromium, server[0], "ru") as pg:
        yield pg


def overlaps(a, b, margin=0.5):
    return a[0] + margin < b[2] and b[0] + margin < a[2] and a[1] + margin < b[3] and b[1] + margin < a[3]


def clashes(drawn) -> list:
    """Every pair of statuses, of labels, and of a label and a status whose boxes overlap."""
    statuses, labels = drawn["statuses"], drawn["labels"]
    out = [("status", a[0], b[0]) for i, a in enumerate(statuses) for b in statuses[i + 1:] if overlaps(a[1], b[1])]
    out += [("label", a[0], b[0]) for i, a in enumerate(labels) for b in labels[i + 1:] if overlaps(a[1], b[1])]
    out += [("label on status", a[0], b[0]) for a in labels for b in statuses if overlaps(a[1], b[1])]
    return out


@pytest.mark.parametrize("entity, statuses, labels", [("change", 9, 11), ("request", 6, 7)])
def test_tidy_lays_the_diagram_out_without_overlaps(server, page, entity, statuses, labels):
    from playwright.sync_api import expect
    base, loom = server
    page.goto(f"{base}{BASE}/entities/{entity}/workflow")
    expect(page.locator(".wf-node")).to_have_count(statuses)
    assert page.evaluate("typeof window.dagre.layout") == "function"  # vendored, no CDN
    opened = page.evaluate(BOXES)
    assert clashes(opened) == []  # no stored layout: placed by dagre as the editor opens

    page.click("#wf-tidy")
    drawn = page.evaluate(BOXES)
    assert len(drawn["statuses"]) == statuses and len(drawn["labels"]) >= labels
    assert clashes(drawn) == []
    assert page.locator(".wf-edge.routed").count() == page.locator(".wf-edge").count()  # every arrow on dagre's path
    # left to right: the initial status is in the first column
    initial = page.locator(".wf-node.initial .wf-box").bounding_box()
    assert initial["x"] <= min(b[0] for _, b in drawn["statuses"]) + 1
    if entity == "change":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".wf-canvas").screenshot(path=str(SHOTS / "designer-ru-workflow-tidy.png"))

    # stored and opened again: drawn the same, on the same paths
    edges = page.locator(".wf-edge").count()
    assert edges > 0
    page.click("#save")
    expect(page.locator(".flash.ok")).to_be_visible()
    spec = Drafts(loom).open("service_desk").doc["entities"][entity]
    assert all(set(s["layout"]) == {"x", "y"} for s in spec["statuses"])
    # the edges are routed after the page has drawn the boxes: wait for every one
    expect(page.locator(".wf-edge.routed")).to_have_count(edges)
    assert clashes(page.evaluate(BOXES)) == []


def test_a_new_status_lands_in_free_space(server, page):
    from playwright.sync_api import expect
    base = server[0]
    page.goto(f"{base}{BASE}/entities/change/workflow")
    page.click("#wf-tidy")
    before = page.evaluate(BOXES)

    page.click("#wf-add-status")  # nothing selected: below the diagram
    expect(page.locator(".wf-node")).to_have_count(10)
    page.click('.wf-pick-status[data-status="approval"]')  # selected: beside it, where it is free
    page.click("#wf-add-status")
    expect(page.locator(".wf-node")).to_have_count(11)
    # a double click where a status is already puts the new one next to it
    box = page.locator('.wf-node[data-status="scheduled"] .wf-box').bounding_box()
    page.locator("#wf-svg").dispatch_event("dblclick", {"clientX": box["x"] + 5, "clientY": box["y"] + 5})
    expect(page.locator(".wf-node")).to_have_count(12)

    after = page.evaluate(BOXES)
    new = [s for s in after["statuses"] if s[0] not in dict(before["statuses"])]
    assert len(new) == 3
    moved = [name for name, at in before["at"].items() if after["at"][name] != at]
    assert moved == []  # nothing else moved
    problems = [(n, other) for n, b in new for other, o in after["statuses"] if other != n and overlaps(b, o)]
    problems += [(n, text) for n, b in new for text, o in after["labels"] if overlaps(b, o)]
    assert problems == []
