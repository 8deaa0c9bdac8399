"""Documents on paper: orders, records, notices and lists as PDF files a department can print, sign and file.

One layout for every official document, so a payment order and a red list look like they come from the same
office. Imports nothing of ours: callers pass the CJK font's path (qr.find_cjk_font) and plain text blocks.
Text is real PDF text (searchable, copyable), drawn with a subset of the font so a page stays small.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

FAMILY = "cjk"
MARGIN = 18  # mm


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Fields:
    """Label: value lines, as on a form (案件编号：…)."""
    rows: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    widths: Sequence[int] | None = None  # relative column widths


@dataclass(frozen=True)
class Signatures:
    """Blank lines to sign on paper (经办人、当事人、日期)."""
    labels: Sequence[str]


Block = Heading | Paragraph | Fields | Table | Signatures


@dataclass(frozen=True)
class Document:
    title: str
    blocks: Sequence[Block]
    issuer: str = ""       # the office, printed under the title
    reference: str = ""    # document number or ticket, printed top right
    footer: str = ""       # printed on every page with the page number
    subject: str = field(default="", compare=False)  # PDF metadata only


class _Pdf(FPDF):
    def __init__(self, document: Document) -> None:
        super().__init__(format="A4")
        self.document = document

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        text = f"{self.document.footer}  第 {self.page_no()} 页 / 共 {{nb}} 页".strip()
        self.cell(0, 6, text, align="C")


def document_pdf(document: Document, font_path: str) -> bytes:
    """The document as PDF bytes; `font_path` must draw Chinese (a .ttf/.otf or the first face of a .ttc)."""
    pdf = _Pdf(document)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font(FAMILY, fname=font_path)
    pdf.set_title(document.title)
    pdf.set_subject(document.subject or document.title)
    pdf.set_creator("Qingling")
    pdf.alias_nb_pages()
    pdf.add_page()
    _title(pdf, document)
    for block in document.blocks:
        _BLOCKS[type(block)](pdf, block)
    return bytes(pdf.output())


def _title(pdf: FPDF, document: Document) -> None:
    if document.reference:
        pdf.set_font(FAMILY, size=9)
        pdf.cell(0, 5, document.reference, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, size=18)
    pdf.multi_cell(0, 10, document.title, align="C", wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if document.issuer:
        pdf.set_font(FAMILY, size=11)
        pdf.cell(0, 7, document.issuer, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _text(pdf: FPDF, text: str, size: float, height: float) -> None:
    pdf.set_font(FAMILY, size=size)
    pdf.multi_cell(0, height, text, align="L", wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _heading(pdf: FPDF, block: Heading) -> None:
    pdf.ln(2)
    _text(pdf, block.text, 13, 8)


def _paragraph(pdf: FPDF, block: Paragraph) -> None:
    for line in block.text.splitlines() or [""]:
        _text(pdf, line, 11, 6.5)
    pdf.ln(1)


def _fields(pdf: FPDF, block: Fields) -> None:
    label_width = 32
    for label, value in block.rows:
        pdf.set_font(FAMILY, size=11)
        pdf.cell(label_width, 6.5, f"{label}：")
        pdf.multi_cell(0, 6.5, value or "—", align="L", wrapmode=WrapMode.CHAR,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _table(pdf: FPDF, block: Table) -> None:
    pdf.set_font(FAMILY, size=9)
    widths = tuple(block.widths) if block.widths else None
    with pdf.table(col_widths=widths, wrapmode=WrapMode.CHAR, line_height=5.5,
                   text_align="LEFT", first_row_as_headings=True,
                   headings_style=FontFace(emphasis="", fill_color=(232, 232, 232))) as table:
        for row in (block.header, *block.rows):
            cells = table.row()
            for value in row:
                cells.cell(str(value))
    pdf.ln(2)


def _signatures(pdf: FPDF, block: Signatures) -> None:
    pdf.ln(6)
    pdf.set_font(FAMILY, size=11)
    for label in block.labels:
        pdf.cell(0, 10, f"{label}：________________________", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


_BLOCKS = {Heading: _heading, Paragraph: _paragraph, Fields: _fields, Table: _table, Signatures: _signatures}
