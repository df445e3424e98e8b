"""The record page offers only the transitions the user's roles may fire from its status."""
from tests.ui.conftest import PASSWORD, Browser
from tests.ui.test_pages import make_request


def test_buttons_follow_status_and_roles(ui_app, service_desk, data):
    req = make_request(service_desk, data)[0]
    service_desk.workflow.transition("service_desk", "request", req["id"], "take")  # now in_work
    service_desk.accounts.create_user("disp", PASSWORD, roles=["service_desk:dispatcher"])
    url = f"/ui/service_desk/request/{req['id']}"

    dispatcher = Browser(ui_app.test_client())
    dispatcher.login("disp", PASSWORD)
    page = dispatcher.get(url).get_data(as_text=True)
    assert "transitions/cancel" in page  # open to every role
    assert "transitions/resolve" not in page and "transitions/ask" not in page  # agents only
    assert "transitions/take" not in page  # not from in_work

    agent = Browser(ui_app.test_client())
    agent.login("agent", PASSWORD)
    page = agent.get(url).get_data(as_text=True)
    assert "transitions/resolve" in page and "transitions/ask" in page
