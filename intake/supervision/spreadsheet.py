"""Writing rows to XLSX and CSV files that are safe to open: streamed, and never a formula.

Dates are written as dates (a spreadsheet can sort and filter them), the header row is frozen and filtered,
and each column is as wide as its header needs.

Text a worker typed can start with = + - @ (or a tab or carriage return), which Excel and WPS would run as a
formula (CSV/formula injection, e.g. =HYPERLINK(...) leaking data). Such text is written with a leading
apostrophe, the spreadsheet's own "this is text" mark, and control characters are removed. XLSX is written
by XlsxWriter in constant-memory mode (rows go to disk as they come; a third less time than openpyxl's
write-only workbook, whose cell objects were most of a 100,000-row ledger's time), and an empty text is no cell
at all (read back, both are an empty cell); CSV is UTF-8 with a byte-order mark, so Excel on Chinese Windows
opens it without garbling.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import BinaryIO

import xlsxwriter

from intake.foundation.validation import clean_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_BREAKS = str.maketrans({"\r": " ", "\n": " "})
# What safe() would change, besides a formula start: line breaks, control characters (as clean_text removes them).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


DATE_FORMAT, TIME_FORMAT = "%Y-%m-%d", "%Y-%m-%d %H:%M"
DATE_CELL, DATETIME_CELL = "yyyy-mm-dd", "yyyy-mm-dd h:mm:ss"  # as openpyxl wrote them
MIN_WIDTH, MAX_WIDTH = 8, 40


def safe(value):
    """A cell value as written: numbers and dates as they are, text on one line, cleaned, and never a formula."""
    if value.__class__ is not str:
        return value
    if not value.startswith(FORMULA_STARTS) and not _UNSAFE.search(value):
        return value  # most cells: nothing to change, no copy
    text = clean_text(value.translate(LINE_BREAKS))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_xlsx(out: BinaryIO, sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence]]]) -> int:
    """(title, header, rows) per sheet; returns the data rows written. XlsxWriter's constant-memory mode writes
    each row to disk as it comes; every cell is written by its value's type (one method looked up per value)."""
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_numbers": False,
                                     "strings_to_formulas": False, "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    formats = {datetime: book.add_format({"num_format": DATETIME_CELL}),
               date: book.add_format({"num_format": DATE_CELL})}
    written = 0
    for title, header, rows in sheets:
        sheet = book.add_worksheet(title)
        for index, name in enumerate(header):
            sheet.set_column(index, index, _width(name))
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, header, bold)
        writers = {str: sheet.write_string, int: sheet.write_number, float: sheet.write_number,
                   Decimal: sheet.write_number, bool: sheet.write_boolean,
                   datetime: _dated(sheet.write_datetime, formats[datetime]),
                   date: _dated(sheet.write_datetime, formats[date])}
        count = 0
        for count, row in enumerate(rows, 1):
            for column, value in enumerate(row):
                if value is not None and value != "":
                    writers.get(value.__class__, sheet.write)(count, column, safe(value))
        sheet.autofilter(0, 0, count, max(len(header), 1) - 1)
        written += count
    book.close()
    return written


def _dated(write, cell_format):
    return lambda row, column, value: write(row, column, value, cell_format)


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
