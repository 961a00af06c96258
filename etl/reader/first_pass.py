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


def scan(fh: BinaryIO, block: int = BLOCK_BYTES) -> Scan:
    """The encoding `choose_encoding` picks for the whole file, decided block by block, and
    its chunks (one read of the file for both); raises NotStreamable where it would refuse the
    file, or a quoted value spans lines (then a line break need not end a row)."""
    digest = hashlib.sha256()
    strict = codecs.getincrementaldecoder("utf-8")()
    lenient = codecs.getincrementaldecoder("utf-8")(errors="replace")
    utf8 = True
    decoded = broken = 0  # lenient UTF-8 reading of the non-ASCII bytes: characters, U+FFFD
    high_bytes = 0
    counts = np.zeros(256, dtype=np.int64)
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
                if piece.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    raise NotStreamable("UTF-16")
                if b"\x00" in piece[:HEAD_BYTES]:
                    raise NotStreamable("NUL bytes")
                bom = piece.startswith(codecs.BOM_UTF8)
            if quoted or b'"' in piece:
                quoted = _quotes(piece, quoted)
            chunker.feed(piece)
            if len(hashed) >= AHEAD:  # a few pieces in its queue, taken in order
                hashed.pop(0).result()
            hashed.append(hashing.submit(_hashed, piece, digest, chunker))
            size += len(piece)
            high = piece.translate(None, _ASCII)
            high_bytes += len(high)
            if high:
                if utf8:
                    try:
                        strict.decode(high)
                    except UnicodeDecodeError:
                        utf8 = False
                text = lenient.decode(high)
                decoded += len(text)
                broken += text.count("\ufffd")
                differing = high.translate(None, _SAME)
                if differing:
                    counts += np.bincount(np.frombuffer(differing, dtype=np.uint8), minlength=256)
        for rest in hashed:
            rest.result()
    finally:
        hashing.shutdown()
    if bom is None:
        raise NotStreamable("empty file")
    if quoted:
        raise NotStreamable("a quoted value is not closed")
    tail = lenient.decode(b"", final=True)
    decoded += len(tail)
    broken += tail.count("\ufffd")
    if utf8:
        try:
            strict.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if bom:
        encoding = "utf-8-sig"
    elif not high_bytes or utf8:
        encoding = "utf-8"
    elif decoded - broken >= 3 * broken:
        raise NotStreamable("UTF-8 with stray bytes")  # refused, with the line, when read whole
    elif not counts.any():
        encoding = CP1250
    else:
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
        encoding = max(possible, key=lambda enc: score[enc] or 0)
    return Scan(encoding, digest.hexdigest(), size, tuple(chunker.finish()))


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
