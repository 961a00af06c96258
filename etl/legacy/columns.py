"""A headerless `#` file split into columns by Arrow's CSV reader, each row keeping its line.

The line parsers in records.py look at every field of every line in Python, which is most of the
time an export takes to read. Here the C++ reader splits the file into string columns in one
pass, so the checks can run column-wise; a line the reader cannot put into the table (another
number of fields, e.g. a name holding `#`) is handed back with its number for the line parsers,
whose problems name it exactly as before.

The split must be the one `records.numbered_lines` makes (LF or CRLF line ends, a DOS
end-of-file mark dropped, no quoting). Arrow also ends a line at a lone CR, so text holding
one is not split here (`None`): the caller reads it line by line as before.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


@dataclass
class Split:
    """The rows that have exactly the expected number of fields, column-wise, with their line
    numbers; and the lines that do not, as (line number, text)."""

    columns: list[pa.Array]
    numbers: np.ndarray  # int64, 1-based line number of each row
    odd: list[tuple[int, str]] = field(default_factory=list)
    text: str = ""
    _lines: list[str] | None = None

    def line(self, row: int) -> str:
        """The text of a row's line as `records.numbered_lines` gives it. A row of empty fields
        may have been a blank line (the reader makes one of those) or a line of `#`s."""
        values = [column[row].as_py() for column in self.columns]
        if any(values):
            return "#".join(values)
        if self._lines is None:
            self._lines = [line.rstrip("\r") for line in self.text.split("\n")]
        return self._lines[int(self.numbers[row]) - 1]


def _array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def split(text: str, count: int) -> Split | None:
    """`text` as `count` string columns; None when only the line-by-line reading is exact."""
    data = text.encode("utf-8")  # bytes: counting and finding in them is a memchr
    if data.count(b"\r") != data.count(b"\r\n"):
        return None  # a lone CR: Arrow would end the line there, the export does not
    if b"\x1a" in data:
        if b"\r\x1a" in data:
            return None  # dropping the mark would leave a CR where the line's end was
        text, data = text.replace("\x1a", ""), data.replace(b"\x1a", b"")
    names = [str(i) for i in range(count)]
    odd: list[tuple[int, str]] = []

    def invalid(row: pacsv.InvalidRow) -> str:
        odd.append((row.number, row.text))
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(data),
        # one block: one chunk per column, nothing to concatenate
        read_options=pacsv.ReadOptions(
            column_names=names, use_threads=False, block_size=max(len(data), 1 << 20)
        ),
        parse_options=pacsv.ParseOptions(
            delimiter="#",
            quote_char=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,  # every line a row or an odd line: numbers stay exact
            invalid_row_handler=invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    every = np.arange(1, table.num_rows + len(odd) + 1, dtype=np.int64)
    numbers = np.setdiff1d(every, [n for n, _ in odd], assume_unique=True) if odd else every
    columns = [_array(table.column(i)) for i in range(count)]
    return Split(columns, numbers, odd, text)


class Distinct:
    """A column as its distinct values (each checked and converted once, in Arrow) and each
    row's index into them: charge lines repeat their codes, periods, units, prices, totals."""

    def __init__(self, values: pa.Array, *, trim: bool = True) -> None:
        encoded = pc.dictionary_encode(values)
        self.index = encoded.indices.to_numpy(zero_copy_only=False)
        distinct = encoded.dictionary
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
