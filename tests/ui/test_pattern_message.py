"""A field's ``pattern_message`` and a record check's ``message``: people read the analyst's words,
in their language, instead of the regular expression; the API gives the English text."""
from __future__ import annotations

import copy
import re

import pytest

from runtime.errors import ValidationFailed

from .conftest import PASSWORD, Browser

INN = {"ru": "ИНН — 10 или 12 цифр", "en": "INN: 10 or 12 digits"}


@pytest.fixture
def worded(service_desk, data, ui_app):
    doc = copy.deepcopy(service_desk.store.document("service_desk"))
    doc["entities"]["organization"]["fields"]["inn"]["pattern_message"] = INN
    doc["entities"]["organization"]["checks"] = [
        {"condition": "short_name != full_name", "field": "full_name",
         "message": {"ru": "Полное название длиннее краткого", "en": "The full name is longer than the short one"}}]
    service_desk.store.publish(doc, author="tester")
    service_desk.accounts.create_user("disp", PASSWORD, roles=["service_desk:dispatcher"])
    browser = Browser(ui_app.test_client())
    assert browser.login("disp").status_code == 302
    return service_desk, browser


def test_the_form_shows_the_message_in_the_readers_language(worded):
    loom, browser = worded
    url = "/ui/service_desk/organization/new"
    bad = browser.post(url, {"short_name": "Минэнерго", "inn": "12345"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert re.search(r'id="err-inn">ИНН — 10 или 12 цифр<', html), html
    assert "\\d{10}" not in html
    with pytest.raises(ValidationFailed) as info:
        loom.records.create("service_desk", "organization", {"short_name": "Минэнерго", "inn": "12345"})
    assert info.value.errors[0].message == "INN: 10 or 12 digits"


def test_a_checks_message_is_shown_at_its_field(worded):
    _, browser = worded
    bad = browser.post("/ui/service_desk/organization/new",
                       {"short_name": "Минэнерго", "full_name": "Минэнерго", "inn": "6658000009"})
    assert bad.status_code == 422
    assert re.search(r'id="err-full_name">Полное название длиннее краткого<', bad.get_data(as_text=True))
