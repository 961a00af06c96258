"""Reading an export bundle: finding its table files and turning each into a frame of strings.

A bundle is a directory, a ZIP, one XLSX workbook, or one table file (see docs/import-format.md).
Everything is read into memory and parsed from there: a ZIP member is never extracted to disk,
so a hostile member name cannot place a file anywhere. Cells stay text here; `etl.validate`
decides what they mean. Big CSV files go through pyarrow's multi-threaded reader; anything
irregular (blank lines, ragged rows) falls back to the stdlib csv module, which numbers rows
exactly as a spreadsheet does.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl import headers
from etl.model import Bundle, BundleRejected, Problem, SourceFile
from etl.store import Generation

MAX_MEMBERS = 200  # files in a ZIP or directory bundle
MAX_TOTAL_BYTES = 2 * 1024**3  # uncompressed size of all table files together
MAX_RATIO = 200  # uncompressed/compressed size of one ZIP member beyond which it is a bomb
RATIO_FLOOR = 1024**2  # members smaller than this are never called bombs

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
ZIP_SUFFIXES = {".zip"}
SEPARATORS = (";", "\t", ",")
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

# Bytes that are a Polish letter in one 8-bit code page and a rarely used symbol in the other.
_CP1250_LETTERS = bytes([0xB9, 0x9C, 0x9F, 0xA5, 0x8C, 0x8F])  # ą ś ź Ą Ś Ź
_ISO8859_2_LETTERS = bytes([0xB1, 0xB6, 0xBC, 0xA1, 0xA6, 0xAC])  # ą ś ź Ą Ś Ź
_ASCII = bytes(range(128))


class Rejected(Exception):
    """One problem that stops a file (or the whole bundle) from being read."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


def _problem(file: str, reason: str, *, table: str = "", value: str = "") -> Rejected:
    return Rejected(Problem(file, table, None, "", value, reason))


@dataclass
class RawTable:
    """One table as read: canonical columns of stripped text, `_row` as the spreadsheet numbers
    rows, and for XLSX which cells were numbers (money there is rounded, not rejected)."""

    table: str
    file: str
    frame: pd.DataFrame
    number_cells: pd.DataFrame | None = None


# --- encodings and CSV -----------------------------------------------------------------------


def detect_encoding(data: bytes, name: str) -> str:
    """utf-8-sig, utf-8, cp1250 or iso-8859-2, decided by which one yields Polish letters."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise _problem(
            name,
            "the file is not text in UTF-8, Windows-1250 or ISO-8859-2 "
            "(it looks like UTF-16 or a binary file); save it as CSV UTF-8",
        )
    high = data.translate(None, _ASCII)
    if not high:
        return "utf-8"
    try:
        high.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    lenient = high.decode("utf-8", errors="replace")
    broken = lenient.count("\ufffd")
    if len(lenient) - broken >= 3 * broken:
        # Mostly well-formed UTF-8 with a few stray bytes: decoding it all as an 8-bit code
        # page would garble every Polish letter, so say where the bad bytes are instead.
        at = data.decode("utf-8", errors="replace").index("\ufffd")
        line = data[:at].count(b"\n") + 1 if at < len(data) else "?"
        raise _problem(
            name,
            f"the file is UTF-8 but has invalid bytes (first near line {line}); "
            "save it again as CSV UTF-8",
        )
    try:
        high.decode("cp1250")
        cp1250_ok = True
    except UnicodeDecodeError:
        cp1250_ok = False
    c1 = high.translate(None, bytes(range(0xA0, 0x100)))  # bytes 0x80-0x9F: C1 in ISO-8859-2
    if not cp1250_ok:
        if c1:
            raise _problem(
                name,
                "unknown text encoding (not UTF-8, Windows-1250 or ISO-8859-2); "
                "save the file as CSV UTF-8",
            )
        return "iso-8859-2"
    if c1:
        return "cp1250"
    cp = sum(high.count(b) for b in _CP1250_LETTERS)
    iso = sum(high.count(b) for b in _ISO8859_2_LETTERS)
    return "iso-8859-2" if iso > cp else "cp1250"


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


def _csv_with_arrow(data: bytes, encoding: str, sep: str, header: list[str]) -> pd.DataFrame:
    def refuse(_row: object) -> str:
        return "error"

    start = 3 if encoding == "utf-8-sig" else 0
    names = [f"c{i}" for i in range(len(header))]
    table = pacsv.read_csv(
        pa.py_buffer(data)[start:],
        read_options=pacsv.ReadOptions(
            encoding="utf8" if encoding.startswith("utf-8") else encoding,
            column_names=names,
            skip_rows=1,
            block_size=16 * 1024**2,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=sep,
            newlines_in_values=b'"' in data,
            ignore_empty_lines=False,
            invalid_row_handler=refuse,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    )
    return table.to_pandas()


def read_csv_bytes(name: str, data: bytes) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """(header, positional frame c0..cN of strings, spreadsheet row numbers of its rows)."""
    encoding = detect_encoding(data, name)
    head_text = data[:65536].decode(encoding, errors="replace")
    first_line = head_text.splitlines()[0] if head_text else ""
    sep = detect_separator(_header_line(head_text))
    if first_line.strip():
        header = next(csv.reader([first_line.lstrip("\ufeff")], delimiter=sep))
        try:
            frame = _csv_with_arrow(data, encoding, sep, header)
            return header, frame, np.arange(2, len(frame) + 2, dtype=np.int64)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if "UTF8" in str(exc) or isinstance(exc, UnicodeDecodeError):
                raise _problem(name, "the file is not valid UTF-8 text") from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise _problem(name, f"the file is not valid {encoding} text") from None
    return _csv_with_stdlib(text.lstrip("\ufeff"), sep)


# --- XLSX -------------------------------------------------------------------------------------


def cell_text(value: object) -> tuple[str, bool]:
    """(text, was a number). A float becomes its 15-significant-digit text, as Excel shows it,
    so money is rounded from what the accountant saw, never computed with the binary float."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("PRAWDA" if value else "FAŁSZ"), False
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, float):
        return f"{value:.15g}", True
    if isinstance(value, datetime):
        return value.date().isoformat(), False
    if isinstance(value, date):
        return value.isoformat(), False
    if isinstance(value, time):
        return value.isoformat(), False
    return str(value), False


def _sheet_rows(ws) -> tuple[list[str], pd.DataFrame, np.ndarray, pd.DataFrame]:
    header: list[str] | None = None
    body: list[list[str]] = []
    numbers: list[list[bool]] = []
    row_numbers: list[int] = []
    for index, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
        cells = [cell_text(v) for v in row]
        if header is None:
            if any(t.strip() for t, _ in cells):
                header = [t for t, _ in cells]
            continue
        body.append([t for t, _ in cells])
        numbers.append([n for _, n in cells])
        row_numbers.append(index)
    if header is None:
        return [], pd.DataFrame(), np.zeros(0, dtype=np.int64), pd.DataFrame()
    width = max([len(header), *(len(r) for r in body)])
    header += [""] * (width - len(header))
    names = [f"c{i}" for i in range(width)]
    body = [r + [""] * (width - len(r)) for r in body]
    numbers = [r + [False] * (width - len(r)) for r in numbers]
    frame = pd.DataFrame(body, columns=names, dtype="str") if body else _empty(names)
    mask = pd.DataFrame(numbers, columns=names, dtype=bool) if body else pd.DataFrame(columns=names)
    return header, frame, np.array(row_numbers, dtype=np.int64), mask


def _empty(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({n: pd.Series([], dtype="str") for n in names})


def read_workbook(
    name: str, data: bytes, table_hint: str | None
) -> tuple[list[tuple[str, str, list[str], pd.DataFrame, np.ndarray, pd.DataFrame]], list[str]]:
    """Sheets named by a table; or, in a workbook named by a table, its first sheet."""
    import openpyxl  # noqa: PLC0415 - only XLSX bundles pay for importing it

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise _problem(
            name, "not a readable XLSX workbook (damaged, or an old .xls renamed)"
        ) from None
    warnings: list[str] = []
    try:
        named = [(headers.table_for(ws.title), ws) for ws in wb.worksheets]
        chosen = [(t, ws) for t, ws in named if t]
        if not chosen and table_hint:
            chosen = [(table_hint, wb.worksheets[0])]
        for t, ws in named:
            if not t and (table_hint is None or ws is not wb.worksheets[0]):
                warnings.append(f"{name}: sheet {ws.title!r} is not a table name; ignored")
        if not chosen:
            raise _problem(
                name,
                "no sheet is named by a table (communities/wspolnoty, "
                "premises/lokale, ledger/obroty, fees/oplaty, "
                "allowances/dodatki)",
            )
        out = []
        for table, ws in chosen:
            header, frame, rows, mask = _sheet_rows(ws)
            out.append((table, f"{name}[{ws.title}]", header, frame, rows, mask))
        return out, warnings
    finally:
        wb.close()


# --- bundle discovery -------------------------------------------------------------------------


def _unsafe_name(member: str) -> bool:
    if member.startswith(("/", "\\")) or (len(member) > 1 and member[1] == ":"):
        return True
    return any(part == ".." for part in member.replace("\\", "/").split("/"))


def _ignorable(rel: str) -> bool:
    parts = rel.replace("\\", "/").split("/")
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, total: int, label: str
) -> tuple[list[bytes], int]:
    """Read one member in memory, stopping as soon as it grows past what is allowed."""
    chunks = []
    size = 0
    with zf.open(info) as fh:
        while chunk := fh.read(1024**2):
            size += len(chunk)
            total += len(chunk)
            if (
                size > info.file_size
                or total > MAX_TOTAL_BYTES
                or (size > RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1))
            ):
                raise _problem(
                    label,
                    "a member unpacks to more than it declares or than "
                    "allowed (a zip bomb?); refused",
                    value=info.filename,
                )
            chunks.append(chunk)
    return chunks, total


def _zip_members(path: Path, label: str) -> list[tuple[str, bytes]]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise _problem(label, "not a readable ZIP archive") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        for info in infos:
            if _unsafe_name(info.filename):
                raise _problem(
                    label,
                    "unsafe member name in the ZIP (absolute path or '..'); the archive is refused",
                    value=info.filename,
                )
        infos = [i for i in infos if not _ignorable(i.filename)]
        if len(infos) > MAX_MEMBERS:
            raise _problem(label, f"the ZIP holds {len(infos)} files; at most {MAX_MEMBERS}")
        declared = sum(i.file_size for i in infos)
        if declared > MAX_TOTAL_BYTES:
            raise _problem(label, f"the ZIP unpacks to {declared} bytes; at most {MAX_TOTAL_BYTES}")
        members = []
        total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise _problem(
                    label, "encrypted ZIP members are not supported", value=info.filename
                )
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise _problem(
                    label, "compression ratio too high (a zip bomb?); refused", value=info.filename
                )
            try:
                chunks, total = _read_member(zf, info, total, label)
            except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError, EOFError):
                raise _problem(
                    label,
                    "damaged ZIP member (its size or checksum does not match)",
                    value=info.filename,
                ) from None
            members.append((info.filename, b"".join(chunks)))
        return members


def _dir_members(path: Path) -> list[tuple[str, bytes]]:
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not p.is_symlink() and not _ignorable(str(p.relative_to(path)))
    )
    if len(files) > MAX_MEMBERS:
        raise _problem(path.name, f"the folder holds {len(files)} files; at most {MAX_MEMBERS}")
    if sum(p.stat().st_size for p in files) > MAX_TOTAL_BYTES:
        raise _problem(path.name, f"the folder holds more than {MAX_TOTAL_BYTES} bytes")
    return [(p.relative_to(path).as_posix(), p.read_bytes()) for p in files]


def _members(path: Path) -> tuple[list[tuple[str, bytes]], bool]:
    """(files of the bundle, whether it is a collection rather than one file)."""
    if path.is_dir():
        return _dir_members(path), True
    if not path.is_file():
        raise _problem(path.name, "no such file or folder")
    suffix = path.suffix.lower()
    if suffix in ZIP_SUFFIXES:
        return _zip_members(path, path.name), True
    if suffix in CSV_SUFFIXES | XLSX_SUFFIXES:
        if path.stat().st_size > MAX_TOTAL_BYTES:
            raise _problem(path.name, f"the file is larger than {MAX_TOTAL_BYTES} bytes")
        return [(path.name, path.read_bytes())], False
    raise _problem(path.name, "not a CSV, XLSX or ZIP file; export the tables as CSV or XLSX")


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
        else _empty(list(picked.values()))
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
        members, collection = _members(path)
    except Rejected as exc:
        return [], [], [exc.problem], []
    for rel, data in members:
        member = PurePosixPath(rel.replace("\\", "/"))
        suffix = member.suffix.lower()
        hint = headers.table_for(member.stem)
        label = rel if collection else path.name
        try:
            if suffix in ZIP_SUFFIXES:
                raise _problem(label, "a ZIP inside the bundle is not supported; unpack it")
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
                raise _problem(
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
        for table, file, header, frame, rows, mask in sheets:
            raw = _raw(table, file, header, frame, rows, mask, aliases, problems, warnings)
            if raw is not None:
                raws.append(raw)
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
    communities_file: Path | None = None,
    previous: Generation | None = None,
) -> Bundle:
    """Read and validate one bundle; raises BundleRejected listing every problem found."""
    from etl import legacy

    if legacy.detect(path):
        return legacy.read_legacy(path, communities_file=communities_file, previous=previous)
    from etl import validate  # noqa: PLC0415 - validate imports this module's RawTable

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
