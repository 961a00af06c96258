"""A validated ledger too big to keep in memory, kept on disk in buckets of premises.

Held compactly, a ledger costs ~40 bytes a row: 200 MB for 5 million rows, 800 MB for the 20
million of a large manager's portfolio, before publishing makes anything of it. Above
`SPILL_ABOVE` bytes of CSV, each validated block (etl.reader.ledger_blocks) is appended to
buckets of about `BUCKET_BYTES` of CSV, each an anonymous temporary file (gone when closed, or
when the process dies) in the data dir's work/ folder. Every row of a premises lands in the
same bucket (`Spill`), so the publisher builds documents one bucket at a time
(etl.publisher.builder) and memory holds one bucket, whatever the size of the export.

The buckets are written and read back by this process only, never kept: pickle of numpy
arrays and short lists of distinct values is the fastest faithful round trip for them.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from etl.reader.stream import Coded, Part, joined

SPILL_ABOVE = 512 * 1024**2  # bytes of a CSV ledger kept in memory; a bigger one is spilled
BUCKET_BYTES = 64 * 1024**2  # bytes of CSV per bucket: ~1 million rows, ~40 MB validated
BYTES_PER_ROW = 64  # a ledger line, about (the demo's are 62 bytes)


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


def spilled(size: int) -> bool:
    """Whether a ledger file of `size` bytes is spilled rather than kept in memory."""
    return size > SPILL_ABOVE


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
    """Validated blocks written into buckets as they come; `table()` when the file is read.

    A premises is given a bucket when its first row comes: the bucket being filled, until that
    holds `bucket_rows` rows and the next is started. An export lists a premises' rows
    together, so a block usually goes whole into one bucket (or two); rows of a premises that
    come back later still join their bucket."""

    def __init__(
        self, columns: list[str], work_dir: Path | None = None, bucket_rows: int | None = None
    ) -> None:
        self.columns = columns
        self.work_dir = work_dir
        self.bucket_rows = bucket_rows or max(1, BUCKET_BYTES // BYTES_PER_ROW)
        try:
            if work_dir is not None:
                work_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpillFailed(exc) from None
        self.files: list[IO[bytes]] = []
        self.filled = 0  # rows given to the last bucket
        self.rows = 0
        self.bucket: dict[str, int] = {}  # premises id -> its bucket

    def _new_bucket(self) -> int:
        try:
            self.files.append(tempfile.TemporaryFile(dir=self.work_dir, prefix="ledger-"))
        except OSError as exc:
            raise SpillFailed(exc) from None
        self.filled = 0
        return len(self.files) - 1

    def _buckets(self, values: list[str], counts: np.ndarray) -> np.ndarray:
        """The bucket of each distinct premises id of a block (`counts`: its rows)."""
        out = np.empty(len(values), dtype=np.int32)
        for i, (value, count) in enumerate(zip(values, counts.tolist(), strict=True)):
            bucket = self.bucket.get(value)
            if bucket is None:
                if not self.files or self.filled >= self.bucket_rows:
                    self._new_bucket()
                bucket = self.bucket[value] = len(self.files) - 1
            if bucket == len(self.files) - 1:
                self.filled += count
            out[i] = bucket
        return out

    def add(self, part: Part) -> None:
        pid = part["premises_id"]
        assert isinstance(pid, Coded)
        counts = np.bincount(pid.codes, minlength=len(pid.values))
        per_value = self._buckets(pid.values, counts)
        per_row = per_value[pid.codes] if len(per_value) else np.zeros(0, np.int32)
        self.rows += len(per_row)
        if not len(per_row):
            return
        first, last = int(per_row.min()), int(per_row.max())
        if first == last:  # the usual case: the whole block to one bucket
            self._write(first, part)
        else:  # the rows of each bucket, in file order: one stable sort by bucket number
            order = np.argsort(per_row - first, kind="stable")
            ends = np.cumsum(np.bincount(per_row - first))
            for offset in range(last - first + 1):
                keep = order[ends[offset - 1] if offset else 0 : ends[offset]]
                if len(keep):
                    self._write(first + offset, {
                        name: _subset(column, keep) if isinstance(column, Coded) else column[keep]
                        for name, column in part.items()
                    })  # fmt: skip
        part.clear()

    def _write(self, bucket: int, piece: Part) -> None:
        try:
            pickle.dump(piece, self.files[bucket], protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as exc:
            raise SpillFailed(exc) from None

    def table(self, table: str, file: str) -> SpilledTable:
        return SpilledTable(table, file, self.columns, self.files, self.rows, self.bucket)


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
        bucket: dict[str, int],
    ) -> None:
        self.table, self.file, self.columns = table, file, columns
        self.files = files
        self.rows = rows
        self._bucket = bucket  # premises id -> its bucket
        self.premises_ids = bucket.keys()

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

    def take(self, bucket: int) -> pd.DataFrame:
        """The rows of one bucket, as `frame` gives them, for the last time: its file is closed
        (its pages in the page cache freed), so that the documents published next are written
        into memory the kernel has just had back. Fresh memory is slow on a VM whose host takes
        back what the guest frees: SQLite's writes of a 20 M-row import's documents took 115 µs
        per 64 KB page against 18 µs in a 5 M-row one (docs/benchmarks.md)."""
        frame = self.frame(bucket)
        self.files[bucket].close()
        return frame

    def rows_of(self, premises_ids: set[str]) -> pd.DataFrame:
        """premises_id and _row of every row of these premises, in file order (for problems
        that name them)."""
        buckets = {self._bucket[p] for p in premises_ids if p in self._bucket}
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
        """The bucket of each premises (-1: none, it has no rows)."""
        return np.fromiter(
            (self._bucket.get(p, -1) for p in premises_ids), dtype=np.int64, count=len(premises_ids)
        )

    def close(self) -> None:
        for fh in self.files:
            fh.close()
