"""The classifiers plugin on an app of its own: the section is checked at publish, the model is
trained from the app's labelled records, kept in the database, and suggest() answers in a script
(nothing before training)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from metamodel import MetadataError, read_folder
from plugins.classifiers import model, service
from runtime.extension.platform import Platform
from tests.conftest import make_loom

APP = Path(__file__).parent / "helpdesk_app"
WORDS = {"printers": ["принтер", "картридж", "печать", "бумага застряла", "тонер"],
         "mail": ["почта", "письмо", "ящик", "outlook", "вложение"],
         "access": ["пароль", "доступ", "учётная запись", "вход", "права"]}


@pytest.fixture
def desk(db_url, tmp_path):
    loom = make_loom(db_url, tmp_path / "files")
    loom.store.install(APP, author="tester")
    loom.accounts.create_user("root", "root-pass-1", is_admin=True)
    records = Platform(loom).records()
    for queue, words in WORDS.items():
        for i, word in enumerate(words * 4):
            records.create("helpdesk", "example", {"subject": f"Проблема {i}", "body": f"У меня {word}, помогите",
                                                  "queue": queue})
    yield loom
    loom.engine.dispose()


def test_trained_from_the_apps_records_and_suggested_in_a_script(desk):
    platform = Platform(desk)
    before = platform.records().create("helpdesk", "ticket", {"body": "Не печатает принтер"})
    assert before["queue"] is None  # not trained yet: no suggestion, and no failure
    report = service.train(platform, "helpdesk", "queue")
    assert (report["examples"], report["labels"], report["test"]) == (60, 3, 15)
    assert report["accuracy"] >= 0.9 and report["baseline"] < 0.5
    after = platform.records().create("helpdesk", "ticket", {"body": "Забыл пароль, нет доступа"})
    assert after["queue"] == "access"
    assert platform.records().create("helpdesk", "ticket", {"body": "Картридж закончился"})["queue"] == "printers"


def test_the_kept_model_is_plain_numbers_that_predict_alike():
    texts = [f"{w} сломался" for w in ("принтер", "картридж", "тонер")] * 3 + \
            [f"не приходит {w}" for w in ("почта", "письмо", "вложение")] * 3
    labels = ["printers"] * 9 + ["mail"] * 9
    fitted = model.fit(texts, labels)
    assert set(fitted) == {"vocabulary", "idf", "classes", "weights", "intercept"}
    assert model.predict(fitted, "тонер сломался")[0] == "printers"
    assert model.predict(fitted, "не приходит письмо")[0] == "mail"
    assert model.predict(fitted, "") == (None, 0.0)


def test_publishing_names_a_wrong_field_and_entity(loom):
    doc, _ = read_folder(APP)
    doc = copy.deepcopy(doc)
    doc["extensions"]["classifiers"]["classifiers"]["queue"]["text"] = ["subjct"]
    doc["extensions"]["classifiers"]["classifiers"]["queue"]["label"] = "body"
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="tester")
    message = str(err.value)
    assert "classifiers.queue.text[0]" in message and "no field 'subjct'" in message
    assert "classifiers.queue.label" not in message  # a text field may be a label
    doc["extensions"]["classifiers"]["classifiers"]["queue"]["entity"] = "nothing"
    with pytest.raises(MetadataError) as err:
        loom.store.publish(doc, author="tester")
    assert "no entity 'nothing'" in str(err.value)
