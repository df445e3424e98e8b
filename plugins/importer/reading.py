"""Reading an uploaded table: an Excel workbook (.xlsx) or a CSV file of any usual encoding.

A CSV file's encoding is found from its bytes (UTF-8 with or without a BOM, otherwise
cp1251, the Windows encoding Russian offices' Excel writes) and its delimiter from its
header line (``;`` in Russian Excel, ``,``, tab or ``|``). Every row keeps its line (or
sheet row) number, so errors name it.
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from dataclasses import dataclass, field

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
DELIMITERS = ";,\t|"


class FileProblem(ValueError):
    """The file cannot be read; the message names the file and the line."""


@dataclass
class Sheet:
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line in the file, cells as text)
    kind: str  # xlsx | csv
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)


def read(filename: str, content: bytes) -> Sheet:
    if not content:
        raise FileProblem(f"{filename}: the file is empty")
    if len(content) > MAX_BYTES:
        raise FileProblem(f"{filename}: the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if content[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        return read_xlsx(filename, content)
    return read_csv(filename, content)


def read_xlsx(filename: str, content: bytes) -> Sheet:
    import zipfile

    from openpyxl import load_workbook
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileProblem(f"{filename}: not an Excel workbook (.xlsx): {exc}") from None
    try:
        lines = enumerate(book.worksheets[0].iter_rows(values_only=True), start=1)
        header, rows = _table(filename, ((n, [_cell_text(v) for v in values]) for n, values in lines))
    finally:
        book.close()
    if header is None:
        raise FileProblem(f"{filename}: the first sheet is empty; its first row must name the columns")
    return Sheet(header, rows, "xlsx")


def read_csv(filename: str, content: bytes) -> Sheet:
    text, encoding = decode(content)
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise FileProblem(f"{filename}: line {line}: a NUL byte; is this a text (CSV) file?")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header, rows = _table(filename, ((reader.line_num, [c.strip() for c in cells]) for cells in reader))
    except csv.Error as exc:
        reason = "a quoted value is never closed" if "end of data" in str(exc) else str(exc)
        raise FileProblem(f"{filename}: line {reader.line_num}: {reason}") from None
    if header is None:
        raise FileProblem(f"{filename}: no header line; the first line must name the columns")
    return Sheet(header, rows, "csv", encoding, delimiter)


def decode(content: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (with its BOM or without), else cp1251."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1251"), "cp1251"
    except UnicodeDecodeError as exc:
        line = content[:exc.start].count(b"\n") + 1
        raise FileProblem(f"line {line}: neither UTF-8 nor Windows-1251 text") from None


def _table(filename: str, lines) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """The header (the first non-empty line) and the numbered rows after it, empty ones skipped."""
    header, rows = None, []
    for number, cells in lines:
        if not any(cells):
            continue
        if header is None:
            header = _header(filename, number, cells)
            continue
        rows.append((number, _fit(filename, number, cells, header)))
        if len(rows) > MAX_ROWS:
            raise FileProblem(f"{filename}: more than {MAX_ROWS} rows; split the file")
    return header, rows


def _header(filename: str, number: int, cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells = cells[:-1]
    blank = [i + 1 for i, c in enumerate(cells) if not c]
    if blank:
        raise FileProblem(f"{filename}: line {number}: column {blank[0]} of the header has no name")
    seen = set()
    for c in cells:
        if c.lower() in seen:
            raise FileProblem(f"{filename}: line {number}: the header names column {c!r} twice")
        seen.add(c.lower())
    return cells


def _fit(filename: str, number: int, cells: list[str], header: list[str]) -> list[str]:
    extra = [c for c in cells[len(header):] if c]
    if extra:
        raise FileProblem(f"{filename}: line {number}: {len(cells)} cells, but the header names "
                          f"{len(header)} columns (a delimiter inside a value without quotes?)")
    return (cells + [""] * len(header))[:len(header)]


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(decimal.Decimal(repr(value)), "f")
    return str(value).strip()
