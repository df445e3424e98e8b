"""The JSON Schema of ``extensions/mailin.yaml`` and the checks a schema cannot make."""
from __future__ import annotations

from runtime.plugin_api import titled

NAME = r"^[a-z][a-z0-9_]*$"
ENV = r"^[A-Z][A-Z0-9_]*$"
#: What of a message a field may take.
PARTS = ("subject", "body", "from", "from_name", "to", "date", "message_id")

SCHEMA = {
    "type": "object",
    "required": ["mailboxes"],
    "additionalProperties": False,
    "properties": {
        "mailboxes": {"type": "object", "propertyNames": {"pattern": NAME}, "minProperties": 1,
                      **titled("Почтовые ящики", "Mailboxes"), "additionalProperties": {
            "type": "object",
            "required": ["entity", "host", "user", "password_env"],
            "additionalProperties": False,
            "properties": {
                "entity": {"type": "string", **titled("Сущность", "Entity", "сущность, записи которой создают письма",
                                                      "the entity whose records the messages become")},
                "host": {"type": "string", "minLength": 1, **titled("Сервер IMAP", "IMAP host")},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535, **titled("Порт", "Port")},
                "tls": {"type": "boolean", **titled("Шифрование TLS", "TLS")},
                "user": {"type": "string", "minLength": 1, **titled("Логин", "User")},
                "password_env": {"type": "string", "pattern": ENV,
                                 **titled("Переменная окружения с паролем", "Password environment variable",
                                          "имя переменной окружения (ЗАГЛАВНЫМИ_БУКВАМИ), где лежит пароль; сам пароль "
                                          "в метаданные не пишется", "the name of the environment variable (UPPER_CASE) "
                                          "holding the password, never the password itself")},
                "folder": {"type": "string", "minLength": 1, **titled("Папка", "Folder")},
                "address": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$", **titled("Адрес ящика", "Address")},
                "poll_seconds": {"type": "integer", "minimum": 10, **titled("Проверять каждые, с", "Poll every, s")},
                "fields": {"type": "object", "additionalProperties": {"enum": list(PARTS)},
                           **titled("Поля из письма", "Fields from the message", "поле записи -> часть письма: subject, "
                                    "body, from, from_name, to, date, message_id", "field of the record -> part of the "
                                    "message: subject, body, from, from_name, to, date, message_id")},
                "attachments": {"type": "string", **titled("Поле вложений", "Attachments field",
                                                           "файловое поле для вложений письма",
                                                           "a file field the attachments go to")},
                "contact": {"type": "object", "required": ["entity", "email", "link"], "additionalProperties": False,
                            **titled("Контакт отправителя", "Sender's contact", "запись контакта, найденная по адресу "
                                     "отправителя, и ссылка на неё", "the sender's contact record, found by address, "
                                     "and the link to it"),
                            "properties": {"entity": {"type": "string", **titled("Сущность контактов", "Contact entity")},
                                           "email": {"type": "string", **titled("Поле e-mail", "E-mail field")},
                                           "link": {"type": "string", **titled("Ссылка на контакт", "Link to the contact")}}},
            },
        }},
    },
}


def check(section: dict, doc: dict):
    """Entities and fields the mailboxes name exist: ``(path, message, line offset)``."""
    entities = doc.get("entities") or {}
    for name, box in (section.get("mailboxes") or {}).items():
        where = ("mailboxes", name)
        spec = entities.get(box["entity"])
        if spec is None:
            yield (*where, "entity"), f"no entity {box['entity']!r} in this app", 0
            continue
        fields = spec.get("fields") or {}
        for field in box.get("fields") or {}:
            if field not in fields:
                yield (*where, "fields", field), f"entity {box['entity']!r} has no field {field!r}", 0
        if "attachments" in box:
            f = fields.get(box["attachments"])
            if f is None or f.get("type") != "file":
                yield (*where, "attachments"), f"entity {box['entity']!r} has no file field {box['attachments']!r}", 0
        contact = box.get("contact")
        if contact:
            target = entities.get(contact["entity"])
            if target is None:
                yield (*where, "contact", "entity"), f"no entity {contact['entity']!r} in this app", 0
            elif contact["email"] not in (target.get("fields") or {}):
                yield (*where, "contact", "email"), f"entity {contact['entity']!r} has no field {contact['email']!r}", 0
            link = fields.get(contact["link"])
            if link is None or link.get("type") != "link":
                yield (*where, "contact", "link"), f"entity {box['entity']!r} has no link field {contact['link']!r}", 0
