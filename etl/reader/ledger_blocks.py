"""The ledger's rules (`etl.reader.validate.ledger`) over a block of a CSV file whose columns are
dictionary-coded: every parser runs once per distinct value and the answers are spread back to
the rows by index, so millions of rows cost a hash per cell and a few array lookups.

A ledger repeats itself: 250,000 rows of a block hold a few hundred dates, a few dozen
descriptions and periods, a few thousand premises ids. Only the rows that fail a rule are looked
at one by one, with the same scalar parsers and the same wording as the whole-table validation;
the problems name file, table, row, column and value exactly as it does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.reader import cells
from etl.reader.headers import HeaderMap
from etl.reader.raw import Problems, RawTable
from etl.reader.stream import Block, Coded, Part, coded, narrow
from etl.reader.validate import _why

PARSED = {"date", "period", "charge", "payment"}  # trimmed by their parsers, not before
TEXT = ("premises_id", "description", "document")


class _Column:
    """One column of the block: each row's code and the distinct values (trimmed, unless a
    parser trims it)."""

    def __init__(self, codes: np.ndarray, values: pa.Array) -> None:
        self.codes = codes
        self.values = values

    def per_row(self, mask: np.ndarray) -> np.ndarray:
        return mask[self.codes] if len(mask) else np.zeros(len(self.codes), dtype=bool)

    def empty(self) -> np.ndarray:
        return np.asarray(pc.equal(self.values, "").to_numpy(zero_copy_only=False), dtype=bool)

    def series(self) -> pd.Series:
        return pd.Series(self.values.to_pandas().array)


def _recoded(codes: np.ndarray, values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes into unique values again (trimming or parsing may make two values one)."""
    encoded = pc.dictionary_encode(values)
    remap = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return (remap[codes] if len(remap) else codes), encoded.dictionary


def _coded(codes: np.ndarray, values: pa.Array) -> Coded:
    codes, values = _recoded(codes, values)
    return Coded(narrow(codes), values.to_pylist())


class _Rows:
    """The block as a RawTable, made only when a problem needs its cells."""

    def __init__(self, file: str, matched: HeaderMap, columns: dict[str, _Column], rows) -> None:
        self.file, self.matched, self.columns, self.rows = file, matched, columns, rows
        self._raw: RawTable | None = None

    def raw(self) -> RawTable:
        if self._raw is None:
            frame = pd.DataFrame(
                {
                    name: self_column.values.take(pa.array(self_column.codes)).to_pandas().array
                    for name, self_column in self.columns.items()
                    if name in self.matched.columns.values()
                }
            )
            frame["_row"] = self.rows
            self._raw = RawTable(
                "ledger", self.file, frame, None, self.matched.written, self.matched.polish
            )
        return self._raw


def ledger_block(
    block: Block, codec: str, file: str, matched: HeaderMap, problems: Problems
) -> Part:
    """The block's rows validated (problems added to `problems`) as a table of the normalised
    ledger columns, text dictionary-coded; blank rows are left out as in `etl.reader.bundle`."""
    n = block.table.num_rows
    columns: dict[str, _Column] = {}
    for pos, name in matched.columns.items():
        codes, values = coded(block.table.column(f"c{pos}"), codec)
        if name not in PARSED:
            codes, values = _recoded(codes, pc.utf8_trim_whitespace(values))
        columns[name] = _Column(codes, values)
    blank = np.ones(n, dtype=bool)
    for column in columns.values():
        blank &= column.per_row(column.empty())
    rows = block.rows
    if blank.any():
        keep = ~blank
        for column in columns.values():
            column.codes = column.codes[keep]
        rows = rows[keep]
        n = len(rows)
    for name in (*TEXT, *PARSED):
        if name not in columns:
            columns[name] = _Column(np.zeros(n, dtype=np.int64), pa.array([""], pa.large_string()))
    table = _Rows(file, matched, columns, rows)

    def report(at: np.ndarray, name: str, reason, *, named: bool = False) -> None:
        if len(at):
            problems.rows(table.raw(), at, name, reason, named=named)

    pid = columns["premises_id"]
    raw_names = RawTable("ledger", file, pd.DataFrame(), None, matched.written, matched.polish)
    why = f"{raw_names.name('premises_id')} must not be empty"
    report(np.flatnonzero(pid.per_row(pid.empty())), "premises_id", lambda _v: why, named=True)

    date = columns["date"]
    dates = cells.date_column(date.series())
    report(np.flatnonzero(date.per_row(dates.bad)), "date", _why(cells.parse_date))
    report(np.flatnonzero(date.per_row(dates.empty)), "date", lambda _v: "empty date")

    period = columns["period"]
    periods = cells.period_column(period.series())
    report(np.flatnonzero(period.per_row(periods.bad)), "period", _why(cells.parse_period))

    amounts = {}
    for name in ("charge", "payment"):
        column = columns[name]
        parsed = cells.money_column(column.series())
        report(np.flatnonzero(column.per_row(parsed.bad)), name, _why(cells.parse_money))
        values = np.where(parsed.bad | parsed.empty, 0, np.asarray(parsed.values))
        amounts[name] = (values[column.codes] if len(values) else np.zeros(n, np.int64), parsed)
    neither = columns["charge"].per_row(amounts["charge"][1].empty) & columns["payment"].per_row(
        amounts["payment"][1].empty
    )
    both = f"a {raw_names.name('charge')} or a {raw_names.name('payment')}"
    report(
        np.flatnonzero(neither),
        "charge",
        lambda _v: f"a ledger row needs {both} (both are empty)",
        named=True,
    )
    date_text = pa.array(dates.values.array, pa.large_string())
    period_text = pa.array(periods.values.array, pa.large_string())
    return {
        "premises_id": _coded(pid.codes, pid.values),
        "date": _coded(date.codes, date_text),
        "description": _coded(columns["description"].codes, columns["description"].values),
        "document": _coded(columns["document"].codes, columns["document"].values),
        "period": _coded(period.codes, period_text),
        "charge": amounts["charge"][0].astype(np.int64),
        "payment": amounts["payment"][0].astype(np.int64),
        "_row": rows.astype(np.int64),
    }
