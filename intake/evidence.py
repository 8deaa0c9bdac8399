"""Evidence photos: only real JPEG or PNG images within the size limits are kept, and kept without metadata.

A phone's photo carries where it was taken (EXIF GPS: often the worker's home or dormitory), the camera's make,
model and serial number, times, and a thumbnail that may show what was cropped away. Every photo is therefore
re-encoded with no metadata at all, its orientation applied to the pixels; only a worker who ticks the box keeps
the GPS block, which can help staff place the site. Re-encoding also drops whatever else a file carried in its
metadata segments.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

ALLOWED = {"JPEG": "image/jpeg", "PNG": "image/png"}
MAX_PIXELS = 50_000_000


class EvidenceError(ValueError):
    """The message is shown to the worker as it is, so it is plain Chinese."""


@dataclass(frozen=True)
class Photo:
    """`source` names a photo a provider still holds ("wechat-media:<MediaId>"): the webhook may not download
    it, so `content` stays empty until the worker fetches it (intake.media)."""

    filename: str
    content_type: str
    content: bytes
    source: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def check_photo(filename: str, content: bytes, max_bytes: int, keep_location: bool = False) -> Photo:
    """Decode the header and verify the file, so a renamed PDF or a decompression bomb is refused; the photo
    that is kept is the re-encoded one."""
    label = filename or "照片"
    if not content:
        raise EvidenceError(f"{label} 是空文件，请重新选择")
    if len(content) > max_bytes:
        raise EvidenceError(f"{label} 太大了，每张照片不能超过 {max_bytes // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(content)) as image:
            kind = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise EvidenceError(f"{label} 不是照片，只能上传 JPG 或 PNG 图片") from None
    if kind not in ALLOWED:
        raise EvidenceError(f"{label} 不是照片，只能上传 JPG 或 PNG 图片")
    if width * height > MAX_PIXELS:
        raise EvidenceError(f"{label} 尺寸太大，请换一张")
    try:
        content = _without_metadata(content, kind, keep_location)
    except (OSError, SyntaxError, ValueError):  # a header that verifies but pixel data that does not decode
        raise EvidenceError(f"{label} 打不开，请换一张照片") from None
    safe_name = (filename or "photo").replace("/", "_").replace("\\", "_")[-200:]
    return Photo(filename=safe_name, content_type=ALLOWED[kind], content=content)


def _without_metadata(content: bytes, kind: str, keep_location: bool) -> bytes:
    with Image.open(io.BytesIO(content)) as image:
        exif = image.getexif()
        turned = exif.get(ExifTags.Base.Orientation, 1) != 1
        options = {"icc_profile": image.info.get("icc_profile")} if image.info.get("icc_profile") else {}
        if kind == "JPEG":
            # "keep" reuses the camera's quantisation tables, so an upright photo loses next to nothing; a turned
            # one no longer matches them and gets a high fixed quality. The JPEG comment would be carried over.
            options.update(quality=92 if turned else "keep", subsampling=-1 if turned else "keep", comment=b"")
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if keep_location else {}
        if gps:
            kept = Image.Exif()
            kept[ExifTags.IFD.GPSInfo] = gps
            options["exif"] = kept
        out = io.BytesIO()
        (ImageOps.exif_transpose(image) if turned else image).save(out, kind, **options)
        return out.getvalue()
