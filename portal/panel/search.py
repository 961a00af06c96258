"""Finding premises for the office: by id, address or payer name, over the current generation.

The index is built once per published generation (a generation never changes) and kept on the
app (`app.state.office_search`), replaced when a newer generation is asked about. Building it
reads only the premises part of each document, with SQLite's JSON functions straight from the
generation's documents table (docs/snapshots.md), instead of parsing 50,000 whole documents with
their ledgers in Python: about 0.7 s for 50,000 premises against about 5 s.

Each premises is one line of folded text (lowercase, without Polish diacritics: `Łódź` is found
by `lodz`): its id, address, payer and community. A query is split into words and a premises
matches when its line contains every word. The lines are joined into one string, so the longest
word is looked for by `str.find` across all of them at once (C speed) and only the lines it hits
are checked for the other words: a search over 50,000 premises takes milliseconds.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass

from starlette.datastructures import State

from etl.snapshot.store import DOCUMENTS_FILE, Generation

_SEPARATOR = "\n"  # between lines; never in a folded query word
LIMIT = 50  # premises shown
COUNT_LIMIT = 1000  # matches counted; past it the page says "more than"


def _fold_table() -> dict[int, str]:
    """Latin letters with diacritics (U+00C0–U+024F) -> their base letters, plus the few that
    Unicode does not decompose (ł, ø, đ, ß)."""
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        decomposed = unicodedata.normalize("NFKD", chr(code))
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if base and base != chr(code):
            table[code] = base
    table.update({ord("ł"): "l", ord("Ł"): "L", ord("ø"): "o", ord("Ø"): "O"})
    table.update({ord("đ"): "d", ord("Đ"): "D", ord("ß"): "ss"})
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lowercase, without diacritics, whitespace collapsed to single spaces (a translation
    table, not per-character Unicode work: 50,000 lines fold in a few tens of milliseconds)."""
    return " ".join(text.translate(_FOLD).lower().split())


@dataclass(frozen=True, slots=True)
class Premises:
    """One premises as the search results show it."""

    premises_id: str
    address: str
    payer: str
    community: str


@dataclass(frozen=True)
class Found:
    premises: list[Premises]
    total: int  # how many matched, counted up to COUNT_LIMIT + 1

    @property
    def more_than_counted(self) -> bool:
        return self.total > COUNT_LIMIT


_FIELDS = (
    "$.premises.street",
    "$.premises.number",
    "$.premises.postal_code",
    "$.premises.city",
    "$.premises.payer_name",
    "$.community.name",
)


def _address(street: str, number: str, postal_code: str, city: str) -> str:
    place = f"{street}/{number}" if number else street
    town = " ".join(p for p in (postal_code, city) if p)
    return ", ".join(p for p in (place, town) if p)


class PremisesIndex:
    """The premises of one generation, searchable."""

    def __init__(self, key: str, premises: list[Premises]) -> None:
        self.key = key
        self.premises = premises
        lines = [
            fold(f"{p.premises_id} {p.address} {p.payer} {p.community}") for p in premises
        ]
        self._ids = {fold(p.premises_id): i for i, p in enumerate(premises)}
        self._text = _SEPARATOR.join(lines)
        self._starts: list[int] = []
        offset = 0
        for line in lines:
            self._starts.append(offset)
            offset += len(line) + 1

    @classmethod
    def build(cls, generation: Generation) -> PremisesIndex:
        uri = f"file:{generation.path / DOCUMENTS_FILE}?mode=ro&immutable=1"
        paths = ", ".join(f"'{p}'" for p in _FIELDS)
        conn = sqlite3.connect(uri, uri=True)
        try:
            rows = conn.execute(
                f"SELECT premises_id, json_extract(body, {paths}) FROM documents"
            ).fetchall()
        finally:
            conn.close()
        rows.sort()
        premises = []
        for premises_id, values in rows:
            street, number, postal_code, city, payer, community = (
                str(v or "") for v in json.loads(values)
            )
            premises.append(
                Premises(premises_id, _address(street, number, postal_code, city), payer, community)
            )
        return cls(key(generation), premises)

    def __len__(self) -> int:
        return len(self.premises)

    def search(self, query: str, limit: int = LIMIT) -> Found:
        """Premises whose line holds every word of `query`; one whose id is the query comes
        first, the rest in id order. Counts matches up to COUNT_LIMIT."""
        words = fold(query).split()
        if not words:
            return Found([], 0)
        longest = max(words, key=len)
        others = [w for w in words if w is not longest]
        hits: list[int] = []
        text, starts = self._text, self._starts
        position = text.find(longest)
        while position != -1:
            line = bisect.bisect_right(starts, position) - 1
            end = starts[line + 1] - 1 if line + 1 < len(starts) else len(text)
            if all(w in text[starts[line] : end] for w in others):
                hits.append(line)
                if len(hits) > COUNT_LIMIT:
                    break
            position = text.find(longest, end + 1)
        exact = self._ids.get(fold(query))
        if exact is not None:
            if exact in hits:
                hits.remove(exact)
            hits.insert(0, exact)
        return Found([self.premises[i] for i in hits[:limit]], len(hits))


def key(generation: Generation) -> str:
    """Which generation an index belongs to: its directory (the id, and the data dir)."""
    return str(generation.path)


_lock = threading.Lock()


def index(state: State, generation: Generation) -> PremisesIndex:
    """The index of `generation`, built on first use and kept on the app's state (only the
    newest one is kept). Blocking: call it from a worker thread."""
    current: PremisesIndex | None = getattr(state, "office_search", None)
    if current is not None and current.key == key(generation):
        return current
    with _lock:  # one build at a time; whoever waited finds it built
        current = getattr(state, "office_search", None)
        if current is None or current.key != key(generation):
            current = PremisesIndex.build(generation)
            state.office_search = current
        return current
