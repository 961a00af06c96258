"""The single-file bundles of `ebok demo-data`: an XLSX workbook, or a ZIP of the CSV files.

Both are ZIP archives, and both are written with fixed member times (and the workbook with a
fixed save time) so that equal arguments give equal bytes. The workbook holds typed cells
(numbers, dates) as Excel keeps them, with the header spelling of etl.demo.layouts; the CSV
members of a ZIP bundle are formatted by etl.demo.csv_writer.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from etl.demo.columns import Col, Table
from etl.demo.layouts import LAYOUTS, Layout

XLSX_MAX_ROWS = 1_048_576  # per sheet, header included
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)  # archive member times, so equal input gives equal bytes


def _cells(col: Col) -> list[object]:
    if col.kind == "text":
        vocab = col.vocab or ()
        cells: list[object] = [vocab[i] for i in col.values.tolist()]
    elif col.kind == "date":
        cells = [date.fromordinal(o) for o in col.values.tolist()]
    elif col.kind == "int":
        cells = col.values.tolist()
    else:
        scale = 2 if col.kind == "money" else col.scale
        cells = [Decimal(v).scaleb(-scale) for v in col.values.tolist()]
    if col.present is not None:
        cells = [c if p else None for c, p in zip(cells, col.present.tolist(), strict=True)]
    return cells


def xlsx_rows(chunks: Iterable[Table], layout: Layout) -> Iterator[list[object]]:
    """Header and typed cells: numbers as number cells, dates as date cells, as Excel keeps them."""
    for i, chunk in enumerate(chunks):
        if i == 0:
            yield [layout.headers[c.name] for c in chunk.cols]
        yield from (list(r) for r in zip(*(_cells(c) for c in chunk.cols), strict=True))


def write_xlsx(path: Path, tables: dict[str, list[Table]], stamp: str) -> None:
    """One sheet per table. openpyxl stamps the save time into the file; `stamp` (ISO time)
    and fixed member times replace it so that equal arguments give an equal file."""
    from openpyxl import Workbook  # only XLSX demo data pays for importing openpyxl

    wb = Workbook(write_only=True)
    for name, chunks in tables.items():
        ws = wb.create_sheet(name)
        for row in xlsx_rows(chunks, LAYOUTS[name]):
            ws.append(row)
    raw = io.BytesIO()
    wb.save(raw)
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data
                )
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME), data, zipfile.ZIP_DEFLATED)


def zip_member(archive: zipfile.ZipFile, name: str) -> BinaryIO:
    info = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    return archive.open(info, "w", force_zip64=True)  # type: ignore[return-value]
