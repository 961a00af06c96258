"""A validated ledger too big to keep in memory, kept on disk in buckets of premises.

Held compactly, a ledger costs ~40 bytes a row: 200 MB for 5 million rows, 800 MB for the 20
million of a large manager's portfolio, before publishing makes anything of it. Above
`SPILL_ABOVE` bytes of CSV, each validated block (etl.reader.ledger_blocks) is split by a
hash of its premises ids into `BUCKET_BYTES`-sized buckets, each an anonymous temporary file
(gone when closed, or when the process dies) in the data dir's scratch folder. Every row of a
premises lands in the same bucket, so the publisher builds documents one bucket at a time
(etl.publisher.publish) and memory holds one bucket, whatever the size of the export.

The buckets are written and read back by this process only, never kept: pickle of numpy
arrays and short lists of distinct values is the fastest faithful round trip for them.
"""

from __future__ import annotations

import math
import pickle
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from etl.reader.stream import Coded, Part, joined

SPILL_ABOVE = 512 * 1024**2  # bytes of a CSV ledger kept in memory; a bigger one is spilled
BUCKET_BYTES = 64 * 1024**2  # bytes of CSV per bucket: ~1 million rows, ~40 MB validated


class SpillFailed(OSError):
    """The work folder could not take the spilled ledger (full, not writable): said as such,
    not as a file of the export that cannot be read."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(
            cause.errno,
            "the ledger is too big to import in memory and could not be put aside in the data "
            f"dir's work/ folder ({cause.strerror or cause}); it needs about the ledger's size "
            "of free space there",
        )


def bucket_count(size: int, *, above: int | None = None, per: int | None = None) -> int:
    """Buckets for a ledger file of `size` bytes: 1 (kept in memory) up to `above`."""
    above = SPILL_ABOVE if above is None else above
    per = BUCKET_BYTES if per is None else per
    return 1 if size <= above else max(2, math.ceil(size / per))


def buckets_of(premises_ids: Iterable[str], count: int) -> np.ndarray:
    """The bucket of each premises id: the same in every process and every run (str's hash
    is not), so a premises' rows from every block meet in one bucket."""
    return np.fromiter(
        (zlib.crc32(p.encode()) % count for p in premises_ids), dtype=np.int64
    ).astype(np.int64)


def _subset(column: Coded, keep: np.ndarray) -> Coded:
    """The rows `keep` of a coded column, with only the distinct values they use (marked and
    renumbered in one pass each: a sort per bucket was a fifth of reading a big ledger)."""
    codes = column.codes[keep]
    present = np.zeros(len(column.values), dtype=bool)
    present[codes] = True
    used = np.flatnonzero(present)
    renumber = np.zeros(len(column.values), dtype=codes.dtype)
    renumber[used] = np.arange(len(used), dtype=codes.dtype)
    return Coded(renumber[codes], [column.values[i] for i in used.tolist()])


class Spill:
    """Validated blocks written into buckets as they come; `table()` when the file is read."""

    def __init__(self, count: int, columns: list[str], work_dir: Path | None = None) -> None:
        self.columns = columns
        try:
            if work_dir is not None:
                work_dir.mkdir(parents=True, exist_ok=True)
            self.files: list[IO[bytes]] = [
                tempfile.TemporaryFile(dir=work_dir, prefix="ledger-") for _ in range(count)
            ]
        except OSError as exc:
            raise SpillFailed(exc) from None
        self.rows = 0
        self.premises: set[str] = set()

    def add(self, part: Part) -> None:
        pid = part["premises_id"]
        assert isinstance(pid, Coded)
        self.premises.update(pid.values)
        per_value = buckets_of(pid.values, len(self.files))
        per_row = per_value[pid.codes] if len(per_value) else np.zeros(0, np.int64)
        self.rows += len(per_row)
        # The rows of each bucket, in file order: one stable sort by bucket number.
        order = np.argsort(per_row.astype(np.int16), kind="stable")
        ends = np.cumsum(np.bincount(per_row, minlength=len(self.files)))
        for bucket, fh in enumerate(self.files):
            keep = order[ends[bucket - 1] if bucket else 0 : ends[bucket]]
            if not len(keep):
                continue
            piece = {
                name: _subset(column, keep) if isinstance(column, Coded) else column[keep]
                for name, column in part.items()
            }
            try:
                pickle.dump(piece, fh, protocol=pickle.HIGHEST_PROTOCOL)
            except OSError as exc:
                raise SpillFailed(exc) from None
        part.clear()

    def table(self, table: str, file: str) -> SpilledTable:
        return SpilledTable(table, file, self.columns, self.files, self.rows, self.premises)


class SpilledTable:
    """A validated table on disk in premises buckets: what the reference checks and the
    publisher need of it without loading it whole (its length, its distinct premises, the rows
    of some premises), and each bucket as a frame like the in-memory table's."""

    def __init__(
        self,
        table: str,
        file: str,
        columns: list[str],
        files: list[IO[bytes]],
        rows: int,
        premises: set[str],
    ) -> None:
        self.table, self.file, self.columns = table, file, columns
        self.files = files
        self.rows = rows
        self.premises_ids = premises

    def __len__(self) -> int:
        return self.rows

    @property
    def buckets(self) -> int:
        return len(self.files)

    def _pieces(self, bucket: int) -> list[Part]:
        fh = self.files[bucket]
        fh.seek(0)
        pieces: list[Part] = []
        while True:
            try:
                pieces.append(pickle.load(fh))
            except EOFError:
                return pieces

    def frame(self, bucket: int) -> pd.DataFrame:
        """The rows of one bucket, in file order, as the in-memory table has them."""
        pieces = self._pieces(bucket)
        if not pieces:
            return pd.DataFrame({"premises_id": pd.Series([], dtype=object)})
        done = joined(pieces, self.columns)
        done["_file"] = pd.Categorical.from_codes(np.zeros(len(done), np.int8), [self.file])
        return done

    def rows_of(self, premises_ids: set[str]) -> pd.DataFrame:
        """premises_id and _row of every row of these premises, in file order (for problems
        that name them)."""
        wanted = sorted(premises_ids)
        buckets = set(buckets_of(wanted, self.buckets).tolist())
        found: list[pd.DataFrame] = []
        for bucket in sorted(buckets):
            for piece in self._pieces(bucket):
                pid = piece["premises_id"]
                assert isinstance(pid, Coded)
                member = np.array([v in premises_ids for v in pid.values] + [False])
                at = np.flatnonzero(member[pid.codes])
                if len(at):
                    found.append(
                        pd.DataFrame(
                            {
                                "premises_id": [pid.values[c] for c in pid.codes[at].tolist()],
                                "_row": piece["_row"][at],  # type: ignore[index]
                            }
                        )
                    )
        if not found:
            return pd.DataFrame({"premises_id": [], "_row": np.zeros(0, np.int64)})
        rows = pd.concat(found, ignore_index=True)
        return rows.sort_values("_row", kind="stable").reset_index(drop=True)

    def bucket_of(self, premises_ids: list[str]) -> np.ndarray:
        return buckets_of(premises_ids, self.buckets)

    def close(self) -> None:
        for fh in self.files:
            fh.close()
