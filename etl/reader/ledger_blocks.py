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

from etl.reader import cell_columns, cells
from etl.reader.column_checks import why
from etl.reader.headers import HeaderMap
from etl.reader.raw import Problems, RawTable
from etl.reader.stream import Block, Coded, Part, decoded, narrow

PARSED = {"date", "period", "charge", "payment"}  # trimmed by their parsers, not before
TEXT = ("premises_id", "description", "document")


class _Column:
    """One column of the block: each row's code and the distinct values (trimmed, unless a
    parser trims it); `unique` when no two values are equal (encoded, not trimmed since)."""

    def __init__(self, codes: np.ndarray, values: pa.Array, *, unique: bool = False) -> None:
        self.codes = codes
        self.values = values
        self.unique = unique

    def per_row(self, mask: np.ndarray) -> np.ndarray:
        return mask[self.codes] if len(mask) else np.zeros(len(self.codes), dtype=bool)

    def rows_where(self, mask: np.ndarray) -> np.ndarray:
        """Positions of the rows whose value `mask` marks (none without a gather when no value
        is marked, the usual case)."""
        if not mask.any():
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(mask[self.codes])

    def empty(self) -> np.ndarray:
        return np.asarray(pc.equal(self.values, "").to_numpy(zero_copy_only=False), dtype=bool)

    def series(self) -> pd.Series:
        return pd.Series(self.values.to_pandas().array)


def _encoded(column: pa.Array, *, runs: bool) -> tuple[np.ndarray, pa.Array]:
    """(codes, distinct values in the order rows first show them). With `runs` (a column an
    export usually sorts by, the premises), when equal values come in long runs only each
    run's first value is hashed: comparing neighbours costs a third of hashing every row."""
    if runs and len(column) > 1:
        starts = np.flatnonzero(
            pc.not_equal(column[1:], column[:-1]).to_numpy(zero_copy_only=False)
        )
        if 4 * len(starts) < len(column):
            starts = np.concatenate(([0], starts + 1))
            heads = pc.dictionary_encode(column.take(pa.array(starts)))
            lengths = np.diff(np.append(starts, len(column)))
            codes = np.repeat(heads.indices.to_numpy(zero_copy_only=False), lengths)
            return codes, heads.dictionary
    encoded = pc.dictionary_encode(column)
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary


def _column(column: pa.ChunkedArray | pa.Array, codec: str, *, runs: bool = False) -> _Column:
    """A column of bytes in `codec` as codes (int32, as Arrow gives them) into its distinct
    values as text, in the order rows first show them; raises NotStreamable for bytes that are
    not text in it. The chunks are joined first: encoding one array is cheaper than unifying
    the dictionaries of many."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    codes, distinct = _encoded(column, runs=runs)
    return _Column(codes, decoded(distinct, codec), unique=True)


def _recoded(codes: np.ndarray, values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes into unique values again (trimming or parsing may make two values one)."""
    encoded = pc.dictionary_encode(values)
    remap = encoded.indices.to_numpy(zero_copy_only=False)
    if len(remap) and len(encoded.dictionary) == len(values):
        return codes, values  # nothing merged: the same codes
    return (remap[codes] if len(remap) else codes), encoded.dictionary


def _coded(codes: np.ndarray, values: pa.Array, *, unique: bool = False) -> Coded:
    if not unique:
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
        column = _column(block.table.column(f"c{pos}"), codec, runs=name == "premises_id")
        if name not in PARSED:
            column.codes, column.values = _recoded(
                column.codes, pc.utf8_trim_whitespace(column.values)
            )
        columns[name] = column
    # A blank row has every column empty: none when some column has no empty value at all.
    blank: np.ndarray | None = np.ones(n, dtype=bool)
    for column in columns.values():
        empty = column.empty()
        if not empty.any():
            blank = None
            break
        blank &= column.per_row(empty)
    rows = block.rows
    if blank is not None and blank.any():
        keep = ~blank
        for column in columns.values():
            column.codes = column.codes[keep]
        rows = rows[keep]
        n = len(rows)
    for name in (*TEXT, *PARSED):
        if name not in columns:
            columns[name] = _Column(
                np.zeros(n, dtype=np.int64), pa.array([""], pa.large_string()), unique=True
            )
    table = _Rows(file, matched, columns, rows)

    def report(at: np.ndarray, name: str, reason, *, named: bool = False) -> None:
        if len(at):
            problems.rows(table.raw(), at, name, reason, named=named)

    pid = columns["premises_id"]
    raw_names = RawTable("ledger", file, pd.DataFrame(), None, matched.written, matched.polish)
    empty_id = f"{raw_names.name('premises_id')} must not be empty"
    report(pid.rows_where(pid.empty()), "premises_id", lambda _v: empty_id, named=True)

    date = columns["date"]
    dates = cell_columns.date_column(date.series())
    report(date.rows_where(dates.bad), "date", why(cells.parse_date))
    report(date.rows_where(dates.empty), "date", lambda _v: "empty date")

    period = columns["period"]
    periods = cell_columns.period_column(period.series())
    report(period.rows_where(periods.bad), "period", why(cells.parse_period))

    amounts = {}
    for name in ("charge", "payment"):
        column = columns[name]
        parsed = cell_columns.money_column(column.series())
        report(column.rows_where(parsed.bad), name, why(cells.parse_money))
        values = np.where(parsed.bad | parsed.empty, 0, np.asarray(parsed.values, np.int64))
        amounts[name] = (values[column.codes] if len(values) else np.zeros(n, np.int64), parsed)
    charge, payment = columns["charge"], columns["payment"]
    charge_empty, payment_empty = amounts["charge"][1].empty, amounts["payment"][1].empty
    if charge_empty.any() and payment_empty.any():
        neither = np.flatnonzero(charge.per_row(charge_empty) & payment.per_row(payment_empty))
    else:
        neither = np.zeros(0, dtype=np.int64)
    both = f"a {raw_names.name('charge')} or a {raw_names.name('payment')}"
    report(neither, "charge", lambda _v: f"a ledger row needs {both} (both are empty)", named=True)
    date_text = pa.array(dates.values.array, pa.large_string())
    period_text = pa.array(periods.values.array, pa.large_string())
    description, document = columns["description"], columns["document"]
    return {
        "premises_id": _coded(pid.codes, pid.values, unique=True),
        "date": _coded(date.codes, date_text),
        "description": _coded(description.codes, description.values, unique=True),
        "document": _coded(document.codes, document.values, unique=True),
        "period": _coded(period.codes, period_text),
        "charge": np.asarray(amounts["charge"][0], dtype=np.int64),
        "payment": np.asarray(amounts["payment"][0], dtype=np.int64),
        "_row": rows.astype(np.int64),
    }
