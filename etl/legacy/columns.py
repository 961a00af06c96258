"""A headerless `#` file split into columns by Arrow's CSV reader, each row keeping its line.

The line parsers in records.py look at every field of every line in Python, which is most of the
time an export takes to read. Here the C++ reader splits the file into string columns in one
pass, so the checks can run column-wise; a line the reader cannot put into the table (another
number of fields, e.g. a name holding `#`) is handed back with its number for the line parsers,
whose problems name it exactly as before.

The split must be the one `fields.numbered_lines` makes (LF or CRLF line ends, a DOS
end-of-file mark dropped, no quoting). Arrow also ends a line at a lone CR, so text holding
one is not split here (`None`): the caller reads it line by line as before.

A file in a single-byte code page (the export's ISO-8859-2, or Windows-1250) is split as bytes
and only each column's distinct values are decoded: the whole file is decoded only when a line
must be read by the line parsers. Arrow would hand a line with another number of fields to its
handler decoded as UTF-8, which a code page's letters are not; so such a file is split again,
as UTF-8 text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# Code pages that give each byte one character: a field's bytes decode on their own, so only
# each distinct value is decoded, after the split.
SINGLE_BYTE = ("cp1250", "iso-8859-2")


@dataclass
class Source:
    """A file's bytes and their encoding: a single-byte code page, or `utf-8` (text decoded
    already, e.g. from UTF-8 with a BOM, given back as plain UTF-8)."""

    data: bytes
    codec: str

    @classmethod
    def of_text(cls, text: str) -> Source:
        return cls(text.encode("utf-8"), "utf-8")

    def text(self) -> str:
        return self.data.decode(self.codec)


@dataclass
class Split:
    """The rows that have exactly the expected number of fields, column-wise (string columns,
    or bytes in `codec` for a single-byte code page: `Distinct` decodes them), with their line
    numbers; and the numbers of the lines that do not."""

    columns: list[pa.Array]
    numbers: np.ndarray  # int64, 1-based line number of each row
    source: Source
    odd_numbers: list[int] = field(default_factory=list)
    _lines: list[str] | None = None

    @property
    def codec(self) -> str:
        return self.source.codec

    def line(self, number: int) -> str:
        """Line `number` as `fields.numbered_lines` gives it (CR and end-of-file mark gone)."""
        if self._lines is None:
            self._lines = [line.rstrip("\r") for line in self.source.text().split("\n")]
        return self._lines[number - 1]

    def rest(self, failed: np.ndarray) -> list[tuple[int, str]]:
        """(line number, line) of the odd lines and of the rows `failed` marks, in line order,
        blank lines left out: what the line parsers are to read."""
        numbers = sorted([*self.odd_numbers, *self.numbers[failed].tolist()])
        return [(n, line) for n in numbers if (line := self.line(n)).strip()]


def _array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


_LONE_CR = re.compile(rb"\r(?!\n)")


def split(source: Source, count: int) -> Split | None:
    """The file as `count` columns; None when only the line-by-line reading is exact."""
    data = source.data
    if _LONE_CR.search(data):
        return None  # a lone CR: Arrow would end the line there, the export does not
    if b"\x1a" in data:
        if b"\r\x1a" in data:
            return None  # dropping the mark would leave a CR where the line's end was
        source = Source(data.replace(b"\x1a", b""), source.codec)
    if not source.data:
        return None  # Arrow refuses an empty file; the line parsers read it as no lines
    names = [str(i) for i in range(count)]
    kind = pa.string() if source.codec == "utf-8" else pa.binary()
    odd: list[int] = []

    def invalid(row: pacsv.InvalidRow) -> str:
        odd.append(row.number)
        return "skip"

    try:
        table = pacsv.read_csv(
            # a native buffer: a Python file object makes Arrow's reader take the GIL
            pa.BufferReader(pa.py_buffer(source.data)),
            # one block: one chunk per column, nothing to concatenate
            read_options=pacsv.ReadOptions(
                column_names=names, use_threads=False, block_size=max(len(source.data), 1 << 20)
            ),
            parse_options=pacsv.ParseOptions(
                delimiter="#",
                quote_char=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,  # every line a row or an odd line: numbers stay exact
                # Arrow hands an odd line to the handler decoded as UTF-8, which a code page's
                # letters are not: a file in one is read with no handler, and when a line has
                # another number of fields, read again as UTF-8 text
                invalid_row_handler=invalid if source.codec == "utf-8" else None,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, kind),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        if source.codec == "utf-8":
            return None  # whatever Arrow cannot read, the line parsers can
        return split(Source.of_text(source.text()), count)
    every = np.arange(1, table.num_rows + len(odd) + 1, dtype=np.int64)
    numbers = np.setdiff1d(every, odd, assume_unique=True) if odd else every
    columns = [_array(table.column(i)) for i in range(count)]
    return Split(columns, numbers, source, odd)


class Distinct:
    """A column as its distinct values (each decoded, checked and converted once, in Arrow) and
    each row's index into them: charge lines repeat their codes, periods, units, prices."""

    def __init__(self, values: pa.Array, codec: str, *, trim: bool = True) -> None:
        encoded = pc.dictionary_encode(values)
        self.index = encoded.indices.to_numpy(zero_copy_only=False)
        distinct = encoded.dictionary
        if pa.types.is_binary(distinct.type):
            distinct = pa.array([v.decode(codec) for v in distinct.to_pylist()], pa.string())
        self.values = pc.utf8_trim_whitespace(distinct) if trim else distinct

    def rows(self, per_value: np.ndarray) -> np.ndarray:
        return per_value[self.index]

    def matches(self, pattern: str) -> np.ndarray:
        return self.rows(bools(pc.match_substring_regex(self.values, pattern)))


def bools(values: pa.Array) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False)


def ints(values: pa.Array, valid: pa.Array) -> np.ndarray:
    """int64 of digit strings; 0 where not `valid` (those rows are not kept)."""
    return pc.cast(pc.if_else(valid, values, "0"), pa.int64()).to_numpy()


# A plain amount as the export writes it (`-12,50`, `3.4`, `7`): its digits are the grosze.
AMOUNT = r"^(?P<sign>[+-]?)(?P<whole>[0-9]{1,15})(?:[.,](?P<cents>[0-9]{0,2}))?$"


def grosze(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Which (trimmed) values are plain amounts, and their grosze (0 for the others)."""
    valid = pc.match_substring_regex(values, AMOUNT)
    parts = pc.extract_regex(pc.if_else(valid, values, "0"), AMOUNT)
    whole = pc.cast(parts.field("whole"), pa.int64()).to_numpy()
    cents = pc.cast(pc.utf8_rpad(parts.field("cents"), 2, "0"), pa.int64()).to_numpy()
    minus = bools(pc.equal(parts.field("sign"), "-"))
    return bools(valid), np.where(minus, -1, 1) * (whole * 100 + cents)
