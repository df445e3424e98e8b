"""Synthetic consumers across five source systems, with the true clusters known.

Persons and companies; each appears in one to five sources with the noise real
systems show: typos, phone and address written differently, legal forms spelled
out, mistyped phone digits and dates, movers (an old address in one system).
Households share a premise's address, phone, e-mail and account but differ by
first name and birth date; namesakes share a full name but nothing else.
"""
from __future__ import annotations

import datetime as dt
import random

SOURCES = ["billing", "crm", "portal", "call_centre", "grid_connection"]
SURNAMES = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов",
            "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
            "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
            "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв"]
MALE = ["Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Иван", "Михаил", "Николай", "Павел",
        "Артём", "Владимир", "Евгений", "Олег", "Юрий", "Виктор", "Роман", "Максим", "Игорь"]
FEMALE = ["Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Анна", "Мария", "Юлия",
          "Екатерина", "Людмила", "Галина", "Алёна", "Ксения", "Дарья", "Вера", "Нина", "Надежда"]
STREETS = ["Ленина", "Мира", "Советская", "Гагарина", "Пушкина", "Кирова", "Садовая", "Лесная",
           "Молодёжная", "Школьная", "Набережная", "Заводская", "Победы", "Строителей", "Чапаева"]
STREET_KINDS = [("ул.", "улица"), ("пр-т", "проспект"), ("пер.", "переулок"), ("б-р", "бульвар")]
CITIES = ["Екатеринбург", "Пермь", "Тюмень", "Челябинск", "Курган"]
COMPANY_WORDS = ["Ромашка", "Вектор", "Энергия", "Северный ветер", "Уралснаб", "Техстрой", "Агроресурс",
                 "Светоч", "Гранит", "Меридиан", "Альфа", "Стройдеталь", "Теплосервис", "Квант", "Родник"]
_PATRONYMIC_ROOT = {"Сергей": "Сергеев", "Алексей": "Алексеев", "Андрей": "Андреев", "Николай": "Николаев",
                    "Евгений": "Евгеньев", "Юрий": "Юрьев", "Дмитрий": "Дмитриев", "Павел": "Павлов",
                    "Михаил": "Михайлов"}
LEGAL = {"ооо": ["ООО", "Общество с ограниченной ответственностью"], "ао": ["АО", "Акционерное общество"],
         "пао": ["ПАО", "Публичное акционерное общество"], "зао": ["ЗАО", "Закрытое акционерное общество"]}


def inn(rng: random.Random, digits: int) -> str:
    """A random INN with valid check digits."""
    def check(body, weights):
        return str(sum(int(d) * w for d, w in zip(body, weights)) % 11 % 10)
    if digits == 10:
        body = "".join(str(rng.randint(0, 9)) for _ in range(9))
        return body + check(body, (2, 4, 10, 3, 5, 9, 4, 6, 8))
    body = "".join(str(rng.randint(0, 9)) for _ in range(10))
    body += check(body, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8))
    return body + check(body, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8))


def _typo(rng, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]         # swap
    if kind < 0.7:
        return word[:i] + word[i + 1:]                                  # drop
    return word[:i] + rng.choice("аеиоу") + word[i + 1:]                # replace


def _address(rng) -> dict:
    return {"city": rng.choice(CITIES), "street": rng.choice(STREETS), "kind": rng.randrange(len(STREET_KINDS)),
            "house": rng.randint(1, 120), "flat": rng.randint(1, 300)}


def _write_address(rng, a: dict) -> str:
    short, long = STREET_KINDS[a["kind"]]
    flat = a.get("flat")
    if rng.random() < 0.5:
        text = f"г. {a['city']}, {short} {a['street']}, д. {a['house']}" + (f", кв. {flat}" if flat else "")
    else:
        text = f"город {a['city']} {long} {a['street']} дом {a['house']}" + (f" квартира {flat}" if flat else "")
    if rng.random() < 0.3:
        text = text.upper() if rng.random() < 0.5 else text.replace("ё", "е")
    return text


def _write_phone(rng, digits: str) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    if style == 1:
        return "8" + digits
    if style == 2:
        return f"8-{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return "7" + digits


def _phone(rng) -> str:
    return "9" + "".join(str(rng.randint(0, 9)) for _ in range(9))


def _birth(rng) -> dt.date:
    return dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 65))


def _people(rng, n: int):
    """Truth entities for persons: households of 1-4 sharing premise contacts, some namesakes."""
    people = []
    while len(people) < n:
        surname = rng.choice(SURNAMES)
        premise = {"address": _address(rng), "phone": _phone(rng),
                   "email": f"{rng.choice(['home', 'fam', 'kv'])}{rng.randint(100, 99999)}@mail.ru"}
        taken = set()
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
            male = rng.random() < 0.5
            first = rng.choice([name for name in (MALE if male else FEMALE) if name not in taken])
            taken.add(first)   # relatives living together rarely share a first name
            father = rng.choice(MALE)
            root = _PATRONYMIC_ROOT.get(father, father + "ов")
            people.append({"kind": "person", "surname": surname if male else surname + "а", "first": first,
                           "patronymic": root + ("ич" if male else "на"),
                           "birth": _birth(rng), "inn": inn(rng, 12), **premise,
                           "old_address": _address(rng) if rng.random() < 0.15 else None})
    # namesakes: the same full name, another life
    for person in rng.sample(people, n // 20):
        twin = dict(person, birth=_birth(rng), inn=inn(rng, 12), address=_address(rng), phone=_phone(rng),
                    email=f"user{rng.randint(1000, 999999)}@yandex.ru", old_address=None)
        people.append(twin)
    return people[:n + n // 20]


def _companies(rng, n: int):
    out = []
    for _ in range(n):
        a = _address(rng)
        a["flat"] = None
        out.append({"kind": "company", "form": rng.choice(list(LEGAL)),
                    "name": rng.choice(COMPANY_WORDS) + ("" if rng.random() < 0.5 else f"-{rng.randint(1, 99)}"),
                    "inn": inn(rng, 10), "address": a, "phone": _phone(rng),
                    "email": f"office{rng.randint(100, 99999)}@corp.ru", "old_address": None})
    return out


def _record(rng, entity: dict, source: str) -> dict:
    """One source system's view of ``entity``, with that system's noise."""
    phone = entity["phone"]
    if rng.random() < 0.05:                              # mistyped digit
        i = rng.randrange(10)
        phone = phone[:i] + str((int(phone[i]) + 1) % 10) + phone[i + 1:]
    address = entity["address"]
    if entity["old_address"] and rng.random() < 0.5:     # a mover, still at the old address here
        address = entity["old_address"]
    row = {"source": source, "phone": _write_phone(rng, phone) if rng.random() < 0.9 else None,
           "email": entity["email"] if rng.random() < 0.6 else None,
           "address": _write_address(rng, address), "inn": entity["inn"] if rng.random() < 0.5 else None,
           "first_name": None, "birth_date": None}
    if entity["kind"] == "person":
        surname, first = entity["surname"], entity["first"]
        if rng.random() < 0.15:
            surname = _typo(rng, surname)
        if rng.random() < 0.1:
            first = _typo(rng, first)
        if rng.random() < 0.3:
            surname, first = surname.replace("ё", "е"), first.replace("ё", "е")
        row["name"] = f"{surname} {first} {entity['patronymic']}"
        row["first_name"] = first
        birth = entity["birth"]
        if rng.random() < 0.05:                          # day and month swapped, or a day off
            birth = (dt.date(birth.year, birth.day, birth.month) if birth.day <= 12
                     else birth + dt.timedelta(days=1))
        if rng.random() < 0.9:
            row["birth_date"] = birth.strftime("%d.%m.%Y") if rng.random() < 0.5 else birth.isoformat()
    else:
        form = rng.choice(LEGAL[entity["form"]])
        name = entity["name"] if rng.random() > 0.1 else _typo(rng, entity["name"])
        row["name"] = f'{form} «{name}»' if rng.random() < 0.5 else f'{form} "{name}"'
    return row


def generate(n_records: int = 5000, seed: int = 7) -> tuple[list[dict], dict]:
    """``(records, truth)``: records with ``id``; truth maps each id to its entity's number."""
    rng = random.Random(seed)
    n_entities = int(n_records / 2.4)
    entities = _people(rng, int(n_entities * 0.85)) + _companies(rng, int(n_entities * 0.15))
    records, truth = [], {}
    for number, entity in enumerate(entities):
        for source in rng.sample(SOURCES, rng.choice([1, 2, 2, 3, 3, 4, 5])):
            row = _record(rng, entity, source)
            row["id"] = len(records) + 1
            row["source_id"] = f"{source[:3].upper()}-{rng.randint(10**6, 10**7 - 1)}-{row['id']}"
            records.append(row)
            truth[row["id"]] = number
            if len(records) >= n_records:
                return records, truth
    return records, truth
