"""QR codes and printable site posters: pure functions from plain site data to PNG / SVG / PDF bytes.

Imports nothing from the rest of Qingling and nothing from Flask.
"""

from .codes import qr_png, qr_svg
from .fonts import find_cjk_font
from .poster import PosterData, layout_poster, poster_pdf, poster_png, render_poster, write_posters_pdf

__all__ = [
    "PosterData",
    "find_cjk_font",
    "layout_poster",
    "poster_pdf",
    "poster_png",
    "qr_png",
    "qr_svg",
    "render_poster",
    "write_posters_pdf",
]
