"""The printed sheet of the payment slip: where everything sits on the Polish "polecenie
przelewu / wpłata gotówkowa" form, two copies on one A4 page.

Why it is built this way (measured with bench/slip_bench.py): drawing the form's ~500 boxes as
table cells made xhtml2pdf take 400 ms a page. Here the empty form's shapes (pink ground, white
boxes with red lines) are one SVG drawn once per process and placed under the page as a single
vector image with few path commands (box dividers are one dashed stroke per row), and the text
is laid over it in a handful of absolutely positioned blocks: rows that share a column are one
block whose line height is the form's row pitch, and the boxed lines use a monospace font
letter-spaced to the box pitch, so each glyph lands in its box.

All geometry is in millimetres from the top-left corner of the page.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import lru_cache

from portal.pdf import FONT_DIR
from portal.slips.form import BOX_CHARS, Slip
from portal.slips.qr import qr_png_data_uri

PAGE_W, PAGE_H = 210.0, 297.0
COPY_H = 105.0  # each copy is 210 × 105 mm: a receipt stub on the left, the form on the right
COPIES = (("1", ["egz.", "dla", "banku"]), ("2", ["egz.", "dla", "zlecenio-", "dawcy"]))

RED = "#d71920"
PINK = "#fde6e8"
LINE = 0.25  # the width of the form's lines
GROUND = (4.0, 4.0, 202.0, 97.0)  # x, y, w, h inside a copy; printers keep a margin blank

STUB_X, STUB_W = 7.0, 48.0
CUT_X = 58.5  # the dashed line between the stub and the form
FORM_X = 62.0  # left edge of the first box
BOX_W, BOX_H = 4.8, 5.4
FORM_W = BOX_CHARS * BOX_W
ROW_Y0 = 18.0  # top of the first row's label
ROW_PITCH = 8.2
LABEL_H = 2.6
SIDE_X = FORM_X + FORM_W + 2.5
QR_MM = 24.0
QR_TOP = 71.0  # from the top of a copy: in the stub, under the receipt fields

# Boxed lines: one DejaVu Sans Mono glyph per box, spread by letter-spacing.
PT = 25.4 / 72
MONO_PT = 10.0
MONO_ADVANCE_EM = 1233 / 2048  # every DejaVu Sans Mono glyph is this wide
GLYPH_W = MONO_PT * MONO_ADVANCE_EM * PT
LETTER_SPACING = BOX_W - GLYPH_W
GLYPH_INSET = (BOX_W - GLYPH_W) / 2
MONO_FAMILY = "EbokMono"

# The form's rows, top to bottom: (label, first box column, number of boxes).
# Row 3 holds "waluta" and "kwota"; row 4 is one long white field (the amount in words on a
# cash payment, the payer's account on a transfer).
ROWS: list[tuple[str, int, int]] = [
    ("nazwa odbiorcy", 0, 27),
    ("nazwa odbiorcy cd.", 0, 27),
    ("nr rachunku odbiorcy", 0, 26),
    ("waluta", 12, 3),
    ("nr rachunku zleceniodawcy (przelew) / kwota słownie (wpłata)", 0, 26),
    ("nazwa zleceniodawcy", 0, 27),
    ("nazwa zleceniodawcy cd.", 0, 27),
    ("tytułem", 0, 27),
    ("tytułem cd.", 0, 27),
]
CURRENCY_ROW, WORDS_ROW = 3, 4
CURRENCY_COL = ROWS[CURRENCY_ROW][1]
AMOUNT_COL, AMOUNT_BOXES = 16, 11  # "kwota", beside "waluta"; 99999999,99 fills it


def label_top(row: int) -> float:
    return ROW_Y0 + row * ROW_PITCH


def box_top(row: int) -> float:
    return label_top(row) + LABEL_H


def box_left(col: int) -> float:
    return FORM_X + col * BOX_W


def footer_top() -> float:
    return box_top(len(ROWS) - 1) + BOX_H + 0.8


# ~ the empty form ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~


def _rect(x: float, y: float, w: float, h: float) -> str:
    return f"M{x:.2f} {y:.2f}h{w:.2f}v{h:.2f}h{-w:.2f}z"


def _dividers(x: float, y: float, n: int) -> str:
    """The n−1 lines between n boxes as one dashed subpath as thick as a box is tall: svglib
    spends its time per element and per path command, and this is one command a row instead
    of four a box. (A dash pattern starts afresh with each subpath, so rows can share a path.)"""
    return f"M{x + BOX_W - LINE / 2:.3f} {y + BOX_H / 2:.3f}h{(n - 1) * BOX_W:.2f}"


def _copy_shapes(top: float) -> str:
    fields = [(row, col, n) for row, (_, col, n) in enumerate(ROWS)]
    fields.append((CURRENCY_ROW, AMOUNT_COL, AMOUNT_BOXES))
    outlines = "".join(_rect(box_left(c), top + box_top(r), n * BOX_W, BOX_H) for r, c, n in fields)
    dividers = "".join(
        _dividers(box_left(c), top + box_top(r), n) for r, c, n in fields if r != WORDS_ROW
    )
    gx, gy, gw, gh = GROUND
    foot = top + footer_top()
    return (
        f'<path d="{_rect(gx, top + gy, gw, gh)}" fill="{PINK}"/>'
        f'<path d="{outlines}" fill="#fff" stroke="{RED}" stroke-width="{LINE}"/>'
        f'<path d="{dividers}" stroke="{RED}" stroke-width="{BOX_H}" '
        f'stroke-dasharray="{LINE} {BOX_W - LINE:.3f}" fill="none"/>'
        + f'<path d="M{FORM_X} {foot}h{FORM_W:.2f}M{box_left(17):.2f} {foot}'
        f'v{gy + gh - 2 - footer_top():.2f}" '
        f'stroke="{RED}" stroke-width="{LINE}" fill="none"/>'
        f'<path d="M{CUT_X} {top + gy + 2}v{gh - 4}" stroke="{RED}" stroke-width="{LINE}" '
        f'stroke-dasharray="1.2 0.9" fill="none"/>'
    )


@lru_cache(maxsize=1)
def sheet_svg() -> str:
    """The empty form's shapes, both copies and the cut lines, as one A4 SVG in millimetres."""
    copies = "".join(_copy_shapes(i * COPY_H) for i in range(len(COPIES)))
    cuts = "".join(f"M0 {COPY_H * (i + 1)}h{PAGE_W}" for i in range(len(COPIES)))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {PAGE_W} {PAGE_H}">{copies}'
        f'<path d="{cuts}" stroke="#888" stroke-width="0.2" stroke-dasharray="2 1.5" '
        f'fill="none"/></svg>'
    )


@lru_cache(maxsize=1)
def sheet_data_uri() -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(sheet_svg().encode()).decode()


# ~ the text ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~


@dataclass(frozen=True)
class Block:
    """Lines of text at a position; `css` names its class in templates/slip_pdf.html."""

    css: str
    left: float
    top: float
    lines: list[str] = field(default_factory=list)
    width: float = 0.0


def _box_text(text: str, n: int) -> str:
    # Spaces would collapse in HTML; a no-break space keeps each character in its own box.
    return text[:n].rstrip().replace(" ", "\u00a0")


def words_class(words: str) -> str:
    """A smaller size for long amounts in words, so they stay on the field's one line."""
    if len(words) <= 60:
        return "words"
    if len(words) <= 90:
        return "words small"
    return "words tiny"


def _labels(top: float, number: str, who: list[str]) -> list[Block]:
    """The form's printed red labels (the same on every slip)."""
    column = [label if col == 0 else "" for label, col, _ in ROWS]
    return [
        Block("label rows", FORM_X + 0.2, top + ROW_Y0 + 0.4, column),
        Block(
            "label", box_left(CURRENCY_COL) + 0.2, top + label_top(CURRENCY_ROW) + 0.4, ["waluta"]
        ),
        Block("label", box_left(AMOUNT_COL) + 0.2, top + label_top(CURRENCY_ROW) + 0.4, ["kwota"]),
        Block("label", FORM_X, top + 6.5, ["nazwa banku / pieczęć banku"]),
        Block(
            "heading", box_left(14), top + 6.5, ["POLECENIE PRZELEWU /", "WPŁATA GOTÓWKOWA"], 62.4
        ),
        Block(
            "label", FORM_X, top + footer_top() + 0.6, ["pieczęć, data i podpis(y) zleceniodawcy"]
        ),
        Block("label", box_left(17) + 1.0, top + footer_top() + 0.6, ["Opłata:"]),
        Block("copy-no", SIDE_X, top + 9.0, [number]),
        Block("label", SIDE_X, top + 16.0, who),
        Block("stub-heading", STUB_X, top + 6.5, ["POKWITOWANIE", "wpłata gotówkowa / przelew"]),
    ]


def blocks(slip: Slip, copy_index: int) -> list[Block]:
    """Everything written on one copy's form part, labels included (the stub is templated)."""
    number, who = COPIES[copy_index]
    top = copy_index * COPY_H
    boxed = {
        0: slip.recipient_lines[0],
        1: slip.recipient_lines[1],
        2: slip.account,
        5: slip.payer_lines[0],
        6: slip.payer_lines[1],
        7: slip.title_lines[0],
        8: slip.title_lines[1],
    }
    rows = [_box_text(boxed.get(row, ""), n) for row, (_, _, n) in enumerate(ROWS)]
    amount_col = AMOUNT_COL + AMOUNT_BOXES - len(slip.amount)  # right-aligned, as banks print
    box_y = top + box_top(0) + 0.9
    return [
        *_labels(top, number, who),
        Block("boxes rows", box_left(0) + GLYPH_INSET, box_y, rows),
        Block(
            "boxes",
            box_left(CURRENCY_COL) + GLYPH_INSET,
            top + box_top(CURRENCY_ROW) + 0.9,
            ["PLN"],
        ),
        Block(
            "boxes",
            box_left(amount_col) + GLYPH_INSET,
            top + box_top(CURRENCY_ROW) + 0.9,
            [_box_text(slip.amount, AMOUNT_BOXES)],
        ),
        Block(
            words_class(slip.amount_words),
            box_left(0) + 1.0,
            top + box_top(WORDS_ROW) + 1.4,
            [slip.amount_words],
            26 * BOX_W - 2.0,
        ),
    ]


def pdf_context(slip: Slip, *, as_of: str, amount_display: str) -> dict[str, object]:
    """What templates/slip_pdf.html needs."""
    return {
        "slip": slip,
        "amount_display": amount_display,
        "as_of": as_of,
        "sheet_src": sheet_data_uri(),
        "qr_src": qr_png_data_uri(slip.qr_payload, scale=6),
        "copies": [{"top": i * COPY_H, "blocks": blocks(slip, i)} for i in range(len(COPIES))],
        "mono_family": MONO_FAMILY,
        "mono_font": (FONT_DIR / "DejaVuSansMono.ttf").as_posix(),
        "mono_pt": MONO_PT,
        "letter_spacing": f"{LETTER_SPACING:.4f}",
        "row_pitch": ROW_PITCH,
        "red": RED,
        "stub_x": STUB_X,
        "stub_w": STUB_W,
        "qr_mm": QR_MM,
        "qr_top": QR_TOP,
    }
