"""Validated tables other than the ledger kept from the last import, so that a re-import of a
file whose bytes did not change takes its validated frame instead of parsing it again.

A manager re-imports the whole export every time, and most of its files are what they were
(the fees of 50,000 premises, 283,653 lines, took 0.3-0.7 s to parse and validate again). The
ledger has its own chunk cache (etl.reader.block_cache); this one keeps a whole table.

An entry is found by a key made of everything that decides what the file validates to: its
SHA-256 and size, the table, the file's name (it is each row's `_file`), the header line and
which column is which (the aliases' effect), the encoding, a digest of the code that reads and
validates (`CODE`, etl.model, etl.snapshot.money: the separator and the encoding are decided
from the file's bytes by that code) and the pandas, pyarrow and numpy versions; for the premises
also a digest of their communities' places (etl.reader.validate._community_places: the postal
code and city an empty one takes, from the communities file or the last generation), which are
cheap to compute (0.04 s) where validating 50,000 premises is not (0.1 s). Only a table that
validated with no problem and no warning is kept, so a problem is always found and worded by
the validation itself.

One file per table, DATA/cache/tables/<table>.arrow (a fixed name, never built from data): the
frame as an Arrow IPC file (read memory-mapped) and its CRC-32, then a JSON head (the key, and
for a streamed table the file's size, encoding and header, by which `Kept` finds it before
scanning the file), its length and a magic line. Each import replaces its tables' files (temporary
file, then os.replace), so the folder holds one generation of entries and does not grow. A
file that is damaged, cut short or of another key is simply not found; a data dir where the
cache cannot be written imports as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.ipc

import etl.model
from etl.model import SourceFile
from etl.reader import validate
from etl.reader.archive import Member
from etl.reader.block_cache import cache_dir
from etl.reader.first_pass import Scan
from etl.reader.headers import Aliases, HeaderMap
from etl.reader.raw import Problems, RawTable
from etl.snapshot import money

# Bump when what a table validates to changes in a way the code digest would not show.
RULES = "1"
FOLDER = "tables"
STREAMED = frozenset({"fees"})  # kept as read in blocks (etl.reader.table_blocks)
# Kept as read whole: their rules read nothing but their own file.
WHOLE = frozenset({"allowances", "communities"})
# Kept as read whole, validated once the communities' places are known (`_premises`).
PREMISES = "premises"
MAGIC = b"EBOK-table-cache-1\n"
_LENGTH = struct.Struct("<I")
_CRC = struct.Struct("<I")  # CRC-32 of the Arrow file, at the end of the body
_BROKEN = (OSError, ValueError, KeyError, TypeError, IndexError, struct.error, pa.ArrowException)


# The code a kept table's file goes through, from its encoding to the normalised frame
# (etl.reader modules by file name: bundle.py imports this one).
CODE = (
    *("bundle.py", "cell_columns.py", "cells.py", "chunks.py", "column_checks.py"),
    *("encoding.py", "first_pass.py", "headers.py", "raw.py", "sheets.py", "stream.py"),
    *("table_blocks.py", "table_cache.py", "validate.py"),
)


@functools.cache
def _code_digest() -> str:
    """A digest of the code that decides what a file validates to: a rule changed leaves the
    cache behind even where RULES was not bumped."""
    here = Path(__file__).parent
    files = [*(here / name for name in CODE), Path(etl.model.__file__ or ""), Path(money.__file__)]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


def key(table: str, label: str, file: list, header: list[str], mapping: list) -> str:
    """The key of a CSV file's validated table: `file` its SHA-256, size (and encoding),
    `mapping` which of its columns is which (see the module's docstring)."""
    return hashlib.sha256(
        orjson.dumps(
            [
                *(RULES, _code_digest(), pd.__version__, pa.__version__, np.__version__),
                *(table, label, file, header, mapping),
            ]
        )
    ).hexdigest()


def _path(work_dir: Path, table: str) -> Path:
    if table not in STREAMED | WHOLE | {PREMISES}:  # the name is one of ours, never a file's
        raise ValueError(f"table {table} is not kept")
    return cache_dir(work_dir) / FOLDER / f"{table}.arrow"


def _entry(work_dir: Path, table: str) -> tuple[dict, pa.Buffer] | None:
    """The head and the body of the entry of `table` (mapped, not read), or None."""
    try:
        data = pa.memory_map(str(_path(work_dir, table))).read_buffer()
        view = memoryview(data)
        end = len(view) - len(MAGIC) - _LENGTH.size
        if end < 0 or bytes(view[end + _LENGTH.size :]) != MAGIC:
            return None
        (length,) = _LENGTH.unpack_from(view, end)
        head = orjson.loads(bytes(view[max(0, end - length) : end]))
        if not isinstance(head, dict) or head.get("body") != end - length:
            return None
        return head, data.slice(0, end - length)
    except _BROKEN:
        return None


def load(work_dir: Path, table: str, wanted: str, **options: bool) -> pd.DataFrame | None:
    """The frame kept under `wanted`, or None (none kept, another key, a damaged file).
    `options` go to pyarrow's to_pandas."""
    entry = _entry(work_dir, table)
    if entry is None or entry[0].get("key") != wanted:
        return None
    return _frame(entry[1], **options)


def _frame(body: pa.Buffer, **options: bool) -> pd.DataFrame | None:
    try:
        (crc,) = _CRC.unpack_from(memoryview(body), body.size - _CRC.size)
        if zlib.crc32(body.slice(0, body.size - _CRC.size)) != crc:
            return None
        arrow = pa.ipc.open_file(body.slice(0, body.size - _CRC.size)).read_all()
        return arrow.to_pandas(**options)
    except _BROKEN:
        return None


def _narrow(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow, text with 32-bit offsets (pandas' 64-bit ones were a fifth of the
    file; reading restores them)."""
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [
        field.with_type(pa.string()) if field.type == pa.large_string() else field
        for field in arrow.schema
    ]
    return arrow.cast(pa.schema(fields, metadata=arrow.schema.metadata))


def keep(work_dir: Path, table: str, head: dict, frame: pd.DataFrame) -> None:
    """`frame` becomes the entry of `table` (replacing the last import's), `head` (its "key",
    and what else `Kept` finds it by) after it. Nothing is kept, and nothing said, where the
    cache cannot be written. The body is written straight to the file (no copy in memory),
    then its CRC read back from the page cache and put after it with the head."""
    folder = _path(work_dir, table).parent
    tmp = folder / f".{table}.arrow.tmp-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        arrow = _narrow(frame)
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, arrow.schema) as writer:
            writer.write_table(arrow)
        body = pa.memory_map(str(tmp)).read_buffer()
        crc, size = _CRC.pack(zlib.crc32(body)), body.size + _CRC.size
        del body
        tail = orjson.dumps({**head, "body": size})
        with open(tmp, "ab") as fh:
            fh.write(crc + tail + _LENGTH.pack(len(tail)) + MAGIC)
        os.replace(tmp, _path(work_dir, table))
    except _BROKEN:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def forget(work_dir: Path, table: str) -> None:
    """The entry of `table` goes (this import's file did not validate cleanly): the folder
    keeps only what the last import could keep."""
    with contextlib.suppress(OSError):
        _path(work_dir, table).unlink(missing_ok=True)


class Kept:
    """The cache of a streamed table (STREAMED), asked before the file is scanned: when the
    last import kept this very file (same SHA-256, and its header, encoding and mapping, as
    kept beside it, give the same key), `frame` is its validated table and `found` the scan's
    result, and the file is neither scanned nor parsed; else both are None (scan, read and
    validate, then `keep`). Hashing the file costs a third of scanning it."""

    def __init__(
        self, work_dir: Path | None, table: str, label: str, file: Member, aliases: Aliases
    ) -> None:
        self.work_dir = work_dir if table in STREAMED else None
        self.table, self.label = table, label
        self.frame: pd.DataFrame | None = None
        self.found: Scan | None = None
        entry = _entry(self.work_dir, table) if self.work_dir is not None else None
        if entry is None:
            return
        head, body = entry
        try:
            if head["size"] != file.size():
                return
            found = Scan(head["encoding"], file.sha256, head["size"])
            matched = aliases.match(table, head["header"])
            if head["key"] == self._key(found, head["header"], matched):
                self.frame = _frame(body)
                self.found = found if self.frame is not None else None
        except (*_BROKEN, AttributeError):
            return

    def _key(self, found: Scan, header: list[str], matched: HeaderMap) -> str:
        mapping = [sorted(matched.columns.items()), sorted(matched.written.items())]
        mapping += [matched.polish, matched.unknown, matched.duplicates, matched.missing]
        file = [found.sha256, found.size, found.encoding]
        return key(self.table, self.label, file, header, mapping)

    def keep(
        self,
        done: pd.DataFrame,
        found: Scan,
        header: list[str],
        matched: HeaderMap,
        problems: Problems,
        warnings: list[str],
    ) -> None:
        """Keep the table validated now, if it validated with no problem and no warning."""
        if self.work_dir is None:
            return
        if problems.total or warnings:
            forget(self.work_dir, self.table)
            return
        wanted = self._key(found, header, matched)
        head = {"key": wanted, "size": found.size, "encoding": found.encoding, "header": header}
        keep(self.work_dir, self.table, head, done)


def settle(raw: RawTable, source: SourceFile, header: list[str], work_dir: Path | None) -> None:
    """A table of WHOLE read from a CSV file validated at once (`RawTable.done`, as a streamed
    one is), or taken from the cache when the last import validated the same file cleanly.
    Its RawTable stays whole: the premises' defaults and the reference checks read it.
    The premises are validated later, once their communities' places are known: their
    RawTable is given the way to the cache (`RawTable.cached`, `_premises`)."""
    if work_dir is None or raw.table not in WHOLE | {PREMISES}:
        return
    file = ["whole", source.sha256, source.size]
    mapping = [sorted(raw.headers.items()), raw.polish]
    if raw.table == PREMISES:
        raw.cached = functools.partial(_premises, work_dir, [file, header, mapping])
        return
    wanted = key(raw.table, raw.file, file, header, mapping)
    found = Problems()
    done = load(work_dir, raw.table, wanted)
    if done is None:
        done = validate.VALIDATORS[raw.table](raw, found)
        if found.total:
            forget(work_dir, raw.table)
        else:
            keep(work_dir, raw.table, {"key": wanted}, done)
    raw.done, raw.found = done, found


def _premises(
    work_dir: Path,
    parts: list,
    raw: RawTable,
    problems: Problems,
    places: dict[str, tuple[str, str]],
) -> pd.DataFrame:
    """The premises validated given `places` (as validate.premises, which validate.validate
    calls this for), or the last import's frame of the same file (`parts`: its key's, from
    settle) and the same places."""
    digest = hashlib.sha256(orjson.dumps(sorted(places.items()))).hexdigest()
    file, header, mapping = parts
    wanted = key(PREMISES, raw.file, file, header, [*mapping, digest])
    done = load(work_dir, PREMISES, wanted, integer_object_nulls=True)
    if done is not None:  # ints and None, as validated (Arrow has int64 or null)
        done["occupants"] = done["occupants"].astype(object)
        return done
    before = problems.total
    done = validate.premises(raw, problems, places)
    if problems.total > before:
        forget(work_dir, PREMISES)
    else:
        keep(work_dir, PREMISES, {"key": wanted}, done)
    return done
