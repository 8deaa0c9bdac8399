"""Staff documents on a case (询问笔录, an order served, a stamped scan, a bank slip): a real PDF or a real photo,
within the size limits. As with workers' photos the bytes decide, never the name: a PDF is parsed in full, and one
that is encrypted (staff could not read it later), carries scripts or launch actions, or has no pages is refused
with a message staff can act on. Images go through the photo check (re-encoded, without metadata)."""
from __future__ import annotations

import io
import logging
import re

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import DictionaryObject

from .photos import EvidenceError, Photo, check_photo

MAX_BYTES = 20 * 1024 * 1024
MAX_PAGES = 300
# What makes a PDF act rather than show: scripts, actions that start a program, embedded files, forms that run.
# Matched in the raw bytes (names of four letters or more, which a scan's compressed data almost never holds by
# chance), and, for objects packed in compressed streams, in the parsed catalogue.
_ACTIVE = re.compile(rb"/(?:JavaScript|Launch|EmbeddedFiles?|RichMedia|XFA)\b")
_ACTIVE_NAMES = ("/JavaScript", "/EmbeddedFiles")
_ACTIVE_ACTIONS = ("/JavaScript", "/Launch")


def check_document(filename: str, content: bytes, max_bytes: int = MAX_BYTES) -> Photo:
    """The document as it will be stored, or EvidenceError saying why not."""
    label = filename or "文件"
    if not content:
        raise EvidenceError(f"{label} 是空文件，请重新选择")
    if len(content) > max_bytes:
        raise EvidenceError(f"{label} 太大了，每个文件不能超过 {max_bytes // (1024 * 1024)} MB")
    if not content.startswith(b"%PDF-"):
        return check_photo(filename, content, max_bytes)
    _check_pdf(label, content)
    safe_name = (filename or "document.pdf").replace("/", "_").replace("\\", "_")[-200:]
    return Photo(filename=safe_name, content_type="application/pdf", content=content, original=content)


def _check_pdf(label: str, content: bytes) -> None:
    active = EvidenceError(f"{label} 里带有脚本或自动动作，不能上传，请另存为普通 PDF 或扫描件")
    if _ACTIVE.search(content):
        raise active
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file is refused below, not logged as warnings
    try:
        reader = PdfReader(io.BytesIO(content), strict=True)
        if reader.is_encrypted:
            raise EvidenceError(f"{label} 设置了密码，请去掉密码后再上传")
        if _acts(reader):
            raise active
        pages = len(reader.pages)
        for page in reader.pages:
            page.get_contents()
    except EvidenceError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError):
        raise EvidenceError(f"{label} 不是完整的 PDF 文件（可能已损坏），请重新导出或扫描") from None
    if pages == 0:
        raise EvidenceError(f"{label} 没有任何页面")
    if pages > MAX_PAGES:
        raise EvidenceError(f"{label} 超过 {MAX_PAGES} 页，请拆分后上传")


def _acts(reader: PdfReader) -> bool:
    """Scripts or embedded files named in the catalogue, an opening action that runs something, or an XFA form."""
    root = reader.trailer["/Root"].get_object()

    def entry(key: str) -> DictionaryObject:
        found = root.get(key)
        found = found.get_object() if found is not None else None
        return found if isinstance(found, DictionaryObject) else DictionaryObject()

    return (any(key in entry("/Names") for key in _ACTIVE_NAMES) or entry("/OpenAction").get("/S") in _ACTIVE_ACTIONS
            or "/XFA" in entry("/AcroForm"))
