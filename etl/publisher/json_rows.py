"""A table's rows as JSON text made in Arrow, a batch of documents at a time.

Ledger rows are most of what publishing writes: 5 million of them, each a JSON array of nine
values. Made into Python tuples and serialised one by one they were a fifth of an import's
time. Here each column of a batch's rows becomes JSON text in one Arrow operation (text
columns: every distinct value serialised once, then taken by code; numbers: cast), the columns
are joined row by row, and a premises' rows, which are next to each other, are one slice of the
result's bytes, handed to orjson as an already serialised `Fragment`. The text is the one
orjson would have written for the same values, so documents and their digests do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from etl.publisher.grouping import Column, Groups

Default = Callable[[Any], Any]  # orjson's `default` for values it does not know


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _textual(column: Column) -> bool:
    """Whether a column's JSON is made from text (one value, distinct values, objects), so
    that constant text can be put into it."""
    return column.values is None or column.values.dtype.kind not in "iu"


class RowsText:
    """The JSON text of a batch's rows, each `[...]` followed by a comma."""

    def __init__(self, rows: pa.Array) -> None:
        rows = rows.cast(pa.large_string())
        _, offsets, data = rows.buffers()
        self.offsets = np.frombuffer(offsets, dtype=np.int64)[rows.offset :]
        # Arrow's buffer itself, not a copy: each fragment copies its rows out once (the
        # text is 560 MB for 5 M ledger rows; a copy of all of it, then a slice and a join
        # per premises, were three).
        self.data = memoryview(data) if data is not None else memoryview(b"")

    def fragment(self, start: int, end: int) -> orjson.Fragment:
        """Rows [start, end) of the batch as one JSON array."""
        if end <= start:
            return orjson.Fragment(b"[]")
        a, b = int(self.offsets[start]), int(self.offsets[end])
        return orjson.Fragment(b"".join((b"[", self.data[a : b - 1], b"]")))


class JsonRows:
    """The rows of one Groups table as JSON, in the order of its columns: each an array, or
    with `keys` (one per column) an object."""

    def __init__(
        self, groups: Groups, default: Default, keys: tuple[str, ...] | None = None
    ) -> None:
        self.groups = groups
        self.default = default
        self.keys = keys
        # (column, text before, text after) -> the JSON of each distinct value
        self._lookups: dict[tuple[str, str, str], pa.Array] = {}

    def _json(self, value: Any) -> str:
        return orjson.dumps(value, default=self.default).decode()

    def _column(
        self, name: str, column: Column, rows: slice | np.ndarray, before: str, after: str
    ) -> Any:
        """The column's values of these rows as JSON text, each between `before` and `after`
        (constant text is put into the values once, not joined to each row: the join of a
        whole row costs as much as making its columns)."""
        if column.values is None:  # one value throughout
            return _text(before + self._json(column.default) + after)
        if column.values.dtype.kind in "iu":
            numbers = pa.array(column.values[rows]).cast(pa.large_string())
            if not before and not after:
                return numbers
            return pc.binary_join_element_wise(_text(before), numbers, _text(after), _text(""))
        if column.codes is None:  # unhashable cells (lists of details): one by one
            texts = [before + self._json(v) + after for v in column.values[rows].tolist()]
            return pa.array(texts, pa.large_string())
        key = (name, before, after)
        if key not in self._lookups:
            self._lookups[key] = pa.array(
                [before + self._json(v) + after for v in column.values.tolist()],
                pa.large_string(),
            )
        lookup = self._lookups[key]
        codes = column.codes[rows]
        if len(codes) and codes.min() < 0:  # -1: missing, the lookup's last value (None)
            codes = np.where(codes < 0, len(lookup) - 1, codes)
        return lookup.take(pa.array(codes))

    def _between(self) -> list[str]:
        """The text before the first value, between each two, and after the last."""
        count = len(self.groups.columns)
        if self.keys is None:
            return ["[", *[","] * (count - 1), "],"]
        names = [self._json(k) + ":" for k in self.keys]
        return ["{" + names[0], *["," + n for n in names[1:]], "},"]

    def text(self, rows: slice | np.ndarray) -> RowsText:
        """The JSON of these rows of the sorted table (Groups.select)."""
        n = len(range(self.groups_size)[rows]) if isinstance(rows, slice) else len(rows)
        columns = list(self.groups.columns.items())
        between = self._between()
        # Each piece of constant text goes into a column of text beside it when there is one
        # (numbers would need a join of their own).
        before, after = [""] * len(columns), [""] * len(columns)
        alone: dict[int, str] = {}
        for i, literal in enumerate(between):
            if i < len(columns) and _textual(columns[i][1]):
                before[i] = literal
            elif i > 0 and _textual(columns[i - 1][1]):
                after[i - 1] += literal
            else:
                alone[i] = literal
        pieces: list[Any] = []
        for i, (name, column) in enumerate(columns):
            if i in alone:
                pieces.append(_text(alone[i]))
            pieces.append(self._column(name, column, rows, before[i], after[i]))
        if len(columns) in alone:
            pieces.append(_text(alone[len(columns)]))
        joined = pc.binary_join_element_wise(*pieces, _text(""))
        if isinstance(joined, pa.Scalar):  # every column constant
            joined = pa.array([joined.as_py()] * n, pa.large_string())
        return RowsText(joined)

    @property
    def groups_size(self) -> int:
        return next((c.size for c in self.groups.columns.values()), 0)
