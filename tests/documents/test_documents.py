"""Printable documents (plugins/documents) on SQLite and PostgreSQL.

The shop app (``shop_app/``) has orders with a customer link, a table of lines and
a file field for printed copies; its invoice is an HTML template, and a Word letter
is added per test from a DOCX built with python-docx. PDFs are read back with
``pdftotext`` (poppler-utils), DOCX with python-docx; pages go through the web app
with a signed-in session and CSRF like a browser's.
"""
from __future__ import annotations

import base64
import copy
import io
import shutil
import subprocess
from pathlib import Path

import docx as python_docx
import pytest

from metamodel import MetadataError, read_folder
from runtime.core.config import Settings
from runtime.web import create_app
from tests.conftest import APPS, make_loom
from tests.ui.conftest import Browser

HERE = Path(__file__).resolve().parent
APP = HERE / "shop_app"
PASSWORD = "shop-pass-1"


def pdf_text(content: bytes, tmp_path: Path) -> str:
    assert content.startswith(b"%PDF"), content[:200]
    path = tmp_path / "out.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_pages(content: bytes, tmp_path: Path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def docx_text(content: bytes) -> str:
    document = python_docx.Document(io.BytesIO(content))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def word_template() -> str:
    """A Word letter with docxtpl tags (a loop over the table rows in a paragraph), base64."""
    document = python_docx.Document()
    document.add_paragraph("Письмо по заказу {{ record.number }}: {{ record.subject }}")
    document.add_paragraph("Покупатель: {{ titles.customer }}")
    document.add_paragraph("{% for line in record.lines %}{{ line.item }} × {{ line.qty }}; {% endfor %}")
    out = io.BytesIO()
    document.save(out)
    return base64.b64encode(out.getvalue()).decode()


def with_letter(doc: dict, **extra) -> dict:
    doc = copy.deepcopy(doc)
    doc["extensions"]["documents"]["templates"]["letter"] = {
        "entity": "order", "title": {"ru": "Письмо", "en": "Letter"}, "docx": word_template(), **extra}
    return doc


@pytest.fixture
def shop(db_url, tmp_path):
    """The shop app with the Word letter added; clerk ``kira``, auditor ``ivan`` (reads orders
    but not customers) and ``olga`` (no role in the shop)."""
    loom = make_loom(db_url, tmp_path / "files")
    doc, _ = read_folder(APP)
    loom.store.publish(with_letter(doc), author="tester")
    loom.accounts.create_user("kira", PASSWORD, roles=["shop:clerk"])
    loom.accounts.create_user("ivan", PASSWORD, roles=["shop:auditor"])
    loom.accounts.create_user("olga", PASSWORD, roles=[])
    yield loom
    loom.engine.dispose()


@pytest.fixture
def orders(shop):
    create = shop.records.create
    romashka = create("shop", "customer", {"name": "ООО Ромашка", "inn": "7701000001"})
    lyutik = create("shop", "customer", {"name": "АО Лютик", "inn": "7701000002"})
    return [
        create("shop", "order", {"subject": "Канцелярия на квартал", "customer": romashka["id"], "kind": "wholesale",
                                 "lines": [{"item": "Бумага А4", "qty": 40, "price": "350.00"},
                                           {"item": "Скрепки", "qty": 12, "price": "45.50"}]}),
        create("shop", "order", {"subject": "Картриджи для принтеров", "customer": lyutik["id"], "kind": "retail",
                                 "lines": [{"item": "Картридж HP", "qty": 3, "price": "5200.00"}]}),
        create("shop", "order", {"subject": "Мебель в переговорную", "kind": "retail",
                                 "lines": [{"item": "Стол овальный", "qty": 1, "price": "48000.00"}]}),
    ]


def browser_for(loom, tmp_path, username: str) -> Browser:
    app = create_app(Settings(tmp_path, loom.database_url, secret="documents-tests"), loom)
    app.config["TESTING"] = True
    browser = Browser(app.test_client())
    assert browser.login(username, PASSWORD).status_code == 302
    return browser


# ---------------------------------------------------------------------- printing one record
def test_a_record_prints_as_pdf_with_its_rows_and_linked_record(shop, orders, tmp_path):
    browser = browser_for(shop, tmp_path, "kira")
    order = orders[0]
    page = browser.get(f"/ui/shop/order/{order['id']}").get_data(as_text=True)
    assert f'href="/documents/shop/invoice/{order["id"]}"' in page and "Печать: Счёт" in page
    assert f'action="/documents/shop/invoice/{order["id"]}/attach"' in page  # the template keeps copies

    response = browser.get(f"/documents/shop/invoice/{order['id']}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82%20ORD-0001.pdf" in response.headers["Content-Disposition"]
    text = pdf_text(response.data, tmp_path)
    for expected in ("Счёт ORD-0001", "Канцелярия на квартал", "ООО Ромашка", "ИНН 7701000001", "Опт",
                     "Бумага А4", "350,00", "Скрепки", "45,50", "Напечатал: kira"):
        assert expected in text, (expected, text)
    assert "Картридж" not in text  # another order's row


def test_a_record_prints_as_docx_read_back(shop, orders, tmp_path):
    browser = browser_for(shop, tmp_path, "kira")
    response = browser.get(f"/documents/shop/letter/{orders[0]['id']}")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    text = docx_text(response.data)
    assert "Письмо по заказу ORD-0001: Канцелярия на квартал" in text
    assert "Покупатель: ООО Ромашка" in text
    assert "Бумага А4 × 40; Скрепки × 12;" in text


def test_a_linked_record_the_user_may_not_read_is_left_out(shop, orders, tmp_path):
    """ivan reads orders but not customers: the invoice prints without the customer."""
    browser = browser_for(shop, tmp_path, "ivan")
    text = pdf_text(browser.get(f"/documents/shop/invoice/{orders[0]['id']}").data, tmp_path)
    assert "Канцелярия на квартал" in text and "Покупатель: не указан" in text
    assert "Ромашка" not in text and "7701000001" not in text


def test_without_read_permission_printing_is_404(shop, orders, tmp_path):
    browser = browser_for(shop, tmp_path, "olga")
    for url in (f"/documents/shop/invoice/{orders[0]['id']}", f"/documents/shop/letter/{orders[0]['id']}"):
        response = browser.get(url)
        assert response.status_code == 404, url
        assert b"%PDF" not in response.data and "Канцелярия" not in response.get_data(as_text=True)
    response = browser.post("/documents/shop/invoice/list", {"id": [str(o["id"]) for o in orders]},
                            token_from="/ui/")
    assert response.status_code == 404
    # nor may she attach, and a record that does not exist is 404 for the clerk too
    assert browser.post(f"/documents/shop/invoice/{orders[0]['id']}/attach", token_from="/ui/").status_code == 404
    assert browser_for(shop, tmp_path, "kira").get("/documents/shop/invoice/999999").status_code == 404


def test_a_template_limited_to_roles_is_404_for_others(shop, orders, tmp_path):
    doc = shop.store.document("shop")
    doc["extensions"]["documents"]["templates"]["invoice"]["roles"] = ["clerk"]
    shop.store.publish(doc, author="tester")
    ivan = browser_for(shop, tmp_path, "ivan")
    assert "Печать: Счёт" not in ivan.get(f"/ui/shop/order/{orders[0]['id']}").get_data(as_text=True)
    assert ivan.get(f"/documents/shop/invoice/{orders[0]['id']}").status_code == 404
    assert browser_for(shop, tmp_path, "kira").get(f"/documents/shop/invoice/{orders[0]['id']}").status_code == 200


# ---------------------------------------------------------------------- a list into one PDF
def test_three_selected_records_print_into_one_pdf(shop, orders, tmp_path):
    browser = browser_for(shop, tmp_path, "kira")
    page = browser.get("/ui/shop/order").get_data(as_text=True)
    assert 'formaction="/documents/shop/invoice/list"' in page  # a button of the list's selection form
    assert 'formaction="/documents/shop/letter/list"' not in page  # a Word template prints one record at a time
    response = browser.post("/documents/shop/invoice/list", {"id": [str(o["id"]) for o in orders]},
                            token_from="/ui/shop/order")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data, tmp_path)
    for expected in ("ORD-0001", "Канцелярия на квартал", "ООО Ромашка", "ORD-0002", "Картридж HP", "АО Лютик",
                     "ORD-0003", "Мебель в переговорную", "Стол овальный"):
        assert expected in text, expected
    assert text.index("ORD-0001") < text.index("ORD-0002") < text.index("ORD-0003")
    assert pdf_pages(response.data, tmp_path) == 3  # each record from a new page


# ---------------------------------------------------------------------- attaching, scripts
def test_attach_keeps_the_printed_file_with_the_record(shop, orders, tmp_path):
    browser = browser_for(shop, tmp_path, "kira")
    order = orders[1]
    response = browser.post(f"/documents/shop/invoice/{order['id']}/attach", token_from=f"/ui/shop/order/{order['id']}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/ui/shop/order/{order['id']}")
    [copy_] = shop.records.get("shop", "order", order["id"])["copies"]
    assert copy_["filename"] == "Счёт ORD-0002.pdf" and copy_["content_type"] == "application/pdf"
    downloaded = browser.get(f"/ui/shop/order/{order['id']}/files/{copy_['id']}")
    assert downloaded.status_code == 200 and "Картридж HP" in pdf_text(downloaded.data, tmp_path)
    # an auditor may read but not update the order: no attach button, and a refusal
    ivan = browser_for(shop, tmp_path, "ivan")
    assert "/attach" not in ivan.get(f"/ui/shop/order/{order['id']}").get_data(as_text=True)
    assert ivan.post(f"/documents/shop/invoice/{order['id']}/attach", token_from="/ui/").status_code == 403


def test_a_script_action_prints_and_attaches(shop, orders, tmp_path):
    order = orders[2]
    shop.workflow.action("shop", "order", order["id"], "print_invoice", shop.actor("kira"))
    [copy_] = shop.records.get("shop", "order", order["id"])["copies"]
    assert copy_["filename"] == "Счёт ORD-0003.pdf"
    from runtime.data.files import FileStore
    _, path = FileStore(shop).open(copy_["id"], shop.actor("kira"))
    assert "Стол овальный" in pdf_text(path.read_bytes(), tmp_path)


def test_the_platform_renderers_are_offered_to_other_plugins(shop):
    from runtime.extension.platform import Platform
    platform = Platform(shop)
    pdf = platform.render_document("pdf", "<p>Итого {{ total|money }}</p>".encode(), {"total": 1234.5})
    assert pdf.startswith(b"%PDF")
    letter = platform.render_document("docx", base64.b64decode(word_template()),
                                      {"record": {"number": "X-1", "subject": "Тест", "lines": []},
                                       "titles": {"customer": "Кто-то"}})
    assert "Письмо по заказу X-1: Тест" in docx_text(letter)


# ---------------------------------------------------------------------- bad templates
def _broken_app(tmp_path: Path, html: str) -> Path:
    folder = tmp_path / "shop_app"
    shutil.copytree(APP, folder)
    path = folder / "extensions" / "documents.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "      <p>Вид: {{ titles.kind }}</p>\n", html), encoding="utf-8")
    return folder


def test_a_template_syntax_error_names_the_file_and_line(shop, tmp_path):
    folder = _broken_app(tmp_path, "      <p>Вид: {% if titles.kind %}</p>\n")
    lines = (folder / "extensions" / "documents.yaml").read_text(encoding="utf-8").splitlines()
    wrong_line = next(i for i, line in enumerate(lines, 1) if "{% if titles.kind %}" in line)
    with pytest.raises(MetadataError) as caught:
        shop.store.install(folder, author="tester")
    [problem] = caught.value.problems
    assert problem.file == "extensions/documents.yaml" and problem.path == "templates.invoice.html"
    assert "Unexpected end of template" in problem.message
    endif_line = len([line for line in lines if line.strip()])  # jinja reports the end of the template
    assert problem.line is not None and wrong_line < problem.line <= endif_line + 1, (problem, wrong_line)
    assert str(problem).startswith(f"extensions/documents.yaml:{problem.line} templates.invoice.html")


def test_a_wrong_tag_reports_its_exact_line(shop, tmp_path):
    folder = _broken_app(tmp_path, "      <p>Вид: {{ titles.kind | nosuchfilter }}</p>\n")
    lines = (folder / "extensions" / "documents.yaml").read_text(encoding="utf-8").splitlines()
    wrong_line = next(i for i, line in enumerate(lines, 1) if "nosuchfilter" in line)
    with pytest.raises(MetadataError) as caught:
        shop.store.install(folder, author="tester")
    [problem] = caught.value.problems
    assert problem.line == wrong_line and "nosuchfilter" in problem.message, problem


def test_wrong_references_are_refused_at_publish(shop):
    doc = shop.store.document("shop")
    invoice = doc["extensions"]["documents"]["templates"]["invoice"]
    invoice.update(entity="order", attach_to="subject", roles=["clerk", "boss"])
    doc["extensions"]["documents"]["templates"]["memo"] = {"entity": "ordr", "title": "Памятка", "html": "<p/>"}
    with pytest.raises(MetadataError) as caught:
        shop.store.publish(doc, author="tester")
    found = {(p.file, p.path): p.message for p in caught.value.problems}
    assert "no file field 'subject'" in found[("extensions/documents.yaml", "templates.invoice.attach_to")]
    assert "copies" in found[("extensions/documents.yaml", "templates.invoice.attach_to")]
    assert "no role 'boss'" in found[("extensions/documents.yaml", "templates.invoice.roles[1]")]
    assert "no entity 'ordr'" in found[("extensions/documents.yaml", "templates.memo.entity")]


def statement(**related) -> dict:
    """A customer's statement listing the customer's orders (``related:``)."""
    return {"entity": "customer", "title": "Выписка", "roles": ["clerk"],
            "related": related or {"orders": {"entity": "order", "match": {"customer": "id"}, "sort": ["-id"]}},
            "html": "<h1>{{ record.name }}</h1>{% for o in related.orders %}<p>{{ o.number }} {{ o.subject }} "
                    "{{ o.titles.customer }}</p>{% endfor %}"}


def test_a_template_reads_related_records_of_another_entity(shop, orders, tmp_path):
    doc = shop.store.document("shop")
    doc["extensions"]["documents"]["templates"]["statement"] = statement()
    shop.store.publish(doc, author="tester")
    customer = orders[0]["customer"]
    response = browser_for(shop, tmp_path, "kira").get(f"/documents/shop/statement/{customer}")
    assert response.status_code == 200
    text = pdf_text(response.data, tmp_path)
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("ORD-")]
    mine = sorted((o["number"], o["subject"]) for o in orders if o["customer"] == customer)
    assert lines == [f"{n} {s} ООО Ромашка" for n, s in reversed(mine)], text  # newest first


def test_wrong_related_references_are_refused_at_publish(shop):
    doc = shop.store.document("shop")
    doc["extensions"]["documents"]["templates"]["statement"] = statement(
        orders={"entity": "ordr", "match": {"customer": "id"}},
        lines={"entity": "order", "match": {"buyer": "id", "customer": "nme"}, "sort": ["-price"]})
    with pytest.raises(MetadataError) as caught:
        shop.store.publish(doc, author="tester")
    found = {(p.file, p.path): p.message for p in caught.value.problems}
    assert "no entity 'ordr'" in found[("extensions/documents.yaml", "templates.statement.related.orders.entity")]
    assert "order has no field 'buyer'" in found[("extensions/documents.yaml",
                                                 "templates.statement.related.lines.match.buyer")]
    assert "no field 'nme'" in found[("extensions/documents.yaml", "templates.statement.related.lines.match.customer")]
    assert "no field 'price'" in found[("extensions/documents.yaml", "templates.statement.related.lines.sort[0]")]


def test_a_broken_word_file_is_refused(shop):
    doc = shop.store.document("shop")
    doc["extensions"]["documents"]["templates"]["letter"]["docx"] = base64.b64encode(b"not a zip").decode()
    with pytest.raises(MetadataError) as caught:
        shop.store.publish(doc, author="tester")
    [problem] = caught.value.problems
    assert problem.path == "templates.letter.docx" and "not a base64-encoded DOCX" in problem.message


def test_a_failure_while_rendering_names_the_template_and_line(shop, orders, tmp_path):
    doc = shop.store.document("shop")
    doc["extensions"]["documents"]["templates"]["invoice"]["html"] = "<p>{{ record.subject }}</p>\n<p>{{ 1 / 0 }}</p>\n"
    shop.store.publish(doc, author="tester")
    response = browser_for(shop, tmp_path, "kira").get(f"/documents/shop/invoice/{orders[0]['id']}")
    assert response.status_code == 422
    assert ("extensions/documents.yaml templates.invoice.html, template line 2: ZeroDivisionError"
            in response.get_data(as_text=True))


def test_templates_fetch_nothing_from_outside(shop, orders, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doc = shop.store.document("shop")
    doc["extensions"]["documents"]["templates"]["invoice"]["html"] = (
        f'<p>{{{{ record.subject }}}}</p><img src="file://{secret}"><object data="file://{secret}"></object>')
    shop.store.publish(doc, author="tester")
    response = browser_for(shop, tmp_path, "kira").get(f"/documents/shop/invoice/{orders[0]['id']}")
    assert response.status_code == 200
    text = pdf_text(response.data, tmp_path)
    assert "Канцелярия на квартал" in text and "TOP-SECRET" not in text


# ---------------------------------------------------------------------- the designer's editor
def test_an_analyst_edits_a_template_in_the_draft_and_previews_it(shop, orders, tmp_path):
    shop.accounts.create_user("ann", PASSWORD, roles=["analyst", "shop:clerk"])
    browser = browser_for(shop, tmp_path, "ann")
    page = browser.get("/documents/design/shop?template=invoice").get_data(as_text=True)
    assert "Счёт {{ record.number }}" in page  # the HTML as text
    form = {"template": "invoice", "entity": "order", "title_ru": "Счёт-фактура", "title_en": "Tax invoice",
            "attach_to": "copies", "list": "1", "revision": _revision(page),
            "html": "<h1>Счёт-фактура {{ record.number }}</h1><p>{{ titles.customer }}</p>"}
    preview = browser.post("/documents/design/shop", dict(form, action="preview", record_id=str(orders[0]["id"])),
                           token_from="/documents/design/shop")
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    assert "Счёт-фактура ORD-0001" in pdf_text(preview.data, tmp_path)
    assert "Счёт {{ record.number }}" in shop.store.document("shop")["extensions"]["documents"]["templates"][
        "invoice"]["html"]  # a preview changes nothing
    saved = browser.post("/documents/design/shop", dict(form, action="save"), token_from="/documents/design/shop")
    assert saved.status_code == 302
    draft = shop.store.draft("shop")["draft"]
    assert draft["extensions"]["documents"]["templates"]["invoice"]["html"].startswith("<h1>Счёт-фактура")
    assert draft["extensions"]["documents"]["templates"]["letter"]["docx"]  # the other template stays
    # a broken template is shown with its line when previewed
    bad = browser.post("/documents/design/shop", dict(form, action="preview", record_id=str(orders[0]["id"]),
                                                       html="<p>\n{% for %}</p>"),
                       token_from="/documents/design/shop")
    assert bad.status_code == 200 and "template line 2" in bad.get_data(as_text=True)
    # the live app is untouched until the draft is published
    assert shop.store.draft("shop")["current_version"] == 1


def test_only_analysts_reach_the_editor(shop, tmp_path):
    assert browser_for(shop, tmp_path, "kira").get("/documents/design/shop").status_code == 403


def _revision(page: str) -> str:
    import re
    return re.search(r'name="revision" value="(\d+)"', page).group(1)


# ---------------------------------------------------------------------- the demo app
def test_the_service_desk_act_prints_a_request(loom, tmp_path):
    loom.store.install(APPS / "service_desk", author="tester")
    create = loom.records.create
    dep = create("service_desk", "department", {"name": "Отдел сопровождения"})
    mod = create("service_desk", "module", {"name": "СЭД", "code": "EDMS", "department": dep["id"]})
    org = create("service_desk", "organization", {"short_name": "Минздрав", "inn": "6658000001"})
    request = create("service_desk", "request", {
        "subject": "Не формируется отчёт", "description": "Ошибка при выгрузке", "organization": org["id"],
        "module": mod["id"], "labor_hours": "2.5", "hourly_rate": "1500.00",
        "works": [{"work": "Исправлен шаблон отчёта", "hours": "2.5"}]})
    loom.accounts.create_user("agent", PASSWORD, roles=["service_desk:agent"])
    browser = browser_for(loom, tmp_path, "agent")
    assert "Печать: Акт выполненных работ" in browser.get(f"/ui/service_desk/request/{request['id']}").get_data(
        as_text=True)
    response = browser.get(f"/documents/service_desk/act/{request['id']}")
    assert response.status_code == 200
    text = pdf_text(response.data, tmp_path)
    for expected in ("АКТ", request["number"], "Минздрав", "Исправлен шаблон отчёта", "3 750,00"):
        assert expected in text, (expected, text)


def test_a_field_the_template_names_must_exist(shop):
    """record.x and record.link.y are checked against the entities at publish: a typo is found by
    the analyst, not by the first person who prints."""
    doc = shop.store.document("shop")
    doc["extensions"]["documents"]["templates"]["memo"] = {
        "entity": "order", "title": "Памятка",
        "html": "<p>{{ record.subject }} {{ record.number }}</p>\n<p>{{ record.subjct }}</p>\n"
                "<p>{{ record.customer.name }} {{ record.customer.nme }} {{ record['kind'] }}</p>"}
    with pytest.raises(MetadataError) as caught:
        shop.store.publish(doc, author="tester")
    messages = sorted(p.message for p in caught.value.problems)
    assert messages == ["template line 2: record.subjct: no field 'subjct'; did you mean 'subject'?",
                        "template line 3: record.customer.nme: no field 'nme'; did you mean 'name'?"], messages
