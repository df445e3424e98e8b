"""Import in the UI (plugins/importer) over real HTTP, on SQLite and PostgreSQL: upload,
column mapping, a dry run that writes nothing, the job, the rejected rows' file."""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import time

import pytest
from sqlalchemy import select

from runtime.data import tables

from .conftest import Client

HEADER = "Наименование;Артикул;Цена;Вид;Регион;Поставщик;Дата поставки;В продаже"
ROWS = [
    "Молоко;M-1;89,90;Продукты;north;Северный завод;01.12.2026;да",   # line 2: good
    "Молоток;T-1;1 450;tool;south;SUP-002;;нет",                        # 3: good, supplier by number
    ";X-1;10;food;north;;;",                                           # 4: no name
    "Сыр;C-1;abc;Продукты;north;;;",                                   # 5: not a number
    "Пила;P-1;100;оружие;south;;;",                                    # 6: no such kind
    "Гвозди;G-1;5;tool;north;Южная база;;",                            # 7: the link filter refuses it
    "Клей;K-1;7;tool;north;Нет такого;;",                              # 8: no such supplier
    "Хлеб;B-1;45;Food;;;2026-12-02;",                                  # 9: good, kind by English label
]
BAD_LINES = [4, 5, 6, 7, 8]


def products(loom) -> list[dict]:
    """Every product as the API shows it, by code."""
    return loom.records.find("stock", "product", sort=["code"], limit=10_000)


def wait_done(client, base_path: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.json(f"{base_path}/status.json")
        if status["state"] not in ("queued", "running"):
            return status
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def upload_and_check(client, filename: str, content: bytes, mapping: dict | None = None) -> tuple[str, str]:
    """Upload, keep (or set) the mapping, run the dry run: ``(run path, check page)``."""
    status, page = client.upload("/import/stock/product", filename, content)
    assert status == 200 and client.url.endswith("/map"), page
    run_path = client.url.removesuffix("/map").removeprefix(client.base)
    form = mapping_of(page) if mapping is None else mapping
    status, page = client.post(f"{run_path}/map", form)
    assert status == 200 and client.url.endswith("/check"), page
    return run_path, page


def mapping_of(page: str) -> dict:
    """The selects of the mapping form as the page preselected them."""
    import re
    out = {}
    for name, body in re.findall(r'<select name="(col\d+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        out[name] = chosen.group(1) if chosen else ""
    return out


def test_a_file_with_bad_rows_is_checked_then_its_good_rows_imported(served, stock):
    client = Client(served)
    client.sign_in("klara")
    _, listing = client.get("/ui/stock/product")
    assert 'data-plugin-button="import"' in listing and "Импорт" in listing
    content = ("\n".join([HEADER, *ROWS]) + "\n").encode()
    status, page = client.upload("/import/stock/product", "товары.csv", content)
    assert status == 200 and "8 строк" in page
    assert mapping_of(page) == {"col0": "name", "col1": "code", "col2": "price", "col3": "kind", "col4": "region",
                                "col5": "supplier", "col6": "delivered", "col7": "active"}
    run_path = client.url.removesuffix("/map").removeprefix(served)
    status, page = client.post(f"{run_path}/map", mapping_of(page))
    assert status == 200 and "можно сохранить: 3" in page, page
    assert products(stock) == []  # the dry run wrote nothing
    import re
    errors = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert sorted({int(r) for r, _, _ in errors}) == BAD_LINES
    by_line = {int(r): (f, m) for r, f, m in errors}
    assert by_line[4][0] == "Наименование" and "required" in by_line[4][1]
    assert by_line[5][0] == "Цена"
    assert by_line[6][0] == "Вид" and "food" in by_line[6][1]
    assert by_line[7][0] == "Поставщик" and "offers" in by_line[7][1]  # the link filter, as a save says it
    assert by_line[8][0] == "Поставщик" and "Нет такого" in by_line[8][1]

    status, page = client.post(f"{run_path}/start", {})
    assert status == 200 and 'role="progressbar"' in page
    result = wait_done(client, run_path)
    assert result == {"state": "done", "total": 8, "done": 8, "written": 3, "rejected": 5, "error": None,
                      "percent": 100}
    rows = products(stock)
    assert [(r["name"], r["code"], r["kind"], r["region"]) for r in rows] == [
        ("Хлеб", "B-1", "food", None), ("Молоко", "M-1", "food", "north"), ("Молоток", "T-1", "tool", "south")]
    milk, hammer = rows[1], rows[2]
    assert decimal.Decimal(milk["price"]) == decimal.Decimal("89.90") and decimal.Decimal(hammer["price"]) == 1450
    assert milk["delivered"] == "2026-12-01" and milk["active"] is True and hammer["active"] is False
    suppliers = {r["name"]: r["id"] for r in stock.records.find("stock", "supplier")}
    assert milk["supplier"] == suppliers["Северный завод"] and hammer["supplier"] == suppliers["Южная база"]

    status, body = client.raw(f"{run_path}/rejected.csv")
    assert status == 200 and body.startswith("\ufeff".encode())
    rejected = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rejected[0] == [*HEADER.split(";"), "Ошибка"]
    assert [r[:-1] for r in rejected[1:]] == [ROWS[n - 2].split(";") for n in BAD_LINES]
    assert "name: is required" in rejected[1][-1] and "supplier:" in rejected[4][-1]

    with stock.engine.connect() as c:
        actions = [a for a, in c.execute(select(tables.audit.c.action).where(tables.audit.c.action.like("import%"))
                                         .order_by(tables.audit.c.seq))]
        creates = c.execute(select(tables.audit.c.username).where(tables.audit.c.action == "create",
                                                                  tables.audit.c.entity == "product")).scalars().all()
    assert actions == ["import_new", "import_queued", "import_chunk", "import_done"]
    assert creates == ["klara"] * 3  # each record audited as the importing user's


def test_the_mapping_is_remembered_per_entity_and_user(served, stock):
    content = "Товар;Код по складу;Примечание\nСоль;S-1;мешок\n".encode()
    client = Client(served)
    client.sign_in("klara")
    status, page = client.upload("/import/stock/product", "соль.csv", content)
    assert mapping_of(page) == {"col0": "", "col1": "", "col2": ""}  # no header names a field
    assert "по названиям" in page
    run_path = client.url.removesuffix("/map").removeprefix(served)
    client.post(f"{run_path}/map", {"col0": "name", "col1": "code", "col2": ""})

    status, page = client.upload("/import/stock/product", "соль-2.csv", content)
    assert mapping_of(page) == {"col0": "name", "col1": "code", "col2": ""}
    assert "как в прошлый раз" in page

    stock.accounts.create_user("kira", "stock-pass-1", roles=["stock:clerk"])
    other = Client(served)
    other.sign_in("kira")
    _, page = other.upload("/import/stock/product", "соль.csv", content)
    assert mapping_of(page) == {"col0": "", "col1": "", "col2": ""}  # Klara's mapping is hers


def test_a_user_who_may_not_create_is_refused_everywhere(served, stock):
    clerk = Client(served)
    clerk.sign_in("klara")
    run_path, _ = upload_and_check(clerk, "товары.csv", ("\n".join([HEADER, *ROWS]) + "\n").encode())

    viewer = Client(served)
    viewer.sign_in("vova")
    _, listing = viewer.get("/ui/stock/product")
    assert 'data-plugin-button="import"' not in listing
    assert viewer.get("/import/stock/product")[0] == 403
    assert viewer.upload("/import/stock/product", "товары.csv", b"name\nx\n")[0] == 403
    for path in ("/map", "/check", "", "/status.json", "/rejected.csv"):
        assert viewer.get(run_path + path)[0] == 403, path
    assert viewer.post(f"{run_path}/start", {})[0] == 403
    assert products(stock) == []

    anonymous = Client(served)
    anonymous.get("/import/stock/product")
    assert anonymous.url.split("?")[0].endswith("/login")  # sent to sign in

    kira = stock.accounts.create_user("kira", "stock-pass-1", roles=["stock:clerk"])
    assert kira
    other_clerk = Client(served)
    other_clerk.sign_in("kira")
    assert other_clerk.get(run_path + "/check")[0] == 404  # Klara's run is not Kira's
    assert other_clerk.post(f"{run_path}/start", {})[0] == 404

    # forms need their CSRF token
    assert clerk.upload("/import/stock/product", "x.csv", b"name\nx\n", token=False)[0] == 400
    assert clerk.post(f"{run_path}/start", {}, token=False)[0] == 400
    assert products(stock) == []


def test_an_excel_workbook_is_imported(served, stock):
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Code", "Price", "Kind", "Delivered", "Active"])  # English titles map too
    sheet.append(["Гречка", "G-1", 99.5, "Продукты", dt.datetime(2026, 12, 3), True])
    sheet.append([None, None, None, None, None, None])  # an empty row is skipped
    sheet.append(["Отвёртка", "O-1", 250, "Tool", dt.date(2026, 12, 4), False])
    sheet.append(["Ключ", "K-2", "дорого", "tool", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    client = Client(served)
    client.sign_in("klara")
    run_path, page = upload_and_check(client, "товары.xlsx", buffer.getvalue())
    assert "можно сохранить: 2" in page and "<td>5</td>" in page  # the sheet's row 5 is wrong
    client.post(f"{run_path}/start", {})
    assert wait_done(client, run_path)["written"] == 2
    buckwheat, driver = [p for p in products(stock) if p["code"] in ("G-1", "O-1")]
    assert (buckwheat["name"], buckwheat["price"], buckwheat["kind"], buckwheat["delivered"], buckwheat["active"]) \
        == ("Гречка", "99.50", "food", "2026-12-03", True)
    assert (driver["kind"], driver["delivered"], driver["active"]) == ("tool", "2026-12-04", False)


@pytest.mark.parametrize("encoding, delimiter", [("cp1251", ";"), ("utf-8-sig", ","), ("utf-8", "\t")])
def test_csv_in_the_encodings_and_separators_of_russian_offices(served, stock, encoding, delimiter):
    lines = [["Наименование", "Артикул", "Цена"], ["Сгущёнка «Алёнка»", "A-1", "120,50"],
             ["Щётка", "A-2", "35"]]
    if delimiter == ",":
        lines[1][2] = "120.50"
    text_ = "\r\n".join(delimiter.join(cells) for cells in lines) + "\r\n"
    content = text_.encode(encoding)
    client = Client(served)
    client.sign_in("klara")
    _, page = client.upload("/import/stock/product", "склад.csv", content)
    shown = {"\t": "TAB"}.get(delimiter, delimiter)
    assert f"Кодировка {encoding}, разделитель {shown}" in page
    run_path = client.url.removesuffix("/map").removeprefix(served)
    client.post(f"{run_path}/map", mapping_of(page))
    client.post(f"{run_path}/start", {})
    assert wait_done(client, run_path)["written"] == 2
    assert [(p["name"], p["price"]) for p in products(stock)] == [("Сгущёнка «Алёнка»", "120.50"), ("Щётка", "35.00")]


@pytest.mark.parametrize("filename, content, message", [
    ("bad.csv", "Наименование;Цена\nМыло;10\nШило;5;лишнее;ещё\n".encode(), "bad.csv: line 3: 4 cells"),
    ("bad.csv", 'Наименование;Цена\n"Мыло;10\n'.encode(), "bad.csv: line 2: a quoted value is never closed"),
    ("bad.csv", "Наименование;;Цена\nМыло;1;2\n".encode(), "bad.csv: line 1: column 2 of the header has no name"),
    ("bad.csv", b"", "bad.csv: the file is empty"),
    ("bad.xlsx", b"PK\x03\x04 not really a workbook", "bad.xlsx: not an Excel workbook"),
])
def test_a_broken_file_is_refused_naming_the_line(served, stock, filename, content, message):
    client = Client(served)
    client.sign_in("klara")
    status, page = client.upload("/import/stock/product", filename, content)
    assert status == 400 and message in page.replace("&#39;", "'"), page[-800:]


def test_numbers_are_formatted_from_their_pattern_whatever_it_holds():
    from runtime.data.records import format_numbers
    assert format_numbers("REQ-{000000}", [42, 1234567]) == ["REQ-000042", "REQ-1234567"]
    assert format_numbers("{00}/{x}", [5]) == ["05/{x}"]     # braces after the counter are text
    assert format_numbers("A{0}", range(9, 11)) == ["A9", "A10"]
