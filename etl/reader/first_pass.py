"""The first pass over a big CSV file (etl.reader.stream reads its rows in a second one): the
encoding, the file's SHA-256, where it is cut into chunks and their digests (etl.reader.chunks),
and whether any quoted value holds a line break, from one read of the file a piece at a time.

The encoding is decided over every byte as `etl.reader.encoding.choose_encoding` does: its
decision only depends on which bytes occur, so counts per piece add up to it. Whatever the
whole-file reading would refuse, or could only read whole, raises `NotStreamable`.
"""

from __future__ import annotations

import codecs
import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from etl.reader.archive import HEAD_BYTES
from etl.reader.chunks import DIGEST_BYTES, Chunk, ChunkDigests, Chunker
from etl.reader.encoding import _ASCII, _SAME, CANDIDATES, CP1250, RULED_OUT, WEIGHTS

BLOCK_BYTES = 16 * 1024**2  # the piece of a file read at once
AHEAD = 2  # pieces the hashing thread may be behind the reading (memory: BLOCK_BYTES each)


class NotStreamable(Exception):
    """The file must be read whole to be read exactly as `read_csv_bytes` reads it."""


@dataclass(frozen=True)
class Scan:
    """What the first pass found: the encoding, the file's SHA-256 and size, and where its
    lines are cut into chunks (etl.reader.chunks: chunk 0 is the header line)."""

    encoding: str
    sha256: str
    size: int
    chunks: tuple[Chunk, ...] = ()


def _hashed(piece: bytes, digest: Any, chunker: Chunker) -> None:
    digest.update(piece)
    chunker.digests.feed(piece, chunker.ends)


class _Bytes:
    """What decides the encoding, counted a piece at a time: `choose_encoding`'s decision
    only depends on which bytes occur, so counts per piece add up to it."""

    def __init__(self) -> None:
        self.strict = codecs.getincrementaldecoder("utf-8")()
        self.lenient = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.utf8 = True
        # the lenient UTF-8 reading of the non-ASCII bytes: its characters, its U+FFFD
        self.decoded = self.broken = 0
        self.high_bytes = 0
        self.counts = np.zeros(256, dtype=np.int64)

    def feed(self, piece: bytes) -> None:
        high = piece.translate(None, _ASCII)
        self.high_bytes += len(high)
        if not high:
            return
        if self.utf8:
            try:
                self.strict.decode(high)
            except UnicodeDecodeError:
                self.utf8 = False
        text = self.lenient.decode(high)
        self.decoded += len(text)
        self.broken += text.count("\ufffd")
        differing = high.translate(None, _SAME)
        if differing:
            self.counts += np.bincount(np.frombuffer(differing, dtype=np.uint8), minlength=256)

    def encoding(self, bom: bool) -> str:
        """The encoding of every byte fed; raises NotStreamable where `choose_encoding` would
        refuse the file."""
        tail = self.lenient.decode(b"", final=True)
        self.decoded += len(tail)
        self.broken += tail.count("\ufffd")
        if self.utf8:
            try:
                self.strict.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8 = False
        counts = self.counts
        if bom:
            return "utf-8-sig"
        if not self.high_bytes or self.utf8:
            return "utf-8"
        if self.decoded - self.broken >= 3 * self.broken:
            raise NotStreamable("UTF-8 with stray bytes")  # refused, with the line, when read whole
        if not counts.any():
            return CP1250
        values = np.flatnonzero(counts)
        score = {
            enc: None
            if RULED_OUT[enc][values].any()
            else int((WEIGHTS[enc][values] * counts[values]).sum())
            for enc in CANDIDATES
        }
        possible = [enc for enc in CANDIDATES if score[enc] is not None]
        if not possible or (len(possible) == 2 and score[possible[0]] == score[possible[1]]):
            raise NotStreamable("encoding undecided")  # refused, with the word, when read whole
        return max(possible, key=lambda enc: score[enc] or 0)


def _opening(piece: bytes) -> bool:
    """Whether the file starts with a UTF-8 byte order mark; raises NotStreamable for a file
    that must be read whole from its first piece on."""
    if piece.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise NotStreamable("UTF-16")
    if b"\x00" in piece[:HEAD_BYTES]:
        raise NotStreamable("NUL bytes")
    return piece.startswith(codecs.BOM_UTF8)


def scan(fh: BinaryIO, block: int = BLOCK_BYTES, *, encoding: bool = True) -> Scan:
    """The encoding `choose_encoding` picks for the whole file, decided block by block, and
    its chunks (one read of the file for both); raises NotStreamable where it would refuse the
    file, or a quoted value spans lines (then a line break need not end a row). Without
    `encoding` the encoding is left out ("", `encoding_of` finds it: etl.reader.prescan)."""
    digest = hashlib.sha256()
    counted = _Bytes() if encoding else None
    size = 0
    bom = None
    chunker = Chunker(digests=ChunkDigests())
    quoted = False  # whether the next byte is inside a quoted value
    # The file's SHA-256 and its chunks' digests are worked out in a second thread (hashlib
    # and xxhash let go of the GIL), up to AHEAD pieces behind the encoding counts and the
    # cutting done here (cutting there too was slower: 0.82-0.86 s against 0.71-0.75 s for
    # 308 MB, it holds the GIL; two pieces in its queue rather than one: 0.65 -> 0.60 s,
    # medians of 8; more, no better).
    hashing = ThreadPoolExecutor(1, thread_name_prefix="scan-sha256")
    hashed: list[Future[None]] = []  # in the other thread's queue, oldest first
    try:
        while piece := fh.read(block):
            if bom is None:
                bom = _opening(piece)
            if quoted or b'"' in piece:
                quoted = _quotes(piece, quoted)
            chunker.feed(piece)
            if len(hashed) >= AHEAD:  # a few pieces in its queue, taken in order
                hashed.pop(0).result()
            hashed.append(hashing.submit(_hashed, piece, digest, chunker))
            size += len(piece)
            if counted is not None:
                counted.feed(piece)
        for rest in hashed:
            rest.result()
    finally:
        hashing.shutdown()
    if bom is None:
        raise NotStreamable("empty file")
    if quoted:
        raise NotStreamable("a quoted value is not closed")
    found = counted.encoding(bom) if counted is not None else ""
    return Scan(found, digest.hexdigest(), size, tuple(chunker.finish()))


def encoding_of(fh: BinaryIO, block: int = BLOCK_BYTES) -> str:
    """The encoding `scan` finds, alone (a helper process makes the rest of the scan:
    etl.reader.prescan); raises NotStreamable where `choose_encoding` would refuse the file
    (or an empty one)."""
    counted, bom = _Bytes(), None
    while piece := fh.read(block):
        if bom is None:
            bom = _opening(piece)
        counted.feed(piece)
    if bom is None:
        raise NotStreamable("empty file")
    return counted.encoding(bom)


def packed(found: Scan) -> dict[str, Any]:
    """The scan as a few strings and arrays (etl.reader.prescan sends it between processes:
    unpickling 19,000 chunks one by one took 0.07 s, these 0.01 s)."""
    bounds = np.array([c[:4] for c in found.chunks], dtype=np.int64).reshape(-1, 4)
    return {
        "encoding": found.encoding,
        "sha256": found.sha256,
        "size": found.size,
        "bounds": bounds.tobytes(),
        "digests": b"".join(c.digest for c in found.chunks),
    }


def unpacked(record: dict[str, Any]) -> Scan:
    columns = np.frombuffer(record["bounds"], dtype=np.int64).reshape(-1, 4).T.tolist()
    digests = record["digests"]
    each = [digests[at : at + DIGEST_BYTES] for at in range(0, len(digests), DIGEST_BYTES)]
    chunks = tuple(map(Chunk, *columns, each))
    return Scan(record["encoding"], record["sha256"], record["size"], chunks)


def _quotes(piece: bytes, inside: bool) -> bool:
    """Whether a quoted value is still open at the end of `piece` (`inside`: at its start);
    raises NotStreamable when one holds a line break. A doubled quote inside a value counts
    twice, so an even count of quotes before a line break puts it outside every value."""
    buf = np.frombuffer(piece, dtype=np.uint8)
    quotes = np.flatnonzero(buf == 34)
    breaks = np.flatnonzero(buf == 10)
    before = np.searchsorted(quotes, breaks) + inside  # quotes before each line break
    if (before % 2).any():
        raise NotStreamable("a quoted value spans lines")
    return bool((len(quotes) + inside) % 2)
