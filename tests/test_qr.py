"""qr/: codes, fonts, poster layout and rendering, PDF output.

Decoding uses zxing-cpp; PDFs are read with pypdf and rasterised with poppler's pdftoppm, as a printer would.
"""

from __future__ import annotations

import io
import itertools
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader

from qr import (
    PosterData,
    find_cjk_font,
    layout_poster,
    poster_pdf,
    poster_png,
    qr_png,
    qr_svg,
    render_poster,
    write_posters_pdf,
)
from qr.fonts import has_cjk_glyphs
from qr.layout import get_font, wrap
from qr.poster import HEIGHT, MARGIN, WIDTH, TextItem

URL = "https://qingling.example.gov.cn/s/Ab3dEf9hJk2m"
A4_POINTS = (595.2756, 841.8898)


@pytest.fixture(scope="module")
def font() -> str:
    path = find_cjk_font()
    assert path is not None, "no font with Chinese glyphs: install fonts-wqy-microhei"
    return path


def full_site(**changes) -> PosterData:
    site = PosterData(
        site_code="371302-0042",
        site_name="兰山区阳光城三期住宅项目",
        qr_data=URL,
        address="山东省临沂市兰山区金雀山路与沂蒙路交汇处",
        county_name="兰山区",
        industry="房屋建筑",
        investment="社会投资",
        owner="临沂阳光城置业有限公司",
        general_contractor="中建八局第二建设有限公司",
        labour_manager="王建国",
        labour_manager_phone="13805391234",
        industry_department="兰山区住房和城乡建设局",
        industry_department_phone="0539-8123456",
        labour_inspection="兰山区人社局劳动保障监察大队",
        labour_inspection_phone="0539-8765432",
        minimum_wage="2200元/月",
        pay_day="每月15日",
        check_hint="查询进度：打开 https://qingling.example.gov.cn/status 输入受理编号和手机号后四位",
        city_name="临沂市",
    )
    return replace(site, **changes)


def decode(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


def test_find_cjk_font_draws_chinese(font):
    glyph = Image.new("L", (100, 100))
    ImageDraw.Draw(glyph).text((10, 10), "欠", fill=255, font=ImageFont.truetype(font, 64))
    assert glyph.getbbox() is not None
    assert find_cjk_font("/nonexistent/font.ttf") == font  # a wrong configured path falls through


def test_font_without_chinese_is_rejected(tmp_path):
    broken = tmp_path / "not-a-font.ttf"
    broken.write_bytes(b"not a font")
    assert not has_cjk_glyphs(str(broken))
    assert find_cjk_font(str(broken)) != str(broken)


def test_qr_png_round_trip():
    image = Image.open(io.BytesIO(qr_png(URL, scale=4, border=4)))
    assert decode(image) == [URL]


def test_qr_png_keeps_quiet_zone():
    image = Image.open(io.BytesIO(qr_png(URL, scale=1, border=4))).convert("L")
    for edge in ((0, 0, image.width, 4), (0, 0, 4, image.height)):
        assert image.crop(edge).getextrema() == (255, 255)


def rasterize_segno_svg(svg: bytes) -> Image.Image:
    """Draw segno's single-path SVG (horizontal strokes of one module) so zxing can read it."""
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    path = root.find("svg:path", ns)
    scale = float(re.fullmatch(r"scale\((\d+)\)", path.get("transform")).group(1))
    image = Image.new("L", (int(root.get("width")), int(root.get("height"))), 255)
    draw = ImageDraw.Draw(image)
    x = y = 0.0
    for cmd, a, b in re.findall(r"([MmHh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path.get("d")):
        if cmd in "Mm":
            x, y = (float(a), float(b)) if cmd == "M" else (x + float(a), y + float(b))
        else:
            end = x + float(a)
            draw.rectangle((x * scale, (y - 0.5) * scale, end * scale - 1, (y + 0.5) * scale - 1), fill=0)
            x = end
    return image


def test_qr_svg_round_trip():
    svg = qr_svg(URL, scale=10, border=4)
    assert svg.startswith(b"<?xml")
    assert decode(rasterize_segno_svg(svg)) == [URL]


def test_empty_qr_data_is_refused(font):
    with pytest.raises(ValueError):
        qr_png("")
    with pytest.raises(ValueError):
        layout_poster(full_site(qr_data=" "), font)


def test_poster_png_is_a4_and_its_code_decodes(font):
    image = Image.open(io.BytesIO(poster_png(full_site(), font)))
    assert image.size == (2480, 3508)
    assert round(image.info["dpi"][0]) == 300
    assert decode(image) == [URL]


def test_poster_prints_every_art34_field(font):
    texts = "\n".join(layout_poster(full_site(), font).texts())
    for expected in (
        "农民工工资维权信息告示牌", "兰山区阳光城三期住宅项目", "建设单位", "临沂阳光城置业有限公司",
        "施工总承包单位", "劳资专管员", "13805391234", "行业主管部门", "0539-8123456", "劳动保障监察",
        "2200元/月", "每月15日", "扫码反映欠薪问题", "12345", "12333", "12348", "仲裁", "371302-0042",
    ):
        assert expected in texts


def test_missing_optional_fields_print_nothing(font):
    bare = PosterData(site_code="X1", site_name="无名工地", qr_data=URL)
    texts = layout_poster(bare, font).texts()
    joined = "\n".join(texts)
    assert "None" not in joined
    for label in ("最低工资标准", "工资支付日", "建设单位", "劳资专管员", "工程地址"):
        assert label not in joined
    assert "12348" in joined  # the legal-aid line is always there
    assert decode(render_poster(bare, font)) == [URL]


def test_only_phone_of_inspection_is_still_printed(font):
    texts = layout_poster(full_site(labour_inspection=None, labour_manager=None), font).texts()
    assert "投诉电话 0539-8765432" in texts
    assert "13805391234" in texts
    assert not any("None" in t for t in texts)


def assert_inside_and_apart(items: list[TextItem]) -> None:
    for item in items:
        left, top, right, bottom = item.box
        assert MARGIN <= left and right <= WIDTH - MARGIN, item
        assert MARGIN <= top and bottom <= HEIGHT - MARGIN, item
    for a, b in itertools.combinations(items, 2):
        apart_x = min(a.box[2], b.box[2]) <= max(a.box[0], b.box[0])
        apart_y = min(a.box[3], b.box[3]) <= max(a.box[1], b.box[1])
        assert apart_x or apart_y, (a, b)


def test_long_and_hostile_text_stays_on_the_page(font):
    site = full_site(
        site_name="临沂市兰山区阳光城三期住宅项目Phase-II" * 9,  # over 200 characters
        owner="<script>alert(1)</script>" * 3,
        general_contractor="中国建筑第八工程局有限公司" * 10,
        address="https://example.com/" + "a" * 300,
        labour_inspection="兰山区人力资源和社会保障局劳动保障监察大队\n\t第三中队" * 5,
        hotlines=(("一个非常非常非常长的热线名称用来测试截断", "0539-12345678901234567890"),) * 6,
        city_name="临沂市" * 40,
    )
    assert len(site.site_name) >= 200
    layout = layout_poster(site, font)
    texts = [i for i in layout.static + layout.items if isinstance(i, TextItem)]
    assert_inside_and_apart(texts)
    joined = "\n".join(t.text for t in texts)
    assert "<script>alert(1)</script>" in joined  # drawn as plain text
    assert "…" in joined
    assert "\t" not in joined and "\n" not in "".join(t.text for t in texts)

    image = render_poster(site, font)
    assert decode(image) == [URL]
    margins = (
        (0, 0, WIDTH, MARGIN),
        (0, HEIGHT - MARGIN, WIDTH, HEIGHT),
        (0, 0, MARGIN, HEIGHT),
        (WIDTH - MARGIN, 0, WIDTH, HEIGHT),
    )
    for strip in margins:
        assert image.crop(strip).getextrema() == (255, 255), strip


def test_normal_poster_text_is_inside_and_apart(font):
    layout = layout_poster(full_site(), font)
    assert_inside_and_apart([i for i in layout.static + layout.items if isinstance(i, TextItem)])


def test_wrap_breaks_cjk_anywhere_and_keeps_short_ascii_words(font):
    f = get_font(font, 50)
    lines = wrap("输入受理编号 https://qingling.example.gov.cn/status 和手机号后四位" * 3, f, 600, 10)
    assert len(lines) > 3
    assert all(f.getlength(line) <= 600 for line in lines)
    assert any(line.startswith("https") or line.endswith("status") for line in lines)
    cut = wrap("欠" * 100, f, 600, 2)
    assert len(cut) == 2 and cut[-1].endswith("…") and f.getlength(cut[-1]) <= 600


def pdf_pages(data: bytes) -> list:
    reader = PdfReader(io.BytesIO(data))
    return list(reader.pages)


def rasterise(data: bytes, tmp_path) -> list[Image.Image]:
    (tmp_path / "in.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "100", "-gray", "-png", str(tmp_path / "in.pdf"), str(tmp_path / "page")],
                   check=True)
    return [Image.open(p) for p in sorted(tmp_path.glob("page-*.png"))]


def test_poster_pdf_is_one_a4_page_with_a_readable_code(font, tmp_path):
    data = poster_pdf(full_site(), font)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    (page,) = pdf_pages(data)
    assert float(page.mediabox.width) == pytest.approx(A4_POINTS[0], abs=0.01)
    assert float(page.mediabox.height) == pytest.approx(A4_POINTS[1], abs=0.01)
    (image,) = page.images
    assert image.image.size == (2480, 3508)
    (printed,) = rasterise(data, tmp_path)
    assert decode(printed) == [URL]


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_pdf_has_one_page_per_poster_in_order(font, workers, tmp_path):
    sites = [full_site(qr_data=f"{URL}{i}", site_code=f"S{i}") for i in range(5)]
    ticks: list[int] = []
    out = io.BytesIO()
    assert write_posters_pdf(iter(sites), font, out, progress=ticks.append, workers=workers) == 5
    assert ticks == [1] * 5
    assert len(pdf_pages(out.getvalue())) == 5
    assert [decode(page) for page in rasterise(out.getvalue(), tmp_path)] == [[s.qr_data] for s in sites]


def test_empty_batch_is_refused(font):
    with pytest.raises(ValueError):
        write_posters_pdf([], font, io.BytesIO())


def test_qr_package_imports_nothing_of_ours_nor_flask():
    code = "import sys, qr; print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'intake', 'handlers')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
