"""The checks the table validators (etl.reader.validate, etl.reader.optional_tables) share: a
column parsed and its failures turned into problems that name file, table, row, column and
value, and the normalised frame a validator returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.model import COLUMNS
from etl.reader import cell_columns, cells
from etl.reader.raw import Problems, RawTable, column_of


def why(parser: Callable[[str], object]) -> Callable[[str], str]:
    def reason(value: str) -> str:
        try:
            parser(value)
        except ValueError as exc:
            return str(exc)
        return "invalid value"

    return reason


def required(raw: RawTable, names: Iterable[str], problems: Problems) -> None:
    for name in names:
        empty = np.flatnonzero((column_of(raw, name) == "").to_numpy(dtype=bool))
        why = f"{raw.name(name)} must not be empty"
        problems.rows(raw, empty, name, lambda _v, why=why: why, named=True)


def written(raw: RawTable, name: str, where: np.ndarray) -> np.ndarray:
    """Which of the rows `where` marks hold more than white space in column `name` (as
    str.strip() sees it; the other rows are False)."""
    out = np.zeros(len(where), dtype=bool)
    at = np.flatnonzero(where)
    if len(at):
        texts = column_of(raw, name).iloc[at]
        out[at] = [bool(text.strip()) for text in texts]
    return out


def duplicates(raw: RawTable, column: str, problems: Problems) -> None:
    series = column_of(raw, column)
    dup = series.duplicated(keep="first").to_numpy(dtype=bool) & (series != "").to_numpy(bool)
    if dup.any():
        first: dict[str, int] = {}
        for value, row in zip(series, raw.frame["_row"], strict=True):
            first.setdefault(value, int(row))
        label = raw.name(column)
        problems.rows(
            raw,
            np.flatnonzero(dup),
            column,
            lambda v: f"duplicate {label}: already in row {first[v]}",
            named=True,
        )


def checked_money(raw: RawTable, name: str, problems: Problems) -> cell_columns.Parsed:
    parsed = cell_columns.money_column(column_of(raw, name))
    bad = np.flatnonzero(parsed.bad)
    if len(bad) and raw.number_cells is not None and name in raw.number_cells.columns:
        # An XLSX number cell with more than two decimals: round it as Excel shows it.
        numbers = raw.number_cells[name].to_numpy(dtype=bool)
        texts = column_of(raw, name).to_numpy(dtype=object)
        still = []
        for i in bad:
            if numbers[i]:
                try:
                    parsed.values[i] = cells.parse_money(texts[i], from_number_cell=True)
                    parsed.bad[i] = False
                    continue
                except ValueError:
                    pass
            still.append(i)
        bad = np.array(still, dtype=np.int64)
    problems.rows(raw, bad, name, why(cells.parse_money))
    return parsed


def checked_dates(raw: RawTable, name: str, problems: Problems, *, required: bool) -> pd.Series:
    parsed = cell_columns.date_column(column_of(raw, name))
    problems.rows(raw, np.flatnonzero(parsed.bad), name, why(cells.parse_date))
    if required:
        problems.rows(raw, np.flatnonzero(parsed.empty), name, lambda _v: "empty date")
    return parsed.values


def checked_decimals(raw: RawTable, name: str, problems: Problems) -> pd.Series:
    parsed = cell_columns.decimal_column(column_of(raw, name))
    problems.rows(raw, np.flatnonzero(parsed.bad), name, why(cells.parse_decimal))
    return parsed.values


def per_value(
    raw: RawTable,
    name: str,
    parser: Callable[[str], object],
    problems: Problems,
    *,
    column: Callable[[pa.Array], tuple[pa.Array, np.ndarray]] | None = None,
) -> pd.Series:
    """Parse each distinct non-empty value once (few distinct values, or small tables) and
    spread the answers back by index. `column`, a vectorised parser, may answer first for the
    distinct values it can, (texts, answered); `parser` takes the others."""
    series = column_of(raw, name)
    encoded = pc.dictionary_encode(cell_columns._arrow(series))
    codes = encoded.indices
    distinct = encoded.dictionary.to_pylist()
    answered = np.zeros(len(distinct), dtype=bool)
    out: list[object] = [""] * len(distinct)
    if column is not None and distinct:
        texts, answered = column(encoded.dictionary)
        out = texts.to_pylist()
    failed: dict[str, str] = {}
    for i, value in enumerate(distinct):
        if answered[i] or not value.strip():
            continue
        try:
            out[i] = parser(value)
        except ValueError as exc:
            failed[value] = str(exc)
    if failed:
        refused = [i for i, value in enumerate(distinct) if value in failed]
        bad = np.flatnonzero(np.isin(codes.to_numpy(zero_copy_only=False), refused))
        problems.rows(raw, bad, name, lambda v: failed[v])
    if all(isinstance(value, str) for value in out):
        values = pa.array(out, pa.large_string()).take(codes)
        return pd.Series(values.to_pandas().array, index=series.index)
    at = codes.to_numpy(zero_copy_only=False)
    return pd.Series(np.array(out, dtype=object)[at], index=series.index, dtype=object)


def per_distinct(
    raw: RawTable, name: str, parser: Callable[[str], str], problems: Problems
) -> pd.Series:
    """`per_value` for a big table of text: each distinct value parsed once and spread back by
    index in Arrow, never a Python call per row. "" where empty or refused."""
    series = column_of(raw, name)
    indices, distinct = cell_columns.distinct(series)
    out: list[str] = []
    failed: dict[int, str] = {}
    for i, value in enumerate(distinct.to_pylist()):
        try:
            out.append(parser(value) if value else "")
        except ValueError as exc:
            failed[i] = str(exc)
            out.append("")
    if failed:
        bad = np.flatnonzero(np.isin(indices, list(failed)))
        reasons = {i: failed[indices[i]] for i in bad.tolist()}
        for i in bad:
            problems.rows(raw, np.array([i]), name, lambda _v, r=reasons[int(i)]: r)
    values = pa.array(out, pa.large_string()).take(pa.array(indices))
    return pd.Series(values.to_pandas().array, index=series.index)


def normalised(raw: RawTable, table: str, columns: dict[str, object]) -> pd.DataFrame:
    out = pd.DataFrame(columns, index=raw.frame.index)[list(COLUMNS[table])]
    out["_file"] = raw.file
    out["_row"] = raw.frame["_row"].to_numpy()
    return out.reset_index(drop=True)
