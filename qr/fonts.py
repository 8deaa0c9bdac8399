"""Locate a font that can draw Chinese, because a poster with tofu boxes is worse than none."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from PIL import Image, ImageDraw, ImageFont

# Debian/Ubuntu package locations, most compact first (wqy-microhei is what the project's setup installs).
_KNOWN_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)


def has_cjk_glyphs(path: str) -> bool:
    """True if the font draws real, distinct glyphs for Chinese characters.

    Comparing two characters catches fonts that render every missing glyph as the same box,
    which a plain "non-empty bbox" check would accept (fc-match ':lang=zh' may answer DejaVu).
    """
    try:
        font = ImageFont.truetype(path, 48)
    except OSError:
        return False
    glyphs = []
    for ch in "工欠":
        image = Image.new("L", (64, 64))
        ImageDraw.Draw(image).text((8, 8), ch, fill=255, font=font)
        glyphs.append(image)
    return all(g.getbbox() for g in glyphs) and glyphs[0].tobytes() != glyphs[1].tobytes()


def _fc_match() -> str | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        done = subprocess.run(
            ["fc-match", "-f", "%{file}", ":lang=zh"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


@functools.lru_cache(maxsize=8)
def find_cjk_font(configured: str | None = None) -> str | None:
    """Path of a font file with Chinese glyphs, or None when the machine has none.

    Order: the configured path, the known package locations, then fontconfig. Every candidate is
    verified by rendering, so a misconfigured path falls through instead of printing boxes.
    """
    candidates = [configured] if configured else []
    candidates += _KNOWN_FONTS
    for path in candidates:
        if os.path.isfile(path) and has_cjk_glyphs(path):
            return path
    path = _fc_match()
    if path and os.path.isfile(path) and has_cjk_glyphs(path):
        return path
    return None
