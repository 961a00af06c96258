"""Reading an export bundle: its table files become RawTables of text, then validated tables.

A bundle is a directory, a ZIP, one XLSX workbook, or one table file (see docs/import-
format.md). `etl.reader.archive` gets its files into memory, `etl.reader.sheets` turns each into
text cells, this module names the columns and hands the tables to `etl.reader.validate`; a
legacy `#` export goes to `etl.legacy.reader` instead."""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.model import Bundle, BundleRejected, Problem, SourceFile
from etl.reader import headers, validate
from etl.reader.archive import CSV_SUFFIXES, XLSX_SUFFIXES, ZIP_SUFFIXES, Rejected, members, refuse
from etl.reader.raw import RawTable
from etl.reader.sheets import (
    detect_encoding,
    detect_separator,
    empty_frame,
    read_csv_bytes,
    read_workbook,
)
from etl.snapshot.store import Generation

# The bundle reader's public names (the import benchmark uses the dialect detection too).
__all__ = ["RawTable", "detect_encoding", "detect_separator", "read_bundle", "read_tables"]

PARSED_COLUMNS = {
    "date",
    "period",
    "charge",
    "payment",
    "amount",
    "quantity",
    "rate",
    "valid_from",
    "valid_to",
    "monthly_amount",
    "as_of",
    "area_m2",
    "share",
    "occupants",
}


def _raw(
    table: str,
    file: str,
    header: list[str],
    frame: pd.DataFrame,
    rows: np.ndarray,
    mask: pd.DataFrame | None,
    aliases: headers.Aliases,
    problems: list[Problem],
    warnings: list[str],
) -> RawTable | None:
    matched = aliases.match(table, header)
    if matched.unknown:
        warnings.append(f"{file}: unknown column(s) ignored: {', '.join(matched.unknown)}")
    for head, canonical in matched.duplicates:
        problems.append(
            Problem(file, table, 1, head, head, f"a second column for {canonical}; keep only one")
        )
    for canonical in matched.missing:
        problems.append(
            Problem(file, table, 1, canonical, "", f"required column {canonical} is missing")
        )
    if matched.duplicates or matched.missing:
        return None
    picked = {f"c{pos}": canonical for pos, canonical in matched.columns.items()}
    out = (
        frame[list(picked)].rename(columns=picked)
        if len(frame.columns)
        else empty_frame(list(picked.values()))
    )
    for column in out.columns:
        if column in PARSED_COLUMNS:
            continue  # the cell parsers trim these themselves
        out[column] = pc.utf8_trim_whitespace(pa.array(out[column].array)).to_pandas().array
    out["_row"] = rows
    blank = np.ones(len(out), dtype=bool)
    for column in picked.values():
        blank &= (out[column] == "").to_numpy(dtype=bool)
    number_cells = mask[list(picked)].rename(columns=picked) if mask is not None else None
    if blank.any():
        out = out[~blank]
        number_cells = number_cells[~blank] if number_cells is not None else None
    out = out.reset_index(drop=True)
    if number_cells is not None:
        number_cells = number_cells.reset_index(drop=True)
    return RawTable(table, file, out, number_cells)


def read_tables(
    path: Path, aliases: headers.Aliases
) -> tuple[list[RawTable], list[SourceFile], list[Problem], list[str]]:
    """Every table file of the bundle read into a RawTable; problems found on the way."""
    problems: list[Problem] = []
    warnings: list[str] = []
    sources: list[SourceFile] = []
    raws: list[RawTable] = []
    try:
        files, collection = members(path)
    except Rejected as exc:
        return [], [], [exc.problem], []
    files.reverse()
    while files:
        rel, data = files.pop()  # each file's bytes are dropped once it is read
        member = PurePosixPath(rel.replace("\\", "/"))
        suffix = member.suffix.lower()
        hint = headers.table_for(member.stem)
        label = rel if collection else path.name
        try:
            if suffix in ZIP_SUFFIXES:
                raise refuse(label, "a ZIP inside the bundle is not supported; unpack it")
            if suffix in XLSX_SUFFIXES:
                sheets, sheet_warnings = read_workbook(label, data, hint)
                warnings += sheet_warnings
            elif suffix in CSV_SUFFIXES and hint:
                header, frame, rows = read_csv_bytes(label, data)
                sheets = [(hint, label, header, frame, rows, None)]
            elif hint or not collection:
                what = (
                    "file name does not name a table"
                    if suffix in CSV_SUFFIXES
                    else ("not a CSV or XLSX file")
                )
                raise refuse(
                    label,
                    f"{what} (expected e.g. premises.csv, lokale.csv, "
                    "ledger.xlsx or a workbook with sheets named by tables)",
                )
            else:
                warnings.append(f"{label}: not a table file; ignored")
                continue
        except Rejected as exc:
            problems.append(exc.problem)
            continue
        sources.append(SourceFile(label, hashlib.sha256(data).hexdigest(), len(data)))
        del data
        for table, file, header, frame, rows, mask in sheets:
            raw = _raw(table, file, header, frame, rows, mask, aliases, problems, warnings)
            if raw is not None:
                raws.append(raw)
        sheets = frame = None  # type: ignore[assignment]  # let the positional frames go
    seen: dict[str, str] = {}
    for raw in raws:
        if raw.table in seen:
            problems.append(
                Problem(
                    raw.file,
                    raw.table,
                    None,
                    "",
                    "",
                    f"table {raw.table} given twice (also in {seen[raw.table]})",
                )
            )
        seen.setdefault(raw.table, raw.file)
    if not problems and not any(len(r.frame) for r in raws):
        problems.append(
            Problem(
                path.name, "", None, "", "", "empty bundle: no table file with data rows was found"
            )
        )
    return raws, sources, problems, warnings


def read_bundle(
    path: Path,
    *,
    aliases_file: Path | None = None,
    previous: Generation | None = None,
) -> Bundle:
    """Read and validate one bundle; raises BundleRejected listing every problem found."""
    try:
        aliases = headers.Aliases.load(aliases_file)
    except headers.AliasFileError as exc:
        name = aliases_file.name if aliases_file else ""
        raise BundleRejected([Problem(name, "", None, "", "", str(exc))]) from None
    raws, sources, problems, warnings = read_tables(path, aliases)
    tables, more, total_more = validate.validate(raws, previous)
    problems += more
    if problems:
        raise BundleRejected(problems, total=len(problems) - len(more) + total_more)
    return Bundle(tables=tables, sources=sources, warnings=warnings, kind="contract")
