"""Splitting a line of the legacy `#` export into fields, and reading each field.

Every file of the export (docs/legacy-format.md) is headerless text, one record a line, fields
separated by `#`. Here the text becomes numbered lines and a line becomes `Fields`, whose
parsers (numbers, money, dates, periods) record a `Problem` naming the file, line, premises and
field instead of raising, so that one bad line does not hide the others. records.py builds the
records of each file on these; `zl` writes a figure back the way the export and the card show it.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from etl.model import Problem
from etl.reader import cells, encoding
from etl.snapshot.money import decimal_text

# Digits are ASCII 0-9: `\d`, str.isdigit() and int() also take `²`, Arabic-Indic or fullwidth
# digits, which int() then reads or chokes on, and the column checks (Arrow's `[0-9]`) refuse.
_NUMBER = re.compile(r"^[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)$")
_DATE = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$")
PERIOD = re.compile(r"^([0-9]{4})([0-9]{2})$")
MONEY = re.compile(r"^([+-]?)([0-9]{1,15})(?:[.,]([0-9]{0,2}))?$")
# A figure has at most 15 digits before the point, as the contract's amounts
# (cells.parse_money): its grosze fit int64 with room for a card's sums, and quantity × price
# stays within the precision `records.expected_grosze` computes it with.
LARGEST = 10**15
TOO_LARGE = "too large: more than 15 digits before the decimal point"


def decode(data: bytes, name: str = "") -> str:
    """ISO-8859-2 as documented; UTF-8 and Windows-1250 are recognised too, because a file
    re-saved by an editor arrives in one of them. `etl.reader.encoding` decides by which
    decoding yields Polish text and raises EncodingRefused (naming `name`) rather than guess."""
    return encoding.decode(data, name)


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for the non-blank lines; LF or CRLF, a DOS end-of-file mark ignored.
    Split on LF only: `str.splitlines` would also split on control characters inside a field."""
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r").replace("\x1a", "")
        if line.strip():
            out.append((number, line))
    return out


def split_fields(line: str, count: int, absorb: int | None = None) -> list[str] | None:
    """Split on `#` into exactly `count` fields. The export does not quote, so a `#` inside the
    free-text field at index `absorb` (an owner's name, a description) yields extra fields:
    they are joined back into that field. None when the count cannot be made right."""
    parts = line.split("#")
    if len(parts) == count:
        return parts
    if absorb is not None and len(parts) > count:
        extra = len(parts) - count
        joined = "#".join(parts[absorb : absorb + extra + 1])
        return parts[:absorb] + [joined] + parts[absorb + extra + 1 :]
    return None


def zl(grosze: int) -> str:
    """A figure as the accountant reads it in the export and on the card: 1234,56."""
    return decimal_text(grosze, ",")


def format_decimal(value: Decimal) -> str:
    """Plain decimal string without exponent or trailing zeros beyond the integer."""
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


class Fields:
    """One split line whose parsers record a Problem instead of raising."""

    def __init__(
        self, file: str, table: str, line: int, values: list[str], problems: list[Problem]
    ) -> None:
        self.file, self.table, self.line, self.values = file, table, line, values
        self.problems = problems
        self.premises = ""
        self.ok = True

    def fail(self, column: str, value: str, reason: str) -> None:
        if self.premises:
            reason = f"{reason} (premises {self.premises})"
        self.problems.append(Problem(self.file, self.table, self.line, column, value, reason))
        self.ok = False

    def text(self, i: int) -> str:
        return self.values[i].strip()

    def decimal(self, i: int, column: str, *, places: int | None = None) -> Decimal | None:
        """The export writes plain numbers (`-12,50`, `3.456789`): those take a fast path, as
        a community has hundreds of thousands of them; anything else goes through the
        contract's parser (`1 234,56` and the like) and its reason."""
        raw = self.values[i]
        text = raw.strip()
        try:
            if _NUMBER.match(text):
                value = Decimal(text.replace(",", "."))
                point = max(text.rfind(","), text.rfind("."))
                decimals = len(text) - point - 1 if point >= 0 else 0
            else:
                value = cells.parse_decimal(text)
                decimals = -value.as_tuple().exponent  # type: ignore[operator]
        except ValueError as exc:
            self.fail(column, raw, str(exc))
            return None
        if abs(value) >= LARGEST:
            self.fail(column, raw, TOO_LARGE)
            return None
        if places is not None and decimals > places:
            if value != round(value, places):
                self.fail(column, raw, f"more than {places} decimal places")
                return None
        return value

    def money(self, i: int, column: str, *, empty_is_zero: bool = False) -> int | None:
        text = self.values[i].strip()
        if empty_is_zero and not text:
            return 0
        plain = MONEY.match(text)
        if plain:  # `-12,50`, as the export writes nearly every figure: its digits are grosze
            sign, whole, cents = plain.groups()
            grosze = int(whole) * 100 + int((cents or "").ljust(2, "0"))
            return -grosze if sign == "-" else grosze
        value = self.decimal(i, column, places=2)
        return None if value is None else int(value * 100)

    def date(self, i: int, column: str) -> date | None:
        raw = self.values[i].strip()
        if not raw:
            return None
        m = _DATE.match(raw)
        try:
            if m:
                return date(int(m[3]), int(m[2]), int(m[1]))
        except ValueError:
            pass
        self.fail(column, self.values[i], "not a date dd/mm/yyyy")
        return None

    def period(self, i: int, column: str) -> tuple[int, int] | None:
        raw = self.values[i].strip()
        m = PERIOD.match(raw)
        if m and 1 <= int(m[2]) <= 12 and m[1] != "0000":
            return int(m[1]), int(m[2])
        self.fail(column, self.values[i], "not a period YYYYMM")
        return None
