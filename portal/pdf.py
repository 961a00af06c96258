"""HTML to PDF with a font that has Polish letters.

xhtml2pdf's built-in fonts (Helvetica and friends) have no ą ę ń ś ź ż: a PDF drawn with them
shows empty boxes. Every document rendered here gets DejaVu Sans (kept in the package, with its
licence) as the body font through xhtml2pdf's default stylesheet, so a template only has to
name `FONT_FAMILY` if it sets a font of its own.

Rendering reads no file outside the package's font directory and nothing over the network: the
HTML is ours, but it carries residents' data, and a policy that cannot fetch is one less thing
to reason about. Images go in as `data:` URIs.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy
from xhtml2pdf.default import DEFAULT_CSS

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FAMILY = "DejaVuSans"

FONT_CSS = f"""
@font-face {{ font-family: {FONT_FAMILY}; src: url("{(FONT_DIR / "DejaVuSans.ttf").as_posix()}"); }}
@font-face {{ font-family: {FONT_FAMILY}; font-weight: bold;
             src: url("{(FONT_DIR / "DejaVuSans-Bold.ttf").as_posix()}"); }}
html, body {{ font-family: {FONT_FAMILY}; }}
"""

_POLICY = ResourceAccessPolicy(allow_remote=False, base_dir=None, extra_roots=(FONT_DIR,))
_DEFAULT_CSS = DEFAULT_CSS + FONT_CSS
# reportlab and xhtml2pdf keep fonts and some state in module globals: one render at a time,
# whichever view (slips, letters) asks and from whichever thread.
_lock = threading.Lock()


class PdfRenderError(RuntimeError):
    """xhtml2pdf reported errors: a template bug, not something a resident can fix."""


def render_pdf(html: str) -> bytes:
    """The PDF of `html`, with DejaVu Sans (regular and bold) embedded."""
    buf = io.BytesIO()
    with _lock:
        result = pisa.CreatePDF(html, dest=buf, default_css=_DEFAULT_CSS, resource_policy=_POLICY)
    if result.err:
        raise PdfRenderError(f"xhtml2pdf reported {result.err} error(s)")
    return buf.getvalue()
