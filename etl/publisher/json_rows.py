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


class RowsText:
    """The JSON text of a batch's rows, each `[...]` followed by a comma."""

    def __init__(self, rows: pa.Array) -> None:
        rows = rows.cast(pa.large_string())
        _, offsets, data = rows.buffers()
        self.offsets = np.frombuffer(offsets, dtype=np.int64)[rows.offset :]
        self.data = data.to_pybytes() if data is not None else b""

    def fragment(self, start: int, end: int) -> orjson.Fragment:
        """Rows [start, end) of the batch as one JSON array."""
        if end <= start:
            return orjson.Fragment(b"[]")
        a, b = int(self.offsets[start]), int(self.offsets[end])
        return orjson.Fragment(b"[" + self.data[a : b - 1] + b"]")


class JsonRows:
    """The rows of one Groups table as JSON, in the order of its columns: each an array, or
    with `keys` (one per column) an object."""

    def __init__(
        self, groups: Groups, default: Default, keys: tuple[str, ...] | None = None
    ) -> None:
        self.groups = groups
        self.default = default
        self.keys = keys
        self._lookups: dict[str, pa.Array] = {}  # column -> JSON of each distinct value

    def _json(self, value: Any) -> str:
        return orjson.dumps(value, default=self.default).decode()

    def _column(self, name: str, column: Column, rows: slice | np.ndarray, n: int) -> Any:
        if column.values is None:  # one value throughout
            return _text(self._json(column.default))
        if column.values.dtype.kind in "iu":
            return pa.array(column.values[rows]).cast(pa.large_string())
        if column.codes is None:  # unhashable cells (lists of details): one by one
            texts = [self._json(v) for v in column.values[rows].tolist()]
            return pa.array(texts, pa.large_string())
        if name not in self._lookups:
            self._lookups[name] = pa.array(
                [self._json(v) for v in column.values.tolist()], pa.large_string()
            )
        lookup = self._lookups[name]
        codes = column.codes[rows]
        if len(codes) and codes.min() < 0:  # -1: missing, the lookup's last value (None)
            codes = np.where(codes < 0, len(lookup) - 1, codes)
        return lookup.take(pa.array(codes))

    def text(self, rows: slice | np.ndarray) -> RowsText:
        """The JSON of these rows of the sorted table (Groups.select)."""
        n = len(range(self.groups_size)[rows]) if isinstance(rows, slice) else len(rows)
        columns = [
            self._column(name, column, rows, n) for name, column in self.groups.columns.items()
        ]
        if self.keys is None:
            joined = pc.binary_join_element_wise(*columns, _text(","))
            opening, closing = "[", "],"
        else:  # "key":value pairs
            names = [("," if i else "") + self._json(k) + ":" for i, k in enumerate(self.keys)]
            pairs = [piece for pair in zip(names, columns, strict=True) for piece in pair]
            joined = pc.binary_join_element_wise(
                *[_text(p) if isinstance(p, str) else p for p in pairs], _text("")
            )
            opening, closing = "{", "},"
        if isinstance(joined, pa.Scalar):  # every column constant
            joined = pa.array([joined.as_py()] * n, pa.large_string())
        return RowsText(
            pc.binary_join_element_wise(_text(opening), joined, _text(closing), _text(""))
        )

    @property
    def groups_size(self) -> int:
        return next((c.size for c in self.groups.columns.values()), 0)
