"""Finding premises for the office: by id, address or payer name, over the current generation.

The index is built once per published generation (a generation never changes) and kept on the
app (`app.state.office_search`), replaced when a newer generation is asked about. Building it
reads only the premises part of each document, with SQLite's JSON functions straight from the
generation's documents table (docs/snapshots.md), instead of parsing 50,000 whole documents with
their ledgers in Python: about 1.5 s for 50,000 premises (0.5 s of it reading) against about 5 s.

Each premises is one line of folded text (lowercase, without Polish diacritics: `Łódź` is found
by `lodz`): its id, address, payer and community. A query is split into words and a premises
matches when its line contains every word. A query word holds no space, so it is in a line
exactly when it is in one of the line's words; the index keeps each distinct word with the
lines holding it, and each trigram with the words holding it. A query word of three letters or
more is looked up through its rarest trigram (the words holding that trigram are checked for the
query word, and their lines merged); the query word found in the fewest lines gives the
candidates, which are checked for the other words. A query with no such word, or whose words
are in too many distinct words or lines for a merge to pay (`1`, `ul.`), falls back to finding
its longest word by `str.find` in all the lines joined into one string (C speed), stopping at
COUNT_LIMIT hits. Over 50,000 premises a surname or an id takes ~0.1 ms, the fallback ~1-3 ms
(bench/panel_bench.py; the scan alone was 2-10 ms for any query).
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from starlette.datastructures import State

from etl.snapshot.generation import DOCUMENTS_FILE, Generation

_SEPARATOR = "\n"  # between lines; never in a folded query word
LIMIT = 25  # premises (and accounts) shown; more: "zawęź wyszukiwanie"
COUNT_LIMIT = 1000  # matches counted; past it the page says "more than"
# A query word of GRAM letters or more is looked up by its trigrams, unless its rarest trigram
# is in more than WORDS_LIMIT distinct words or the words holding it are in more than
# MERGE_LIMIT lines: then scanning every line costs less (a few milliseconds at most).
GRAM = 3
WORDS_LIMIT = 10_000
MERGE_LIMIT = 20_000


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
    """The premises of one generation, searchable.

    Kept in a few flat containers (lists of strings, numpy arrays, dicts of str -> int)
    rather than an object per premises or per word: the garbage collector walks every container
    object on a full collection, and a million small ones would add ~100 ms pauses to requests.
    """

    def __init__(self, key: str, premises: list[Premises]) -> None:
        self.key = key
        self._columns = tuple([getattr(p, f) for p in premises] for f in Premises.__slots__)
        lines = [fold(f"{p.premises_id} {p.address} {p.payer} {p.community}") for p in premises]
        self._lines = lines
        self._ids = {fold(p.premises_id): i for i, p in enumerate(premises)}
        # Each distinct word of the lines and the lines holding it, in order.
        postings: defaultdict[str, list[int]] = defaultdict(list)
        for i, line in enumerate(lines):
            for word in set(line.split()):
                postings[word].append(i)
        self._words = list(postings)
        self._postings = _Lists(postings.values())
        del postings
        # Each trigram of those words and the words holding it.
        grams: defaultdict[str, list[int]] = defaultdict(list)
        for w, word in enumerate(self._words):
            for gram in {word[k : k + GRAM] for k in range(len(word) - GRAM + 1)}:
                grams[gram].append(w)
        self._grams = {gram: n for n, gram in enumerate(grams)}
        self._gram_words = _Lists(grams.values())
        # The lines as one text, scanned when no query word narrows the lines down.
        self._text = _SEPARATOR.join(lines)
        self._starts = _starts(lines)

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
        return len(self._lines)

    def _premises(self, i: int) -> Premises:
        ids, addresses, payers, communities = self._columns
        return Premises(ids[i], addresses[i], payers[i], communities[i])

    def search(self, query: str, limit: int = LIMIT) -> Found:
        """Premises whose line holds every word of `query`; one whose id is the query comes
        first, the rest in id order. Counts matches up to COUNT_LIMIT."""
        words = list(dict.fromkeys(fold(query).split()))
        if not words:
            return Found([], 0)
        # A query word holds no space, so it is in a line exactly when it is in one of the
        # line's words. The lines of the query word found in the fewest are the candidates;
        # without a word of 3 letters or more that narrows them down, every line is scanned.
        best: tuple[Sequence[int], str] | None = None
        for word in sorted(words, key=len, reverse=True):
            if len(word) < GRAM:
                break
            lines = self._lines_of(word)
            if lines is not None and (best is None or len(lines) < len(best[0])):
                best = (lines, word)
                if not lines:
                    break
        if best is None:
            hits = self._scan(max(words, key=len), words)
        else:
            others = [w for w in words if w != best[1]]
            hits = []
            for i in best[0]:
                if all(w in self._lines[i] for w in others):
                    hits.append(i)
                    if len(hits) > COUNT_LIMIT:
                        break
        exact = self._ids.get(fold(query))
        if exact is not None:
            if exact in hits:
                hits.remove(exact)
            hits.insert(0, exact)
        return Found([self._premises(i) for i in hits[:limit]], len(hits))

    def _lines_of(self, word: str) -> Sequence[int] | None:
        """The lines holding `word` (3 letters or more), ascending; None when finding them
        would cost more than scanning every line (a word in too many distinct words, or
        those in too many lines to merge)."""
        grams = []
        for gram in {word[k : k + GRAM] for k in range(len(word) - GRAM + 1)}:
            n = self._grams.get(gram)
            if n is None:
                return []
            grams.append(n)
        fewest = min(grams, key=self._gram_words.size)
        if self._gram_words.size(fewest) > WORDS_LIMIT:
            return None
        words = self._words
        matching = [w for w in self._gram_words[fewest].tolist() if word in words[w]]
        if len(matching) == 1:
            return self._postings[matching[0]].tolist()
        return self._postings.union(matching, MERGE_LIMIT)

    def _scan(self, longest: str, words: list[str]) -> list[int]:
        """Every line holding all `words`, by finding `longest` in the lines' text."""
        others = [w for w in words if w != longest]
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
        return hits


class _Lists:
    """Lists of numbers in one array (`lists[n]`: the n-th, `size(n)`, `union(ns)`)."""

    def __init__(self, lists: Iterable[list[int]]) -> None:
        sizes = []
        values: list[int] = []
        for numbers in lists:
            sizes.append(len(numbers))
            values.extend(numbers)
        self.values = np.array(values, dtype=np.uint32)
        self.starts = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.starts[1:])

    def size(self, n: int) -> int:
        return int(self.starts[n + 1] - self.starts[n])

    def __getitem__(self, n: int) -> np.ndarray:
        return self.values[self.starts[n] : self.starts[n + 1]]

    def union(self, ns: list[int], limit: int) -> list[int] | None:
        """The numbers in any of the lists `ns`, ascending; None when they hold more than
        `limit` numbers in all."""
        chosen = np.array(ns, dtype=np.int64)
        begins, sizes = self.starts[chosen], self.starts[chosen + 1] - self.starts[chosen]
        total = int(sizes.sum())
        if total > limit:
            return None
        # the positions of every chosen list's numbers, one run per list
        positions = np.arange(total) + np.repeat(begins - (np.cumsum(sizes) - sizes), sizes)
        return np.unique(self.values[positions]).tolist()


def _starts(lines: list[str]) -> list[int]:
    """Where each line begins in `_SEPARATOR.join(lines)`."""
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    return starts


def key(generation: Generation) -> str:
    """Which generation an index belongs to: its directory (the id, and the data dir)."""
    return str(generation.path)


_lock = threading.Lock()


def built(state: State, generation: Generation) -> PremisesIndex | None:
    """The index of `generation` if it is built already: what a request can use without the
    hop to a worker thread that `index` needs (that hop and back costs more than a search)."""
    current: PremisesIndex | None = getattr(state, "office_search", None)
    return current if current is not None and current.key == key(generation) else None


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
