"""The PDF renderer embeds a font with Polish letters, so names come out as written."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from portal.pdf import FONT_FAMILY, render_pdf

NAME = "Łucja Źdźbło-Żółkiewska, ąęćńśźż ĄĘĆŃŚŹŻ"


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _fonts(pdf: bytes) -> set[str]:
    names: set[str] = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def test_polish_letters_survive_in_regular_and_bold() -> None:
    pdf = render_pdf(f"<html><body><p>{NAME}</p><p><b>Bold {NAME}</b></p></body></html>")
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert NAME in text
    assert f"Bold {NAME}" in text
    fonts = _fonts(pdf)
    assert any(f.endswith("+DejaVuSans") for f in fonts), fonts
    assert any(f.endswith("+DejaVuSans-Bold") for f in fonts), fonts


def test_font_family_named_in_css_is_the_embedded_one() -> None:
    html = (
        f"<html><head><style>p {{ font-family: {FONT_FAMILY}; }}</style></head>"
        f"<body><p>{NAME}</p></body></html>"
    )
    assert NAME in _text(render_pdf(html))


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdftotext_sees_no_missing_glyph_boxes(tmp_path: Path) -> None:
    path = tmp_path / "out.pdf"
    path.write_bytes(render_pdf(f"<p>{NAME}</p>"))
    out = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert NAME in out
    assert "■" not in out
