"""The site's rights notice board (维权信息告示牌, Decree 724 Art. 34) with its complaint QR code.

Everything is laid out as data first (PosterLayout), then drawn, so tests can check what is printed
and where without reading pixels. Drawing is greyscale "L" on a cached template holding the parts
that are the same on every poster of a city; PDF pages are 1-bit (see _encoded_page).
"""

from __future__ import annotations

import functools
import io
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import img2pdf
from PIL import Image, ImageDraw

from .codes import make_qr
from .layout import clean, get_font, wrap

DPI = 300
WIDTH, HEIGHT = 2480, 3508  # A4 at 300 dpi
MARGIN = 150  # 12.7 mm: inside every office printer's unprintable border
LEFT, RIGHT = MARGIN, WIDTH - MARGIN
BLACK, WHITE = 0, 255

TITLE = "农民工工资维权信息告示牌"
LEGAL_BASIS = "依据《保障农民工工资支付条例》第三十四条设置"
CALL_TO_ACTION = "扫码反映欠薪问题"
FOOTER_LINES = (
    "劳动争议仲裁：可向用工所在地劳动人事争议仲裁委员会申请仲裁",
    "法律援助、法律咨询：拨打公共法律服务热线 12348",
)
PHONE_BLANK = "＿＿＿＿＿＿＿＿（待公布，可手写）"
DEFAULT_HOTLINES = (
    ("政务服务便民热线", "12345"),
    ("劳动保障监察投诉", "12333"),
    ("公共法律服务热线", "12348"),
)

# Vertical bands, top to bottom (px).
TITLE_BOX = (LEFT, MARGIN, RIGHT, MARGIN + 300)
BODY_TOP = TITLE_BOX[3] + 60
FOOTER_BOX = (LEFT, HEIGHT - MARGIN - 220, RIGHT, HEIGHT - MARGIN)
QR_SIZE = 880  # 7.5 cm including the quiet zone: scannable from 2 m
CAPTION_H = 80
QR_TOP = FOOTER_BOX[1] - 40 - CAPTION_H - QR_SIZE
QR_X = RIGHT - QR_SIZE
LOWER_RULE_Y = QR_TOP - 50
LEFT_COL_W = QR_X - 60 - LEFT

# (font size, max lines per value) from roomiest to tightest; the last always fits.
ROW_STYLES = ((64, 3), (58, 3), (52, 3), (52, 2), (46, 2), (42, 2), (42, 1))


@dataclass(frozen=True, kw_only=True)
class PosterData:
    """Plain site data, already in display form (Chinese text, formatted phone numbers)."""

    site_code: str
    site_name: str
    qr_data: str
    address: str | None = None
    county_name: str | None = None
    industry: str | None = None
    investment: str | None = None
    owner: str | None = None
    general_contractor: str | None = None
    project_office: str | None = None  # the general contractor's 项目部 on this site
    subcontractors: tuple[str, ...] = ()  # 分包单位
    labour_manager: str | None = None
    labour_manager_phone: str | None = None
    industry_department: str | None = None
    industry_department_phone: str | None = None
    labour_inspection: str | None = None
    labour_inspection_phone: str | None = None
    minimum_wage: str | None = None
    pay_day: str | None = None
    check_hint: str | None = None
    hotlines: tuple[tuple[str, str], ...] = DEFAULT_HOTLINES
    city_name: str | None = None


@dataclass(frozen=True)
class TextItem:
    text: str
    x: int
    y: int
    size: int
    box: tuple[int, int, int, int]  # ink bounds on the page, for overlap and margin checks
    fill: int = BLACK
    anchor: str = "la"
    stroke: int = 0


@dataclass(frozen=True)
class RectItem:
    box: tuple[int, int, int, int]
    fill: int | None = None
    outline: int | None = None
    width: int = 0


Item = TextItem | RectItem


@dataclass(frozen=True)
class PosterLayout:
    static: tuple[Item, ...]  # identical for every site of a city: drawn once into the template
    items: tuple[Item, ...]
    qr_box: tuple[int, int, int]  # x, y, size

    def texts(self) -> list[str]:
        """Every string printed on the poster, top to bottom."""
        return [i.text for i in self.static + self.items if isinstance(i, TextItem)]


def _text(font_path: str, text: str, x: int, y: int, size: int, **kw) -> TextItem:
    font = get_font(font_path, size)
    anchor, stroke = kw.get("anchor", "la"), kw.get("stroke", 0)
    # A stroke widens the ink on both sides: keep left/right-aligned ink on the alignment line.
    x += {"l": stroke, "r": -stroke}.get(anchor[0], 0)
    l, t, r, b = font.getbbox(text, anchor=anchor, stroke_width=stroke)
    return TextItem(text, x, y, size, (x + l, y + t, x + r, y + b), **kw)


def _centered(font_path: str, text: str, cx: int, y: int, size: int, **kw) -> TextItem:
    return _text(font_path, text, cx, y, size, anchor="ma", **kw)


@functools.lru_cache(maxsize=8)
def _static_items(font_path: str, city_name: str | None) -> tuple[Item, ...]:
    cx = WIDTH // 2
    subtitle = f"{city_name} · {LEGAL_BASIS}" if city_name else LEGAL_BASIS
    sub_font = get_font(font_path, 54)
    (subtitle,) = wrap(subtitle, sub_font, RIGHT - LEFT - 80, 1)
    items: list[Item] = [
        RectItem(TITLE_BOX, fill=BLACK),
        _centered(font_path, TITLE, cx, TITLE_BOX[1] + 45, 150, fill=WHITE, stroke=2),
        _centered(font_path, subtitle, cx, TITLE_BOX[1] + 215, 54, fill=WHITE),
        RectItem((LEFT, LOWER_RULE_Y, RIGHT, LOWER_RULE_Y + 6), fill=BLACK),
        _text(font_path, CALL_TO_ACTION, LEFT, QR_TOP + 10, 150, stroke=3),
        RectItem(FOOTER_BOX, outline=BLACK, width=5),
    ]
    for i, line in enumerate(FOOTER_LINES):
        (line,) = wrap(line, get_font(font_path, 54), RIGHT - LEFT - 80, 1)
        items.append(_text(font_path, line, LEFT + 40, FOOTER_BOX[1] + 35 + i * 80, 54))
    return tuple(items)


def _rows(data: PosterData) -> list[tuple[str, str]]:
    """(label, value) pairs of Art. 34, leaving out whatever the site record lacks."""

    def joined(*parts: str | None) -> str | None:
        return clean("  ".join(p for p in map(clean, parts) if p))

    def with_phone(name: str | None, phone: str | None) -> str | None:
        """A department's complaint phone, or a blank line to write it in by hand: Art. 34 requires it shown."""
        phone = clean(phone)
        return joined(name, f"投诉电话 {phone}" if phone else f"投诉电话 {PHONE_BLANK}")

    rows = [
        ("工程地址", clean(data.address)),
        ("所属区县", clean(data.county_name)),
        ("行业类别", clean(data.industry)),
        ("投资类型", clean(data.investment)),
        ("建设单位", clean(data.owner)),
        ("施工总承包单位", clean(data.general_contractor)),
        ("总包项目部", clean(data.project_office)),
        ("分包单位", clean("、".join(data.subcontractors))),
        ("劳资专管员", joined(data.labour_manager, data.labour_manager_phone)),
        ("行业主管部门", with_phone(data.industry_department, data.industry_department_phone)),
        ("劳动保障监察", with_phone(data.labour_inspection, data.labour_inspection_phone)),
        ("最低工资标准", clean(data.minimum_wage)),
        ("工资支付日", clean(data.pay_day)),
    ]
    return [(label, value) for label, value in rows if value]


def _body(data: PosterData, font_path: str) -> list[Item]:
    """Project name and the Art. 34 table, shrunk step by step until it fits above the QR band."""
    items: list[Item] = []
    name_font, name_size = get_font(font_path, 96), 96
    y = BODY_TOP
    for line in wrap(clean(data.site_name) or "", name_font, RIGHT - LEFT, 3, stroke=2):
        items.append(_text(font_path, line, LEFT, y, name_size, stroke=2))
        y += 125
    y += 20
    items.append(RectItem((LEFT, y, RIGHT, y + 4), fill=BLACK))
    rows_top, bottom = y + 30, LOWER_RULE_Y - 30
    rows = _rows(data)
    for size, max_lines in ROW_STYLES:
        label_w = get_font(font_path, size).getlength("施工总承包单位：") + size // 2
        value_w = RIGHT - LEFT - int(label_w)
        wrapped = [wrap(value, get_font(font_path, size), value_w, max_lines) for _, value in rows]
        line_h = int(size * 1.4)
        row_gap = size // 3
        height = sum(len(lines) * line_h + row_gap for lines in wrapped)
        if rows_top + height <= bottom or (size, max_lines) == ROW_STYLES[-1]:
            break
    y = rows_top
    for (label, _), lines in zip(rows, wrapped):
        items.append(_text(font_path, f"{label}：", LEFT, y, size))
        for line in lines:
            items.append(_text(font_path, line, LEFT + int(label_w), y, size))
            y += line_h
        y += row_gap
    return items


def _lower_left(data: PosterData, font_path: str) -> list[Item]:
    """Hotlines and the case-check hint beside the QR code, cut to the space left under the call to action."""
    items: list[Item] = []
    y = QR_TOP + 250
    bottom = QR_TOP + QR_SIZE
    label_font, number_size = get_font(font_path, 56), 104
    for label, number in data.hotlines:
        if y + 130 > bottom:
            break
        number = clean(number)
        if not number:
            continue
        (number_line,) = wrap(number, get_font(font_path, number_size), LEFT_COL_W - 300, 1, stroke=2)
        label_w = LEFT_COL_W - int(get_font(font_path, number_size).getlength(number_line)) - 40
        label_lines = wrap(clean(label) or "", label_font, label_w, 1)
        baseline = y + 100
        if label_lines:
            items.append(_text(font_path, label_lines[0], LEFT, baseline, 56, anchor="ls"))
        items.append(_text(font_path, number_line, LEFT + LEFT_COL_W, baseline, number_size, anchor="rs", stroke=2))
        y += 130
    hint = clean(data.check_hint)
    if hint:
        y += 30
        hint_font, line_h = get_font(font_path, 50), 70
        max_lines = max(0, min(4, (bottom - y) // line_h))
        for line in wrap(hint, hint_font, LEFT_COL_W, max_lines) if max_lines else ():
            items.append(_text(font_path, line, LEFT, y, 50))
            y += line_h
    return items


def layout_poster(data: PosterData, font_path: str) -> PosterLayout:
    """Where every piece of text goes; raises ValueError if there is nothing to encode."""
    if not clean(data.qr_data):
        raise ValueError("poster needs qr_data")
    items = _body(data, font_path) + _lower_left(data, font_path)
    code = clean(data.site_code)
    if code:
        (caption,) = wrap(f"工地编号 {code}", get_font(font_path, 50), QR_SIZE, 1)
        items.append(_centered(font_path, caption, QR_X + QR_SIZE // 2, QR_TOP + QR_SIZE + 10, 50))
    return PosterLayout(_static_items(font_path, clean(data.city_name)), tuple(items), (QR_X, QR_TOP, QR_SIZE))


def _draw(draw: ImageDraw.ImageDraw, items: Iterable[Item], font_path: str) -> None:
    for item in items:
        if isinstance(item, RectItem):
            x0, y0, x1, y1 = item.box  # half-open like the text boxes; Pillow's corners are inclusive
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=item.fill, outline=item.outline, width=item.width)
        else:
            draw.text(
                (item.x, item.y), item.text, fill=item.fill, font=get_font(font_path, item.size),
                anchor=item.anchor, stroke_width=item.stroke, stroke_fill=item.fill,
            )


@functools.lru_cache(maxsize=4)
def _template(font_path: str, city_name: str | None) -> Image.Image:
    image = Image.new("L", (WIDTH, HEIGHT), WHITE)
    _draw(ImageDraw.Draw(image), _static_items(font_path, city_name), font_path)
    return image


def _qr_image(data: str, size: int) -> Image.Image:
    """The code with a 4-module quiet zone, whole pixels per module so edges stay sharp."""
    qr = make_qr(data)
    rows = [bytes(0 if dark else 255 for dark in row) for row in qr.matrix_iter(scale=1, border=4)]
    n = len(rows)
    module = size // n
    return Image.frombytes("L", (n, n), b"".join(rows)).resize((n * module, n * module), Image.Resampling.NEAREST)


def render_poster(data: PosterData, font_path: str) -> Image.Image:
    """The poster as a greyscale ("L") A4 image at 300 dpi (2480 x 3508 px)."""
    layout = layout_poster(data, font_path)
    image = _template(font_path, clean(data.city_name)).copy()
    _draw(ImageDraw.Draw(image), layout.items, font_path)
    x, y, size = layout.qr_box
    code = _qr_image(clean(data.qr_data), size)
    offset = (size - code.width) // 2
    image.paste(code, (x + offset, y + offset))
    return image


def poster_png(data: PosterData, font_path: str) -> bytes:
    buf = io.BytesIO()
    render_poster(data, font_path).save(buf, "PNG", dpi=(DPI, DPI))
    return buf.getvalue()


def poster_pdf(data: PosterData, font_path: str) -> bytes:
    """One A4 page (210 x 297 mm)."""
    buf = io.BytesIO()
    write_posters_pdf([data], font_path, buf, workers=1)
    return buf.getvalue()


A4_POINTS = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))


def _encoded_page(args: tuple[PosterData, str]) -> bytes:
    """A page as a 1-bit PNG: invisible on paper at 300 dpi, 8x smaller than grey, and img2pdf embeds
    PNG data without decoding it, so a page costs a few ms and about 65 kB."""
    buf = io.BytesIO()
    render_poster(*args).convert("1", dither=Image.Dither.NONE).save(buf, "PNG", dpi=(DPI, DPI), compress_level=6)
    return buf.getvalue()


def write_posters_pdf(
    posters: Iterable[PosterData],
    font_path: str,
    out: BinaryIO,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> int:
    """Write one A4 page per poster to out, in input order, and return the page count.

    Pages are rendered in `workers` processes (default one per CPU) and kept only as compressed
    1-bit images, so a county's thousand posters need tens of megabytes, not gigabytes.
    progress(1) is called after each page, so tqdm's update fits. Raises ValueError for an empty batch.
    """
    workers = workers or os.cpu_count() or 1
    jobs = ((data, font_path) for data in posters)
    encoded = []
    with _pages(jobs, workers) as pages:
        for page in pages:
            encoded.append(page)
            if progress:
                progress(1)
    if not encoded:
        raise ValueError("no pages to write")
    img2pdf.convert(encoded, layout_fun=img2pdf.get_layout_fun(A4_POINTS), outputstream=out)
    return len(encoded)


class _pages:
    """Rendered pages in input order, from a process pool when workers > 1.

    imap keeps order; "spawn" avoids forking a threaded web or worker process.
    """

    def __init__(self, jobs: Iterator[tuple[PosterData, str]], workers: int):
        self._jobs, self._workers, self._pool = jobs, workers, None

    def __enter__(self) -> Iterator[bytes]:
        if self._workers <= 1:
            return map(_encoded_page, self._jobs)
        self._pool = multiprocessing.get_context("spawn").Pool(self._workers)
        return self._pool.imap(_encoded_page, self._jobs, chunksize=4)

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
