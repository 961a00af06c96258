"""Parsers for the cells of an export: money, decimals, dates, account numbers, NIP, shares.

Every cell arrives as text (CSV is read as strings, XLSX cells are turned into text by
`etl.read`) so that account numbers and leading zeros survive; these parsers are the only
place that decides what a cell means. Each scalar parser raises ValueError with a reason an
accountant can act on. The `*_column` variants do the same work over a whole pandas Series with
pyarrow compute kernels, for tables with millions of rows; they only say which rows failed,
and the caller asks the scalar parser why, row by row, for those few.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10
from stdnum.pl import nip as pl_nip

# Thousands separators Polish spreadsheets write: space, no-break space, narrow no-break space.
_SPACES = "[ \u00a0\u202f\u2009]"
_CURRENCY = r"(?i)\s*(zł|zl|pln)\.?$"
_PLAIN = r"^([+-]?)(\d+)(?:[.,](\d*))?$"
# `1.234.567` or `1.234,56`: dots group thousands, a comma (if any) starts the decimals.
_DOT_GROUPS = r"^[+-]?\d{1,3}(?:(?:\.\d{3}){2,}|(?:\.\d{3})+,\d*)$"
# `1,234,567` or `1,234.56`: commas group thousands, a dot (if any) starts the decimals.
_COMMA_GROUPS = r"^[+-]?\d{1,3}(?:(?:,\d{3}){2,}|(?:,\d{3})+\.\d*)$"
_SPACE_GROUPS = rf"^[+-]?\d{{1,3}}(?:{_SPACES}\d{{3}})+(?:[.,]\d*)?$"


def _canonical_number(text: str) -> str:
    """`1 234,56 zł` -> `1234.56`; raises ValueError for anything that is not one number."""
    s = re.sub(_CURRENCY, "", text.strip())
    if re.match(_SPACE_GROUPS, s):
        s = re.sub(_SPACES, "", s)
    elif re.search(_SPACES, s):
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
    if abs(grosze) >= 10**15:
        raise ValueError("amount too large")
    return grosze


def money_from_decimal(value: Decimal) -> int:
    """Round half-up to whole grosze (quantity × rate of a fee)."""
    return int(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)


_DATE_FORMATS = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), (0, 1, 2)),
    (re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$"), (2, 1, 0)),
    (re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$"), (2, 1, 0)),
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
    (re.compile(r"^(\d{4})[-./](\d{1,2})$"), (0, 1)),
    (re.compile(r"^(\d{1,2})[-./](\d{4})$"), (1, 0)),
    (re.compile(r"^(\d{4})-(\d{2})-\d{2}$"), (0, 1)),  # an XLSX date cell: its month
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
    s = re.sub(r"[\s\u00a0\-]", "", text).upper()
    if re.fullmatch(r"[0-9.]+E\+?\d+", s):
        raise ValueError(
            "the account number was stored as a number and lost digits; format the column as text"
        )
    if s.startswith("PL"):
        s = s[2:]
    if not s.isdigit() or not s.isascii():
        raise ValueError("an account number has only digits (26, optionally after PL)")
    if len(s) != 26:
        raise ValueError(f"an account number has 26 digits, this one has {len(s)}")
    # The IBAN check (ISO 7064 mod 97-10) over the BBAN, country code, check digits; the PL
    # IBAN format itself is just these 26 digits. iban.validate() would do the same at 3x cost.
    if not mod_97_10.is_valid(s[2:] + "2521" + s[:2]):
        raise ValueError("wrong account number: the check digits do not match")
    return s


def parse_nip(text: str) -> str:
    """NIP as 10 digits; dashes, spaces and a leading PL allowed."""
    s = re.sub(r"[\s\u00a0\-]", "", text).upper()
    if s.startswith("PL"):
        s = s[2:]
    if not (s.isdigit() and len(s) == 10):
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
        try:
            num, den = int(num_text.strip()), int(den_text.strip())
        except ValueError:
            raise ValueError("a fraction share is two whole numbers, e.g. 523/10000") from None
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


def decimal_text_or_error(text: str) -> str:
    try:
        return decimal_text(parse_decimal(text))
    except InvalidOperation:
        raise ValueError("not a number") from None


# --- vectorised variants ----------------------------------------------------------------------


@dataclass
class Parsed:
    """A parsed column: `values` (meaningful where neither empty nor bad), and masks."""

    values: np.ndarray | pd.Series
    empty: np.ndarray
    bad: np.ndarray


def _arrow(series: pd.Series) -> pa.Array:
    arr = pa.array(series.array if hasattr(series, "array") else series)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return pc.fill_null(arr, "")


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _canonical_column(arr: pa.Array) -> pa.Array:
    """Vectorised `_canonical_number` for the cells that are not already plain."""
    arr = pc.replace_substring_regex(pc.utf8_trim_whitespace(arr), r"(?i)\s*(zł|zl|pln)\.?$", "")
    spaced = pc.match_substring_regex(arr, _SPACE_GROUPS)
    arr = pc.if_else(spaced, pc.replace_substring_regex(arr, _SPACES, ""), arr)
    dots = pc.match_substring_regex(arr, _DOT_GROUPS)
    arr = pc.if_else(dots, pc.replace_substring(arr, ".", ""), arr)
    commas = pc.match_substring_regex(arr, _COMMA_GROUPS)
    return pc.if_else(commas, pc.replace_substring(arr, ",", ""), arr)


def _split_number(arr: pa.Array, max_decimals: int | None) -> tuple[pa.Array, pa.Array]:
    """(plain-number mask, struct of sign/whole/frac) for the canonical texts."""
    frac = r"\d*" if max_decimals is None else rf"\d{{0,{max_decimals}}}"
    pattern = rf"^(?P<sign>[+-]?)(?P<whole>\d{{1,15}})(?:[.,](?P<frac>{frac}))?$"
    ok = pc.match_substring_regex(arr, pattern)
    return ok, pc.extract_regex(arr, pattern)


def money_column(series: pd.Series) -> Parsed:
    """Integer grosze for a column of money texts; bad where `parse_money` would raise."""
    arr = _arrow(series)
    arr = pc.utf8_trim_whitespace(arr)
    empty = pc.equal(arr, "")
    ok, parts = _split_number(arr, 2)
    if not pc.all(pc.or_(ok, empty)).as_py():
        arr = pc.if_else(ok, arr, _canonical_column(arr))
        ok, parts = _split_number(arr, 2)
    whole = pc.cast(pc.if_else(ok, pc.struct_field(parts, "whole"), "0"), pa.int64())
    frac_text = pc.utf8_rpad(
        pc.fill_null(pc.if_else(ok, pc.struct_field(parts, "frac"), "0"), ""), 2, "0"
    )
    grosze = pc.add(pc.multiply(whole, 100), pc.cast(frac_text, pa.int64()))
    negative = pc.equal(pc.if_else(ok, pc.struct_field(parts, "sign"), ""), "-")
    grosze = pc.if_else(negative, pc.negate(grosze), grosze)
    empty_np = _mask(empty)
    bad = ~_mask(ok) & ~empty_np
    grosze = pc.fill_null(pc.if_else(ok, grosze, 0), 0)
    values = np.asarray(grosze.to_numpy(zero_copy_only=False), dtype=np.int64)
    return Parsed(values, empty_np, bad)


def decimal_column(series: pd.Series) -> Parsed:
    """Normalised decimal texts (`1 234,50` -> `1234.50`); bad where not a number."""
    arr = _arrow(series)
    arr = pc.utf8_trim_whitespace(arr)
    empty = pc.equal(arr, "")
    ok, parts = _split_number(arr, None)
    if not pc.all(pc.or_(ok, empty)).as_py():
        arr = pc.if_else(ok, arr, _canonical_column(arr))
        ok, parts = _split_number(arr, None)
    sign = pc.if_else(pc.equal(pc.struct_field(parts, "sign"), "-"), "-", "")
    frac = pc.fill_null(pc.struct_field(parts, "frac"), "")
    frac = pc.if_else(pc.equal(frac, ""), "", pc.binary_join_element_wise(".", frac, ""))
    text = pc.binary_join_element_wise(sign, pc.struct_field(parts, "whole"), frac, "")
    text = pc.fill_null(pc.if_else(ok, text, ""), "")
    empty_np = _mask(empty)
    return Parsed(_series(text, series.index), empty_np, ~_mask(ok) & ~empty_np)


def _series(arr: pa.Array, index: pd.Index) -> pd.Series:
    out = arr.to_pandas()
    out.index = index
    return out


_ISO = r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"
_DMY = r"^(?P<d>\d{1,2})[.-](?P<m>\d{1,2})[.-](?P<y>\d{4})$"


def date_column(series: pd.Series) -> Parsed:
    """ISO date texts for a column of dates in the accepted formats."""
    arr = pc.utf8_trim_whitespace(_arrow(series))
    empty = pc.equal(arr, "")
    iso = pc.match_substring_regex(arr, r"^\d{4}-\d{2}-\d{2}$")
    if not pc.all(pc.or_(iso, empty)).as_py():
        parts = None
        for pattern in (_ISO, _DMY):
            found = pc.extract_regex(arr, pattern)
            joined = pc.binary_join_element_wise(
                pc.struct_field(found, "y"),
                pc.utf8_lpad(pc.struct_field(found, "m"), 2, "0"),
                pc.utf8_lpad(pc.struct_field(found, "d"), 2, "0"),
                "-",
            )
            parts = joined if parts is None else pc.coalesce(parts, joined)
        arr = pc.if_else(iso, arr, pc.fill_null(parts, ""))
    # A real calendar day? strptime leaves null where not (31.02).
    when = pc.strptime(arr, format="%Y-%m-%d", unit="s", error_is_null=True)
    roundtrip = pc.equal(pc.strftime(when, format="%Y-%m-%d"), arr)
    ok = pc.fill_null(roundtrip, False)
    empty_np = _mask(empty)
    return Parsed(_series(pc.if_else(ok, arr, ""), series.index), empty_np, ~_mask(ok) & ~empty_np)


def period_column(series: pd.Series) -> Parsed:
    """YYYY-MM texts; only the cells not already in that form go through `parse_period`."""
    arr = pc.utf8_trim_whitespace(_arrow(series))
    empty = pc.equal(arr, "")
    ok = pc.match_substring_regex(arr, r"^\d{4}-(0[1-9]|1[0-2])$")
    result = pc.if_else(ok, arr, "")
    rest = np.flatnonzero(~_mask(pc.or_(ok, empty)))
    bad = np.zeros(len(arr), dtype=bool)
    out = _series(result, series.index)
    if len(rest):
        texts = arr.take(pa.array(rest)).to_pylist()
        fixed = out.to_numpy(dtype=object)
        for i, text in zip(rest, texts, strict=True):
            try:
                fixed[i] = parse_period(text)
            except ValueError:
                bad[i] = True
        out = pd.Series(fixed, index=series.index, dtype="str")
    return Parsed(out, _mask(empty), bad)
