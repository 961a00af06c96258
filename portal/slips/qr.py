"""The slip's QR code, drawn by segno: a PNG `data:` URI for the PDF (xhtml2pdf reads no files
here) and inline SVG for the browser print view (no extra request, no inline style).

The payload is UTF-8 in byte mode without an ECI header, as the ZBP recommendation's readers
expect; error correction M survives a printed, slightly smudged sheet.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache

import segno


@lru_cache(maxsize=256)
def _code(payload: str) -> segno.QRCode:
    """Cached: choosing the best mask takes segno a few milliseconds, and the PDF and the print
    view of one slip draw the same code."""
    return segno.make_qr(payload, error="m", encoding="utf-8", boost_error=False)


def qr_png(payload: str, *, scale: int = 4) -> bytes:
    buf = io.BytesIO()
    _code(payload).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_png_data_uri(payload: str, *, scale: int = 4) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(payload, scale=scale)).decode()


def qr_svg(payload: str, *, title: str = "Kod QR do płatności") -> str:
    """An `<svg>` element sized by CSS (no width/height, no XML declaration)."""
    return _code(payload).svg_inline(
        scale=1,
        border=4,
        omitsize=True,
        title=title,
        svgclass="slip-qr",
        lineclass=None,
        dark="#000",
        light="#fff",
    )
