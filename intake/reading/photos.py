"""Evidence photos: only real JPEG or PNG images within the size limits are kept, and kept without metadata.

The bytes decide, never the name or the declared type: each file is decoded in full, so a renamed page, a
truncated upload, a decompression bomb or a picture carrying a web page (a polyglot) is refused before it is
stored, with a message the worker can act on.

A phone's photo carries where it was taken (EXIF GPS: often the worker's home or dormitory), the camera's make,
model and serial number, times, and a thumbnail that may show what was cropped away. Every photo is therefore
re-encoded with no metadata at all, its orientation applied to the pixels; only a worker who ticks the box keeps
the GPS block, which can help staff place the site. Re-encoding also drops whatever else a file carried in its
metadata segments; a colour profile is applied to the pixels (converted to sRGB) and not kept.
"""
from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

# MPO is how Pillow names a JPEG with a multi-picture segment (portrait and burst shots of many phones): a JPEG.
ALLOWED = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
MAX_PIXELS = 50_000_000
# A camera photo or a screenshot holds at most a few hundred pixels per byte of file; far more than that over a
# large picture is a small file that claims a huge one (a decompression bomb).
BOMB_PIXELS = 4_000_000
BOMB_PIXELS_PER_BYTE = 400
_SRGB = ImageCms.createProfile("sRGB")
BUDGET_USED = "这一个小时里您传的照片太多了，这次没有保存。请过一个小时再传，或者先不传照片提交。"
# Markup a browser or a PHP server would act on, matched on the lower-cased bytes (after a literal "<" the search
# is several times faster than IGNORECASE). Each pattern is six bytes or more, so the compressed data of a genuine
# photo matches by chance about once in a hundred thousand files.
_MARKUP = re.compile(rb"<(?:\?php[\s=]|script|html[\s>]|body[\s>]|svg[\s>/]|iframe|object|embed[\s>/]|!doctype)")


class EvidenceError(ValueError):
    """The message is shown to the worker as it is, so it is plain Chinese."""


@dataclass(frozen=True)
class Photo:
    """`content` is the cleaned copy that is shown and served; `original` the file as it was received, kept as
    evidence beside it (the metadata the cleaning dropped may matter in court). `source` names a photo a provider
    still holds ("wechat-media:<MediaId>"): the webhook may not download it, so both stay empty until the worker
    fetches it (intake.delivery.media)."""

    filename: str
    content_type: str
    content: bytes
    source: str | None = None
    original: bytes = b""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def stored(self) -> dict:
        """The attachment's columns for this file. The original is left out when it is the cleaned copy byte for
        byte (a PDF, stored as received), so it is not kept twice; its SHA-256 is recorded either way."""
        return {"filename": self.filename, "content_type": self.content_type, "size": len(self.content),
                "sha256": self.sha256, "content": self.content,
                "original": self.original if self.original != self.content else None,
                "original_sha256": hashlib.sha256(self.original).hexdigest() if self.original else None}


def check_photos(files: list[tuple[str, bytes]], max_bytes: int, max_pixels: int,
                 keep_location: bool = False, spend: Callable[[int], bool] = lambda pixels: True) -> list[Photo]:
    """Several photos of one submission, together at most `max_pixels`: counted from the headers before any is
    decoded, so padding a small file that claims a huge picture cannot buy the decoding of many of them. `spend`
    takes the total from the sender's budget (over several submissions), False when it is used up."""
    total = sum(_header(name, content, max_bytes)[1] for name, content in files)
    if total > max_pixels:
        raise EvidenceError("这些照片加起来太大了，请少选几张，或换小一点的照片")
    if total and not spend(total):
        raise EvidenceError(BUDGET_USED)
    return [check_photo(name, content, max_bytes, keep_location) for name, content in files]


def _header(filename: str, content: bytes, max_bytes: int) -> tuple[str, int]:
    """The kind and pixel count a file claims, read from its header only; EvidenceError when it is no photo,
    or larger than any photo is (in bytes or in pixels)."""
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
    return kind, pixels


def check_photo(filename: str, content: bytes, max_bytes: int, keep_location: bool = False) -> Photo:
    """The photo as it will be stored (re-encoded, without metadata), or EvidenceError saying why not."""
    label = filename or "照片"
    kind, _ = _header(filename, content, max_bytes)
    lowered = content.lower()
    if _MARKUP.search(lowered) or b"javascript:" in lowered:  # a picture that is also a page (a polyglot)
        raise EvidenceError(f"{label} 里夹带了网页或程序代码，不能上传，请重新拍一张")
    try:
        if kind == "PNG":
            _verify_png(content)
        cleaned = _without_metadata(content, kind, keep_location)
    except (OSError, SyntaxError, ValueError, EOFError):
        raise EvidenceError(f"{label} 不完整或已损坏，请重新拍一张或重新选择") from None
    safe_name = (filename or "photo").replace("/", "_").replace("\\", "_")[-200:]
    return Photo(filename=safe_name, content_type=ALLOWED[kind], content=cleaned, original=content)


def _verify_png(content: bytes) -> None:
    """Every chunk's checksum, which decoding the pixels does not look at. The re-encode (`_without_metadata`)
    decodes every pixel, so a file cut short (a JPEG or a PNG) is refused there."""
    with Image.open(io.BytesIO(content)) as image:
        image.verify()


def _without_metadata(content: bytes, kind: str, keep_location: bool) -> bytes:
    with Image.open(io.BytesIO(content)) as image:
        exif = image.getexif()
        turned = exif.get(ExifTags.Base.Orientation, 1) != 1
        pixels = _in_srgb(ImageOps.exif_transpose(image) if turned else image)
        options: dict = {"icc_profile": None}  # PNG would otherwise copy the source's profile block
        if kind != "PNG":
            # "keep" reuses the camera's quantisation tables, so an upright photo loses next to nothing; a turned
            # or colour-converted one no longer matches them, and Pillow keeps them only from a plain JPEG (not a
            # multi-picture MPO): those get a high fixed quality. The JPEG comment would be carried over.
            keep = kind == "JPEG" and pixels is image
            options.update(quality="keep" if keep else 92, subsampling="keep" if keep else -1, comment=b"")
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if keep_location else {}
        if gps:
            kept = Image.Exif()
            kept[ExifTags.IFD.GPSInfo] = gps
            options["exif"] = kept
        out = io.BytesIO()
        pixels.save(out, "PNG" if kind == "PNG" else "JPEG", **options)
        return out.getvalue()


def _in_srgb(image: Image.Image) -> Image.Image:
    """The pixels in sRGB, with no colour profile left to store: a profile is a block of bytes the sender chose
    (it can carry markup), so its colours are applied and the block dropped. One that cannot be read is dropped."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        return ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _SRGB,
                                         outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image


@dataclass(frozen=True)
class Taken:
    """When and where a photo says it was taken (EXIF): the camera's local time, degrees north and east."""

    at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None


def taken(content: bytes) -> Taken:
    """The EXIF time and GPS place of a photo whose place and time are evidence (an inspector's check-in at a
    site); an unreadable or absent field is None, never an error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(content)) as image:
                exif = image.getexif()
                stamp = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) or exif.get(
                    ExifTags.Base.DateTime)
                gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return Taken()
    return Taken(_exif_time(stamp), _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef)),
                 _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef)))


def _exif_time(stamp: object) -> datetime | None:
    try:
        return datetime.strptime(str(stamp).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _degrees(value: object, ref: object) -> float | None:
    try:
        degrees, minutes, seconds = (float(part) for part in value)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if not (0 <= result <= 180):
        return None
    return round(-result if str(ref).strip("\x00 ") in ("S", "W") else result, 6)
