"""PDF pages rendered per second by the documents plugin (plugins/documents).

The shop test app (tests/documents/shop_app) on a temporary SQLite database: orders
with a customer and table rows, printed through the same path as the web page
(``service.print_record`` and ``service.print_list`` as a clerk, so permissions,
linked records and the sandboxed template all count). Two figures: one record per
PDF (the record page's button) and a list of records per PDF (the list's button),
each the median of ``--reps`` runs. Rendering is WeasyPrint's layout in this
process; the database is a small part of it, so only SQLite runs.

    .venv/bin/python bench/bench_documents.py              # ~1 min
    .venv/bin/python bench/bench_documents.py --records 5  # a smoke run
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metamodel import read_folder  # noqa: E402
from plugins.documents import service  # noqa: E402
from runtime.core.loom import Loom  # noqa: E402
from runtime.extension.platform import Platform  # noqa: E402

TARGET = 5.0  # pages per second one process should print at least


def pages(pdf: bytes, folder: Path) -> int:
    path = folder / "bench.pdf"
    path.write_bytes(pdf)
    try:
        out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))
    except (OSError, subprocess.CalledProcessError):
        return pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")  # without poppler-utils


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20, help="orders printed per run")
    parser.add_argument("--reps", type=int, default=3, help="runs per figure (the median is printed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        loom = Loom(f"sqlite:///{folder / 'bench.db'}", files_dir=folder / "files")
        loom.upgrade_db()
        loom.load()
        doc, _ = read_folder(ROOT / "tests" / "documents" / "shop_app")
        loom.store.publish(doc, author="bench")
        loom.accounts.create_user("kira", "bench-pass-1", roles=["shop:clerk"])
        customer = loom.records.create("shop", "customer", {"name": "ООО Ромашка", "inn": "7701000001"})
        ids = [loom.records.create("shop", "order", {
            "subject": f"Заказ канцелярии № {i}", "customer": customer["id"], "kind": "retail",
            "lines": [{"item": f"Товар {j}", "qty": j + 1, "price": "120.50"} for j in range(8)]})["id"]
            for i in range(args.records)]
        platform = Platform(loom)
        records = platform.records("kira")
        tpl = service.template(platform, "shop", "invoice")
        service.print_record(platform, records, tpl, ids[0])  # warm up: fonts, pango, the compiled template

        def one_by_one() -> tuple[float, int]:
            start, count = time.perf_counter(), 0
            for record_id in ids:
                _, pdf = service.print_record(platform, records, tpl, record_id)
                count += pages(pdf, folder)
            return time.perf_counter() - start, count

        def as_list() -> tuple[float, int]:
            start = time.perf_counter()
            _, pdf = service.print_list(platform, records, tpl, ids)
            return time.perf_counter() - start, pages(pdf, folder)

        print(f"documents: {args.records} orders with 8 rows each, {args.reps} runs, median")
        for label, run in (("one record per PDF", one_by_one), ("one PDF for the list", as_list)):
            runs = [run() for _ in range(args.reps)]
            rate = statistics.median(n / seconds for seconds, n in runs)
            verdict = "ok" if rate >= TARGET else f"below the target of {TARGET:g}"
            print(f"  {label:22s} {rate:7.1f} pages/s  ({runs[0][1]} pages a run; {verdict})")
        loom.engine.dispose()


if __name__ == "__main__":
    main()
