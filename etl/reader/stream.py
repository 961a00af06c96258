"""A big CSV file read in bounded pieces, with the row numbers and cells the whole-file reading
(`etl.reader.sheets.read_csv_bytes`) gives it.

The ledger of a manager's portfolio runs to millions of rows: read whole, its bytes, their text,
the Arrow table and the frames made of it are all alive at once (1.8 GB for 5 million rows). Here
the file is read twice, a block at a time, never whole:

1. a scan (etl.reader.first_pass) decides the encoding over every byte, hashes the file for
   the manifest and cuts it into chunks a re-import recognises (etl.reader.block_cache);
2. the rows are parsed a block of lines at a time (pyarrow's reader over a block cut at a line
   break, transcoded to UTF-8), each block numbered by the lines before it.

Only files that read unambiguously this way are streamed: no quoted value holding a line break
(quotes are counted in the scan: a value may be quoted, as spreadsheets write them, as long as
every line break ends a row, so a block can be cut at any of them), no lone CR line break, a
first line that heads the table. Anything else, and anything the scan or a block's parse would
refuse, raises `NotStreamable`: the caller reads the file whole, which gives the exact answer
(or the exact refusal) in those rare cases.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl.reader.archive import HEAD_BYTES
from etl.reader.chunks import Chunk
from etl.reader.first_pass import BLOCK_BYTES, NotStreamable, Scan
from etl.reader.sheets import _header_line, detect_separator


@dataclass
class Block:
    """Rows of one piece of the file: positional columns c0..cN of undecoded bytes (a ledger
    repeats its values, so only the distinct ones are decoded: `coded`), and the spreadsheet
    row number of each."""

    table: pa.Table
    rows: np.ndarray


def coded(column: pa.ChunkedArray | pa.Array, codec: str) -> tuple[np.ndarray, pa.Array]:
    """(each row's index into the distinct values, the distinct values as text) of a column
    of bytes in `codec`; raises NotStreamable for bytes that are not text in it. The chunks
    are joined first: encoding one array is cheaper than unifying the dictionaries of many."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, decoded(encoded.dictionary, codec)


def decoded(distinct: pa.Array, codec: str) -> pa.Array:
    """Distinct values of bytes in `codec` as text: a cast for UTF-8 (which checks it), else
    only the non-ASCII values decoded one by one; raises NotStreamable for bytes that are not
    text in it."""
    try:
        if codec == "utf-8":
            return distinct.cast(pa.large_string())
        text = distinct.view(pa.large_string())
        ascii_ = np.asarray(pc.string_is_ascii(text).to_numpy(zero_copy_only=False), dtype=bool)
        if not ascii_.all():
            others = distinct.filter(pa.array(~ascii_)).to_pylist()
            decoded = pa.array([v.decode(codec) for v in others], pa.large_string())
            text = pc.replace_with_mask(text, pa.array(~ascii_), decoded)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        raise NotStreamable("not text in its encoding") from None
    return text


def _parse(text: bytes, names: list[str], sep: str, *, skip_header: bool, skip_blank: bool):
    def stop(_row: object) -> str:
        return "error"

    return pacsv.read_csv(
        pa.py_buffer(text),
        # One thread: a block is small, and on a busy two-core machine pyarrow's threads cost
        # more CPU than they save time (read+validate 3.7-5.4 -> 3.4-4.3 s CPU, no slower).
        read_options=pacsv.ReadOptions(
            column_names=names, skip_rows=1 if skip_header else 0, use_threads=False
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=sep,
            quote_char='"',  # as the whole-file reading (etl.reader.sheets) unquotes values
            double_quote=True,
            newlines_in_values=False,  # scan() sends files whose quoted values do elsewhere
            ignore_empty_lines=skip_blank,
            invalid_row_handler=stop,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.large_binary() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    )


def _nonblank(text: bytes) -> np.ndarray:
    """0-based numbers of the lines of `text` that are not empty (a CR before LF ignored)."""
    buf = np.frombuffer(text, dtype=np.uint8)
    breaks = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(buf)]))
    if len(buf) and buf[-1] == 10:  # the block ends with its last line's break
        starts, ends = starts[:-1], ends[:-1]
    length = ends - starts
    has = length > 0
    length[has] -= buf[ends[has] - 1] == 13
    return np.flatnonzero(length > 0)


def blocks(fh: BinaryIO, found: Scan, block: int = BLOCK_BYTES) -> Iterator[list[str] | Block]:
    """The header (first), then the rows block by block, as `read_csv_bytes` reads them;
    raises NotStreamable for a file it would read otherwise (a blank first line, a ragged row,
    a lone CR: the stdlib reader's numbering or pyarrow's own line breaks)."""
    codec = "utf-8" if found.encoding.startswith("utf-8") else found.encoding
    head = fh.read(HEAD_BYTES)
    if found.encoding == "utf-8-sig":
        head = head[3:]
    head_text = head.decode(codec, errors="replace")
    first_line = head_text.splitlines()[0] if head_text else ""
    if not first_line.strip():
        raise NotStreamable("no header on the first line")
    sep = detect_separator(_header_line(head_text))
    header = next(csv.reader([first_line.lstrip("\ufeff")], delimiter=sep))
    names = [f"c{i}" for i in range(len(header))]
    yield header
    if found.chunks:
        yield from _runs(fh, found, names, sep, block)
        return
    fh.seek(3 if found.encoding == "utf-8-sig" else 0)
    data = b""
    line = 1  # the number of the first line of the next block
    skip_header = True
    eof = False
    while not eof:
        piece = fh.read(block)
        eof = not piece
        data += piece
        cut = len(data.rstrip(b"\r\n")) if eof else data.rfind(b"\n") + 1
        if not cut:
            continue
        text, data = data[:cut], data[cut:]
        lines = text.count(b"\n") + (0 if text.endswith(b"\n") else 1)
        yield from _block(text, names, sep, line, lines, skip_header)
        line += lines
        skip_header = False


def _block(
    text: bytes, names: list[str], sep: str, line: int, lines: int, skip_header: bool
) -> Iterator[Block]:
    try:
        table = _parse(text, names, sep, skip_header=skip_header, skip_blank=False)
        if table.num_rows != lines - skip_header:
            raise NotStreamable("rows and lines disagree (a lone CR?)")
        numbers = line + skip_header + np.arange(table.num_rows, dtype=np.int64)
    except pa.ArrowInvalid:
        try:
            table = _parse(text, names, sep, skip_header=skip_header, skip_blank=True)
        except pa.ArrowInvalid:
            raise NotStreamable("a ragged row") from None
        numbers = line + _nonblank(text).astype(np.int64)
        numbers = numbers[1:] if skip_header else numbers
        if len(numbers) != table.num_rows:
            raise NotStreamable("rows and lines disagree") from None
    if table.num_rows:
        yield Block(table, numbers)


class Lines(Block):
    """A run of whole chunks of the file (etl.reader.chunks), up to a block's size, read and
    parsed only when asked: a re-import takes most chunks validated from a cache
    (etl.reader.block_cache) and parses only the others, a run of them at a time. `table` and
    `rows` parse all of it, as a Block. The runs of one reading share `session` (the cache's
    state); `last` marks the run that ends the file."""

    def __init__(
        self,
        fh: BinaryIO,
        chunks: list[Chunk],
        names: list[str],
        sep: str,
        *,
        found: Scan,
        last: bool,
        session: dict[str, Any],
    ) -> None:
        self.fh, self.chunks, self.names, self.sep = fh, chunks, names, sep
        self.found, self.last, self.session = found, last, session
        self._parsed: Block | None = None
        self._rows: np.ndarray | None = None

    def text(self, i: int = 0, j: int | None = None) -> bytes:
        """The bytes of chunks [i, j) (the file's end without its last line breaks)."""
        j = len(self.chunks) if j is None else j
        start, end = self.chunks[i].start, self.chunks[j - 1].end
        self.fh.seek(start)
        data = self.fh.read(end - start)
        if len(data) != end - start:
            raise NotStreamable("the file changed while it was read")
        return data.rstrip(b"\r\n") if self.last and j == len(self.chunks) else data

    def parse(self, which: list[int] | None = None) -> Block | None:
        """These chunks (all: None) parsed as one block, each row numbered by its line in the
        file (chunks need not be next to each other, in the file or in this run: a re-import's
        changed chunks are one run, etl.reader.ledger_delta); None when they have no rows."""
        which = list(range(len(self.chunks))) if which is None else which
        texts, starts, at = [], [], 0
        chunks = self.chunks
        i = 0
        while i < len(which):  # chunks next to each other in the file read at once
            j = i + 1
            while j < len(which) and chunks[which[j]].start == chunks[which[j - 1]].end:
                j += 1
            text = self.text(which[i], which[j - 1] + 1)
            for k in which[i:j]:
                starts.append((at, self.chunks[k].line))
                at += self.chunks[k].lines
            texts.append(text)
            i = j
        text = b"".join(texts)
        if not text:
            return None
        if self.last and len(chunks) - 1 in which:  # the file's end: trailing breaks cut off
            lines = text.count(b"\n") + (0 if text.endswith(b"\n") else 1)
        else:  # the first pass counted them: 0.12 s of counting again for 308 MB
            lines = at
        parsed = next(_block(text, self.names, self.sep, 0, lines, False), None)
        contiguous = len(texts) == 1
        if parsed is not None and not contiguous:
            local = np.array([s for s, _ in starts], dtype=np.int64)
            first = np.array([line for _, line in starts], dtype=np.int64)
            at_chunk = np.searchsorted(local, parsed.rows, side="right") - 1
            parsed.rows = first[at_chunk] + parsed.rows - local[at_chunk]
        elif parsed is not None:
            parsed.rows = parsed.rows + starts[0][1]
        return parsed

    def _whole(self) -> Block:
        if self._parsed is None:
            parsed = self.parse()
            empty = pa.table({n: pa.array([], pa.large_binary()) for n in self.names})
            self._parsed = parsed or Block(empty, np.zeros(0, dtype=np.int64))
        return self._parsed

    @property
    def table(self) -> pa.Table:  # type: ignore[override]
        return self._whole().table

    @property
    def rows(self) -> np.ndarray:  # type: ignore[override]
        return self._rows if self._rows is not None else self._whole().rows

    @rows.setter
    def rows(self, rows: np.ndarray) -> None:
        self._rows = rows


def _runs(fh: BinaryIO, found: Scan, names: list[str], sep: str, block: int) -> Iterator[Lines]:
    """The data chunks (all but the header's) in runs of up to `block` bytes."""
    session: dict[str, Any] = {}
    chunks = found.chunks[1:]
    run: list[Chunk] = []
    for k, chunk in enumerate(chunks):
        run.append(chunk)
        if run[-1].end - run[0].start >= block or k == len(chunks) - 1:
            last = k == len(chunks) - 1
            yield Lines(fh, run, names, sep, found=found, last=last, session=session)
            run = []


# --- validated blocks kept compact -----------------------------------------------------------


@dataclass
class Coded:
    """A block's text column: each row's index into `values`, its distinct values."""

    codes: np.ndarray
    values: list[str]


Part = dict[str, "Coded | np.ndarray"]  # a validated block: text coded, numbers as they are


def narrow(codes: np.ndarray) -> np.ndarray:
    """Codes in the narrowest integer type that holds them (a ledger's descriptions fit a
    byte): what a block keeps until the end of the file is its codes."""
    top = int(codes.max()) if len(codes) else 0
    for dtype in (np.int8, np.int16, np.int32):
        if top <= np.iinfo(dtype).max:
            return codes.astype(dtype, copy=False)
    return codes


def joined(parts: list[Part], columns: list[str]) -> pd.DataFrame:
    """The validated blocks as one frame of `columns`: text as pandas categoricals over the
    distinct values of all blocks, the columns the blocks lack as None. Column by column, each
    block's arrays dropped once copied, so the ledger is never held twice over (numpy's big
    arrays go back to the system when freed)."""
    sizes = [len(part["_row"]) for part in parts]  # type: ignore[arg-type]
    total = sum(sizes)
    out: dict[str, Any] = {}
    for name in columns:
        if name not in parts[0]:  # no details in a CSV ledger: a code per row, not an object
            out[name] = pd.Categorical.from_codes(np.full(total, -1, np.int8), [])
            continue
        first = parts[0][name]
        if isinstance(first, Coded):
            index: dict[str, int] = {}
            remaps = []
            for part in parts:
                values = part[name].values  # type: ignore[union-attr]
                remaps.append(np.array([index.setdefault(v, len(index)) for v in values]))
            codes = np.empty(total, dtype=narrow(np.array([len(index)])).dtype)
            at = 0
            for part, remap, size in zip(parts, remaps, sizes, strict=True):
                codes[at : at + size] = remap[part.pop(name).codes]  # type: ignore[union-attr]
                at += size
            categories = pd.Index(list(index), dtype="str")
            out[name] = pd.Categorical.from_codes(codes, categories)
        else:
            values = np.empty(total, dtype=first.dtype)  # type: ignore[union-attr]
            at = 0
            for part, size in zip(parts, sizes, strict=True):
                values[at : at + size] = part.pop(name)
                at += size
            out[name] = values
    parts.clear()
    return pd.DataFrame(out, copy=False)
