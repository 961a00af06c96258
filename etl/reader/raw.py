"""A table as read from one file, before validation, and the problems found in it.

Shared by the bundle reader (which builds RawTables), validation and the reference checks
(which report Problems about them), so none of those has to import another to name them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from etl.model import MAX_PROBLEMS, Problem
from etl.reader.headers import key, polish_label

if TYPE_CHECKING:
    from etl.reader.spill import SpilledTable


@dataclass
class RawTable:
    """One table as read: canonical columns of stripped text, `_row` as the spreadsheet numbers
    rows, and for XLSX which cells were numbers (money there is rounded, not rejected).

    `headers` keeps each column's header as the file writes it, and `polish` whether the file
    heads its columns with Polish aliases, so that problems name columns the accountant's way.

    A table validated as it was read, a block at a time (etl.reader.bundle), carries its
    normalised frame in `done` and its rows' problems in `found`; its `frame` then holds only
    the premises ids and row numbers the reference checks report by (nothing, when `done` is
    a table spilled to disk: etl.reader.spill)."""

    table: str
    file: str
    frame: pd.DataFrame
    number_cells: pd.DataFrame | None = None
    headers: dict[str, str] = field(default_factory=dict)
    polish: bool = False
    done: pd.DataFrame | SpilledTable | None = None
    found: Problems | None = None
    # A ledger read as its changes since the last import (etl.reader.ledger_delta): the
    # premises whose rows did not change, which `done` leaves out.
    kept: set[str] | None = None
    # A premises table of a CSV file: validate.premises through the last import's cache of
    # that file (etl.reader.table_cache), called as it is (this table, problems, places).
    cached: Callable[[RawTable, Problems, dict[str, tuple[str, str]]], pd.DataFrame] | None = None

    def header(self, column: str) -> str:
        """The column as the file heads it; for a column the file lacks, its name in the
        file's language (`Wpłata` or `payment`)."""
        if column in self.headers:
            return self.headers[column]
        return polish_label(self.table, column) if self.polish else column

    def name(self, column: str) -> str:
        """The column for a message: `„Winien” (charge)`, or just `charge` when the file calls
        it that."""
        header = self.header(column)
        return column if key(header) == key(column) else f"„{header}” ({column})"


def column_of(raw: RawTable, name: str) -> pd.Series:
    """A column of text, or empty strings where the file lacks it."""
    if name in raw.frame.columns:
        return raw.frame[name]
    return pd.Series([""] * len(raw.frame), index=raw.frame.index, dtype="str")


class Problems:
    """Collects problems up to the cap and counts the rest."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.total = 0

    def extend(self, other: Problems) -> None:
        """Another collection's problems after these (the cap still holds)."""
        for problem in other.items:
            self.add(problem)
        self.total += other.total - len(other.items)

    def add(self, problem: Problem) -> None:
        self.total += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(problem)

    def rows(
        self,
        raw: RawTable,
        positions: np.ndarray,
        column: str,
        reason: Callable[[str], str],
        *,
        named: bool = False,
    ) -> None:
        """A problem for each row at `positions`; `reason(value)` is asked only while under
        the cap. The problem's column is the header as the file writes it, and the reason starts
        with the column's two names (`„Winien” (charge): …`) when they differ, unless the
        reason already names it (`named`)."""
        shown = positions[: max(0, MAX_PROBLEMS - len(self.items))]
        values = column_of(raw, column).iloc[shown].tolist() if len(shown) else []
        row_numbers = raw.frame["_row"].to_numpy()
        header = raw.header(column)
        prefix = "" if named or raw.name(column) == column else f"{raw.name(column)}: "
        for i, value in zip(shown, values, strict=True):
            value = str(value)
            self.items.append(
                Problem(
                    raw.file, raw.table, int(row_numbers[i]), header, value, prefix + reason(value)
                )
            )
        self.total += len(positions)
