"""A field's ``pattern_message``: people read the analyst's words, in their language, instead of
the regular expression; the API gives its English text. The same for a table's column."""
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
