"""The previous generation, read for what the next one keeps of it: the ledger rows before an
export's first date (etl.publisher.history) and the meter readings of a bundle without them.
Asked in SQL a batch of premises at a time, so no document is parsed whole unless its rows are
kept.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from etl.publisher import history
from etl.snapshot.generation import DOCUMENTS_FILE, Generation


def read_only(generation: Generation) -> sqlite3.Connection:
    """A connection of this thread's own to a generation's documents (never written)."""
    uri = f"file:{generation.path / DOCUMENTS_FILE}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True)


class PublishedLedgers:
    """The previous generation's ledgers, for keeping history: which premises have published
    rows before a date is answered in SQL (no document is parsed in Python unless rows are
    kept), so re-importing a whole-history export costs little."""

    def __init__(self, previous: Generation) -> None:
        self.db = read_only(previous)

    def first_dates(self, premises_ids: list[str]) -> dict[str, str]:
        """premises id -> the date of its first published ledger row (premises with rows).
        A document whose first column is not the date gets "" (always looked at)."""
        found: dict[str, str] = {}
        for start in range(0, len(premises_ids), 500):
            chunk = premises_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for pid, first, column in self.db.execute(
                "SELECT premises_id, json_extract(body, '$.ledger.rows[0][0]'),"
                " json_extract(body, '$.ledger.columns[0]') FROM documents"
                f" WHERE premises_id IN ({marks})"
                " AND json_array_length(body, '$.ledger.rows') > 0",
                chunk,
            ):
                found[pid] = first if column == "date" and isinstance(first, str) else ""
        return found

    def rows(self, premises_id: str) -> list[list[Any]]:
        (body,) = self.db.execute(
            "SELECT body FROM documents WHERE premises_id = ?", (premises_id,)
        ).fetchone()
        return history.published_rows(orjson.loads(body))

    def close(self) -> None:
        self.db.close()


class PublishedReadings:
    """The previous generation's readings of premises rebuilt from a bundle without readings
    (kept as published): looked up in SQL per batch, so no whole document is parsed."""

    def __init__(self, previous: Generation) -> None:
        self.db = read_only(previous)

    def of(self, premises_ids: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(premises_ids), 500):
            chunk = premises_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for pid, readings in self.db.execute(
                "SELECT premises_id, json_extract(body, '$.readings') FROM documents"
                f" WHERE premises_id IN ({marks}) AND json_type(body, '$.readings') = 'object'",
                chunk,
            ):
                found[pid] = orjson.loads(readings)
        return found

    def close(self) -> None:
        self.db.close()


def has_readings(generation: Generation) -> bool:
    """Whether a generation may hold readings: its manifest counts them per community (one
    written before readings existed has none, and says nothing of them)."""
    entries = generation.manifest.get("communities", {}).values()
    return any(entry.get("readings") for entry in entries)
