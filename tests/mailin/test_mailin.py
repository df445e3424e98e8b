"""Mail in (plugins/mailin) against a real dovecot on loopback (``scripts/services.sh``).

Each test gets an IMAP folder of its own, puts messages in with IMAP APPEND and fetches
them as the scheduler or ``loom mail fetch`` would; on SQLite and PostgreSQL.
"""
from __future__ import annotations

import copy
import uuid
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from imap_tools import MailBoxUnencrypted
from sqlalchemy import select

from metamodel import MetadataError, read_folder
from plugins.mailin import fetch
from runtime.behaviour.scheduler import Scheduler
from runtime.cli import main
from runtime.data import tables
from runtime.extension.platform import Platform
from tests.conftest import make_loom

APP = Path(__file__).resolve().parent / "help_app"
PDF = b"%PDF-1.4\n% a tiny attachment\n"


@pytest.fixture
def imap(imap_url):
    """``(host, port, folder)``: a fresh folder of the test server's ``loom`` mailbox."""
    parts = urlsplit(imap_url)
    folder = f"t{uuid.uuid4().hex[:10]}"
    with MailBoxUnencrypted(parts.hostname, parts.port).login("loom", "loom") as mb:
        mb.folder.create(folder)
    yield parts.hostname, parts.port, folder
    with MailBoxUnencrypted(parts.hostname, parts.port).login("loom", "loom") as mb:
        mb.folder.delete(folder)


def help_doc(imap) -> dict:
    doc, _ = read_folder(APP)
    doc = copy.deepcopy(doc)
    host, port, folder = imap
    doc["extensions"]["mailin"]["mailboxes"]["support"].update(host=host, port=port, folder=folder)
    return doc


@pytest.fixture
def help_loom(db_url, tmp_path, monkeypatch, imap):
    monkeypatch.setenv("HELP_IMAP_PASSWORD", "loom")
    loom = make_loom(db_url, tmp_path / "files")
    loom.store.publish(help_doc(imap), author="tester")
    loom.accounts.create_user("ann", "ann-pass-12", email="ann@help.test", roles=["help:agent"])
    loom.records.create("help", "person", {"name": "Пётр Иванов", "email": "Petr@Example.org"})
    yield loom
    loom.engine.dispose()


def mail(subject: str, body: str = "Текст письма", *, sender="petr@example.org", message_id=None,
         attachment: tuple[str, bytes] | None = None, **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "help@loom.test"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.org>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    if attachment:
        msg.add_attachment(attachment[1], maintype="application", subtype="pdf", filename=attachment[0])
    return msg.as_bytes()


def put(imap, *messages: bytes) -> None:
    host, port, folder = imap
    with MailBoxUnencrypted(host, port).login("loom", "loom") as mb:
        for m in messages:
            mb.append(m, folder)


def fetch_now(loom) -> dict:
    return fetch.fetch_all(Platform(loom), "help")["help.support"]


def tickets(loom) -> list[dict]:
    return loom.records.find("help", "ticket", None, ["id"], 100)


def log_lines(loom) -> list[dict]:
    return list(reversed(Platform(loom).delivery_log("mailin")))


def test_a_new_message_becomes_a_record_with_its_contact_and_attachment(help_loom, imap):
    put(imap, mail("Нет света в подъезде", "Третий день нет света.\nПётр", sender="PETR@example.org",
                   attachment=("акт.pdf", PDF)))
    assert fetch_now(help_loom) == {"created": 1}
    [ticket] = tickets(help_loom)
    assert ticket["subject"] == "Нет света в подъезде"
    assert ticket["description"] == "Третий день нет света.\nПётр"
    assert ticket["email"] == "petr@example.org"
    person = help_loom.records.find("help", "person", None, [], 5)[0]
    assert ticket["person"] == person["id"]
    full = help_loom.records.get("help", "ticket", ticket["id"])
    [attached] = full["files"]
    assert attached["filename"] == "акт.pdf"
    meta, path = help_loom.records.open_file(attached["id"])
    assert Path(path).read_bytes() == PDF
    [line] = log_lines(help_loom)
    assert line["outcome"] == "created" and line["record_id"] == ticket["id"] and line["name"] == "support"
    with help_loom.engine.connect() as c:
        source = c.execute(select(tables.inbound.c.source)).scalar_one()
    assert source.endswith(";UID=1") and "UIDVALIDITY=" in source


def test_mail_from_a_user_is_written_as_that_user(help_loom, imap):
    put(imap, mail("Принтер не печатает", sender="Ann@help.test"))
    fetch_now(help_loom)
    [ticket] = tickets(help_loom)
    ann = help_loom.accounts.user(email="ann@help.test")
    assert ticket["created_by"] == ann["id"] and ticket["person"] is None


def test_a_reply_becomes_a_comment_by_number_or_by_the_message_loom_sent(help_loom, imap):
    put(imap, mail("Нет воды"))
    fetch_now(help_loom)
    [ticket] = tickets(help_loom)
    assert ticket["number"] == "HLP-0001"
    put(imap, mail(f"Re: [{ticket['number']}] Нет воды", "Воду дали.\n\n> Текст письма",
                   attachment=("фото.pdf", PDF)))
    platform = Platform(help_loom)
    sent = platform.post("email", "petr@example.org", "Ваше обращение принято", "Ждите",
                         app="help", entity="ticket", record_id=ticket["id"])
    message_id = next(r["message_id"] for r in platform.outbox("email") if r["id"] == sent)
    put(imap, mail("Спасибо", "Всё хорошо", In_Reply_To=message_id, References=message_id))
    assert fetch_now(help_loom) == {"commented": 2}
    assert len(tickets(help_loom)) == 1
    texts = [c["body"] for c in help_loom.records.comments("help", "ticket", ticket["id"])]
    assert texts == ["Воду дали.", "Всё хорошо"]
    files = help_loom.records.get("help", "ticket", ticket["id"])["files"]
    assert [f["filename"] for f in files] == ["фото.pdf"]
    assert [l["outcome"] for l in log_lines(help_loom)] == ["created", "commented", "commented"]


def test_the_same_message_twice_and_a_restart_make_one_record(help_loom, imap, db_url, tmp_path):
    same = mail("Счёт неверный", message_id="<dup-1@example.org>")
    put(imap, same, same)
    assert fetch_now(help_loom) == {"created": 1, "duplicate": 1}
    assert fetch_now(help_loom) == {}  # nothing new since the last UID read
    restarted = make_loom(db_url, tmp_path / "files")  # a new process on the same database
    try:
        assert fetch_now(restarted) == {}
        Platform(restarted).save_state("mailin:help:support", {})  # the cursor lost: Message-IDs still hold
        assert fetch_now(restarted) == {"duplicate": 2}
        assert len(tickets(restarted)) == 1
    finally:
        restarted.engine.dispose()


@pytest.mark.parametrize("headers", [
    {"Auto_Submitted": "auto-replied"},
    {"X_Autoreply": "yes"},
    {"Precedence": "bulk"},
    {"Precedence": "list"},
    {"sender": "help@loom.test"},
    {"sender": "MAILER-DAEMON@mx.example.org"},
])
def test_loops_and_auto_replies_are_dropped_and_logged(help_loom, imap, headers):
    headers = dict(headers)
    put(imap, mail("Я в отпуске", sender=headers.pop("sender", "petr@example.org"), **headers))
    assert fetch_now(help_loom) == {"dropped": 1}
    assert tickets(help_loom) == []
    [line] = log_lines(help_loom)
    assert line["outcome"] == "dropped" and "Я в отпуске" in line["detail"]


def test_the_scheduler_polls_the_mailbox(help_loom, imap):
    put(imap, mail("Через планировщик"))
    done = Scheduler(help_loom).tick()
    assert done["periodic"] == 1
    assert [t["subject"] for t in tickets(help_loom)] == ["Через планировщик"]


def test_a_refused_message_is_logged_and_passed(help_loom, imap):
    put(imap, mail("Без темы не бывает", "x"), mail("Вторая"))
    help_loom.store.publish(_required_phone(help_doc(imap)), author="tester")
    assert fetch_now(help_loom) == {"failed": 2}
    assert all("phone" in l["detail"] for l in log_lines(help_loom))
    assert fetch_now(help_loom) == {}  # passed: not tried again and again


def _required_phone(doc: dict) -> dict:
    doc["entities"]["ticket"]["fields"]["phone"] = {"type": "string", "required": True}
    return doc


def test_a_wrong_password_is_an_error_in_the_log(help_loom, imap, monkeypatch):
    monkeypatch.setenv("HELP_IMAP_PASSWORD", "wrong")
    result = fetch.fetch_all(Platform(help_loom), "help")
    assert "error" in result["help.support"]
    assert log_lines(help_loom)[-1]["outcome"] == "failed"


def test_loom_mail_fetch_command(imap, tmp_path, monkeypatch):
    monkeypatch.setenv("LOOM_HOME", str(tmp_path / "instance"))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.setenv("HELP_IMAP_PASSWORD", "loom")
    from runtime.core.config import Settings
    loom = Settings.from_env().make_loom()
    loom.store.publish(help_doc(imap), author="tester")
    put(imap, mail("Из командной строки"))
    result = CliRunner().invoke(main, ["mail", "fetch", "help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert 'help.support: {"created": 1}' in result.output
    assert [t["subject"] for t in tickets(loom)] == ["Из командной строки"]


def test_publish_checks_the_mailbox_metadata(sqlite_loom, imap):
    doc = help_doc(imap)
    box = doc["extensions"]["mailin"]["mailboxes"]["support"]
    box["fields"]["nope"] = "subject"
    box["attachments"] = "subject"
    box["password"] = "secret"
    with pytest.raises(MetadataError) as err:
        sqlite_loom.store.publish(doc, author="tester")
    text = str(err.value)
    assert "extensions/mailin.yaml" in text and "password" in text
    del box["password"]
    with pytest.raises(MetadataError) as err:
        sqlite_loom.store.publish(doc, author="tester")
    text = "\n".join(str(p) for p in err.value.problems)
    assert "mailboxes.support.fields.nope" in text and "has no field 'nope'" in text
    assert "mailboxes.support.attachments" in text and "no file field 'subject'" in text
