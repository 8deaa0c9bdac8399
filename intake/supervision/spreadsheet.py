"""Writing rows to XLSX and CSV files that are safe to open: streamed, and never a formula.

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
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from intake.foundation.validation import clean_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_BREAKS = str.maketrans({"\r": " ", "\n": " "})


def safe(value):
    """A cell value as written: numbers as they are, text on one line, cleaned, and never a formula."""
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
        cells = []
        for name in header:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)
        for row in rows:
            sheet.append([safe(v) for v in row])
            written += 1
    book.save(out)
    return written


def write_csv(out: BinaryIO, header: Sequence[str], rows: Iterable[Sequence]) -> int:
    out.write(codecs.BOM_UTF8)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(header)
    written = 0
    for row in rows:
        writer.writerow(["" if v is None else safe(v) for v in row])
        written += 1
    text.detach()
    return written
