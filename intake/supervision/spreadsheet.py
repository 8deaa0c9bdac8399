"""Writing rows to XLSX and CSV files that are safe to open: streamed, and never a formula.

Dates are written as dates (a spreadsheet can sort and filter them), the header row is frozen and filtered,
and each column is as wide as its header needs.

Text a worker typed can start with = + - @ (or a tab or carriage return), which Excel and WPS would run as a
formula (CSV/formula injection, e.g. =HYPERLINK(...) leaking data). Such text is written with a leading
apostrophe, the spreadsheet's own "this is text" mark, and control characters are removed. XLSX is written
by openpyxl's write-only workbook (rows go to disk as they come); CSV is UTF-8 with a byte-order mark, so
Excel on Chinese Windows opens it without garbling.
"""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from intake.foundation.validation import clean_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_BREAKS = str.maketrans({"\r": " ", "\n": " "})


DATE_FORMAT, TIME_FORMAT = "%Y-%m-%d", "%Y-%m-%d %H:%M"
MIN_WIDTH, MAX_WIDTH = 8, 40


def safe(value):
    """A cell value as written: numbers and dates as they are, text on one line, cleaned, and never a formula."""
    if not isinstance(value, str):
        return value
    text = clean_text(value.translate(LINE_BREAKS))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_xlsx(out: BinaryIO, sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence]]]) -> int:
    """(title, header, rows) per sheet; returns the data rows written."""
    book = Workbook(write_only=True)
    written = 0
    bold = Font(bold=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        for index, name in enumerate(header, 1):
            sheet.column_dimensions[get_column_letter(index)].width = _width(name)
        sheet.freeze_panes = "A2"
        cells = []
        for name in header:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)
        count = 0
        for row in rows:
            sheet.append([safe(v) for v in row])
            count += 1
        sheet.auto_filter.ref = f"A1:{get_column_letter(max(len(header), 1))}{count + 1}"
        written += count
    book.save(out)
    return written


def _width(header: str) -> float:
    """Room for the header, a CJK character counting twice, within bounds; dates need about 16."""
    wide = sum(2 if ord(ch) > 0x2E80 else 1 for ch in header)
    return float(min(MAX_WIDTH, max(MIN_WIDTH, wide + 2, 16 if "时间" in header or "日期" in header else 0)))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(TIME_FORMAT)
    if isinstance(value, date):
        return value.strftime(DATE_FORMAT)
    return safe(value)


def write_csv(out: BinaryIO, header: Sequence[str], rows: Iterable[Sequence]) -> int:
    out.write(codecs.BOM_UTF8)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(header)
    written = 0
    for row in rows:
        writer.writerow([_text(v) for v in row])
        written += 1
    text.detach()
    return written
