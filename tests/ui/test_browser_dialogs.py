"""Item by item, what an end user meets in a real browser: a transition that needs a field
asks for it in a dialog; a bulk action is never delete by default."""
from __future__ import annotations

from .conftest import grant
from .test_browser import _need_browser, russian_page, server, sign_in  # noqa: F401  (the served app)


def test_a_transition_that_needs_a_field_asks_for_it_in_a_dialog(server):  # noqa: F811
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    [req] = loom.records.find("service_desk", "request", {"priority": "1"})
    loom.workflow.transition("service_desk", "request", req["id"], "take")
    with russian_page(1280, 860) as page:
        sign_in(page, base, "agent")
        page.goto(f"{base}/ui/service_desk/request/{req['id']}")
        page.click("button[data-transition=resolve]")
        dialog = page.locator("dialog#dialog-resolve")
        expect(dialog).to_be_visible()
        expect(dialog.locator("h2")).to_have_text("Решить")
        dialog.locator("button[data-fire=resolve]").click()  # sent empty: the dialog comes back open
        expect(page.locator("dialog#dialog-resolve")).to_be_visible()
        expect(page.locator("#err-resolve-solution")).to_have_text("обязательно для перехода")
        page.fill("#resolve-solution", "Обновлён сертификат подписи")
        page.locator("dialog#dialog-resolve button[data-fire=resolve]").click()
        expect(page.locator("#status")).to_have_text("Решена")
        expect(page.locator("dd[data-field=solution]")).to_have_text("Обновлён сертификат подписи")
        # a transition that needs nothing fires at once
        page.click("button[data-transition=close]")
        expect(page.locator("#status")).to_have_text("Закрыта")


def test_a_bulk_action_must_be_chosen_and_delete_confirmed(server):  # noqa: F811
    _need_browser()
    from playwright.sync_api import expect
    base, loom = server
    grant(loom, "agent", "dispatcher")
    with russian_page(1280, 860) as page:
        sign_in(page, base, "agent")
        page.goto(f"{base}/ui/service_desk/request?view=all")
        page.locator("input[name=id][form=bulk]").first.check()
        expect(page.locator("#bulk select[name=action]")).to_have_value("")
        page.click("#bulk button")  # nothing chosen: the browser keeps the form
        expect(page).to_have_url(f"{base}/ui/service_desk/request?view=all")
        page.select_option("#bulk select[name=action]", "delete")
        page.once("dialog", lambda d: d.dismiss())  # "Delete the selected records?" -> no
        page.click("#bulk button")
        page.wait_for_timeout(300)
        assert len(loom.records.find("service_desk", "request")) == 3
        page.once("dialog", lambda d: d.accept())
        page.click("#bulk button")
        expect(page.locator(".flash.ok")).to_have_text("Выполнено: 1")
        assert len(loom.records.find("service_desk", "request")) == 2
