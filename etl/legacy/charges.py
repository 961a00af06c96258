"""Charge lines (nal_czynsz.txt, and pow_czynsz.txt's fee lines) read column-wise.

A community has 10^5 charge lines, and reading them line by line in Python was most of an
import's time. Here the well-formed lines, which are nearly all, are checked a column at a time
with Arrow compute: a line passes when its premises code is given, its period reads `YYYYMM`,
its quantity has at most 6 decimals, its unit price is a plain number and its total a plain
amount of at most 2 decimals. Every other line goes through the line parsers of records.py,
which name the file, line, field and value of each problem exactly as before; nothing is
refused here. Money stays exact: totals become integer grosze from their digits, and quantity ×
price is compared with the total in Decimal wherever the float estimate is not clear of the
tolerated grosz.

The lines are kept as one DataFrame (`COLUMNS`), in file order; quantity and rate as the
decimal strings the ledger's breakdown shows (`format(Decimal, "f")`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.legacy import columns
from etl.legacy.columns import Distinct, bools, ints
from etl.legacy.fields import Fields, numbered_lines, split_fields, zl
from etl.legacy.records import ChargeLine, charge_line, expected_grosze, plain_charge
from etl.model import Problem

COLUMNS = ["line", "premises", "year", "month", "line_no", "description", "quantity", "unit",
           "rate", "total"]  # fmt: skip
# Every character str.split() and str.strip() take for whitespace (none lies above U+3000), so
# Arrow collapses a description exactly as " ".join(text.split()) does.
_SPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_SPACES = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _SPACE) + "]+"
# At most 15 digits before the point (fields.LARGEST): longer ones go to the line parsers.
_QUANTITY = r"^[+-]?[0-9]{1,15}([.,][0-9]{0,6})?$"
_RATE = r"^[+-]?([0-9]{1,15}([.,][0-9]*)?|[.,][0-9]+)$"
_PERIOD = r"^[0-9]{4}(0[1-9]|1[0-2])$"
_CANONICAL = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"  # what format(Decimal(text), "f") gives back


@dataclass(frozen=True)
class Layout:
    """Where a file's fields are (0-based): the free text at `absorb` takes any extra `#`."""

    table: str
    count: int
    absorb: int
    premises: int
    period: int | None
    first: int  # line no; then description, quantity, unit, unit price, total


NAL = Layout("ledger", 11, 6, 1, 4, 5)
POW = Layout("fees", 8, 3, 1, None, 2)


def empty() -> pd.DataFrame:
    return _frame({name: [] for name in COLUMNS})


def parse_nal(
    file: str, source: columns.Source, problems: list[Problem], warnings: list[str]
) -> pd.DataFrame:
    return parse(file, source, NAL, problems, warnings)


@dataclass(frozen=True)
class FeeSchedule:
    header: str
    footer: str
    lines: pd.DataFrame  # COLUMNS; year and month 0


def parse_pow(file: str, text: str, problems: list[Problem], warnings: list[str]) -> FeeSchedule:
    """Header lines, a line holding only `#`, footer lines, a second `#`, then data lines.

    Exports also come with a single `#` line: header, `#`, then the fee lines, no footer block.
    There, lines after the `#` that hold no `#` at all cannot be fee lines: they are notes for
    residents, kept as the footer. An empty file is an empty schedule."""
    raw = [line.rstrip("\r").replace("\x1a", "") for line in text.split("\n")]
    marks = [i for i, line in enumerate(raw) if line.strip() == "#"]
    if not marks:
        if any(line.strip() for line in raw):
            problems.append(
                Problem(file, "fees", None, "", "",
                        "expected header, a line '#', then the fee lines (optionally footer "
                        "lines and a second line '#' before them); found no line holding "
                        "only '#'")
            )  # fmt: skip
        return FeeSchedule("", "", empty())
    first = marks[0]
    header = "\n".join(raw[:first]).strip()
    if len(marks) >= 2:
        second = marks[1]
        footer = "\n".join(raw[first + 1 : second]).strip()
        data = raw[second + 1 :]
    else:
        second = first
        rest = raw[first + 1 :]
        footer = "\n".join(line.strip() for line in rest if line.strip() and "#" not in line)
        data = [line if "#" in line else "" for line in rest]
    body = "\n" * (second + 1) + "\n".join(data)  # keep the line numbers
    return FeeSchedule(
        header, footer, parse(file, columns.Source.of_text(body), POW, problems, warnings)
    )


def parse(
    file: str, source: columns.Source, layout: Layout, problems: list[Problem], warnings: list[str]
) -> pd.DataFrame:
    """The charge lines of the file; a refused line becomes a Problem, a total that differs from
    quantity × price a warning (both in line order, as the line parsers made them)."""
    split = columns.split(source, layout.count)
    noted: list[tuple[int, str]] = []
    if split is None:
        frame, rest = empty(), numbered_lines(source.text())
    else:
        frame, passed = _vectorised(file, split, layout, noted)
        rest = split.rest(~passed)
    slow = []
    for number, line in rest:
        own: list[str] = []
        charge = _line(file, layout, number, line, problems, own)
        noted += [(number, w) for w in own]
        if charge is not None:
            slow.append(charge)
    if slow:
        frame = pd.concat([frame, _records(slow)], ignore_index=True)
        frame = frame.sort_values("line", kind="stable", ignore_index=True)
    warnings += [w for _, w in sorted(noted, key=lambda n: n[0])]
    return frame


def _line(
    file: str, layout: Layout, number: int, line: str, problems: list[Problem], own: list[str]
) -> ChargeLine | None:
    """One line the column checks did not pass, read as records.py always read it."""
    if layout is NAL:
        charge = plain_charge(file, number, line, own)
        if charge is not None:
            return charge
    values = split_fields(line, layout.count, layout.absorb)
    if values is None:
        n = len(line.split("#"))
        problems.append(
            Problem(file, layout.table, number, "", line, f"{n} fields, expected {layout.count}")
        )
        return None
    fields = Fields(file, layout.table, number, values, problems)
    return charge_line(fields, layout.premises, layout.period, layout.first, own)


def _vectorised(
    file: str, split: columns.Split, layout: Layout, noted: list[tuple[int, str]]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows every column check passes, and which rows those are."""
    col = split.columns
    first = layout.first
    premises = Distinct(col[layout.premises], split.codec)
    quantity = Distinct(col[first + 2], split.codec)
    rate = Distinct(col[first + 4], split.codec)
    total = Distinct(col[first + 5], split.codec)
    amount_ok, amounts = columns.grosze(total.values)
    passed = (
        premises.rows(bools(pc.not_equal(premises.values, "")))
        & quantity.matches(_QUANTITY)
        & rate.matches(_RATE)
        & total.rows(amount_ok)
    )
    year = month = np.zeros(len(passed), dtype=np.int64)
    if layout.period is not None:
        period = Distinct(col[layout.period], split.codec)
        valid = pc.match_substring_regex(period.values, _PERIOD)
        passed &= period.rows(bools(valid))
        year = period.rows(ints(pc.utf8_slice_codeunits(period.values, 0, 4), valid))
        month = period.rows(ints(pc.utf8_slice_codeunits(period.values, 4, 6), valid))
        passed &= year > 0  # 000001: no year 0000, as the line parsers say
    grosze = total.rows(amounts)
    q_text, q_float = _decimal_text(quantity)
    r_text, r_float = _decimal_text(rate)
    keep = np.flatnonzero(passed)
    numbers = split.numbers[keep]

    def kept(column: Distinct, values: pa.Array | None = None) -> np.ndarray:
        """The Python strings of the kept rows, each distinct value made once."""
        values = column.values if values is None else values
        distinct = np.empty(len(values), dtype=object)
        distinct[:] = values.to_pylist()
        return distinct[column.index[keep]]

    premises_text, q_rows, r_rows = kept(premises), kept(quantity, q_text), kept(rate, r_text)
    estimate = quantity.rows(q_float)[keep] * rate.rows(r_float)[keep] * 100
    _compare(file, numbers, premises_text, q_rows, r_rows, estimate, grosze[keep], noted)
    description = Distinct(col[first + 1], split.codec, trim=False)
    collapsed = pc.utf8_trim_whitespace(
        pc.replace_substring_regex(description.values, _SPACES, " ")
    )
    frame = _frame(
        {
            "line": numbers,
            "premises": premises_text,
            "year": year[keep],
            "month": month[keep],
            "line_no": kept(Distinct(col[first], split.codec)),
            "description": kept(description, collapsed),
            "quantity": q_rows,
            "unit": kept(Distinct(col[first + 3], split.codec)),
            "rate": r_rows,
            "total": grosze[keep],
        }
    )
    return frame, passed


def _compare(
    file: str,
    numbers: np.ndarray,
    premises: np.ndarray,
    quantity: np.ndarray,
    rate: np.ndarray,
    estimate: np.ndarray,
    grosze: np.ndarray,
    noted: list[tuple[int, str]],
) -> None:
    """Warn where |quantity × price × 100 − total| > 1, exactly: the float estimate decides
    only where it is clear of the boundary by far more than its rounding error."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(estimate - grosze)
        slack = 1e-6 + 1e-12 * (np.abs(estimate) + np.abs(grosze))
        clear = (diff < 1 - slack) & np.isfinite(estimate)
    for i in np.flatnonzero(~clear):
        q, r, total = Decimal(quantity[i]), Decimal(rate[i]), int(grosze[i])
        if abs(q * r * 100 - total) > 1:
            noted.append(
                (int(numbers[i]),
                 f"{file}, line {numbers[i]}, premises {premises[i]}: total {zl(total)} differs "
                 f"from quantity × price {zl(expected_grosze(q, r))}; the total is used as given")
            )  # fmt: skip


def _decimal_text(column: Distinct) -> tuple[pa.Array, np.ndarray]:
    """The distinct numbers as format(Decimal(text), "f") writes them, and as floats for
    estimates (0 where the number does not read; those rows are not kept)."""
    dotted = pc.replace_substring(column.values, ",", ".")
    readable = pc.match_substring_regex(dotted, r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
    odd = np.flatnonzero(bools(readable) & ~bools(pc.match_substring_regex(dotted, _CANONICAL)))
    if len(odd):  # `+1`, `.5`, `007`, `5.`: rare, and Decimal says how they read
        text = dotted.to_pylist()
        for i in odd:
            text[i] = format(Decimal(text[i]), "f")
        dotted = pa.array(text, pa.string())
    floats = pc.cast(pc.if_else(readable, dotted, "0"), pa.float64()).to_numpy()
    return dotted, floats


def _records(lines: list[ChargeLine]) -> pd.DataFrame:
    return _frame(
        {
            "line": [c.line for c in lines],
            "premises": [c.premises for c in lines],
            "year": [c.period[0] if c.period else 0 for c in lines],
            "month": [c.period[1] if c.period else 0 for c in lines],
            "line_no": [c.line_no for c in lines],
            "description": [c.description for c in lines],
            "quantity": [format(c.quantity, "f") for c in lines],
            "unit": [c.unit for c in lines],
            "rate": [format(c.rate, "f") for c in lines],
            "total": [c.total for c in lines],
        }
    )


_INTS = ("line", "year", "month", "total")


def _frame(data: dict[str, Any]) -> pd.DataFrame:
    """Integer columns int64; text columns of Python strings (object), as the ledger's
    breakdown takes them."""
    out = {}
    for name in COLUMNS:
        if name not in _INTS:
            values = data[name]
            if not isinstance(values, np.ndarray):
                values = np.empty(len(values), dtype=object)
                values[:] = data[name]
            out[name] = pd.Series(values, dtype=object, copy=False)
            continue
        try:
            out[name] = pd.Series(data[name], dtype="int64")
        except OverflowError:  # a total beyond int64 grosze: Python ints, for its problem
            out[name] = pd.Series(data[name], dtype=object)
    return pd.DataFrame(out)


def _months(lines: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each line's (premises, year, month) as one integer, and the premises codes by number."""
    codes, premises = pd.factorize(lines["premises"].to_numpy())
    year, month = lines["year"].to_numpy(), lines["month"].to_numpy()
    return (codes * 10_000 + year) * 13 + month, codes, premises


def _keys(
    lines: pd.DataFrame, heads: np.ndarray, codes: np.ndarray, premises: np.ndarray
) -> list[tuple[str, int, int]]:
    """(premises, year, month) of the lines at `heads`."""
    return list(
        zip(
            premises[codes[heads]].tolist(),
            lines["year"].to_numpy()[heads].tolist(),
            lines["month"].to_numpy()[heads].tolist(),
            strict=True,
        )
    )


def month_totals(lines: pd.DataFrame) -> dict[tuple[str, int, int], int]:
    """Σ totals per (premises, year, month) of the lines that have a period."""
    dated = lines[lines["month"] > 0]
    if dated.empty:
        return {}
    group, codes, premises = _months(dated)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    totals = dated["total"].to_numpy()[order]
    if len(totals) and int(np.abs(totals).max()) * len(totals) >= 2**63:
        totals = totals.astype(object)  # sums that int64 would wrap round: Python ints
    sums = np.add.reduceat(totals, starts)
    return dict(zip(_keys(dated, order[starts], codes, premises), sums.tolist(), strict=True))


def details(lines: pd.DataFrame) -> dict[tuple[str, int, int], list[dict[str, object]]]:
    """Each month's breakdown for the ledger: its lines by line no (`1` < `2` < `10`, as
    `zfill(9)` orders them), then file order."""
    if lines.empty:
        return {}
    numbers, distinct = pd.factorize(lines["line_no"].to_numpy())
    padded = [s.zfill(9) for s in distinct]  # `01` and `1` are equals, as in the line parsers
    place = {s: i for i, s in enumerate(sorted(set(padded)))}
    rank = np.array([place[s] for s in padded], dtype=np.int64)
    group, codes, premises = _months(lines)
    order = np.lexsort((lines["line"].to_numpy(), rank[numbers], group))
    rows = [
        {"description": d, "quantity": q, "unit": u, "rate": r, "amount": a}
        for d, q, u, r, a in zip(
            lines["description"].to_numpy()[order].tolist(),
            lines["quantity"].to_numpy()[order].tolist(),
            lines["unit"].to_numpy()[order].tolist(),
            lines["rate"].to_numpy()[order].tolist(),
            lines["total"].to_numpy()[order].tolist(),
            strict=True,
        )
    ]
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    ends = [*starts[1:].tolist(), len(rows)]
    keys = _keys(lines, order[starts], codes, premises)
    return {key: rows[a:b] for key, a, b in zip(keys, starts.tolist(), ends, strict=True)}
