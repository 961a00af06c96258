"""Which text encoding a file is in: UTF-8, Windows-1250 or ISO-8859-2, decided, never guessed.

Ledger systems write Polish text in UTF-8 (with or without BOM) or in one of the two 8-bit code
pages, and nothing in the file says which. UTF-8 is recognised by being valid. The two code pages
agree on most bytes and differ on a few (ą ś ź Ą Ś Ź among them): a file decoded with the wrong
one still "works" but shows wrong letters (`Wšsowski` for `Wąsowski`). So each decoding is scored
by what it makes of the bytes where the two differ, over the whole file:

- a letter of the Polish alphabet (ą ć ę ł ń ó ś ź ż and capitals) counts for it;
- a letter Polish does not use (š ť ž ľ ĺ Š Ť Ž Ľ µ ˇ) counts against it, and so does a symbol
  where the other decoding reads a Polish letter (± for ą, ¶ for ś, ¬ for Ź, ¦ for Ś, ˇ for Ą);
- a byte the code page does not define (0x81 0x83 0x88 0x90 0x98 in Windows-1250) or a C1
  control character (every byte 0x80-0x9F in ISO-8859-2) rules the code page out: text never
  holds them.

The higher score wins. When both score the same and still read the file differently, the file is
refused with both readings of the first word where they differ: publishing a guess would show
residents a wrong name. The scoring table is derived from Python's own codecs below, not typed in.

Everything here works on the raw bytes with C-speed operations (`bytes.translate`, numpy), so a
300 MB export costs a fraction of a second; nothing loops over characters in Python.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

import numpy as np

CP1250 = "cp1250"
ISO8859_2 = "iso-8859-2"
CANDIDATES = (CP1250, ISO8859_2)
LABELS = {CP1250: "Windows-1250", ISO8859_2: "ISO-8859-2"}
POLISH_LETTERS = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"

_ASCII = bytes(range(128))
_WORD = re.compile(rb"[0-9A-Za-z\x80-\xff]{1,40}")


class EncodingRefused(ValueError):
    """The file's encoding cannot be told or is not supported; `reason` says so in words the
    accountant can act on."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def _char(byte: int, encoding: str) -> str | None:
    try:
        return bytes([byte]).decode(encoding)
    except UnicodeDecodeError:
        return None


def _scoring() -> tuple[bytes, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(bytes on which the code pages differ, per code page: weight of each byte value, and
    which byte values rule it out)."""
    weights = {enc: np.zeros(256, dtype=np.int64) for enc in CANDIDATES}
    ruled_out = {enc: np.zeros(256, dtype=bool) for enc in CANDIDATES}
    differing = bytearray()
    for byte in range(0x80, 0x100):
        chars = {enc: _char(byte, enc) for enc in CANDIDATES}
        if chars[CP1250] == chars[ISO8859_2]:
            continue
        differing.append(byte)
        for enc, other in ((CP1250, ISO8859_2), (ISO8859_2, CP1250)):
            char = chars[enc]
            if char is None or unicodedata.category(char) == "Cc":
                ruled_out[enc][byte] = True
            elif char in POLISH_LETTERS:
                weights[enc][byte] = 1
            elif char.isalpha() or chars[other] in POLISH_LETTERS:
                weights[enc][byte] = -1
    return bytes(differing), weights, ruled_out


DIFFERING, WEIGHTS, RULED_OUT = _scoring()
_SAME = bytes(b for b in range(256) if b not in DIFFERING)
_DIFFERING_RE = re.compile(b"[" + b"".join(re.escape(bytes([b])) for b in DIFFERING) + b"]")


def scores(data: bytes) -> dict[str, int | None]:
    """Each code page's score over the bytes of `data` where the two differ; None when ruled
    out. Both score 0 when no byte differs."""
    differing = np.frombuffer(data.translate(None, _SAME), dtype=np.uint8)
    values, counts = np.unique(differing, return_counts=True)
    out: dict[str, int | None] = {}
    for enc in CANDIDATES:
        if RULED_OUT[enc][values].any():
            out[enc] = None
        else:
            out[enc] = int((WEIGHTS[enc][values] * counts).sum())
    return out


def first_difference(data: bytes) -> tuple[str, str, int] | None:
    """(Windows-1250 reading, ISO-8859-2 reading, line number) of the first word the two code
    pages read differently; None when they read the whole file alike."""
    found = _DIFFERING_RE.search(data)
    if found is None:
        return None
    at = found.start()
    start = at
    while start > 0 and at - start < 40 and _WORD.fullmatch(data[start - 1 : start]):
        start -= 1
    word = _WORD.match(data, start)
    raw = word.group() if word else data[at : at + 1]
    line = data.count(b"\n", 0, at) + 1
    return raw.decode(CP1250, errors="replace"), raw.decode(ISO8859_2, errors="replace"), line


def _utf8(data: bytes, high: bytes, name: str, *, complete: bool) -> bool:
    """True for UTF-8; raises for a UTF-8 file with a few stray 8-bit bytes in it."""
    try:
        # Only the non-ASCII bytes: ASCII never splits a UTF-8 sequence. A lone 8-bit letter
        # (ó is 0xF3 in both code pages) looks like the start of a sequence: only a head of a
        # file may end inside a character.
        codecs.getincrementaldecoder("utf-8")().decode(high, final=complete)
        return True
    except UnicodeDecodeError:
        pass
    lenient = high.decode("utf-8", errors="replace")
    broken = lenient.count("\ufffd")
    if len(lenient) - broken >= 3 * broken:
        # Mostly well-formed UTF-8 with a few stray bytes: decoding it all as an 8-bit code
        # page would garble every Polish letter, so say where the bad bytes are instead.
        at = data.decode("utf-8", errors="replace").index("\ufffd")
        line = data[:at].count(b"\n") + 1 if at < len(data) else "?"
        raise EncodingRefused(
            name,
            f"the file is UTF-8 but has invalid bytes (first near line {line}); "
            "save it again as UTF-8",
        )
    return False


def choose_encoding(data: bytes, name: str, *, complete: bool = True) -> str:
    """utf-8-sig, utf-8, cp1250 or iso-8859-2 for the bytes of file `name`; raises
    EncodingRefused when the file is in none of them or the two code pages are equally
    plausible and read it differently.

    The decision is made over all of `data`; `complete=False` when `data` is only the head of a
    file, which may end inside a UTF-8 character.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in data[:65536]:
        raise EncodingRefused(
            name,
            "the file is not text in UTF-8, Windows-1250 or ISO-8859-2 "
            "(it looks like UTF-16 or a binary file); save it as UTF-8 (in Excel: CSV UTF-8)",
        )
    high = data.translate(None, _ASCII)
    if not high or _utf8(data, high, name, complete=complete):
        return "utf-8"
    if not high.translate(None, _SAME):
        return CP1250  # no byte the two code pages read differently
    score = scores(high)
    possible = [enc for enc in CANDIDATES if score[enc] is not None]
    if not possible:
        raise EncodingRefused(
            name,
            "unknown text encoding (not UTF-8, Windows-1250 or ISO-8859-2); "
            "save the file as UTF-8 (in Excel: CSV UTF-8)",
        )
    if len(possible) == 1:
        return possible[0]
    best = max(possible, key=lambda enc: score[enc] or 0)
    if score[CP1250] != score[ISO8859_2]:
        return best
    differs = first_difference(data)
    assert differs is not None  # some byte differs: `high` holds one
    as_cp, as_iso, line = differs
    raise EncodingRefused(
        name,
        f'cannot tell the encoding: "{as_cp}" ({LABELS[CP1250]}) or "{as_iso}" '
        f"({LABELS[ISO8859_2]}) in line {line}; save the file as UTF-8",
    )


def decode(data: bytes, name: str) -> str:
    """The text of file `name`, in the encoding `choose_encoding` picks (a BOM dropped)."""
    chosen = choose_encoding(data, name)
    try:
        return data.decode(chosen)
    except UnicodeDecodeError as exc:  # UTF-8 split by ASCII bytes: only decoding finds it
        line = data.count(b"\n", 0, exc.start) + 1
        raise EncodingRefused(
            name, f"the file is not valid UTF-8 text (line {line}); save it again as UTF-8"
        ) from None
