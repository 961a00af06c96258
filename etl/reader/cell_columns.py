"""The column variants of the cell parsers in `etl.reader.cells`: the same decisions over a
whole pandas Series at once, with pyarrow compute kernels, for tables with millions of rows.

They only say which rows failed (`Parsed.bad`); the caller asks the scalar parser in
`etl.reader.cells` why, row by row, for those few. The notations they accept are the scalar
module's own regular expressions (imported from it, never copied), so the two cannot drift apart
on what a number looks like; where a column answers, it must answer as the scalar parser would
(tests/etl/reader/test_cells.py holds each pair against the other).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.reader.cells import (
    _COMMA_GROUPS,
    _CURRENCY,
    _DOT_GROUPS,
    _SPACE_GROUPS,
    _SPACES,
    parse_period,
)

# A column is dictionary-encoded first: a ledger of millions of rows has a few thousand distinct
# dates and far fewer distinct amounts than rows, so the regular expressions run over the
# distinct values only and the results are spread back by index.


@dataclass
class Parsed:
    """A parsed column: `values` (meaningful where neither empty nor bad), and masks."""

    values: np.ndarray | pd.Series
    empty: np.ndarray
    bad: np.ndarray


_T = pa.large_string()


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, _T)


def _arrow(series: pd.Series, *, combine: bool = True) -> pa.Array | pa.ChunkedArray:
    arr = pa.array(series.array if hasattr(series, "array") else series)
    if combine and isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != _T:
        arr = arr.cast(_T)
    return pc.fill_null(arr, _s(""))


def _unscaled(decimals: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The integers a decimal128 array stores (value × 10**scale), read from its buffers:
    Arrow keeps each value as a little-endian two's-complement int128, so for values that fit
    in int64 the low word is the integer itself. Slots under nulls are undefined."""
    chunks = decimals.chunks if isinstance(decimals, pa.ChunkedArray) else [decimals]
    parts = [np.zeros(0, dtype=np.int64)]
    for chunk in chunks:
        buffer = chunk.buffers()[1]
        if buffer is None or len(chunk) == 0:
            parts.append(np.zeros(len(chunk), dtype=np.int64))
            continue
        words = np.frombuffer(buffer, dtype="<i8")
        parts.append(words[2 * chunk.offset : 2 * (chunk.offset + len(chunk)) : 2])
    return np.concatenate(parts).astype(np.int64)


def distinct(series: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """(index of each row's value in the distinct values, the distinct values, trimmed)."""
    encoded = pc.dictionary_encode(_arrow(series))
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return indices, pc.utf8_trim_whitespace(encoded.dictionary)


def _mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.array(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _texts(arr: pa.Array, indices: np.ndarray, index: pd.Index) -> pd.Series:
    out = pc.take(arr, pa.array(indices)).to_pandas()
    out.index = index
    return out


def _canonical_column(arr: pa.Array) -> pa.Array:
    """Vectorised `_canonical_number` for the cells that are not already plain."""
    arr = pc.replace_substring_regex(arr, _CURRENCY, "")
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
    parts = pc.extract_regex(arr, pattern)
    ok = pc.is_valid(parts)
    if not pc.all(pc.or_(ok, pc.equal(arr, ""))).as_py():
        arr = pc.if_else(ok, arr, _canonical_column(arr))
        parts = pc.extract_regex(arr, pattern)
        ok = pc.is_valid(parts)
    return ok, parts


def _field(parts: pa.Array, name: str) -> pa.Array:
    return pc.fill_null(pc.struct_field(parts, name), _s(""))


_PLAIN_MONEY = r"^[+-]?\d{1,15}(?:[.,]\d{1,2})?$"


def _money_distinct(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grosze, empty, bad) for texts in any accepted notation, worked out per distinct value."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    encoded = pc.dictionary_encode(arr)
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    texts = pc.utf8_trim_whitespace(encoded.dictionary)
    empty = _mask(pc.equal(texts, _s("")))
    ok, parts = _split_number(texts, 2)
    whole = pc.cast(pc.if_else(ok, _field(parts, "whole"), _s("0")), pa.int64())
    frac = pc.cast(pc.utf8_rpad(_field(parts, "frac"), 2, "0"), pa.int64())
    grosze = pc.add(pc.multiply(whole, 100), frac)
    grosze = pc.if_else(pc.equal(_field(parts, "sign"), _s("-")), pc.negate(grosze), grosze)
    okay = _mask(ok)
    values = np.asarray(pc.fill_null(grosze, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    values = np.where(okay, values, 0)
    return values[indices], empty[indices], (~okay & ~empty)[indices]


def money_column(series: pd.Series) -> Parsed:
    """Integer grosze for a column of money texts; bad where `parse_money` would raise.

    Cells already in plain notation (`-1234,56`, `12.5`, `7`) are converted in one pass
    through an exact decimal; only the others (`1 234,56 zł`, `1.234,56`) take the slower
    road through the regular expressions."""
    arr = _arrow(series, combine=False)
    plain_cells = pc.match_substring_regex(arr, _PLAIN_MONEY)
    plain = _mask(plain_cells)
    empty = _mask(pc.equal(arr, _s("")))
    values = np.zeros(len(arr), dtype=np.int64)
    if plain.any():
        texts = pc.replace_substring(pc.if_else(plain_cells, arr, pa.scalar(None, _T)), ",", ".")
        # decimal128(17, 2) holds 15 digits before the point; its unscaled integer is grosze.
        values = np.where(plain, _unscaled(pc.cast(texts, pa.decimal128(17, 2))), 0)
    bad = np.zeros(len(arr), dtype=bool)
    rest = np.flatnonzero(~plain & ~empty)
    if len(rest):
        sub_values, sub_empty, sub_bad = _money_distinct(arr.take(pa.array(rest)))
        values[rest] = sub_values
        empty[rest] = sub_empty
        bad[rest] = sub_bad
    return Parsed(values, empty, bad)


def decimal_column(series: pd.Series) -> Parsed:
    """Normalised decimal texts (`1 234,50` -> `1234.50`); bad where not a number."""
    indices, arr = distinct(series)
    empty = _mask(pc.equal(arr, _s("")))
    ok, parts = _split_number(arr, None)
    sign = pc.if_else(pc.equal(_field(parts, "sign"), _s("-")), _s("-"), _s(""))
    frac = _field(parts, "frac")
    frac = pc.if_else(
        pc.equal(frac, _s("")), _s(""), pc.binary_join_element_wise(_s("."), frac, _s(""))
    )
    text = pc.binary_join_element_wise(sign, _field(parts, "whole"), frac, _s(""))
    text = pc.fill_null(pc.if_else(ok, text, _s("")), _s(""))
    okay = _mask(ok)
    return Parsed(_texts(text, indices, series.index), empty[indices], (~okay & ~empty)[indices])


# A normalised decimal text (`decimal_column`'s) small enough for int64 arithmetic: at most 9
# digits before and after the point, so value × 10**scale stays below 10**18.
_SCALED = r"^(?P<sign>-?)(?P<whole>[0-9]{1,9})(?:\.(?P<frac>[0-9]{1,9}))?$"
_FITS = 3 * 10**9  # two unscaled values below this multiply within int64


def _scaled(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(|value| × 10**scale, scale, negative, ok) of normalised decimal texts."""
    parts = pc.extract_regex(texts, _SCALED)
    ok = _mask(pc.is_valid(parts))
    frac = _field(parts, "frac")
    digits = pc.binary_join_element_wise(_field(parts, "whole"), frac, _s(""))
    digits = pc.if_else(pa.array(ok), digits, _s("0"))
    unscaled = np.asarray(pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False))
    scale = np.asarray(pc.utf8_length(frac).to_numpy(zero_copy_only=False), dtype=np.int64)
    negative = _mask(pc.equal(_field(parts, "sign"), _s("-")))
    return unscaled, scale, negative, ok & (unscaled < _FITS)


def product_grosze(left: pa.Array, right: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(grosze, ok): `money.from_decimal(Decimal(l) * Decimal(r))` of normalised decimal texts
    (quantity × rate), in int64 arithmetic where both are small enough for it to be exact
    (the product then has at most 19 digits, which Decimal's 28 hold exactly, and is rounded
    half away from zero to the grosz as ROUND_HALF_UP does); ok is False where not."""
    a, a_scale, a_negative, a_ok = _scaled(left)
    b, b_scale, b_negative, b_ok = _scaled(right)
    product = np.where(a_ok & b_ok, a, 0) * np.where(a_ok & b_ok, b, 0)
    scale = a_scale + b_scale
    up = 10 ** np.clip(2 - scale, 0, 2)  # to grosze: × 100 for a whole number, …
    down = 10 ** np.clip(scale - 2, 0, 18)  # … ÷ 10 for three decimals, and so on
    ok = a_ok & b_ok & (product <= np.iinfo(np.int64).max // up)
    whole, rest = np.divmod(np.where(ok, product, 0) * up, down)
    grosze = whole + (2 * rest >= down)
    return np.where(a_negative ^ b_negative, -grosze, grosze), ok


# Shares as an export writes them: `9464/6918620` (at most 9 digits each, for int64) or
# `0,0523`, `1` (at most 20 decimals, which Decimal's 28 digits hold exactly).
_FRACTION = r"^(?P<num>[0-9]{1,9})/(?P<den>[0-9]{1,9})$"
_DECIMAL_SHARE = r"^(?:0[.,](?P<frac>[0-9]{1,20})|1(?:[.,](?P<zeros>0{0,20}))?)$"
_UNIT = 10**12  # parse_share keeps 12 decimals of a fraction


def _integers(texts: pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(texts, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def share_texts(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(`decimal_text(parse_share(v))`, answered) for the shares written plainly, as above;
    not answered (for the scalar parser to answer or refuse): anything else, and 0 or more
    than 1. A fraction is rounded half-up at 12 decimals from its exact value: Decimal's
    division first rounds to 28 digits, which moves it by under 10**-16 of the 12th decimal,
    and a remainder of exactly half is a quotient it holds exactly, so both round alike."""
    found = pc.extract_regex(values, _FRACTION)
    fraction = _mask(pc.is_valid(found))
    num, den = (
        _integers(pc.if_else(pa.array(fraction), _field(found, part), _s("0")))
        for part in ("num", "den")
    )
    fraction &= (num > 0) & (num <= den)
    num, den = np.where(fraction, num, 0), np.where(fraction, den, 1)
    high, rest = np.divmod(num * 10**6, den)  # long division, 6 decimals at a time
    low, rest = np.divmod(rest * 10**6, den)
    units = high * 10**6 + low + (2 * rest >= den)
    digits = pc.utf8_rtrim(pc.utf8_lpad(pa.array(units).cast(_T), 12, "0"), "0")
    fraction_text = pc.if_else(
        pa.array(units == _UNIT), _s("1"), pc.binary_join_element_wise(_s("0."), digits, _s(""))
    )
    found = pc.extract_regex(values, _DECIMAL_SHARE)
    frac, zeros = _field(found, "frac"), _field(found, "zeros")
    decimal = _mask(pc.is_valid(found)) & ~_mask(
        pc.and_(pc.equal(pc.utf8_rtrim(frac, "0"), _s("")), pc.not_equal(frac, _s("")))
    )  # 0,000 is no share
    decimal_text_ = pc.if_else(  # as written: only a fraction's quotient is normalised
        pc.equal(frac, _s("")),
        pc.if_else(
            pc.equal(zeros, _s("")), _s("1"), pc.binary_join_element_wise(_s("1."), zeros, _s(""))
        ),
        pc.binary_join_element_wise(_s("0."), frac, _s("")),
    )
    texts = pc.if_else(pa.array(fraction), fraction_text, decimal_text_)
    answered = fraction | decimal
    return pc.if_else(pa.array(answered), texts, _s("")), answered


_ISO = r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"
_DMY_DOTS = r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})$"
_DMY_DASHES = r"^(?P<d>\d{1,2})-(?P<m>\d{1,2})-(?P<y>\d{4})$"


def date_column(series: pd.Series) -> Parsed:
    """ISO date texts for a column of dates in the accepted formats."""
    indices, arr = distinct(series)
    empty = pc.equal(arr, _s(""))
    iso = None
    for pattern in (_ISO, _DMY_DOTS, _DMY_DASHES):
        found = pc.extract_regex(arr, pattern)
        joined = pc.binary_join_element_wise(
            _field(found, "y"),
            pc.utf8_lpad(_field(found, "m"), 2, "0"),
            pc.utf8_lpad(_field(found, "d"), 2, "0"),
            _s("-"),
        )
        joined = pc.if_else(pc.is_valid(found), joined, pa.scalar(None, _T))
        iso = joined if iso is None else pc.coalesce(iso, joined)
    iso = pc.fill_null(iso, _s(""))
    # A real calendar day? strptime rolls 31.02 over into March, so compare the round trip.
    when = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
    ok = _mask(pc.equal(pc.cast(pc.strftime(when, format="%Y-%m-%d"), _T), iso))
    empty_np = _mask(empty)
    text = pc.if_else(pa.array(ok), iso, _s(""))
    return Parsed(
        _texts(text, indices, series.index), empty_np[indices], (~ok & ~empty_np)[indices]
    )


def period_column(series: pd.Series) -> Parsed:
    """YYYY-MM texts, through `parse_period` once per distinct value."""
    indices, arr = distinct(series)
    texts = arr.to_pylist()
    out = []
    bad = np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        try:
            out.append(parse_period(text) if text else "")
        except ValueError:
            out.append("")
            bad[i] = True
    empty = np.array([t == "" for t in texts], dtype=bool)
    result = pa.array(out, _T)
    return Parsed(_texts(result, indices, series.index), empty[indices], bad[indices])
