"""Parsers for the cells of an export: money, decimals, dates, account numbers, NIP, shares.

Every cell arrives as text (CSV is read as strings, XLSX cells are turned into text by
`etl.reader.bundle`) so that account numbers and leading zeros survive; these parsers are the only
place that decides what a cell means. Each scalar parser raises ValueError with a reason an
accountant can act on. Their column variants over whole pandas Series (`etl.reader.cell_columns`)
use the notations defined here and only say which rows failed; the caller asks the parser here
why, row by row, for those few.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from stdnum.exceptions import ValidationError
from stdnum.pl import nip as pl_nip

from etl.snapshot.accounts import nrb_digits, nrb_problem

# Thousands separators Polish spreadsheets write: space, no-break space, narrow no-break space.
_SPACES = "[ \u00a0\u202f\u2009]"
_CURRENCY = r"(?i)\s*(zł|zl|pln)\.?$"
# Digits are [0-9], not `\d`: Python's `\d` (and int(), Decimal()) take any Unicode digit,
# Arabic-Indic or fullwidth, where Arrow's `\d` (the column parsers) takes 0-9 only; a cell
# the column refused would then get no reason from the scalar parser, or slip through.
_PLAIN = r"^([+-]?)([0-9]+)(?:[.,]([0-9]*))?$"
# `1.234.567` or `1.234,56`: dots group thousands, a comma (if any) starts the decimals.
_DOT_GROUPS = r"^[+-]?[0-9]{1,3}(?:(?:\.[0-9]{3}){2,}|(?:\.[0-9]{3})+,[0-9]*)$"
# `1,234,567` or `1,234.56`: commas group thousands, a dot (if any) starts the decimals.
_COMMA_GROUPS = r"^[+-]?[0-9]{1,3}(?:(?:,[0-9]{3}){2,}|(?:,[0-9]{3})+\.[0-9]*)$"
_SPACE_GROUPS = rf"^[+-]?[0-9]{{1,3}}(?:{_SPACES}[0-9]{{3}})+(?:[.,][0-9]*)?$"


def _canonical_number(text: str) -> str:
    """`1 234,56 zł` -> `1234.56`; raises ValueError for anything that is not one number."""
    s = re.sub(_CURRENCY, "", text.strip())
    if re.match(_SPACE_GROUPS, s):
        s = re.sub(_SPACES, "", s)
    elif re.search(_SPACES, s) and re.match(_PLAIN, re.sub(_SPACES, "", s)):
        raise ValueError("spaces inside the number do not group thousands (groups of 3 digits)")
    if re.match(_DOT_GROUPS, s):
        s = s.replace(".", "")
    elif re.match(_COMMA_GROUPS, s):
        s = s.replace(",", "")
    m = re.match(_PLAIN, s)
    if not m:
        raise ValueError("not a number (expected e.g. 1234,56 or 1 234,56 or -12,00)")
    sign, whole, frac = m.groups()
    return f"{'-' if sign == '-' else ''}{whole}{'.' + frac if frac else ''}"


def parse_decimal(text: str) -> Decimal:
    """A decimal number in any of the Polish or English notations the contract lists."""
    return Decimal(_canonical_number(text))


MAX_GROSZE = 10**17  # an amount of more than 15 digits of złoty is refused


def parse_money(text: str, *, from_number_cell: bool = False) -> int:
    """Money as integer grosze. More than two decimals is an error, because a ledger amount
    that is not a whole number of grosze means the column is not what we think; the exception
    is an XLSX number cell, whose binary float is rounded half-up as Excel shows it."""
    if not text.strip():
        raise ValueError("empty amount")
    value = parse_decimal(text)
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        if not from_number_cell:
            raise ValueError("more than 2 decimal places: not an amount in złoty and grosze")
        value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    grosze = int(value * 100)
    if abs(grosze) >= MAX_GROSZE:
        raise ValueError("amount too large")
    return grosze


_DATE_FORMATS = (
    (re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$"), (0, 1, 2)),
    (re.compile(r"^([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})$"), (2, 1, 0)),
    (re.compile(r"^([0-9]{1,2})-([0-9]{1,2})-([0-9]{4})$"), (2, 1, 0)),
)


def parse_date(text: str) -> date:
    """DD.MM.YYYY, YYYY-MM-DD or DD-MM-YYYY (XLSX date cells arrive as YYYY-MM-DD)."""
    s = text.strip()
    if not s:
        raise ValueError("empty date")
    for pattern, (y, m, d) in _DATE_FORMATS:
        found = pattern.match(s)
        if found:
            parts = found.groups()
            try:
                return date(int(parts[y]), int(parts[m]), int(parts[d]))
            except ValueError:
                raise ValueError("no such day in the calendar") from None
    raise ValueError("not a date (expected DD.MM.YYYY, YYYY-MM-DD or DD-MM-YYYY)")


_PERIOD_FORMATS = (
    (re.compile(r"^([0-9]{4})[-./]([0-9]{1,2})$"), (0, 1)),
    (re.compile(r"^([0-9]{1,2})[-./]([0-9]{4})$"), (1, 0)),
    (re.compile(r"^([0-9]{4})-([0-9]{2})-[0-9]{2}$"), (0, 1)),  # an XLSX date cell: its month
)


def parse_period(text: str) -> str:
    """The month a charge is for, as YYYY-MM; `2026-01`, `01/2026`, `01.2026` are accepted."""
    s = text.strip()
    for pattern, (y, m) in _PERIOD_FORMATS:
        found = pattern.match(s)
        if found:
            year, month = int(found.group(y + 1)), int(found.group(m + 1))
            if 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
            raise ValueError("month outside 1-12")
    raise ValueError("not a month (expected YYYY-MM, e.g. 2026-01)")


def parse_nrb(text: str) -> str:
    """A Polish bank account (NRB) as 26 digits; spaces, dashes and a leading PL allowed."""
    if len(text) == 26 and text.isascii() and text.isdigit():
        # The usual cell: its mod 97-10 check in one integer operation (what nrb_problem
        # asks of stdnum, digit by digit, twice: 17,788 accounts took 0.3 s).
        if int(text[2:] + "2521" + text[:2]) % 97 == 1:
            return text
    problem = nrb_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return nrb_digits(text)


def parse_nip(text: str) -> str:
    """NIP as 10 digits; dashes, spaces and a leading PL allowed."""
    s = re.sub(r"[\s\u00a0\-]", "", text).upper()
    if s.startswith("PL"):
        s = s[2:]
    if not re.fullmatch(r"[0-9]{10}", s):
        raise ValueError("a NIP has 10 digits")
    try:
        return pl_nip.validate(s)
    except ValidationError:
        raise ValueError("wrong NIP: the check digit does not match") from None


def parse_share(text: str) -> Decimal:
    """A share in the common property: `0,0523` or `523/10000`; 0 < share <= 1."""
    s = text.strip()
    if "/" in s:
        num_text, _, den_text = s.partition("/")
        whole = re.compile(r"[+-]?[0-9]+")  # not int()'s: it takes `1_000` and Unicode digits
        if not (whole.fullmatch(num_text.strip()) and whole.fullmatch(den_text.strip())):
            raise ValueError("a fraction share is two whole numbers, e.g. 523/10000")
        num, den = int(num_text.strip()), int(den_text.strip())
        if den == 0:
            raise ValueError("division by zero in the share")
        with localcontext() as ctx:
            ctx.prec = 28
            value = Decimal(num) / Decimal(den)
            if value.as_tuple().exponent < -12:  # type: ignore[operator]
                value = value.quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)
        value = value.normalize()
    else:
        value = parse_decimal(s)
    if not (0 < value <= 1):
        raise ValueError("a share must be above 0 and at most 1")
    return value


def parse_int(text: str) -> int:
    """A whole number such as a count of occupants (`3`, or `3,0` from a spreadsheet)."""
    try:
        value = parse_decimal(text)
    except ValueError:
        raise ValueError("not a whole number") from None
    if value != value.to_integral_value():
        raise ValueError("not a whole number")
    return int(value)


def decimal_text(value: Decimal) -> str:
    """A decimal as the normalised tables hold it: plain notation, dot, no exponent."""
    text = format(value, "f")
    return "0" if text in ("-0", "") else text
