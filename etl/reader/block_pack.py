"""The file that keeps validated ledger chunks from one import to the next
(etl.reader.block_cache says what is in it and why).

One file, DATA/cache/ledger-blocks.pack (a fixed name, never built from data): a magic line,
then entries of (key, kind, length, CRC-32, payload). Each import writes a new pack beside the
old one, with only what it read itself, and renames it over the old one once the whole ledger
was read: the cache holds one ledger and does not grow, and a crash leaves the old pack whole
(or, should a rename outlive its data, entries whose CRC does not check out). An entry that
does not check out, a torn end, a file that is not a pack: all are simply not found.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from pathlib import Path
from typing import Any

Buffer = Any  # bytes, or anything with the buffer protocol (a numpy array)

PACK = "ledger-blocks.pack"
MAGIC = b"EBOK-ledger-blocks-3\n"
_ENTRY = struct.Struct("<32sBQI")  # key, kind, payload length, CRC-32 of the payload


class Pack:
    """The previous import's pack (read) and this import's (being written)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / PACK
        for stale in directory.glob(f".{PACK}.tmp-*"):  # left by an import that was killed
            stale.unlink(missing_ok=True)
        # Read with pread, not mapped: a file cut short under a mapping kills the process.
        self._old: int | None = None
        self._index: dict[bytes, tuple[int, int, int, int]] = {}
        try:
            self._old = os.open(self.path, os.O_RDONLY)
            self._index = _index(self._old)
        except OSError:  # none yet
            self._index = {}
        self._tmp = directory / f".{PACK}.tmp-{os.getpid()}"
        self._out = open(self._tmp, "wb", buffering=1 << 20)  # noqa: SIM115 - commit, abort
        self._out.write(MAGIC)
        self._written: set[bytes] = set()

    def get(self, key: bytes, kind: int) -> bytes | None:
        """The payload kept under `key`, if there is one of this kind and it checks out."""
        found = self._index.get(key)
        if found is None or found[0] != kind or self._old is None:
            return None
        _, at, length, crc = found
        try:
            payload = os.pread(self._old, length, at)
        except OSError:
            return None
        if len(payload) != length or zlib.crc32(payload) != crc:
            return None
        return payload

    def put(self, key: bytes, kind: int, payload: bytes | list[Buffer]) -> None:
        """Keep `payload` (bytes, or buffers written one after the other, never joined: a
        block's rows are megabytes) under `key` in the new pack (once). A pack that cannot
        be written (a full disk) is given up: the import goes on without it."""
        if key in self._written or self._out.closed:
            return
        self._written.add(key)
        parts = [payload] if isinstance(payload, bytes) else payload
        length = crc = 0
        for part in parts:
            view = memoryview(part).cast("B")
            length += view.nbytes
            crc = zlib.crc32(view, crc)
        try:
            self._out.write(_ENTRY.pack(key, kind, length, crc))
            for part in parts:
                self._out.write(part)
        except OSError:
            self._give_up()

    def commit(self) -> None:
        """This import's entries become the pack (unless it was given up: the old one stays,
        its entries as good as ever)."""
        if not self._out.closed:
            try:
                self._out.close()
                os.replace(self._tmp, self.path)
            except OSError:
                self._give_up()
        self._close_old()

    def abort(self) -> None:
        self._give_up()
        self._close_old()

    def _give_up(self) -> None:
        """No new pack: what was written of it goes (the old one is still read)."""
        with contextlib.suppress(OSError):
            self._out.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink(missing_ok=True)

    def _close_old(self) -> None:
        if self._old is not None:
            os.close(self._old)
            self._old = None


def _index(fd: int) -> dict[bytes, tuple[int, int, int, int]]:
    """key -> (kind, offset, length, crc) of every whole entry (a torn end is left out)."""
    size = os.fstat(fd).st_size
    if os.pread(fd, len(MAGIC), 0) != MAGIC:
        return {}
    index = {}
    at = len(MAGIC)
    while at + _ENTRY.size <= size:
        key, kind, length, crc = _ENTRY.unpack(os.pread(fd, _ENTRY.size, at))
        at += _ENTRY.size
        if at + length > size:
            break
        index[key] = (kind, at, length, crc)
        at += length
    return index
