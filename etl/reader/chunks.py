"""Where a big CSV file is cut into chunks that a re-import can recognise (content-defined
chunking at line breaks).

A re-import of a ledger with a few rows changed should parse only the rows around the changes
(etl.reader.block_cache). Chunks cut at fixed byte offsets cannot be recognised: a value one
character longer moves every later cut. Here a chunk ends after a line whose last few bytes
(and its length) hash to a value under a threshold, at least MIN_BYTES and at most MAX_BYTES
after the chunk's start; a change moves only the cuts up to the next line that qualifies,
so the chunks after it keep their bytes (and their digests). The threshold grows with the
line's length, so the chunks are AVERAGE_BYTES long on average whatever the lines are like.

Why chunks are smaller than a parsed block (16 MiB): the changes of a re-import are spread
over the file (1 % of premises of a ledger sorted by premises, one row each); of 308 MB in
1 MiB chunks, 490 scattered changes leave ~20 % of them untouched, in 64 KiB chunks ~90 %,
in 16 KiB chunks ~97.5 %. A run of chunks that must be parsed is parsed as one block, so
small chunks cost no parse; a re-import reads only the changed chunks and the premises they
hold (etl.reader.ledger_delta), so smaller chunks mean less to read again: 16 KiB chunks
(~250 ledger rows, two or three premises) took the re-import's reading of the 5 M-row ledger
from 2.4 to 2.1-2.2 s against 64 KiB ones, at 19,000 chunks and a 2.4 MB map.

The chunker is fed the file a piece at a time (fused with the encoding scan and the file's
SHA-256 in etl.reader.first_pass.scan) and looks at line breaks a sub-piece at a time, so its
arrays stay in the processor's cache.

A chunk is known by its XXH3-128 digest, not SHA-256: 0.03 s for the 19,000 chunks of a 308 MB
ledger against 0.21 s. It only tells a re-import which chunks it has seen before (and names
their cached rows), so it need not resist a forger: whoever could craft two exports whose
chunks collide writes the export anyway. The file's own SHA-256, which the office panel shows
and an accountant can check, is still worked out whole.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import xxhash

from etl.mixing import mixed

DIGEST_BYTES = 16  # a chunk's digest: XXH3-128
MIN_BYTES = 8 * 1024
AVERAGE_BYTES = 16 * 1024
MAX_BYTES = 64 * 1024
WINDOW = 16  # bytes before a line break that decide whether to cut after it
_SUB = 512 * 1024  # bytes looked at in one step (the cuts do not depend on it)
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_K3 = np.uint64(0x165667B19E3779F9)


class Chunk(NamedTuple):
    """Bytes [start, end) of the file, lines [line, line + lines) (1-based; the header line is
    chunk 0, alone), and the digest of those bytes (XXH3-128). A tuple: the ~19,000 of a
    308 MB ledger are made again from arrays when a helper process scanned it
    (etl.reader.prescan)."""

    start: int
    end: int
    line: int
    lines: int
    digest: bytes


def qualifies(
    first: np.ndarray, second: np.ndarray, lengths: np.ndarray, average: int
) -> np.ndarray:
    """Whether to cut after each line, from the WINDOW bytes before its break (two
    little-endian words) and its length: a cut every `average - MIN_BYTES` bytes on average."""
    h = mixed(first * _K1 + second * _K2 + lengths.astype(np.uint64) * _K3)
    per_byte = (1 << 32) // max(1, average - MIN_BYTES)
    return (h >> np.uint64(32)) < lengths.astype(np.uint64) * np.uint64(per_byte)


class Chunker:
    """Cuts a file fed piece by piece; `finish` gives its chunks. The chunks' digests are
    worked out as they are cut, or (`digests`) by a ChunkDigests fed the same pieces, maybe
    in another thread (xxhash lets go of the GIL), once `feed` has cut each."""

    def __init__(
        self,
        min_bytes: int = MIN_BYTES,
        average: int = AVERAGE_BYTES,
        max_bytes: int = MAX_BYTES,
        *,
        digests: ChunkDigests | None = None,
    ) -> None:
        assert 0 < min_bytes <= max_bytes
        self.min, self.average, self.max = min_bytes, average, max_bytes
        self.bounds: list[tuple[int, int, int, int]] = []  # (start, end, line, lines)
        self.ends: list[int] = []  # where the chunks cut so far end
        self.digests = digests or ChunkDigests()
        self._inline = digests is None
        self._tail = b"\n" * WINDOW  # the bytes before the next piece (start: a line break)
        self._size = 0
        self._last_cut = 0
        self._line = 1  # the number of the line the current chunk starts with
        self._lines = 0  # line breaks in the current chunk so far
        self._header = True  # the first line break ends chunk 0 (the header)
        self._prev_break = -1  # the last line break seen (absolute), -1: none

    def feed(self, piece: bytes) -> None:
        view = memoryview(piece)
        for at in range(0, len(piece), _SUB):
            self._sub(view[at : at + _SUB])
        if self._inline:
            self.digests.feed(piece, self.ends)

    def _sub(self, sub: memoryview) -> None:
        base = self._size
        ext = self._tail + bytes(sub)
        self._size += len(sub)
        self._tail = ext[-WINDOW:]
        local = np.flatnonzero(np.frombuffer(ext, dtype=np.uint8)[WINDOW:] == 10)
        if not len(local):
            return
        breaks = local + base  # absolute offsets of the line breaks
        words = np.ndarray((len(ext) - 7,), dtype="<u8", buffer=ext, strides=(1,))
        lengths = np.diff(breaks, prepend=self._prev_break)
        good = breaks[qualifies(words[local], words[local + 8], lengths, self.average)]
        start = self._last_cut
        cuts: list[int] = []  # the chunks' ends in `sub`; their lines are counted at the end

        def cut(end: int) -> None:
            cuts.append(end)
            self._last_cut = end

        def force(limit: int) -> bool:
            """Cut at the last break of this sub-piece that keeps the chunk within max (or, a
            line being longer, at the first one); False when it has none after the last cut."""
            first = int(np.searchsorted(breaks, self._last_cut, side="left"))
            if first == len(breaks) or breaks[first] + 1 > limit:
                return False
            i = int(np.searchsorted(breaks, self._last_cut + self.max - 1, side="right"))
            cut(int(breaks[max(first, i - 1)]) + 1)
            return True

        if self._header:  # chunk 0 is the header line, alone
            cut(int(breaks[0]) + 1)
            self._header = False
        for end in (good + 1).tolist():
            if end <= self._last_cut:
                continue
            while end - self._last_cut > self.max and force(end):
                pass
            if end - self._last_cut >= self.min:
                cut(end)
        top = base + len(sub)
        while top - self._last_cut > self.max and force(top):
            pass
        counted = 0  # line breaks of `sub` in chunks so far
        ends = np.asarray(cuts, dtype=np.int64) - 1
        for end, upto in zip(
            cuts, np.searchsorted(breaks, ends, side="right").tolist(), strict=True
        ):
            lines = self._lines + upto - counted
            self.bounds.append((start, end, self._line, lines))
            self.ends.append(end)
            start, self._line, self._lines, counted = end, self._line + lines, 0, upto
        self._lines += len(breaks) - counted
        self._prev_break = int(breaks[-1])

    def finish(self) -> list[Chunk]:
        """The chunks: the last one ends at the end of the file (with or without a break).
        With a ChunkDigests of its own, only once that was fed every piece."""
        if self._size > self._last_cut:
            tail_lines = self._lines + (0 if self._size - 1 == self._prev_break else 1)
            self.bounds.append((self._last_cut, self._size, self._line, tail_lines))
        digests = self.digests.finish(len(self.bounds))
        return [Chunk(*bound, digest) for bound, digest in zip(self.bounds, digests, strict=True)]


class ChunkDigests:
    """The digest of each chunk, from the file's pieces in order and the chunks' ends."""

    def __init__(self) -> None:
        self.digests: list[bytes] = []
        self._hasher = xxhash.xxh3_128()
        self._size = 0

    def feed(self, piece: bytes, ends: list[int]) -> None:
        """The next piece; `ends` must hold every cut up to its end (more may follow)."""
        view = memoryview(piece)
        at = 0
        top = self._size + len(piece)
        while len(self.digests) < len(ends) and ends[len(self.digests)] <= top:
            end = ends[len(self.digests)] - self._size
            self._hasher.update(view[at:end])
            self.digests.append(self._hasher.digest())
            self._hasher.reset()
            at = end
        self._hasher.update(view[at:])
        self._size = top

    def finish(self, chunks: int) -> list[bytes]:
        if len(self.digests) < chunks:  # the last chunk, cut by the end of the file
            self.digests.append(self._hasher.digest())
        return self.digests
