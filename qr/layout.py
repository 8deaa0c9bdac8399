"""Text measuring and wrapping for the poster, kept apart so the layout can be tested as data."""

from __future__ import annotations

import functools
import re

from PIL import ImageFont

ELLIPSIS = "…"
# A run of printable ASCII stays together when it fits on a line (words, URLs, phone numbers);
# any other character, CJK included, is a break opportunity on its own.
_TOKEN = re.compile(r"[!-~]+|\s+|.", re.S)
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=64)
def get_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """Fonts are cached: loading a 5 MB .ttc per poster would dominate batch time.

    BASIC layout because Chinese needs no shaping and it is faster than raqm.
    """
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


def clean(value: object) -> str | None:
    """User text as one printable line, or None when there is nothing to print."""
    if value is None:
        return None
    text = _SPACE.sub(" ", "".join(ch if ch.isprintable() else " " for ch in str(value))).strip()
    return text or None


def fits(font: ImageFont.FreeTypeFont, text: str, width: int, stroke: int = 0) -> bool:
    return font.getlength(text) + 2 * stroke <= width


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int, stroke: int = 0) -> list[str]:
    """Greedy wrap into at most max_lines lines; the last one ends in "…" when text was cut."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        if fits(font, line + token, width, stroke):
            line += token
            continue
        if token.isspace():
            lines.append(line)
            line = ""
            continue
        if line.strip():
            lines.append(line.rstrip())
            line = ""
        if fits(font, token, width, stroke):
            line = token
            continue
        for ch in token:  # a token wider than the line (a long URL): break it anywhere
            if line and not fits(font, line + ch, width, stroke):
                lines.append(line)
                line = ""
            line += ch
    if line.strip():
        lines.append(line.rstrip())
    lines = [ln for ln in (ln.strip() for ln in lines) if ln]
    if len(lines) <= max_lines:
        return lines
    last = lines[max_lines - 1]
    while last and not fits(font, last + ELLIPSIS, width, stroke):
        last = last[:-1]
    return lines[: max_lines - 1] + [last.rstrip() + ELLIPSIS]
