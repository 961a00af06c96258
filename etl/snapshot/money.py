"""Money in the published documents is integer grosze: exact, and cheap to write for millions
of rows. These are the only conversions between grosze and decimal złote; display formatting
(thousands separators, `zł`) is the portal's and starts from `to_decimal`."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_CENT = Decimal("0.01")


def to_decimal(grosze: int) -> Decimal:
    """`123456` → `Decimal("1234.56")`."""
    if isinstance(grosze, bool) or not isinstance(grosze, int):
        raise TypeError(f"grosze must be an int, not {type(grosze).__name__}")
    return Decimal(grosze).scaleb(-2)


def from_decimal(value: Decimal) -> int:
    """Złote to grosze, rounded half-up to the grosz (quantity × rate of a fee)."""
    return int(value.quantize(_CENT, rounding=ROUND_HALF_UP) * 100)


def decimal_text(grosze: int, point: str = ".") -> str:
    """`123456` → `1234.56` (or `1234,56` with `point=","`), no thousands separator: what a
    spreadsheet, a bank form's boxes or a JSON reader takes as a number."""
    text = f"{to_decimal(grosze):f}"
    return text.replace(".", point) if point != "." else text
