"""QR codes for site links, as PNG or SVG bytes."""

from __future__ import annotations

import io

import segno

# Q (25% recovery) survives dirt and glare on an outdoor board; segno raises it further
# when that costs no extra modules.
ERROR_LEVEL = "q"


def make_qr(data: str) -> segno.QRCode:
    """The QR code for data; ValueError for empty data so callers fail before drawing anything."""
    if not data:
        raise ValueError("QR data must not be empty")
    return segno.make_qr(data, error=ERROR_LEVEL)


def qr_png(data: str, scale: int = 10, border: int = 4) -> bytes:
    """1-bit PNG; border is the quiet zone in modules (4 is the standard's minimum)."""
    buf = io.BytesIO()
    make_qr(data).save(buf, kind="png", scale=scale, border=border)
    return buf.getvalue()


def qr_svg(data: str, scale: int = 10, border: int = 4) -> bytes:
    """Standalone SVG document, for print shops that want vector art."""
    buf = io.BytesIO()
    make_qr(data).save(buf, kind="svg", scale=scale, border=border, xmldecl=True)
    return buf.getvalue()
