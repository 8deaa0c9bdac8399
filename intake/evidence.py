"""Evidence photos: only real JPEG or PNG images within the size limits are kept."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

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


def check_photo(filename: str, content: bytes, max_bytes: int) -> Photo:
    """Decode the header and verify the file, so a renamed PDF or a decompression bomb is refused."""
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
    safe_name = (filename or "photo").replace("/", "_").replace("\\", "_")[-200:]
    return Photo(filename=safe_name, content_type=ALLOWED[kind], content=content)
