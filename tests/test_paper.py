"""The PDF documents staff print: Chinese text that a reader can search and copy, page numbers, long tables."""
import subprocess

import pytest

from paper import Document, Fields, Heading, Paragraph, Signatures, Table, document_pdf
from qr import find_cjk_font
from tests.helpers import pdf_text


@pytest.fixture(scope="module")
def font():
    path = find_cjk_font(None)
    assert path, "scripts/system-packages installs fonts-wqy-microhei"
    return path


def _pages(tmp_path, data: bytes) -> int:
    (tmp_path / "doc.pdf").write_bytes(data)
    info = subprocess.run(["pdfinfo", str(tmp_path / "doc.pdf")], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_a_document_reads_back_as_chinese_text(font):
    doc = Document(
        title="劳动保障监察限期改正指令书", issuer="临沂市兰山区人力资源和社会保障局", reference="兰人社监令〔2026〕12号",
        blocks=[Heading("一、违法事实"),
                Paragraph("经查，你单位拖欠张三等十二名农民工工资共计人民币壹拾贰万元整。" * 3),
                Fields([("案件编号", "QL-20261204-0001"), ("限期", "2026年12月11日前")]),
                Table(["姓名", "欠薪金额（元）"], [["张三", "12,000"], ["李四", "8,500"]], widths=[2, 1]),
                Signatures(["经办人", "当事人签收"])],
        footer="清零 · 临沂")
    data = document_pdf(doc, font)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in ("劳动保障监察限期改正指令书", "兰人社监令〔2026〕12号", "一、违法事实", "QL-20261204-0001",
                     "张三", "8,500", "经办人", "当事人签收"):
        assert expected in text
    assert "第1页/共1页" in text.replace(" ", "")
    assert "壹拾贰万元整" in text.replace("\n", "").replace(" ", "")


def test_a_long_table_runs_over_pages_with_every_row(tmp_path, font):
    rows = [[f"工人{i:03d}", f"{i * 100:,}"] for i in range(300)]
    data = document_pdf(Document(title="欠薪台账", blocks=[Table(["姓名", "金额"], rows)]), font)
    pages = _pages(tmp_path, data)
    assert pages > 3
    text = pdf_text(data)
    assert all(f"工人{i:03d}" in text for i in range(300))
    assert f"第{pages}页/共{pages}页" in text.replace(" ", "")


def test_the_font_is_subset_so_a_page_stays_small(font):
    data = document_pdf(Document(title="通知", blocks=[Paragraph("请于三日内到现场核实。")]), font)
    assert len(data) < 200_000  # the whole wqy-microhei face is about 5 MB
