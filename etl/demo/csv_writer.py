"""The CSV writer of `ebok demo-data`: typed columns in, a table's file bytes out.

It formats whole columns with Arrow compute kernels, in the dialect of the table's Layout
(etl.demo.layouts): the benchmark bundle has ~10 million ledger rows, and a Python loop per
cell would take minutes. Money is integer grosze and is printed from integers, never floats.
The XLSX workbook and the ZIP archive the CSV files may go into live in etl.demo.archives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from functools import partial
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.demo.columns import Col, Table
from etl.demo.layouts import Layout


def _quote(text: str, layout: Layout) -> str:
    if layout.sep in text or '"' in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _encoded(texts: Iterable[str], layout: Layout) -> pa.Array:
    enc = "utf-8" if layout.encoding == "utf-8-sig" else layout.encoding
    return pa.array([_quote(t, layout).encode(enc) for t in texts], pa.binary())


def _digits(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def _pad3(values: np.ndarray) -> pa.Array:
    return pc.utf8_lpad(_digits(values), 3, "0")


def _grouped(whole: np.ndarray, sep: str) -> pa.Array:
    """Integer part with a thousands separator (`1 234 567`), up to 10**9 - 1."""
    plain = _digits(whole)
    if not sep:
        return plain
    thousands = pc.binary_join_element_wise(_digits(whole // 1000), _pad3(whole % 1000), sep)
    millions = pc.binary_join_element_wise(
        _digits(whole // 1_000_000), _pad3(whole // 1000 % 1000), _pad3(whole % 1000), sep
    )
    return pc.if_else(
        pa.array(whole < 1000), plain, pc.if_else(pa.array(whole < 1_000_000), thousands, millions)
    )


def _decimal_text(values: np.ndarray, scale: int, point: str, thousands: str) -> pa.Array:
    """Exact decimal text of integers scaled by 10**scale: 123456 (scale 2) -> `1 234,56`."""
    magnitude = np.abs(values.astype(np.int64))
    unit = 10**scale
    text = _grouped(magnitude // unit, thousands)
    if scale:
        frac = pc.utf8_lpad(_digits(magnitude % unit), scale, "0")
        text = pc.binary_join_element_wise(text, frac, point)
    return pc.if_else(pa.array(values < 0), pc.binary_join_element_wise("-", text, ""), text)


def _date_vocab(first: int, last: int, pattern: str) -> list[str]:
    return [date.fromordinal(o).strftime(pattern) for o in range(first, last + 1)]


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True), in linear time when the values span a range
    small enough for a lookup table (money in one chunk almost always does)."""
    if not len(values):
        return values, values
    low, span = int(values.min()), int(values.max()) - int(values.min()) + 1
    if span > 1 << 23:
        return np.unique(values, return_inverse=True)
    seen = np.zeros(span, bool)
    seen[values - low] = True
    rank = np.cumsum(seen, dtype=np.int32) - 1
    return np.flatnonzero(seen) + low, rank[values - low]


Cache = dict[object, tuple[object, pa.Array]]


def _vocab(
    key: object, make: Callable[[], Sequence[str]], layout: Layout, cache: Cache
) -> pa.Array:
    """Encoded vocabulary, reused across the chunks of one file (the cache entry holds the
    vocabulary object, so an id used as key cannot be recycled while the cache lives)."""
    hit = cache.get(key)
    if hit is None:
        texts = make()
        hit = cache[key] = (texts, _encoded(texts, layout))
    return hit[1]


def _csv_column(col: Col, layout: Layout, cache: Cache) -> tuple[pa.Array, np.ndarray]:
    """The column as (dictionary of encoded cell texts, index per row); empty cells index an
    extra "" entry. Formatting each distinct value once is what keeps 10 million rows fast."""
    values = col.values if col.present is None else col.values[col.present]
    if col.kind == "text":
        texts = col.vocab or ()
        vocab, index = _vocab(id(texts), lambda: texts, layout, cache), values
    elif col.kind == "date":
        first = int(values.min()) if len(values) else 0
        last = int(values.max()) if len(values) else 0
        dates = partial(_date_vocab, first, last, layout.date_format)
        vocab, index = _vocab(("dates", first, last), dates, layout, cache), values - first
    else:
        distinct, index = _distinct(values)
        scale = 2 if col.kind == "money" else col.scale
        thousands = layout.thousands if col.kind == "money" else ""
        vocab = _decimal_text(distinct, scale, layout.decimal, thousands).cast(pa.binary())
    if col.present is None:
        return vocab, index
    full = np.full(len(col.values), len(vocab), dtype=np.int64)
    full[col.present] = index
    return pa.concat_arrays([vocab, pa.array([b""], pa.binary())]), full


def _rows(col: Col, rows: np.ndarray) -> Col:
    present = None if col.present is None else col.present[rows]
    return Col(col.name, col.kind, col.values[rows], col.vocab, col.scale, present)


def _join(columns: list[tuple[pa.Array, np.ndarray]], sep: pa.Scalar) -> pa.Array:
    return pc.binary_join_element_wise(*(v.take(pa.array(i)) for v, i in columns), sep)


def csv_bytes(table: Table, layout: Layout, cache: Cache | None = None) -> pa.Buffer | bytes:
    """The table's rows (no header) as the file's bytes."""
    cache = {} if cache is None else cache
    if not len(table):
        return b""
    enc = "utf-8" if layout.encoding == "utf-8-sig" else layout.encoding
    sep = pa.scalar(layout.sep.encode(enc), pa.binary())
    spans = {start: (stop, key) for start, stop, key in table.fused}
    columns: list[tuple[pa.Array, np.ndarray]] = []
    i = 0
    while i < len(table.cols):
        if i not in spans:
            columns.append(_csv_column(table.cols[i], layout, cache))
            i += 1
            continue
        stop, key = spans[i]
        distinct, index = _distinct(key)
        sample = np.empty(len(distinct), np.int64)
        sample[index] = np.arange(len(key))  # a row for each distinct key
        parts = [_csv_column(_rows(c, sample), layout, cache) for c in table.cols[i:stop]]
        columns.append((_join(parts, sep), index))
        i = stop
    last_vocab, last_index = columns[-1]
    eol = pa.scalar(layout.eol.encode(), pa.binary())
    columns[-1] = (
        pc.binary_join_element_wise(last_vocab, eol, pa.scalar(b"", pa.binary())),
        last_index,
    )
    lines = _join(columns, sep)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    start, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return lines.buffers()[2].slice(start, end - start)


def csv_header(names: Sequence[str], layout: Layout) -> bytes:
    head = layout.sep.join(_quote(layout.headers[n], layout) for n in names) + layout.eol
    return head.encode(layout.encoding)


def write_csv(out: BinaryIO, chunks: Iterable[Table], layout: Layout) -> int:
    """Write a header and every chunk's rows; returns the number of rows. Chunks are formatted
    on a worker thread while the next one is generated (numpy and Arrow release the GIL), at
    most two in flight, written in order."""
    rows = 0
    cache: Cache = {}
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="demo-csv") as pool:
        for i, chunk in enumerate(chunks):
            if i == 0:
                out.write(csv_header([c.name for c in chunk.cols], layout))
            pending.append(pool.submit(csv_bytes, chunk, layout, cache))
            rows += len(chunk)
            while len(pending) >= 2:
                out.write(pending.popleft().result())
        while pending:
            out.write(pending.popleft().result())
    return rows
