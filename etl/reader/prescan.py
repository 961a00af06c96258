"""The first pass over a bundle's big CSV files (etl.reader.first_pass.scan), run in a helper
process started before the import loads its libraries.

The first pass over a 308 MB ledger is ~0.9 s of work that holds Python's GIL most of the time
(cutting chunks, counting bytes for the encoding), and loading pandas, numpy and pyarrow is
another ~0.5-0.7 s that holds it too: in one process they take turns, whatever threads do.
A second process cuts and hashes the file on the other core while this one loads its
libraries and reads the smaller files; this one then finds the encoding (`Scans.get`) while
the helper finishes. Delta re-imports of the 5 M-row bench bundle: median 2.91 s against
3.12 s without a helper; then 2.34-2.52 s against 2.54-2.80 s once the encoding moved here.

What the helper finds is used only for the very file it scanned: its size, modification time
and inode, taken before and after the pass, must still be the file's when its scan is asked
for. Anything else (no helper, a helper that failed or was killed, a file changed since) and
the reader scans the file itself, as it always did; a refusal (`NotStreamable`) is the same
refusal either way. The helper reads only the files it is given, and only to scan them.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl.reader.archive import Member
    from etl.reader.headers import Aliases

MIN_BYTES = 32 * 1024**2  # smaller files: the helper's start (~0.2 s) costs what it saves
MAX_FILES = 4
TABLES = frozenset({"ledger", "fees"})  # the tables read in blocks (etl.reader.bundle.STREAMED)
_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from etl.reader.prescan import main; main()"

Stamp = tuple[int, int, int]  # size, modification time (ns), inode


class Scans:
    """The helper's scans, asked for by path (`get`); close it (or use it as a context
    manager) to stop a helper whose scans are no longer wanted."""

    def __init__(self, files: list[Path], proc: subprocess.Popen[bytes] | None) -> None:
        self.files = files
        self._proc = proc
        self._records: dict[str, dict[str, Any]] = {}
        self._found: dict[Path, Any] = {}  # what `get` gave: a reading may ask twice
        self._done = proc is None

    def holds(self, path: Path | None) -> bool:
        """Whether the helper was given this file to scan."""
        return path is not None and any(path == f for f in self.files)

    def put_last(self, files: list[Member], aliases: Aliases) -> None:
        """The bundle's files it scans put last, so that the others are read meanwhile, and in
        the order it scans them: the reader asking first for a file the helper comes to last
        would wait for the others' scans too (20 M-row bundle: ~1.5 s idle for the 66 MB fees
        file behind the 1.2 GB ledger). The helper is stopped at once when the head of a file
        it scans already refuses it (a big file that is no table: its scan would only take a
        core from the reading)."""
        from etl.reader.archive import HEAD_BYTES
        from etl.reader.header_checks import refused_by_header
        from etl.reader.headers import table_for

        order = {path: at for at, path in enumerate(self.files)}
        files.sort(key=lambda entry: order.get(entry.path, -1))
        for entry in files:
            table = table_for(PurePosixPath(entry.name.replace("\\", "/")).stem)
            if table and self.holds(entry.path):
                if refused_by_header(table, entry.name, entry.head(HEAD_BYTES), aliases):
                    self.close()
                    return

    def get(self, path: Path | None) -> Any:
        """The first_pass.Scan of `path`, if the helper scanned this very file; None if it did
        not (the caller scans it). Raises first_pass.NotStreamable where the first pass
        refuses the file. The encoding is found here, while the helper makes the rest: the
        reader would only wait for the helper meanwhile."""
        if path is None or not self.holds(path):
            return None
        found = self._found.get(path)
        if found is not None and found[0] == _stamp(path):
            if isinstance(found[1], Exception):
                raise found[1]
            return found[1]
        from etl.reader import first_pass  # numpy: not needed before the reader runs

        before = _stamp(path)
        refused: first_pass.NotStreamable | None = None
        try:
            with path.open("rb") as fh:
                encoding = first_pass.encoding_of(fh)
        except first_pass.NotStreamable as exc:
            encoding, refused = "", exc
        except OSError:
            return None
        record = self._record(str(path))
        if record is None or not record["stamp"] == before == _stamp(path):
            return None
        if "refused" in record:
            refused = first_pass.NotStreamable(record["refused"])
        result = refused or replace(first_pass.unpacked(record), encoding=encoding)
        self._found[path] = (before, result)
        if refused is not None:
            raise refused
        return result

    def _record(self, name: str) -> dict[str, Any] | None:
        while name not in self._records and not self._done:
            assert self._proc is not None and self._proc.stdout is not None
            try:
                record = pickle.load(self._proc.stdout)
            except Exception:  # the helper is gone (EOFError) or wrote something else
                self._done = True
                break
            if isinstance(record, dict) and "path" in record:
                self._records[record["path"]] = record
        return self._records.get(name)

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()  # done already, or its scans are not wanted any more
            self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        self._done = True

    def __enter__(self) -> Scans:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def candidates(path: Path, min_bytes: int = MIN_BYTES) -> list[Path]:
    """The files of the bundle at `path` (a folder or one CSV file) worth scanning ahead: CSV
    files of a table read in blocks, at least `min_bytes` long, biggest first."""
    # Here: the helper, which only scans, needs neither.
    from etl.reader.archive import CSV_SUFFIXES, MAX_TOTAL_BYTES
    from etl.reader.headers import table_for

    try:
        if path.is_dir():
            files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
        elif path.is_file():
            files = [path]
        else:
            return []
        wanted = [
            p
            for p in files
            if p.suffix.lower() in CSV_SUFFIXES
            and table_for(p.stem) in TABLES
            and min_bytes <= p.stat().st_size <= MAX_TOTAL_BYTES  # bigger: refused unread
        ]
    except OSError:
        return []
    return sorted(wanted, key=lambda p: -p.stat().st_size)[:MAX_FILES]


def started(path: Path, min_bytes: int | None = None) -> Scans:
    """A helper scanning the big CSV files of the bundle at `path`, or none (nothing worth
    it, or the helper cannot start: the reader then scans as it always did)."""
    files = candidates(path, MIN_BYTES if min_bytes is None else min_bytes)
    if not files:
        return Scans([], None)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, _ROOT, *map(str, files)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # It does no linear algebra: numpy's OpenBLAS threads only spun idle (0.05 s of
            # CPU of the helper's ~1 s for a 308 MB ledger).
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        )
    except OSError:
        return Scans([], None)
    return Scans(files, proc)


def main(argv: list[str] | None = None, out: IO[bytes] | None = None) -> None:
    """The helper: each file's scan (or why the first pass refuses it) written to `out` as it
    is done; a file it cannot read or that changed while it was read is left out."""
    from etl.reader import first_pass

    stream = out if out is not None else sys.stdout.buffer
    for name in argv if argv is not None else sys.argv[2:]:
        path = Path(name)
        try:
            before = _stamp(path)
            with path.open("rb") as fh:
                found = first_pass.scan(fh, encoding=False)  # the reader finds it: Scans.get
            record: dict[str, Any] = first_pass.packed(found)
        except first_pass.NotStreamable as exc:
            record = {"refused": str(exc)}
        except OSError:
            continue
        if _stamp(path) != before:
            continue
        pickle.dump({"path": name, "stamp": before, **record}, stream, pickle.HIGHEST_PROTOCOL)
        stream.flush()


def _stamp(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)
