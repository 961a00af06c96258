"""Documents built from a bundle, a batch of premises at a time (etl.publisher.publish runs it).

Each table is sorted once and cut into per-premises slices (etl.publisher.grouping); the
ledger's rows and the fee lines become JSON text in Arrow (etl.publisher.json_rows), the rest
of a document a small dict that orjson serialises around them. A ledger spilled to disk in
premises buckets (etl.reader.spill) is built from one bucket at a time (`parts`).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import orjson

from etl.model import Bundle, BundleRejected, Problem
from etl.publisher import history, reuse
from etl.publisher.grouping import Groups, plain
from etl.publisher.json_rows import JsonRows
from etl.publisher.plan import CHILD_TABLES, Plan, table_file
from etl.publisher.published import PublishedLedgers, PublishedReadings, has_readings
from etl.publisher.sections import PremisesSections, community_sections
from etl.reader.spill import SpilledTable
from etl.snapshot.document import (
    ALLOWANCE_FIELDS,
    FEE_FIELDS,
    FORMAT_VERSION,
    LEDGER_COLUMNS,
    READING_COLUMNS,
)
from etl.snapshot.store import Generation

CHUNK = 2000  # premises per batch written to SQLite; bounds the Python objects alive at once
LEDGER_ORDER = ("date", "_file", "_row")  # a premises' ledger rows in a document
Progress = Callable[[int, int], None]
Job = list | Callable[[sqlite3.Connection], None]  # documents to add, or work on the file


_CHARGE, _PAYMENT = LEDGER_COLUMNS.index("charge"), LEDGER_COLUMNS.index("payment")
# Where each document column comes from in the normalised ledger, and its default.
LEDGER_SOURCE = {
    "date": "",
    "document": "",
    "description": "",
    "period": "",
    "charge": 0,
    "payment": 0,
    "_file": "",
    "_row": None,
    "details": None,
}
FEE_SOURCE = {**{f: "" for f in FEE_FIELDS}, "amount": 0, "_file": "", "_row": None}
FEE_KEYS = (*FEE_FIELDS, "file", "row")
ALLOWANCE_SOURCE = {
    **{f: "" for f in ALLOWANCE_FIELDS},
    "monthly_amount": 0,
    "_file": "",
    "_row": None,
}
ALLOWANCE_KEYS = (*ALLOWANCE_FIELDS, "file", "row")
READING_SOURCE = {
    **{c: "" for c in READING_COLUMNS if c not in ("file", "row")},
    "_file": "",
    "_row": None,
}


def json_default(value: Any) -> Any:
    """Values orjson does not know (only reached for odd cells, never on the fast path)."""
    if isinstance(value, Decimal):
        return str(value)
    plain_value = plain(value)
    if plain_value is value:
        raise TypeError(f"cannot publish a {type(value).__name__} value: {value!r}")
    return plain_value


class Hashed:
    """A table's per-premises hashes (Groups.span_hashes) worked out once, for input digests
    asked a ledger bucket at a time."""

    def __init__(self, groups: Groups) -> None:
        self._hashes = groups.span_hashes()

    def span_hashes(self) -> dict[str, int]:
        return self._hashes


class Builder:
    """Builds the documents of one plan, in premises batches."""

    def __init__(
        self,
        bundle: Bundle,
        previous: Generation | None,
        plan: Plan,
        premises: PremisesSections,
        *,
        replace_history: bool = False,
    ) -> None:
        self.previous = previous
        self.plan = plan
        self.communities = community_sections(bundle)
        self.premises = premises
        # Premises whose rows were not even read (etl.reader.ledger_delta): always copied.
        self.kept = frozenset(bundle.kept & plan.build.keys())
        tables = bundle.tables  # without the kept premises' rows (etl.reader.ledger_delta)
        ledger = tables.get("ledger")
        # A spilled ledger's Groups are made a bucket at a time (`parts`).
        self.spilled = ledger if isinstance(ledger, SpilledTable) else None
        self.has_ledger = ledger is not None
        self.ledger = (
            Groups(ledger, LEDGER_ORDER, LEDGER_SOURCE)
            if ledger is not None and self.spilled is None
            else None
        )
        self.fees = (
            Groups(tables["fees"], ("_file", "_row"), FEE_SOURCE) if "fees" in tables else None
        )
        self.allowances = (
            Groups(tables["allowances"], ("_file", "_row"), ALLOWANCE_SOURCE)
            if "allowances" in tables
            else None
        )
        self.readings = (
            Groups(tables["readings"], ("date", "meter", "serial", "_file", "_row"), READING_SOURCE)
            if "readings" in tables
            else None
        )
        self.complete = all(t in tables for t in ("communities", "premises", *CHILD_TABLES))
        # A complete bundle without readings keeps each premises' published readings, found
        # in SQL (its previous documents are not read whole).
        self.published_readings = (
            PublishedReadings(previous)
            if previous is not None
            and self.readings is None
            and self.complete
            and has_readings(previous)
            else None
        )
        # Keeping history needs a previous generation (a first import costs nothing here).
        self.published = (
            PublishedLedgers(previous)
            if previous is not None and self.has_ledger and not replace_history
            else None
        )
        self.allowed = history.tolerance(bundle.kind)
        self.ledger_file = table_file(bundle, "ledger") if self.published else ""
        self.problems: list[Problem] = []  # openings that contradict the published history
        self._prev_community: dict[str, dict[str, Any]] = {}
        # Per community: [premises, ledger rows, fees, allowances, readings] in the built
        # documents.
        self.counts: dict[str, list[int]] = {}
        # Re-imports (etl.publisher.reuse): what each document is built from, the records of
        # those built, and the premises whose previous document is reused instead.
        # Kept history and kept readings come from the previous document, which a reused
        # document is: only the rules below change what the same rows become.
        self.mode = f"{bundle.kind}|{replace_history}|{self.allowed}"
        self.stamp = reuse.stamp(self.mode, bundle.setup)  # the manifest's `built_under`
        self.digests: dict[str, str] = {}
        self.records: list[reuse.Record] = []
        self.reused: set[str] = set()
        self.done = 0  # documents written or reused, for the progress display
        self._hashed: dict[str, Hashed | None] | None = None
        self._json: JsonRows | None = None  # the ledger's rows as JSON text
        self._fees_json: JsonRows | None = None  # the fee lines as JSON objects

    def input_digests(self, ids: list[str]) -> dict[str, str]:
        """What each of these documents of a complete bundle is built from ({} for other
        bundles); the ledger's Groups must hold their rows (`parts`)."""
        if not self.complete:
            return {}
        if self._hashed is None:  # the same for every bucket: worked out once
            self._hashed = {
                name: Hashed(groups) if groups is not None else None
                for name, groups in (
                    ("fees", self.fees), ("allowances", self.allowances),
                    ("readings", self.readings),
                )
            }  # fmt: skip
        tables = {"ledger": self.ledger, **self._hashed}
        return reuse.digests(
            ids,
            self.plan.build,
            self.communities,
            self.premises.loaded,
            tables,  # type: ignore[arg-type]
            self.mode,
        )

    def parts(self) -> Iterator[list[str]]:
        """The premises to build, sorted, a ledger bucket at a time (all of them at once
        when the ledger is in memory), with `self.ledger` holding that bucket's rows."""
        ids = sorted(p for p in self.plan.build if p not in self.kept)
        if self.spilled is None:
            self.premises.load(ids)
            yield ids
            return
        of = self.spilled.bucket_of(ids)
        of[of < 0] = 0  # premises without ledger rows: built with the first bucket
        for bucket in range(self.spilled.buckets):
            self.ledger = None  # the previous bucket goes before the next is loaded
            frame = self.spilled.take(bucket)
            self.ledger = Groups(frame, LEDGER_ORDER, LEDGER_SOURCE)
            del frame
            part = [ids[i] for i in np.flatnonzero(of == bucket).tolist()]
            self.premises.load(part)
            yield part
        self.ledger = None

    def _community(self, cid: str, prev_doc: dict[str, Any] | None) -> dict[str, Any]:
        if cid in self.communities:
            return self.communities[cid]
        if prev_doc is not None and prev_doc["community"]["community_id"] == cid:
            return prev_doc["community"]
        if cid not in self._prev_community:
            # A new premises of a community whose details this bundle does not carry.
            section = None
            if self.previous is not None:
                for other in self.previous.premises_ids(cid)[:1]:
                    section = self.previous.document(other)["community"]
            if section is None:
                problem = Problem("", "premises", None, "community_id", cid, "unknown community")
                raise BundleRejected([problem])
            self._prev_community[cid] = section
        return self._prev_community[cid]

    def batches(self, ids: list[str], progress: Progress | None) -> Iterator[Job]:
        """The documents of these premises (those not reused), CHUNK at a time, each batch
        followed by its records (etl.publisher.reuse), written as they come: kept until the
        end, small objects made among each batch's garbage would pin its memory (measured:
        +470 MB over 200,000 documents)."""
        ids = [p for p in ids if p not in self.reused]
        total = len(self.plan.build)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            yield list(self._batch(chunk))
            records, self.records = self.records, []
            yield functools.partial(reuse.record, rows=records)
            self.done += len(chunk)
            if progress is not None:
                progress(self.done, total)

    def _first_date(self, premises_id: str) -> Any:
        """The date of this export's first ledger row of a premises (it has rows)."""
        start = self.ledger.spans[premises_id][0]  # type: ignore[union-attr]
        return self.ledger.columns["date"].take(slice(start, start + 1))[0]  # type: ignore[union-attr]

    def _ledger_rows(self, premises_id: str) -> list[Any]:
        """A premises' ledger rows as Python tuples (to merge with published history)."""
        _, cols = self.ledger.take([premises_id])  # type: ignore[union-attr]
        return list(zip(*cols, strict=True))

    def _batch(self, ids: list[str]) -> Iterator[tuple[str, str, bytes]]:
        fee_sums: dict[str, int] = {}
        if self.ledger is not None:
            ledger_at, selected = self.ledger.select(ids)
            if self._json is None or self._json.groups is not self.ledger:
                self._json = JsonRows(self.ledger, json_default)
            ledger_text = self._json.text(selected) if selected is not None else None
            sums = self.ledger.sums
            charge_sums, payment_sums = sums.get("charge", {}), sums.get("payment", {})
            firsts = self.published.first_dates(ids) if self.published is not None else {}
        if self.fees is not None:
            fees_at, selected = self.fees.select(ids)
            if self._fees_json is None:
                self._fees_json = JsonRows(self.fees, json_default, FEE_KEYS)
            fee_text = self._fees_json.text(selected) if selected is not None else None
            fee_sums = self.fees.sums.get("amount", {})
        if self.allowances is not None:
            allow_at, cols = self.allowances.take(ids)
            allow_rows = [
                dict(zip(ALLOWANCE_KEYS, v, strict=True)) for v in zip(*cols, strict=True)
            ]
        kept_readings: dict[str, Any] = {}
        if self.readings is not None:
            readings_at, cols = self.readings.take(ids)
            reading_rows = list(zip(*cols, strict=True))
        elif self.published_readings is not None:
            kept_readings = self.published_readings.of(ids)
        for pid in ids:
            cid = self.plan.build[pid]
            prev_doc = None
            if self.previous is not None and not (self.complete and pid in self.premises):
                prev_doc = self.previous.document(pid)
            if pid in self.premises:
                premises = self.premises.loaded[pid][1]
            elif prev_doc is not None:
                premises = prev_doc["premises"]
            else:  # _plan admits no such premises
                raise AssertionError(pid)
            rows: Any  # the ledger's rows: a list, or their JSON text (json_rows)
            if self.ledger is not None:
                s, e = ledger_at.get(pid, (0, 0))
                count = e - s
                rows = ledger_text.fragment(s, e) if ledger_text is not None else []
                charges, payments = charge_sums.get(pid, 0), payment_sums.get(pid, 0)
                first = firsts.get(pid)
                if first is not None and (not count or first < self._first_date(pid)):
                    # Published rows before this export's first date: keep them.
                    rows, charges, payments, problem = history.merge(
                        pid,
                        self.published.rows(pid),  # type: ignore[union-attr]
                        self._ledger_rows(pid),
                        charges,
                        payments,
                        allowed=self.allowed,
                        ledger_file=self.ledger_file,
                    )
                    count = len(rows)
                    if problem is not None:
                        self.problems.append(problem)
            else:
                rows = prev_doc["ledger"]["rows"] if prev_doc else []
                count = len(rows)
                charges = sum(r[_CHARGE] for r in rows)
                payments = sum(r[_PAYMENT] for r in rows)
            fees: Any  # a list, or the JSON text of the bundle's fee lines
            if self.fees is not None:
                s, e = fees_at.get(pid, (0, 0))
                fees = fee_text.fragment(s, e) if fee_text is not None else []
                fee_count, monthly = e - s, fee_sums.get(pid, 0)
            else:
                fees = prev_doc["fees"] if prev_doc else []
                fee_count, monthly = len(fees), sum(f["amount"] for f in fees)
            if self.allowances is not None:
                s, e = allow_at.get(pid, (0, 0))
                allowances = allow_rows[s:e]
            else:
                allowances = prev_doc["allowances"] if prev_doc else []
            readings: Any = None
            if self.readings is not None:
                s, e = readings_at.get(pid, (0, 0))
                if e > s:
                    readings = {"columns": list(READING_COLUMNS), "rows": reading_rows[s:e]}
            elif prev_doc is not None:
                readings = prev_doc.get("readings")
            else:
                readings = kept_readings.get(pid)
            doc = {
                "schema": FORMAT_VERSION,
                "premises_id": pid,
                "community": self._community(cid, prev_doc),
                "premises": premises,
                "ledger": {"columns": list(LEDGER_COLUMNS), "rows": rows},
                "fees": fees,
                "allowances": allowances,
                "totals": {
                    "charges": charges,
                    "payments": payments,
                    "balance": payments - charges,
                    "monthly_fees": monthly,
                },
            }
            if readings:  # only when there are any: other documents stay as they were
                doc["readings"] = readings
            c = self.counts.setdefault(cid, [0, 0, 0, 0, 0])
            figures = (
                count,
                fee_count,
                len(allowances),
                len(readings["rows"]) if readings else 0,
            )
            c[0] += 1
            for i, n in enumerate(figures, 1):
                c[i] += n
            self.records.append((pid, self.digests.get(pid, ""), *figures))
            yield pid, cid, orjson.dumps(doc, default=json_default)
