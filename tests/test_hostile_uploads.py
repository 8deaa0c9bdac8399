"""Evidence photos are judged by their bytes: whatever a file is named or declared as, only a whole JPEG or PNG
is kept. Each hostile file is refused with a message the worker can act on, and nothing is stored."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import func, select

from intake.foundation.models import Attachment
from intake.reading.photos import EvidenceError, check_photo
from tests.helpers import make_site, stored, submit

NOT_A_PHOTO = "不是照片，只能上传 JPG 或 PNG 图片"
MARKUP = "里夹带了网页或程序代码"
BROKEN = "不完整或已损坏"
TOO_LARGE = "尺寸太大"
LIMIT = 8 * 1024 * 1024


def encoded(fmt: str, size=(64, 48), **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, fmt, **options)
    return out.getvalue()


def noisy_jpeg(size=(640, 480)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A well-formed PNG header claiming a huge grey picture, with a few kilobytes of zeros as its data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1) * 64, 9)) + png_chunk(b"IEND", b""))


def jpeg_with_comment(comment: bytes) -> bytes:
    """A real JPEG whose COM segment carries the text: the picture still decodes."""
    jpeg = encoded("JPEG")
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[2:]


def multi_picture_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "MPO", save_all=True, append_images=[Image.new("RGB", (64, 48))])
    return out.getvalue()


EXIF_ONLY = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xd9"
HOSTILE = {
    "php": (b"<?php system($_GET['c']); ?>", NOT_A_PHOTO),
    "html": (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", NOT_A_PHOTO),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>', NOT_A_PHOTO),
    "jpeg then html": (encoded("JPEG") + b"<html><script>alert(document.cookie)</script></html>", MARKUP),
    "php in a jpeg comment": (jpeg_with_comment(b"<?php echo shell_exec($_GET['c']); ?>"), MARKUP),
    "script in a png text chunk": (encoded("PNG")[:-12] + png_chunk(b"tEXt", b"Comment\x00<script>x()</script>")
                                   + png_chunk(b"IEND", b""), MARKUP),
    "truncated jpeg": (noisy_jpeg()[:4000], BROKEN),
    "truncated png": (encoded("PNG", (640, 480))[:-40], BROKEN),
    "bomb 30000x30000": (png_bomb(30000, 30000), TOO_LARGE),
    "bomb 7000x7000": (png_bomb(7000, 7000), TOO_LARGE),
    "gif": (encoded("GIF"), NOT_A_PHOTO),
    "webp": (encoded("WEBP"), NOT_A_PHOTO),
    "tiff": (encoded("TIFF"), NOT_A_PHOTO),
    "bmp": (encoded("BMP"), NOT_A_PHOTO),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", NOT_A_PHOTO),
    "exif only": (EXIF_ONLY, NOT_A_PHOTO),
    "jpeg magic then garbage": (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, NOT_A_PHOTO),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_files_are_refused_with_a_clear_message(name):
    content, message = HOSTILE[name]
    with pytest.raises(EvidenceError) as refused:
        check_photo(f"{name}.jpg", content, LIMIT)
    assert str(refused.value).startswith(f"{name}.jpg ") and message in str(refused.value)


@pytest.mark.parametrize("content, kind", [(encoded("JPEG"), "image/jpeg"), (noisy_jpeg((3000, 2000)), "image/jpeg"),
                                           (encoded("PNG"), "image/png"), (multi_picture_jpeg(), "image/jpeg"),
                                           (encoded("PNG", (1440, 3200)), "image/png")])
def test_genuine_photos_are_kept_whatever_their_name(content, kind):
    """A phone's multi-picture JPEG (portrait mode) is a JPEG, and a plain large screenshot is no bomb; what is
    kept is the same picture (re-encoded without its metadata)."""
    photo = check_photo("截图.gif", content, LIMIT)
    with Image.open(io.BytesIO(photo.content)) as kept, Image.open(io.BytesIO(content)) as sent:
        assert (photo.content_type, kept.size) == (kind, sent.size)


def test_each_hostile_upload_through_the_form_stores_nothing(session, app_with):
    site = make_site(session)
    client = app_with(ratelimit={"submit_per_address": "1000 per hour"}).test_client()
    for name, (content, message) in HOSTILE.items():
        page = submit(client, f"/s/{site.public_token}", photos=[(content, "欠条.jpg")])
        assert page.status_code == 200 and f"欠条.jpg {message}" in page.text, name
    assert stored(session) == []
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    good = submit(client, f"/s/{site.public_token}", photos=[(encoded("JPEG"), "欠条.jpg")])
    assert good.status_code == 303 and session.scalar(select(func.count()).select_from(Attachment)) == 1
