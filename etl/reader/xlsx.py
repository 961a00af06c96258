"""XLSX workbooks turned into Sheets of text, read with calamine.

calamine (python-calamine, Rust) reads the cells about eight times faster than openpyxl. What it
cannot tell apart from an empty cell is found in the sheet's XML instead: a formula cell without
a saved value (the workbook was written by a program and never saved in Excel) and an error cell
(`#N/A`, `#DIV/0!`), which calamine gives as empty. The XML is inflated once and searched for
formula and error marks at C speed; only the few cells so marked are parsed, and only a sheet
whose marked cells carry no address (or an XML prefix this scan does not follow) is read again
with openpyxl, cell by cell, as before calamine.

Cells become text as Excel shows them: a number cell at 15 significant digits (171,045 stays
171,045 even when the binary float is 171,04499999999998, so money is rounded from what the
accountant saw), an integer without `.0`, a date cell as ISO `YYYY-MM-DD` (its time dropped),
a boolean as PRAWDA/FAŁSZ, an error cell as its code (`#N/A`), text exactly as written.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, time
from posixpath import dirname, join, normpath
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa

from etl.reader import headers
from etl.reader.archive import refuse
from etl.reader.sheets import Sheet, UnsavedFormula, empty_frame

NOT_A_WORKBOOK = "not a readable XLSX workbook (damaged, or an old .xls renamed)"
NO_TABLE_SHEET = (
    "no sheet is named by a table (communities/wspolnoty, premises/lokale, ledger/obroty, "
    "fees/oplaty, allowances/dodatki)"
)
EXACT_INTEGERS = 2**53  # a float below this that is a whole number is that integer exactly
_FIFTEEN_DIGITS = "{:.15g}".format

_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_OFFICE_DOCUMENT = "/officeDocument"
_TEXT_TYPES = ("s", "str", "inlineStr")  # a formula of these types may have saved empty text
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet[\s>][^>]*>")
_ADDRESS = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]+)")


# --- one cell ---------------------------------------------------------------------------------


def number_text(value: float) -> str:
    """A number cell as Excel shows it: 15 significant digits; a whole number without `.0`."""
    if value.is_integer() and abs(value) < EXACT_INTEGERS:
        return str(int(value))
    return f"{value:.15g}"


def cell_text(value: object) -> tuple[str, bool]:
    """(text, was a number) of one cell value as calamine (or openpyxl) gives it."""
    if value is None:
        return "", False
    if isinstance(value, str):
        return value, False
    if isinstance(value, bool):
        return ("PRAWDA" if value else "FAŁSZ"), False
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, float):
        return number_text(value), True
    if isinstance(value, datetime):
        return value.date().isoformat(), False
    if isinstance(value, date | time):
        return value.isoformat(), False
    if isinstance(value, UnsavedFormula):
        return value.formula, False
    return str(value), False  # a duration ([h]:mm) as 1 day, 2:00:00


def _column_texts(values: list) -> tuple[list[str], np.ndarray | None]:
    """(texts, which cells were numbers or None for none) of one column. A column of text costs
    nothing; otherwise each distinct value is turned into text once (a ledger repeats its
    dates and amounts), except where a boolean shares a column with numbers (True == 1.0)."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return values, None
    if bool in kinds and kinds & {int, float}:
        pairs = [cell_text(v) for v in values]
        return [t for t, _ in pairs], np.fromiter((n for _, n in pairs), bool, len(pairs))
    distinct = set(values)
    if kinds <= {str, float}:  # amounts: Excel's 15 digits at C speed, then the few integers
        floats = [v for v in distinct if type(v) is float]
        texts = dict(zip(floats, map(_FIFTEEN_DIGITS, floats), strict=True))
        for v, text in texts.items():
            if "e" in text or text == "-0":  # 1e+15 may be an integer; -0 is 0
                texts[v] = number_text(v)
        texts.update((v, v) for v in distinct if type(v) is str)
        number = {v: type(v) is float for v in distinct}
    else:
        shown = {v: cell_text(v) for v in distinct}
        texts = {v: t for v, (t, _) in shown.items()}
        number = {v: n for v, (_, n) in shown.items()}
    texts_of = list(map(texts.__getitem__, values))
    if not kinds & {int, float}:
        return texts_of, None
    return texts_of, np.fromiter(map(number.__getitem__, values), bool, len(values))


# --- a sheet ----------------------------------------------------------------------------------


def sheet_from_rows(rows: list[list[object]], unsaved_at: dict[tuple[int, int], object]) -> Sheet:
    """The Sheet of a grid of cell values whose first row is the sheet's row 1 and first column
    its column A; `unsaved_at` holds the (row, column) indices of UnsavedFormula cells."""
    header_at = None
    for i, row in enumerate(rows):
        if any(cell_text(v)[0].strip() for v in row):
            header_at = i
            break
    if header_at is None:
        return Sheet([], pd.DataFrame(), np.zeros(0, dtype=np.int64), pd.DataFrame())
    width = max(map(len, rows))
    header = [cell_text(v)[0] for v in rows[header_at]]
    header += [""] * (width - len(header))
    body = rows[header_at + 1 :]
    if body and min(map(len, body)) < width:  # calamine's grid is rectangular; openpyxl's not
        for row in body:
            row.extend([""] * (width - len(row)))
    names = [f"c{i}" for i in range(width)]
    numbers = np.arange(header_at + 2, header_at + 2 + len(body), dtype=np.int64)
    if not body:
        return Sheet(header, empty_frame(names), numbers, pd.DataFrame(columns=names))
    grid = np.empty((len(body), width), dtype=object)
    grid[:] = body  # a rectangular object array: its columns come out without a transpose
    texts: dict[str, pa.Array] = {}
    mask: dict[str, np.ndarray] = {}
    for position, name in enumerate(names):
        column, number = _column_texts(grid[:, position].tolist())
        texts[name] = pa.array(column, type=pa.large_string())
        mask[name] = np.zeros(len(body), dtype=bool) if number is None else number
    del grid
    unsaved = [
        (r - header_at - 1, c, cell)
        for (r, c), cell in sorted(unsaved_at.items())
        if r > header_at and isinstance(cell, UnsavedFormula)
    ]
    frame = pa.table(texts).to_pandas()
    return Sheet(header, frame, numbers, pd.DataFrame(mask), unsaved)


def _patch(rows: list[list[object]], cells: dict[tuple[int, int], object]) -> None:
    """Put the cells found in the XML into calamine's grid (which may end before them)."""
    for (r, c), value in cells.items():
        while len(rows) <= r:
            rows.append([])
        row = rows[r]
        if len(row) <= c:
            row.extend([""] * (c + 1 - len(row)))
        row[c] = value


# --- the sheet's XML: formula cells without a saved value, error cells ------------------------


class _Unsure(Exception):
    """The XML scan cannot place a marked cell: read the sheet with openpyxl instead."""


def _marks(prefix: bytes) -> tuple[bytes, ...]:
    """What a formula element or an error cell's type looks like in the XML."""
    return (b"<" + prefix + b"f", b't="e"', b"t='e'")


def _marked(zf: zipfile.ZipFile, part: str) -> bool:
    """Whether the sheet's XML holds a formula element or an error cell: streamed 4 MiB at once
    and searched at C speed, with the element prefix the root element uses (`<x:f`)."""
    marks: tuple[bytes, ...] = ()
    tail = b""
    with zf.open(part) as fh:
        while chunk := fh.read(1 << 22):
            if not marks:
                root = _ROOT.search(chunk, 0, 65536)
                if root is None:
                    return True  # let the closer look decide (and fall back to openpyxl)
                marks = _marks(root.group(1) or b"")
            window = tail + chunk
            if any(mark in window for mark in marks):
                return True
            tail = window[-max(map(len, marks)) :]
    return False


def _scan(data: bytes, part: str | None) -> dict[tuple[int, int], object] | None:
    """The cells of the sheet at `part` that calamine reads as empty but are not (see
    _special_cells); None when only openpyxl can tell them. Runs beside calamine (which lets
    go of the GIL while it parses), on its own view of the ZIP."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        if part is None or part not in zf.namelist():
            return None  # calamine found the sheet where _parts did not look
        if not _marked(zf, part):
            return {}
        try:
            return _special_cells(zf.read(part))
        except (_Unsure, ElementTree.ParseError):
            return None


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def _cell_bounds(xml: bytes, at: int, prefix: bytes) -> tuple[int, int] | None:
    """(start, end) of the <c> element around offset `at`; None when `at` is in an empty cell
    (<c … t="e"/>) or in no cell at all."""
    cell = b"<" + prefix + b"c"
    start = xml.rfind(cell, 0, at)  # inside sheetData, the nearest one is the cell's own
    if start < 0:
        return None
    after = xml[start + len(cell) : start + len(cell) + 1]
    if after == b">":
        raise _Unsure  # a cell without attributes, so without an address
    if after not in (b" ", b"\t", b"\n", b"\r"):
        return None  # <col …>, <cfRule …>: not a cell
    tag_end = xml.find(b">", start)
    if xml[tag_end - 1 : tag_end] == b"/":
        return None  # an empty cell: no value, no formula
    closing = b"</" + prefix + b"c>"
    end = xml.find(closing, tag_end)
    if end < at:
        return None  # `at` is past this cell: in no cell
    return start, end + len(closing)


def _special_cells(xml: bytes) -> dict[tuple[int, int], object]:
    """(row, column) indices → value of the cells calamine reads as empty but openpyxl would
    not: UnsavedFormula for a formula without a saved value, the code of an error cell.

    Only formula elements followed by no value (or an empty one) and the end of their cell, and
    cells typed as errors, are parsed; a formula whose value Excel saved is passed over at C
    speed, so a workbook computed in Excel costs one regular-expression search."""
    root = _ROOT.search(xml, 0, 65536)
    if root is None:
        raise _Unsure
    prefix = root.group(1) or b""
    p = re.escape(prefix)
    unsaved = re.compile(
        rb"<" + p + rb"f(?:\s[^>]*)?(?:/>|>[^<]*</" + p + rb"f>)\s*"
        rb"(?:<" + p + rb"v\s*/>|<" + p + rb"v>\s*</" + p + rb"v>)?\s*</" + p + rb"c>"
    )
    errors = re.compile(rb"t=\"e\"|t='e'")
    spans = set()
    for found in (unsaved, errors):
        for match in found.finditer(xml):
            bounds = _cell_bounds(xml, match.start(), prefix)
            if bounds is not None:
                spans.add(bounds)
    opening = root.group(0)
    closing = b"</" + prefix + b"worksheet>"
    cells: dict[tuple[int, int], object] = {}
    for start, end in sorted(spans):
        cell = ElementTree.fromstring(opening + xml[start:end] + closing)[0]
        value = _special_value(cell)
        if value is not None:
            cells[value[0]] = value[1]
    return cells


def _special_value(cell: ElementTree.Element) -> tuple[tuple[int, int], object] | None:
    """What openpyxl reads in a marked cell that calamine reads as empty, as openpyxl's
    WorkSheetParser.parse_cell decides it (openpyxl 3.1); None for a cell calamine reads right
    (a formula with its saved value)."""
    ns = cell.tag[: cell.tag.index("}") + 1] if cell.tag.startswith("{") else ""
    kind = cell.get("t", "n")
    value = None if kind == "inlineStr" else (cell.findtext(ns + "v") or None)
    formula = cell.find(ns + "f")
    if value is None and formula is not None and kind not in _TEXT_TYPES:
        found = None
    elif kind == "e" and value is not None:
        found = value
    else:
        return None
    address = cell.get("r")
    parsed = _ADDRESS.fullmatch(address or "")
    if parsed is None:
        raise _Unsure  # no address: only reading every cell in order places it
    position = (int(parsed.group(2)) - 1, _column_index(parsed.group(1)))
    if found is None:
        assert formula is not None
        text = f"={formula.text}" if formula.text else "(a shared formula)"
        return position, UnsavedFormula(address or "", text)
    return position, found


# --- the workbook -----------------------------------------------------------------------------


def _parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → its XML part in the ZIP, from the workbook part and its relationships;
    raises for anything that is not an XLSX/XLSM workbook (an .xlsb, an .ods, damage)."""
    book = "xl/workbook.xml"
    if "_rels/.rels" in zf.namelist():
        for rel in ElementTree.fromstring(zf.read("_rels/.rels")):
            if rel.get("Type", "").endswith(_OFFICE_DOCUMENT):
                book = normpath(rel.get("Target", "").lstrip("/"))
                break
    if not book.endswith(".xml"):
        raise ValueError(book)
    rels_part = join(dirname(book), "_rels", book.rsplit("/", 1)[-1] + ".rels")
    targets = {}
    for rel in ElementTree.fromstring(zf.read(rels_part)):
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else join(dirname(book), target)
        targets[rel.get("Id")] = normpath(path)
    parts = {}
    for element in ElementTree.fromstring(zf.read(book)).iter():
        if element.tag.endswith("}sheet") and element.get(_REL) in targets:
            parts[element.get("name", "")] = targets[element.get(_REL)]
    return parts


def _openpyxl_rows(data: bytes, title: str) -> tuple[list[list[object]], dict]:
    """The sheet's cells read by openpyxl, cell by cell (the slow way, for XML the scan above
    does not follow): a formula cell without a saved value comes as an UnsavedFormula instead of
    an empty cell (openpyxl's data_only reading gives None)."""
    import openpyxl  # noqa: PLC0415 - only such rare workbooks pay for importing it
    from openpyxl.utils import get_column_letter  # noqa: PLC0415
    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser  # noqa: PLC0415

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            cell = super().parse_cell(element)
            # A saved empty text result (t="str", <v></v>) is a value; an empty number is not.
            if cell["value"] is None and cell["data_type"] not in _TEXT_TYPES:
                formula = element.find(FORMULA_TAG)
                if formula is not None:
                    column = get_column_letter(cell["column"])
                    address = element.get("r") or f"{column}{cell['row']}"
                    text = f"={formula.text}" if formula.text else "(a shared formula)"
                    cell["value"] = UnsavedFormula(address, text)
            return cell

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        ws = wb[title]
        rows: list[list[object]] = []
        unsaved: dict[tuple[int, int], object] = {}
        # What openpyxl's ReadOnlyWorksheet._cells_by_row does (openpyxl 3.1), with this parser.
        with ws._get_source() as src:
            parser = Parser(
                src,
                ws._shared_strings,
                data_only=True,
                epoch=wb.epoch,
                date_formats=wb._date_formats,
                timedelta_formats=wb._timedelta_formats,
            )
            for index, cells in parser.parse():
                while len(rows) < index:
                    rows.append([])
                values: list[object] = [None] * (cells[-1]["column"] if cells else 0)
                for cell in cells:
                    values[cell["column"] - 1] = cell["value"]
                    if isinstance(cell["value"], UnsavedFormula):
                        unsaved[(index - 1, cell["column"] - 1)] = cell["value"]
                rows[index - 1] = values
        return rows, unsaved
    finally:
        wb.close()


def _sheet(data: bytes, book, title: str, scanned: Future) -> Sheet:
    rows = book.get_sheet_by_name(title).to_python(skip_empty_area=False)
    cells = scanned.result()
    if cells is None:
        return sheet_from_rows(*_openpyxl_rows(data, title))
    _patch(rows, cells)
    return sheet_from_rows(rows, cells)


def read_workbook(
    name: str, data: bytes, table_hint: str | None
) -> tuple[list[tuple[str, str, Sheet]], list[str]]:
    """(table, label, sheet) of the sheets named by a table, or, in a workbook named by a
    table, of its first sheet; and warnings about the sheets ignored."""
    import python_calamine  # noqa: PLC0415 - only XLSX bundles pay for importing it

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        parts = _parts(zf)
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception:  # zipfile, ElementTree and calamine raise many kinds for a damaged file
        raise refuse(name, NOT_A_WORKBOOK) from None
    warnings: list[str] = []
    with zf, book:
        worksheet = python_calamine.SheetTypeEnum.WorkSheet
        titles = [m.name for m in book.sheets_metadata if m.typ == worksheet]
        named = [(headers.table_for(title), title) for title in titles]
        chosen = [(t, title) for t, title in named if t]
        if not chosen and table_hint and titles:
            chosen = [(table_hint, titles[0])]
        for t, title in named:
            if not t and (table_hint is None or title != titles[0]):
                warnings.append(f"{name}: sheet {title!r} is not a table name; ignored")
        if not chosen:
            raise refuse(name, NO_TABLE_SHEET)
        out = []
        with ThreadPoolExecutor(max_workers=1) as scanner:
            scans = [scanner.submit(_scan, data, parts.get(title)) for _, title in chosen]
            for (table, title), scanned in zip(chosen, scans, strict=True):
                try:
                    sheet = _sheet(data, book, title, scanned)
                except (python_calamine.CalamineError, zipfile.BadZipFile, zlib.error, OSError):
                    raise refuse(name, NOT_A_WORKBOOK) from None
                out.append((table, f"{name}[{title}]", sheet))
        return out, warnings
