"""The UI's language: ru (default) or en, chosen per session.

Interface strings are written in English in the code and looked up here for
Russian; metadata titles (``{ru, en}``) go through ``metamodel.title_text``.
Dates and numbers are formatted by Flask-Babel for the chosen locale.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re

from flask import session
from flask_babel import format_date, format_datetime, format_decimal

from metamodel.model import title_text

LANGS = ("ru", "en")
DEFAULT = "ru"

RU = {
    "Sign in": "Вход",
    "Sign out": "Выйти",
    "Username": "Имя пользователя",
    "Password": "Пароль",
    "Wrong username or password.": "Неверное имя пользователя или пароль.",
    "Too many failed attempts. Try again in a few minutes.":
        "Слишком много неудачных попыток. Повторите через несколько минут.",
    "The form has expired or was not sent from this site. Reload the page and try again.":
        "Форма устарела или отправлена не с этого сайта. Обновите страницу и повторите.",
    "Applications": "Приложения",
    "No published applications yet.": "Опубликованных приложений пока нет.",
    "Search": "Поиск",
    "Find": "Найти",
    "New": "Создать",
    "Edit": "Изменить",
    "Save": "Сохранить",
    "Cancel": "Отмена",
    "Next page": "Следующая страница",
    "First page": "В начало",
    "Nothing found.": "Ничего не найдено.",
    "records": "записей",
    "more than": "более",
    "View": "Представление",
    "Filters": "Фильтры",
    "remove filter": "убрать фильтр",
    "History": "История",
    "{left} left": "осталось {left}",
    "overdue by {late}": "просрочено на {late}",
    "paused": "на паузе",
    "met": "выполнено в срок",
    "missed": "срок нарушен",
    "{h} h": "{h} ч",
    "{m} min": "{m} мин",
    "Due": "Срок",
    "Status": "Статус",
    "Number": "Номер",
    "Created": "Создано",
    "Created by": "Автор",
    "Updated": "Изменено",
    "Updated by": "Изменил",
    "Version": "Версия",
    "Add row": "Добавить строку",
    "Remove": "Удалить",
    "type to search": "поиск по названию",
    "not chosen": "не выбрано",
    "Yes": "Да",
    "No": "Нет",
    "Please correct the errors below.": "Исправьте ошибки ниже.",
    "Saved.": "Сохранено.",
    "Created.": "Создано.",
    "Done": "Выполнено",
    "Could not": "Не удалось",
    "This record was changed by someone else while you were editing it "
    "(you edited version {yours}, it is now at version {now}). "
    "Open the record again and repeat your change.":
        "Запись изменил кто-то другой, пока вы её редактировали "
        "(вы редактировали версию {yours}, сейчас версия {now}). "
        "Откройте запись заново и повторите изменения.",
    "Open the current version": "Открыть текущую версию",
    "You may not do this.": "У вас нет прав на это действие.",
    "Not found.": "Не найдено.",
    "created": "создание",
    "changed": "изменение",
    "deleted": "удаление",
    "restored": "восстановление",
    "transition": "переход",
    "Actions": "Действия",
    "Row": "Строка",
    "is required": "обязательное поле",
    "needs at least one row": "нужна хотя бы одна строка",
    "Other errors": "Другие ошибки",
    "Back to the list": "К списку",
    "Attachments are uploaded on the record page via the API.": "Вложения загружаются через API.",
    "Language": "Язык",
}


def lang() -> str:
    value = session.get("lang") if session else None
    return value if value in LANGS else DEFAULT


def t(message: str, **kw) -> str:
    """An interface string in the session's language."""
    text = RU.get(message, message) if lang() == "ru" else message
    return text.format(**kw) if kw else text


def tt(title) -> str:
    """A metadata title (``{ru, en}`` or plain) in the session's language."""
    return title_text(title, lang())


PATTERNS_RU = [
    (re.compile(r"^at least (\d+) characters required, got (\d+)$"), "не короче {0} символов (сейчас {1})"),
    (re.compile(r"^at most (\d+) characters allowed, got (\d+)$"), "не длиннее {0} символов (сейчас {1})"),
    (re.compile(r"^must be at least (\S+), got (\S+)$"), "не меньше {0}"),
    (re.compile(r"^must be at most (\S+), got (\S+)$"), "не больше {0}"),
    (re.compile(r"^'.*' is not a valid (number|whole number|amount)$"), "не число"),
    (re.compile(r"^'.*' is not a valid date.*$"), "неверная дата"),
    (re.compile(r"^.* has more than (\d+) digits after the point$"), "не больше {0} знаков после запятой"),
    (re.compile(r"^'.*' is not an e-mail address$"), "неверный адрес эл. почты"),
    (re.compile(r"^'.*' is not a phone number$"), "неверный номер телефона"),
    (re.compile(r"^is required to (.+)$"), "обязательно для перехода"),
]


def message(text: str) -> str:
    """A validation message from the services; the common English ones are translated."""
    if lang() != "ru":
        return text
    if text in RU:
        return RU[text]
    for pattern, ru in PATTERNS_RU:
        match = pattern.match(text)
        if match:
            return ru.format(*match.groups())
    return text


def fmt_datetime(value) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return format_datetime(value, "short")
    return format_date(value, "medium")


def fmt_date(value) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return format_date(value, "medium")


def fmt_number(value, scale: int | None = None) -> str:
    if value in (None, ""):
        return ""
    try:
        d = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        return str(value)
    if scale is not None:
        return format_decimal(d, format="#,##0." + "0" * scale if scale else "#,##0")
    return format_decimal(d)

# List page: saved views, bulk actions, export (runtime/ui/lists.py).
RU.update({
    "My views": "Мои представления",
    "View name": "Название представления",
    "Save view": "Сохранить представление",
    "Delete view": "Удалить представление",
    "Give the view a name.": "Укажите название представления.",
    "This list state cannot be saved.": "Это состояние списка нельзя сохранить.",
    "View saved.": "Представление сохранено.",
    "View deleted.": "Представление удалено.",
    "With selected": "С выбранными",
    "Apply": "Применить",
    "Select": "Выбрать",
    "Select all on this page": "Выбрать все на странице",
    "Delete": "Удалить",
    "Select records first.": "Сначала выберите записи.",
    "Too many records selected (at most {n}).": "Выбрано слишком много записей (не больше {n}).",
    "Unknown action.": "Неизвестное действие.",
    "Done: {n}": "Выполнено: {n}",
    "Export to Excel": "Выгрузить в Excel",
    "Only the first {n} records were exported; narrow the list with filters.":
        "Выгружены только первые {n} записей; сузьте список фильтрами.",
})

# Administration, audit log and the home page's "my tasks" (runtime/ui/admin.py, tasks.py).
RU.update({
    "Main menu": "Главное меню",
    "My tasks": "Мои задачи",
    "Reports": "Отчёты",
    "Administration": "Администрирование",
    "Audit log": "Журнал аудита",
    "Only administrators may open this page.": "Эта страница доступна только администраторам.",
    "Users": "Пользователи",
    "Groups": "Группы",
    "Group": "Группа",
    "New user": "Новый пользователь",
    "New group": "Новая группа",
    "Full name": "ФИО",
    "E-mail": "Эл. почта",
    "Roles": "Роли",
    "Active": "Активен",
    "inactive": "неактивен",
    "Last sign-in": "Последний вход",
    "Administrator": "Администратор",
    "Every user (built-in)": "Все пользователи (встроенная)",
    "Organisation": "Организация",
    "Create": "Создать",
    "Name": "Имя",
    "Title": "Название",
    "Lead": "Руководитель",
    "Members": "Участники",
    "No groups yet.": "Групп пока нет.",
    "Enter a username (up to 150 characters).": "Укажите имя пользователя (до 150 символов).",
    "A user with this name already exists.": "Пользователь с таким именем уже есть.",
    "Enter a group name (up to 80 characters).": "Укажите имя группы (до 80 символов).",
    "A group with this name already exists.": "Группа с таким именем уже есть.",
    "You cannot take away your own administrator rights or deactivate yourself.":
        "Нельзя снять с себя права администратора или отключить свою учётную запись.",
    "A password is generated and shown once after saving.": "Пароль будет создан и показан один раз после сохранения.",
    "User created": "Пользователь создан",
    "New password": "Новый пароль",
    "New API token": "Новый API-токен",
    "API token": "API-токен",
    "API tokens": "API-токены",
    "Give this password to the user now: it is shown only once.":
        "Передайте этот пароль пользователю сейчас: он показывается только один раз.",
    "Copy the token now: it is shown only once.": "Скопируйте токен сейчас: он показывается только один раз.",
    "Back to the user": "К пользователю",
    "Reset password": "Сбросить пароль",
    "Reset the password?": "Сбросить пароль?",
    "Token name": "Название токена",
    "Issue a token": "Выпустить токен",
    "Last used": "Последнее использование",
    "Verify the chain": "Проверить цепочку",
    "The audit chain is intact: {n} entries checked.": "Цепочка журнала цела: проверено записей: {n}.",
    "The audit chain is broken after {n} good entries:": "Цепочка журнала нарушена после {n} верных записей:",
    "User": "Пользователь",
    "Action": "Действие",
    "App": "Приложение",
    "Entity": "Сущность",
    "Record id": "ID записи",
    "From": "С",
    "To": "По",
    "Reset": "Сбросить",
    "When": "Когда",
    "Object": "Объект",
    "Changes": "Изменения",
    "Assigned to me": "Назначены мне",
    "My groups' records": "Задачи моих групп",
    "Due within 24 hours": "Срок в ближайшие 24 часа",
    "Overdue": "Просроченные",
    "due": "срок",
    "Nothing here.": "Здесь пусто.",
})

# Reports (runtime/ui/reports.py, templates/ui/report*.html)
for _key, _ru in {
    "Reports": "Отчёты",
    "No reports yet.": "Отчётов пока нет.",
    "No data.": "Нет данных.",
    "Total": "Итого",
    "Count": "Количество",
    "Sum": "Сумма",
    "Average": "Среднее",
    "Still open": "Открыто",
    "Past due": "Просрочено",
    "Done on time": "Выполнено в срок",
    "(not set)": "(не указано)",
    "week of {date}": "неделя с {date}",
    "chart; the same figures are in the table below": "диаграмма; те же данные — в таблице ниже",
}.items():
    RU.setdefault(_key, _ru)  # never override another page's wording


# ---------------------------------------------------------------------- record page extras
RU.update({
    "comment": "комментарий",
    "Comment": "Комментарий",
    "Comments": "Комментарии",
    "Comment added.": "Комментарий добавлен.",
    "No comments yet.": "Комментариев пока нет.",
    "Write a comment; @username notifies a colleague": "Напишите комментарий; @имя_пользователя уведомит коллегу",
    "file attached": "файл приложен",
    "Files": "Файлы",
    "No files yet.": "Файлов пока нет.",
    "Upload": "Загрузить",
    "up to {mb} MB": "до {mb} МБ",
    "Uploaded: {names}": "Загружено: {names}",
    "Not uploaded": "Не загружено",
    "Choose a file to upload.": "Выберите файл для загрузки.",
    "B": "Б",
    "KB": "КБ",
    "MB": "МБ",
    "Upload files on the record page.": "Файлы загружаются на странице записи.",
    "Files can be uploaded on the record page after saving.":
        "Файлы можно загрузить на странице записи после сохранения.",
    "Linked records": "Связанные записи",
    "All in the list": "Все в списке",
})
PATTERNS_RU += [
    (re.compile(r"^(.+): only (.+) files are accepted$"), "{0}: допускаются только файлы {1}"),
    (re.compile(r"^(.+) is larger than (\S+) MB$"), "{0}: файл больше {1} МБ"),
]

# ---------------------------------------------------------------------- list filter panel
RU.update({
    "Filter": "Фильтр",
    "any": "любое",
    "from": "с",
    "to": "по",
    "contains": "содержит",
    "More filters": "Ещё фильтры",
    "add a field": "добавить поле",
    "Apply filters": "Применить",
    "Reset": "Сбросить",
})
