"""Big tables sorted once and cut into per-premises slices, as Python lists ready for a JSON
encoder.

A table is sorted by (premises, date, source order) once with numpy; a premises' rows are then
one contiguous span, and a batch of premises becomes column lists by a numpy take over shared
string objects (text is kept as integer codes into its distinct values), so 5 million ledger
rows never become 5 million dicts. An export already in that order (the usual case) is not
sorted at all.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from etl.mixing import mixed


def plain(value: Any) -> Any:
    """pandas missing markers (NA, NaN, NaT) become JSON null; numpy scalars plain Python."""
    if value is None or isinstance(value, (str, list, dict)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, float) and value.is_integer():
        return int(value)  # an integer column that pandas widened to float around a gap
    return value


def values_of(frame: pd.DataFrame, name: str, default: Any = "") -> list[Any]:
    """A column as JSON-ready Python values (for the small tables: a pass per value)."""
    if name not in frame.columns:
        return [default] * len(frame)
    series = frame[name]
    if series.dtype.kind in "iub":
        return series.tolist()
    missing = np.flatnonzero(series.isna().to_numpy())
    if series.dtype == object:
        values = series.tolist()
        for i in missing:
            values[i] = None
        return values
    if not len(missing):
        return series.tolist()
    return [plain(v) for v in series.tolist()]


_ODD = [0xA24BAED4963EE407, 0x9FB21C651E98DF25, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
        0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB,
        0xBF58476D1CE4E5B9, 0x2545F4914F6CDD1D]  # fmt: skip


HASHED_ROWS = 1 << 20  # rows hashed at once by Groups.span_hashes


def value_hash(value: Any) -> int:
    """A 64-bit hash of a JSON value that is the same in every process (str hashes are not)."""
    data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _factorized(series: pd.Series) -> tuple[np.ndarray, Any]:
    """(codes, distinct values) like pd.factorize; a categorical (a ledger validated in blocks,
    etl.reader.stream) has them already, and its narrow codes are kept as they are."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), series.cat.categories
    return pd.factorize(series)


class Column:
    """One column of a big table, ready to be cut into Python lists in sorted order.

    Text is kept as integer codes into its distinct values, so a batch becomes a list by a
    numpy take over shared string objects instead of creating one string per row."""

    def __init__(
        self, series: pd.Series | None, order: np.ndarray | None, default: Any, size: int
    ) -> None:
        self.values: np.ndarray | None = None
        self.codes: np.ndarray | None = None
        self._per_value: np.ndarray | None = None
        self.default = default
        self.size = size
        if series is None:
            return
        if series.dtype.kind in "iu":
            self.values = series.to_numpy() if order is None else series.to_numpy()[order]
            return
        try:
            codes, uniques = _factorized(series)
        except TypeError:  # unhashable cells (lists of details)
            self.values = np.array([plain(v) for v in series.tolist()], dtype=object)
            if order is not None:
                self.values = self.values[order]
            return
        lookup = [plain(v) for v in uniques.tolist()] + [None]  # code -1 (missing) -> None
        if len(lookup) == 1 or (len(lookup) == 2 and codes.min() == 0):
            self.default = lookup[0]  # one value throughout (the file name, empty details)
            return
        self.values = np.array(lookup, dtype=object)
        self.codes = codes if order is None else codes[order]

    def hashes(self, rows: slice) -> np.ndarray:
        """A 64-bit hash of the value of each of these rows."""
        if self.values is None:
            n = len(range(self.size)[rows])
            return np.full(n, value_hash(self.default), dtype=np.uint64)
        if self.values.dtype.kind in "iu":
            return mixed(self.values[rows].astype(np.uint64))
        if self.codes is None:  # unhashable cells (lists of details): row by row
            return np.array([value_hash(v) for v in self.values[rows].tolist()], np.uint64)
        if self._per_value is None:
            self._per_value = np.array(
                [value_hash(v) for v in self.values.tolist()], dtype=np.uint64
            )
        return self._per_value[self.codes[rows]]

    def take(self, rows: slice | np.ndarray) -> list[Any]:
        if self.values is None:
            n = len(range(self.size)[rows]) if isinstance(rows, slice) else len(rows)
            return [self.default] * n
        if self.codes is None:
            return self.values[rows].tolist()
        return self.values.take(self.codes[rows]).tolist()


class Groups:
    """One table sorted once by (premises, *order); a premises' rows are one contiguous span."""

    def __init__(
        self, frame: pd.DataFrame, order: tuple[str, ...], columns: dict[str, Any]
    ) -> None:
        if len(frame) == 0:  # an empty table may come without its columns
            frame = pd.DataFrame({"premises_id": pd.Series([], dtype=object)})
        pid_codes, pids = _factorized(frame["premises_id"])
        sorted_order = row_order(frame, pid_codes, order)
        sorted_pids = pid_codes if sorted_order is None else pid_codes[sorted_order]
        starts = np.flatnonzero(np.diff(sorted_pids)) + 1
        starts = np.concatenate([np.zeros(min(1, len(frame)), dtype=np.intp), starts])
        ends = np.concatenate([starts[1:], np.full(min(1, len(frame)), len(frame))])
        ids = pids.take(sorted_pids[starts]).tolist()
        self._starts, self._ids = starts, ids
        self.spans: dict[str, tuple[int, int]] = dict(
            zip(ids, zip(starts.tolist(), ends.tolist(), strict=True), strict=True)
        )
        self.columns = {
            name: Column(
                frame[name] if name in frame.columns else None, sorted_order, default, len(frame)
            )
            for name, default in columns.items()
        }
        self.sums: dict[str, dict[str, int]] = {}
        for name, column in self.columns.items():
            if (
                column.codes is None
                and column.values is not None
                and column.values.dtype.kind in "iu"
            ):
                totals = np.add.reduceat(column.values, starts) if len(starts) else []
                self.sums[name] = dict(zip(ids, np.asarray(totals).tolist(), strict=True))

    def span_hashes(self) -> dict[str, int]:
        """A 64-bit hash of each premises' rows (every column, in order): equal rows, equal
        hash, so a re-import can tell the premises whose rows did not change without making a
        Python object of any row (etl.publisher.reuse). Worked out a stretch of whole spans
        at a time, so its arrays stay small whatever the table's size."""
        rows = next((c.size for c in self.columns.values()), 0)
        starts = self._starts
        if not len(starts):
            return {}
        ends = np.append(starts[1:], rows)
        sums = np.empty(len(starts), dtype=np.uint64)
        i = 0
        while i < len(starts):
            j = max(i + 1, int(np.searchsorted(ends, starts[i] + HASHED_ROWS, side="right")))
            a, b = int(starts[i]), int(ends[j - 1])
            total = np.zeros(b - a, dtype=np.uint64)
            for k, column in enumerate(self.columns.values()):
                odd = np.uint64(_ODD[k % len(_ODD)])
                values = column.values
                if column.codes is None and values is not None and values.dtype.kind in "iu":
                    # Integers (amounts, row numbers) enter as they are: the mix below stirs
                    # the sum, and two rows differing in them differ by far less than 2**60.
                    total += values[a:b].astype(np.uint64) * odd
                else:
                    total += column.hashes(slice(a, b)) * odd
            local, lengths = starts[i:j] - a, ends[i:j] - starts[i:j]
            position = np.arange(b - a, dtype=np.uint64) - np.repeat(
                local.astype(np.uint64), lengths
            )
            total = mixed(total + position * np.uint64(0x9E3779B97F4A7C15))
            sums[i:j] = np.add.reduceat(total, local) ^ lengths.astype(np.uint64)
            i = j
        return dict(zip(self._ids, sums.tolist(), strict=True))

    def take(self, premises_ids: list[str]) -> tuple[dict[str, tuple[int, int]], list[list]]:
        """Rows of these premises: {id: (start, end) into the lists}, and the column lists in
        the order the constructor was given."""
        local, rows = self.select(premises_ids)
        if rows is None:
            return local, [[] for _ in self.columns]
        return local, [c.take(rows) for c in self.columns.values()]

    def select(
        self, premises_ids: list[str]
    ) -> tuple[dict[str, tuple[int, int]], slice | np.ndarray | None]:
        """{id: (start, end) among the rows selected}, and the rows of these premises in the
        sorted table (a slice when they are next to each other; None: there are none)."""
        spans = [(pid, self.spans[pid]) for pid in premises_ids if pid in self.spans]
        local: dict[str, tuple[int, int]] = {}
        if not spans:
            return local, None
        contiguous = all(a[1][1] == b[1][0] for a, b in zip(spans, spans[1:], strict=False))
        offset = 0
        for pid, (s, e) in spans:
            local[pid] = (offset, offset + e - s)
            offset += e - s
        firsts = [s for _, (s, _) in spans]
        if contiguous:
            rows: slice | np.ndarray = slice(spans[0][1][0], spans[-1][1][1])
        else:  # every span's row numbers in one vectorised step
            starts = np.array(firsts, dtype=np.int64)
            lengths = np.array([e - s for _, (s, e) in spans], dtype=np.int64)
            local_starts = np.cumsum(lengths) - lengths
            rows = np.arange(offset) + np.repeat(starts - local_starts, lengths)
        return local, rows


def sort_codes(series: pd.Series) -> np.ndarray:
    """Integer keys that sort like the values (ISO dates and file names sort as text)."""
    if series.dtype.kind in "iu":
        return series.to_numpy()
    if isinstance(series.dtype, pd.CategoricalDtype):  # ranks of the distinct values, by code
        distinct = series.cat.categories.to_numpy(dtype=object)
        ranks = np.empty(len(distinct), dtype=np.int32)
        ranks[np.argsort(distinct, kind="stable")] = np.arange(len(distinct))
        return ranks[series.cat.codes.to_numpy()]
    try:  # ISO dates: parsed in C, no hashing of millions of strings
        days = pa.array(series.array).cast(pa.date32()).cast(pa.int32())
        if days.null_count == 0:
            return days.to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        pass
    return pd.factorize(series, sort=True)[0]


def row_order(
    frame: pd.DataFrame, pid_codes: np.ndarray, order: tuple[str, ...]
) -> np.ndarray | None:
    """The permutation that sorts rows by (premises, *order), or None when they already are
    sorted (exports usually list a premises' rows together, in date order)."""
    if len(frame) == 0:
        return None
    rows = frame["_row"].to_numpy() if "_row" in frame.columns else None
    one_file = "_file" not in frame.columns or bool(
        (frame["_file"] == frame["_file"].iloc[0]).all()
    )
    source_order = rows is not None and one_file and bool(np.all(rows[1:] > rows[:-1]))
    keys = [c for c in order if c in frame.columns and c not in ("_file", "_row")]
    if not source_order:
        sort_keys = [sort_codes(frame[c]) for c in reversed(order) if c in frame.columns]
        return np.lexsort([*sort_keys, pid_codes])
    # In source order already: a stable sort on (premises, *keys) keeps it within ties.
    # Whether it is needed at all is asked a stretch of rows at a time, so that the check
    # makes no arrays as long as the table (five of 8 bytes a row for a 20 M-row ledger).
    columns = [sort_codes(frame[c]) for c in keys]
    lows = [int(c.min()) for c in columns]
    widths = [int(c.max()) - low + 1 for c, low in zip(columns, lows, strict=True)]

    def key(a: int, b: int) -> np.ndarray:
        out = pid_codes[a:b].astype(np.int64)
        for c, low, width in zip(columns, lows, widths, strict=True):
            out = out * width + (c[a:b].astype(np.int64) - low)
        return out

    last = None
    for a in range(0, len(frame), HASHED_ROWS):
        stretch = key(a, min(len(frame), a + HASHED_ROWS))
        if (last is not None and stretch[0] < last) or not bool(
            np.all(stretch[1:] >= stretch[:-1])
        ):
            return np.argsort(key(0, len(frame)), kind="stable")
        last = stretch[-1]
    return None
