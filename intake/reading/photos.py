"""Evidence photos: only real JPEG or PNG images within the size limits are kept, and kept without metadata.

The bytes decide, never the name or the declared type: each file is decoded in full, so a renamed page, a
truncated upload, a decompression bomb or a picture carrying a web page (a polyglot) is refused before it is
stored, with a message the worker can act on.

A phone's photo carries where it was taken (EXIF GPS: often the worker's home or dormitory), the camera's make,
model and serial number, times, and a thumbnail that may show what was cropped away. Every photo is therefore
re-encoded with no metadata at all, its orientation applied to the pixels; only a worker who ticks the box keeps
the GPS block, which can help staff place the site. Re-encoding also drops whatever else a file carried in its
metadata segments.
"""
from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

# MPO is how Pillow names a JPEG with a multi-picture segment (portrait and burst shots of many phones): a JPEG.
ALLOWED = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
MAX_PIXELS = 50_000_000
# A camera photo or a screenshot holds at most a few hundred pixels per byte of file; far more than that over a
# large picture is a small file that claims a huge one (a decompression bomb).
BOMB_PIXELS = 4_000_000
BOMB_PIXELS_PER_BYTE = 400
# Markup a browser or a PHP server would act on, matched on the lower-cased bytes (after a literal "<" the search
# is several times faster than IGNORECASE). Each pattern is six bytes or more, so the compressed data of a genuine
# photo matches by chance about once in a hundred thousand files.
_MARKUP = re.compile(rb"<(?:\?php[\s=]|script|html[\s>]|body[\s>]|svg[\s>/]|iframe|object|embed[\s>/]|!doctype)")


class EvidenceError(ValueError):
    """The message is shown to the worker as it is, so it is plain Chinese."""


@dataclass(frozen=True)
class Photo:
    """`source` names a photo a provider still holds ("wechat-media:<MediaId>"): the webhook may not download
    it, so `content` stays empty until the worker fetches it (intake.delivery.media)."""

    filename: str
    content_type: str
    content: bytes
    source: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def check_photo(filename: str, content: bytes, max_bytes: int, keep_location: bool = False) -> Photo:
    """The photo as it will be stored (re-encoded, without metadata), or EvidenceError saying why not."""
    label = filename or "照片"
    not_a_photo = EvidenceError(f"{label} 不是照片，只能上传 JPG 或 PNG 图片")
    too_large = EvidenceError(f"{label} 尺寸太大，请换一张")
    if not content:
        raise EvidenceError(f"{label} 是空文件，请重新选择")
    if len(content) > max_bytes:
        raise EvidenceError(f"{label} 太大了，每张照片不能超过 {max_bytes // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about hostile headers (huge, corrupt EXIF); we judge
            with Image.open(io.BytesIO(content)) as image:
                kind, (width, height) = image.format, image.size
    except Image.DecompressionBombError:
        raise too_large from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise not_a_photo from None
    if kind not in ALLOWED:
        raise not_a_photo
    pixels = width * height
    if pixels > MAX_PIXELS or (pixels > BOMB_PIXELS and pixels > BOMB_PIXELS_PER_BYTE * len(content)):
        raise too_large
    lowered = content.lower()
    if _MARKUP.search(lowered) or b"javascript:" in lowered:  # a picture that is also a page (a polyglot)
        raise EvidenceError(f"{label} 里夹带了网页或程序代码，不能上传，请重新拍一张")
    try:
        if kind == "PNG":
            _verify_png(content)
        content = _without_metadata(content, kind, keep_location)
    except (OSError, SyntaxError, ValueError, EOFError):
        raise EvidenceError(f"{label} 不完整或已损坏，请重新拍一张或重新选择") from None
    safe_name = (filename or "photo").replace("/", "_").replace("\\", "_")[-200:]
    return Photo(filename=safe_name, content_type=ALLOWED[kind], content=content)


def _verify_png(content: bytes) -> None:
    """Every chunk's checksum, which decoding the pixels does not look at. The re-encode (`_without_metadata`)
    decodes every pixel, so a file cut short (a JPEG or a PNG) is refused there."""
    with Image.open(io.BytesIO(content)) as image:
        image.verify()


def _without_metadata(content: bytes, kind: str, keep_location: bool) -> bytes:
    with Image.open(io.BytesIO(content)) as image:
        exif = image.getexif()
        turned = exif.get(ExifTags.Base.Orientation, 1) != 1
        options = {"icc_profile": image.info.get("icc_profile")} if image.info.get("icc_profile") else {}
        if kind != "PNG":
            # "keep" reuses the camera's quantisation tables, so an upright photo loses next to nothing; a turned
            # one no longer matches them, and Pillow keeps them only from a plain JPEG (not a multi-picture MPO):
            # those get a high fixed quality. The JPEG comment would be carried over.
            keep = kind == "JPEG" and not turned
            options.update(quality="keep" if keep else 92, subsampling="keep" if keep else -1, comment=b"")
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if keep_location else {}
        if gps:
            kept = Image.Exif()
            kept[ExifTags.IFD.GPSInfo] = gps
            options["exif"] = kept
        out = io.BytesIO()
        (ImageOps.exif_transpose(image) if turned else image).save(out, "PNG" if kind == "PNG" else "JPEG", **options)
        return out.getvalue()
