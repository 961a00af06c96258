"""CSV files turned into frames of text, with the header row kept aside; the Sheet that a CSV
file or an XLSX sheet (`etl.reader.xlsx`) becomes.

Cells stay text here so that account numbers and leading zeros survive; `etl.reader.validate`
decides what they mean. Big CSV files go through pyarrow's multi-threaded reader; anything
irregular (blank lines, ragged rows) falls back to the stdlib csv module, which numbers rows
exactly as a spreadsheet does. The encoding is detected, not configured: UTF-8 (with or
without BOM), Windows-1250 or ISO-8859-2, told apart by which one yields Polish letters.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from etl.reader.archive import HEAD_BYTES, refuse
from etl.reader.encoding import EncodingRefused, choose_encoding

SEPARATORS = (";", "\t", ",")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# --- encodings and CSV -----------------------------------------------------------------------


def detect_encoding(data: bytes, name: str, *, complete: bool = True) -> str:
    """utf-8-sig, utf-8, cp1250 or iso-8859-2, decided over all of `data` by
    `etl.reader.encoding.choose_encoding`; a file it refuses becomes a Rejected naming it.

    `complete=False` when `data` is only the head of a file, which may end inside a character.
    """
    try:
        return choose_encoding(data, name, complete=complete)
    except EncodingRefused as exc:
        raise refuse(name, exc.reason) from None


def _header_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def detect_separator(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ";"


def _csv_with_stdlib(text: str, sep: str) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    first = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if first is None:
        return [], pd.DataFrame(), np.zeros(0, dtype=np.int64)
    header = rows[first]
    body = rows[first + 1 :]
    width = max([len(header), *(len(r) for r in body)])
    header = header + [""] * (width - len(header))
    body = [r + [""] * (width - len(r)) for r in body]
    frame = pd.DataFrame(body, columns=[f"c{i}" for i in range(width)], dtype="str")
    if frame.empty:
        frame = pd.DataFrame({f"c{i}": pd.Series([], dtype="str") for i in range(width)})
    numbers = np.arange(first + 2, first + 2 + len(body), dtype=np.int64)
    return header, frame, numbers


def _content_span(data: bytes, encoding: str) -> tuple[int, int]:
    """Where the rows are: after a BOM, before the line breaks that end the file."""
    start = 3 if encoding == "utf-8-sig" else 0
    end = len(data)
    while end > start and data[end - 1] in b"\r\n":
        end -= 1
    return start, end


def _csv_with_arrow(
    data: bytes, encoding: str, sep: str, header: list[str], *, skip_blank_lines: bool
) -> pd.DataFrame:
    def stop(_row: object) -> str:
        return "error"  # a ragged row: let the stdlib reader number it

    start, end = _content_span(data, encoding)
    names = [f"c{i}" for i in range(len(header))]
    table = pacsv.read_csv(
        pa.py_buffer(data)[start:end],
        read_options=pacsv.ReadOptions(
            encoding="utf8" if encoding.startswith("utf-8") else encoding,
            column_names=names,
            skip_rows=1,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=sep,
            newlines_in_values=b'"' in data,
            ignore_empty_lines=skip_blank_lines,
            invalid_row_handler=stop,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.large_string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    )
    return table.to_pandas()


def _nonblank_lines(data: bytes, encoding: str) -> np.ndarray:
    """1-based numbers of the lines that are not empty (for a file without quotes, where a
    line is a row)."""
    start, end = _content_span(data, encoding)
    buf = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
    breaks = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(buf)]))
    length = ends - starts
    has = length > 0
    length[has] -= buf[ends[has] - 1] == 13
    return np.flatnonzero(length > 0) + 1


def read_csv_bytes(name: str, data: bytes) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """(header, positional frame c0..cN of strings, spreadsheet row numbers of its rows)."""
    encoding = detect_encoding(data, name)
    head_text = data[:HEAD_BYTES].decode(encoding, errors="replace")
    first_line = head_text.splitlines()[0] if head_text else ""
    sep = detect_separator(_header_line(head_text))
    if first_line.strip():
        header = next(csv.reader([first_line.lstrip("\ufeff")], delimiter=sep))
        attempts = [False] if b'"' in data else [False, True]
        for skip_blank_lines in attempts:
            try:
                frame = _csv_with_arrow(
                    data, encoding, sep, header, skip_blank_lines=skip_blank_lines
                )
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                if "UTF8" in str(exc) or isinstance(exc, UnicodeDecodeError):
                    raise refuse(name, "the file is not valid UTF-8 text") from None
                continue
            if not skip_blank_lines:
                return header, frame, np.arange(2, len(frame) + 2, dtype=np.int64)
            numbers = _nonblank_lines(data, encoding)[1:]  # the first is the header
            if len(numbers) == len(frame):
                return header, frame, numbers.astype(np.int64)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise refuse(name, f"the file is not valid {encoding} text") from None
    return _csv_with_stdlib(text.lstrip("\ufeff"), sep)


def csv_headers(name: str, head: bytes) -> list[list[str]]:
    """The header rows `read_csv_bytes` will take from a file that starts with `head`, one per
    encoding the whole file may turn out to be in (the encoding is decided over the whole
    file, the head may not decide it; a line of ASCII reads alike in all of them); [] when the
    head cannot tell: a blank first line, a quote left open, a line break csv does not know, or
    a head in no supported encoding. Raises Rejected, exactly as `read_csv_bytes` would, for a
    file whose head shows it is not text (UTF-16, NUL bytes): nothing after the head is needed.
    """
    head = head[:HEAD_BYTES]
    try:
        chosen = choose_encoding(head, name, complete=False)
    except EncodingRefused as exc:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
            raise refuse(name, exc.reason) from None  # decided by the first 64 KiB alone
        return []
    if chosen == "utf-8-sig":
        candidates = ["utf-8-sig"]  # a BOM decides for the whole file
    elif chosen == "utf-8":
        candidates = ["utf-8", "cp1250", "iso-8859-2"]  # later bytes may not be UTF-8
    else:
        candidates = ["cp1250", "iso-8859-2"]  # not UTF-8 here, so nowhere
    found: list[list[str]] = []
    for encoding in candidates:
        text = head.decode(encoding, errors="replace")
        first_line = text.splitlines()[0] if text else ""
        if (
            not first_line.strip()
            or _LINE_BREAK.split(text, maxsplit=1)[0] != first_line
            or first_line.count('"') % 2
        ):
            return []  # read_csv_bytes may take its header from a later line
        sep = detect_separator(_header_line(text))
        header = next(csv.reader([first_line.lstrip("\ufeff")], delimiter=sep))
        if not any(cell.strip() for cell in header):
            return []  # the csv module's reading skips such a row
        if header not in found:
            found.append(header)
    return found


# --- what a sheet (CSV or XLSX) becomes ------------------------------------------------------


@dataclass(frozen=True)
class UnsavedFormula:
    """A formula cell with no value saved with it: the workbook was written by a program (a
    script, openpyxl) and never opened and saved in Excel, so nothing computed the value."""

    address: str  # E5
    formula: str  # =B5*C5


@dataclass
class Sheet:
    """One sheet read as text: header, positional frame c0..cN, spreadsheet row numbers, which
    cells were numbers, and the formula cells without a saved value as (position in `rows`,
    column position, cell)."""

    header: list[str]
    frame: pd.DataFrame
    rows: np.ndarray
    number_cells: pd.DataFrame | None
    unsaved: list[tuple[int, int, UnsavedFormula]] = field(default_factory=list)


def empty_frame(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({n: pd.Series([], dtype="str") for n in names})
