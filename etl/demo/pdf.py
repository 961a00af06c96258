"""Small, valid, deterministic PDFs for the demo's community documents, written by hand.

One A4 page per document, text in the standard Helvetica font (no font is embedded: every
viewer has it). Polish letters are not in Helvetica's usual WinAnsi encoding, so the font gets
an encoding of its own whose upper codes name the glyphs ą ć ę ł ń ó ś ź ż (and capitals), which
the standard Helvetica has; text extraction reads them back by those names. The same text
always gives the same bytes: no dates, no ids, no compression.
"""

from __future__ import annotations

import textwrap

# Code -> glyph name for the letters WinAnsi lacks (and ó, Ó, which it has elsewhere).
_POLISH = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"
_GLYPHS = (
    "aogonek cacute eogonek lslash nacute oacute sacute zacute zdotaccent "
    "Aogonek Cacute Eogonek Lslash Nacute Oacute Sacute Zacute Zdotaccent"
).split()
_FIRST_CODE = 0xC0  # the codes of À…Ñ, which Polish text does not need
_CODES = {ch: _FIRST_CODE + i for i, ch in enumerate(_POLISH)}

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
MARGIN = 64
WRAP = 84  # characters per line of body text


def _encode(text: str) -> bytes:
    """Text as a PDF string's bytes in the font's encoding (WinAnsi, Polish letters at
    _CODES), with ( ) \\ escaped; a character the font cannot show becomes `?`."""
    out = bytearray()
    for ch in text:
        if ch in _CODES:
            out.append(_CODES[ch])
            continue
        try:
            code = ch.encode("cp1252")[0]  # one byte per character, or none
        except UnicodeEncodeError:
            code = 0
        if code < 32 or code == 127 or _FIRST_CODE <= code < _FIRST_CODE + len(_POLISH):
            code = ord("?")
        if ch in "()\\":
            out.append(ord("\\"))
        out.append(code)
    return bytes(out)


def _content(title: str, paragraphs: list[str]) -> bytes:
    lines = [b"BT", b"/F2 16 Tf", f"{MARGIN} {PAGE_HEIGHT - MARGIN - 16} Td".encode()]
    lines += [b"(" + _encode(title) + b") Tj", b"/F1 11 Tf", b"14 TL", b"T*", b"T*"]
    for paragraph in paragraphs:
        for line in textwrap.wrap(paragraph, WRAP) or [""]:
            lines.append(b"(" + _encode(line) + b") '")
        lines.append(b"T*")
    lines.append(b"ET")
    return b"\n".join(lines) + b"\n"


def _font(name: str, base: str) -> bytes:
    differences = " ".join(["/" + g for g in _GLYPHS])
    return (
        f"<< /Type /Font /Subtype /Type1 /Name /{name} /BaseFont /{base} "
        f"/Encoding << /Type /Encoding /BaseEncoding /WinAnsiEncoding "
        f"/Differences [{_FIRST_CODE} {differences}] >> >>"
    ).encode()


def document_pdf(title: str, paragraphs: list[str]) -> bytes:
    """A one-page PDF with a heading and paragraphs of text (Polish letters included)."""
    content = _content(title, paragraphs)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            "/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>"
        ).encode(),
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"endstream",
        _font("F1", "Helvetica"),
        _font("F2", "Helvetica-Bold"),
        # Metadata strings are not in the font's encoding: UTF-16BE with its byte order mark.
        b"<< /Title <FEFF"
        + title.encode("utf-16-be").hex().upper().encode()
        + b"> /Producer (EBOK demo-data) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)
