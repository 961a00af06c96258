"""Reading an export bundle: its table files become RawTables of text, then validated tables.

A bundle is a directory, a ZIP, one XLSX workbook, or one table file (see docs/import-
format.md). `etl.reader.archive` gets its files into memory, `etl.reader.sheets` turns each into
text cells, this module names the columns and hands the tables to `etl.reader.validate`; a
legacy `#` export goes to `etl.legacy.reader` instead. The files of a documents folder are not
tables: `etl.reader.attachments` checks those the documents table lists."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.model import COLUMNS, SOURCE_COLUMNS, Bundle, BundleRejected, Problem, SourceFile
from etl.reader import (
    attachments,
    first_pass,
    headers,
    ledger_delta,
    ledger_map,
    prescan,
    spill,
    stream,
    table_blocks,
    validate,
)
from etl.reader.archive import (
    CSV_SUFFIXES,
    HEAD_BYTES,
    XLSX_SUFFIXES,
    ZIP_SUFFIXES,
    Member,
    Rejected,
    documents_folder,
    members,
    refuse,
)
from etl.reader.block_cache import validated_block
from etl.reader.header_checks import matched_header, refused_by_header
from etl.reader.raw import Problems, RawTable
from etl.reader.sheets import (
    Sheet,
    detect_encoding,
    detect_separator,
    empty_frame,
    read_csv_bytes,
)
from etl.reader.table_cache import Kept, settle
from etl.reader.xlsx import NOT_A_WORKBOOK, read_workbook
from etl.snapshot.store import Generation

# The bundle reader's public names (the import benchmark uses the dialect detection too).
__all__ = ["RawTable", "detect_encoding", "detect_separator", "read_bundle", "read_tables"]

# Tables read from CSV a block of rows at a time (etl.reader.stream) and validated as they are
# read (etl.reader.ledger_blocks, etl.reader.table_blocks), never whole in memory: the ledger
# grows with the portfolio's history, the fees with its premises.
STREAMED = {"ledger", *table_blocks.STREAMED_TABLES}
RowsRead = Callable[[str, int], None]


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
    "reading",
    "consumption",
}


def _picked(
    table: str,
    file: str,
    frame: pd.DataFrame,
    rows: np.ndarray,
    mask: pd.DataFrame | None,
    matched: headers.HeaderMap,
) -> RawTable:
    """The contract's columns of a positional frame (all of a sheet, or a block of a CSV
    file's rows), trimmed, with their row numbers, blank rows left out."""
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
    return RawTable(table, file, out, number_cells, matched.written, matched.polish)


def _raw(
    table: str,
    file: str,
    sheet: Sheet,
    aliases: headers.Aliases,
    problems: list[Problem],
    warnings: list[str],
) -> RawTable | None:
    """The sheet as a RawTable of the contract's columns, or None (`matched_header`)."""
    matched = matched_header(table, file, sheet, aliases, problems, warnings)
    if matched is None:
        return None
    return _picked(table, file, sheet.frame, sheet.rows, sheet.number_cells, matched)


def _validated_in_blocks(
    table: str,
    entry: Member,
    label: str,
    aliases: headers.Aliases,
    problems: list[Problem],
    warnings: list[str],
    progress: RowsRead | None,
    work_dir: Path | None,
    mapped: ledger_map.LedgerMap | None = None,
    scans: prescan.Scans | None = None,
    unchanged: Callable[[float], None] | None = None,
) -> tuple[RawTable | None, SourceFile]:
    """A big CSV table (the ledger) read and validated a block of rows at a time, kept as
    compact columns (etl.reader.stream): the file is never in memory whole, and a file too big
    to keep even so is spilled to `work_dir` in premises buckets (etl.reader.spill). The
    RawTable carries the validated table and the problems its rows have (`RawTable.done`);
    raises stream.NotStreamable (having said nothing) when the file must be read whole. With
    `mapped` (the last import's ledger), the ledger is read as its changes since then
    (etl.reader.ledger_delta; raises NotIncremental, having said nothing, where it cannot).
    `scans`: the first passes a helper process made (etl.reader.prescan); `unchanged`: as
    for ledger_delta.read."""
    cached = Kept(work_dir, table, label, entry, aliases)  # the last import's, if the same file
    found = cached.found or (scans.get(entry.path) if scans is not None else None)
    if found is None:
        with entry.open() as fh:
            found = first_pass.scan(fh)
    columns = [*COLUMNS[table], *SOURCE_COLUMNS]
    delta = mapped is not None and table == "ledger" and mapped.file == label and work_dir
    big = table == "ledger" and spill.spilled(found.size) and not delta
    sink = spill.Spill(columns, work_dir) if big else None
    said: list[Problem] = []
    noted: list[str] = []
    found_problems = Problems()
    parts: list[stream.Part] = []
    frames: list[pd.DataFrame] = []  # the blocks of a table other than the ledger
    rows_read = 0
    kept: set[str] | None = None
    with entry.open() as fh:
        pieces = stream.blocks(fh, found)
        header = next(pieces)
        empty = empty_frame([f"c{i}" for i in range(len(header))])
        sheet = Sheet(header, empty, np.zeros(0, dtype=np.int64), None)  # type: ignore[arg-type]
        matched = matched_header(table, label, sheet, aliases, said, noted)
        if matched is not None and cached.frame is None:
            codec = "utf-8" if found.encoding.startswith("utf-8") else found.encoding
            if delta:
                assert mapped is not None and work_dir is not None
                parts, kept = ledger_delta.read(
                    pieces, mapped, codec, label, matched, found_problems, work_dir, unchanged
                )
                if progress is not None:
                    progress(label, sum(c.lines for c in found.chunks[1:]))
            for block in pieces:
                assert isinstance(block, stream.Block)
                if table != "ledger":
                    text = table_blocks.text_frame(block, codec)
                    rows = _picked(table, label, text, block.rows, None, matched)
                    frames.append(validate.VALIDATORS[table](rows, found_problems))
                    del text, rows
                    rows_read += len(block.rows)
                    if progress is not None:
                        progress(label, rows_read)
                    continue
                part = validated_block(block, codec, label, matched, found_problems, work_dir)
                if sink is not None:
                    sink.add(part)
                else:
                    parts.append(part)
                rows_read += len(block.rows)
                if progress is not None:
                    progress(label, rows_read)
    source = SourceFile(label, found.sha256, found.size)
    problems += said
    warnings += noted
    if matched is None:
        return None, source
    raw = _picked(table, label, sheet.frame, sheet.rows, None, matched)
    if sink is not None and sink.rows:
        raw.done, raw.found = sink.table(table, label), found_problems
        return raw, source  # its frame stays empty: etl.reader.references asks the spill
    if parts:
        done = stream.joined(parts, columns)
        done["_file"] = pd.Categorical.from_codes(np.zeros(len(done), np.int8), [label])
    elif cached.frame is not None:  # the same file validated cleanly by the last import
        done = cached.frame
    elif frames:
        done = table_blocks.joined(frames, label)
        cached.keep(done, found, header, matched, found_problems, noted)
    else:
        done = validate.VALIDATORS[table](raw, Problems())
    raw.frame = done[["premises_id", "_row"]]
    raw.done, raw.found, raw.kept = done, found_problems, kept
    return raw, source


def read_tables(
    path: Path,
    aliases: headers.Aliases,
    documents: list[Member] | None = None,
    progress: RowsRead | None = None,
    work_dir: Path | None = None,
    previous: Generation | None = None,
    scans: prescan.Scans | None = None,
    unchanged: Callable[[float], None] | None = None,
) -> tuple[list[RawTable], list[SourceFile], list[Problem], list[str]]:
    """Every table file of the bundle read into a RawTable; problems found on the way. The
    files of documents folders go to `documents` unread (or are ignored with a warning when
    it is None). A streamed table (STREAMED) comes validated already (`RawTable.done`);
    `progress(file, rows)` hears how far its reading is; `work_dir` (the data dir's scratch
    folder; None: the system's) takes a ledger too big for memory (etl.reader.spill). With
    `previous` (the current generation), a ledger whose bundle differs from the one that
    generation was built from in the ledger only is read as its changes (ledger_delta).
    `scans`: the first passes over its big files a helper process made (etl.reader.prescan);
    `unchanged` hears the share of a ledger read as its changes that is unchanged
    (ledger_delta.read)."""
    problems: list[Problem] = []
    warnings: list[str] = []
    sources: list[SourceFile] = []
    raws: list[RawTable] = []
    try:
        files, collection = members(path)
    except Rejected as exc:
        return [], [], [exc.problem], []
    mapped = ledger_delta.since(files, collection, previous, work_dir)
    if scans is not None:
        scans.put_last(files, aliases)
    files.reverse()
    while files:
        entry = files.pop()  # read here, its bytes dropped once its tables are made
        if collection and documents_folder(entry.name) is not None:
            if documents is not None:
                documents.append(entry)
            else:
                warnings.append(f"{entry.name}: a file of a documents folder; ignored")
            continue
        member = PurePosixPath(entry.name.replace("\\", "/"))
        suffix = member.suffix.lower()
        hint = headers.table_for(member.stem)
        label = entry.name if collection else path.name
        try:
            if suffix in ZIP_SUFFIXES:
                raise refuse(label, "a ZIP inside the bundle is not supported; unpack it")
            if suffix in XLSX_SUFFIXES:
                with entry.open() as fh:
                    if not zipfile.is_zipfile(fh):  # reads the end of the file only
                        raise refuse(label, NOT_A_WORKBOOK)
                data = entry.read()
                sheets, sheet_warnings = read_workbook(label, data, hint)
                warnings += sheet_warnings
            elif suffix in CSV_SUFFIXES and hint:
                refused = refused_by_header(hint, label, entry.head(HEAD_BYTES), aliases)
                if refused:
                    problems += refused
                    continue
                if hint in STREAMED:
                    try:
                        try:
                            raw, source = _validated_in_blocks(
                                hint, entry, label, aliases, problems, warnings, progress,
                                work_dir, mapped, scans, unchanged,
                            )  # fmt: skip
                        except ledger_delta.NotIncremental:
                            raw, source = _validated_in_blocks(
                                hint, entry, label, aliases, problems, warnings, progress,
                                work_dir, None, scans,
                            )  # fmt: skip
                    except stream.NotStreamable:
                        pass  # read whole below
                    else:
                        sources.append(source)
                        if raw is not None:
                            raws.append(raw)
                        continue
                data = entry.read()
                header, frame, rows = read_csv_bytes(label, data)
                sheets = [(hint, label, Sheet(header, frame, rows, None))]
                frame = None  # type: ignore[assignment]  # the Sheet holds it
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
            problem = exc.problem
            if hint and not problem.table:
                problem = replace(problem, table=hint)  # e.g. lokale.csv in no known encoding
            problems.append(problem)
            continue
        sources.append(SourceFile(label, hashlib.sha256(data).hexdigest(), len(data)))
        del data
        for table, file, sheet in sheets:
            raw = _raw(table, file, sheet, aliases, problems, warnings)
            if raw is not None:
                if suffix in CSV_SUFFIXES:  # allowances, communities: validated once per file
                    settle(raw, sources[-1], sheet.header, work_dir)
                raws.append(raw)
        sheets = sheet = None  # type: ignore[assignment]  # let the positional frames go
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
    if not problems and not any(len(r.frame if r.done is None else r.done) for r in raws):
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
    progress: RowsRead | None = None,
    work_dir: Path | None = None,
    incremental: bool = True,
    scans: prescan.Scans | None = None,
    unchanged: Callable[[float], None] | None = None,
) -> Bundle:
    """Read and validate one bundle; raises BundleRejected listing every problem found.
    `progress(file, rows)` hears how many rows of a big file are read so far; `work_dir` is
    where a ledger too big for memory is spilled (None: the system's temporary folder).
    `incremental`: a ledger may be read as its changes since the last import, the premises
    it did not change being `Bundle.kept` (etl.reader.ledger_delta). `scans`: the first
    passes over its big files a helper process made (etl.reader.prescan); `unchanged` hears
    the share of a ledger read as its changes that is unchanged (ledger_delta.read)."""
    try:
        aliases = headers.Aliases.load(aliases_file)
    except headers.AliasFileError as exc:
        name = aliases_file.name if aliases_file else ""
        raise BundleRejected([Problem(name, "", None, "", "", str(exc))]) from None
    found: list[Member] = []
    since = previous if incremental else None
    raws, sources, problems, warnings = read_tables(
        path, aliases, found, progress, work_dir, since, scans, unchanged
    )
    kept = next((raw.kept for raw in raws if raw.kept is not None), set())
    # Tables the bundle has but that could not be read: what refers to them is not checked.
    unreadable = {p.table for p in problems if p.table} - {raw.table for raw in raws}
    tables, more, total_more = validate.validate(raws, previous, unreadable=unreadable)
    ledger_delta.leave_out(tables, kept)
    files: dict[str, bytes] = {}
    index = next((raw for raw in raws if raw.table == "documents"), None)
    if "documents" in tables and index is not None:
        files, pdfs, refused, total_refused, notes = attachments.attach(
            index, tables["documents"], found
        )
        sources += pdfs
        warnings += notes
        more += refused
        total_more += total_refused
    elif "documents" not in unreadable:
        warnings += attachments.ignored(found)
    problems += more
    if problems:
        raise BundleRejected(problems, total=len(problems) - len(more) + total_more)
    return Bundle(
        tables=tables,
        sources=sources,
        warnings=warnings,
        kind="contract",
        files=files,
        kept=frozenset(kept),
        setup=aliases.digest,
    )
