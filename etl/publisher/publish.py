"""Turn a validated `Bundle` into the next published generation (docs/snapshots.md).

Merge rules (docs/import-format.md):
- every community the bundle speaks for (`Bundle.communities()`) is replaced: its premises are
  exactly those the bundle lists (when it has a premises table), and a premises it no longer
  lists disappears;
- a table present in the bundle replaces that table for every premises the bundle touches; a
  table absent from it is taken from the premises' previous document (so a lone `ledger.csv`
  refreshes only the ledger of the premises it lists);
- communities the bundle does not touch are copied from the current generation unchanged, by a
  SQL copy rather than a rebuild;
- identical content (same content digest as the current generation) publishes nothing;
- a premises' ledger keeps its published rows from before the export's first date, and the
  export's opening balance must continue them (etl.publisher.history), unless
  `replace_history`;
- an import that would remove much of a community's published data is refused unless
  `allow_shrink` (etl.publisher.shrink);
- meter readings follow the per-premises rule of the ledger, fees and allowances (a bundle
  without them keeps each premises' published readings); announcements and community
  documents are per community (etl.publisher.community).

Documents are built column-wise: each table is sorted once and cut into per-premises slices
(etl.publisher.grouping), and each document becomes JSON through orjson, so 5 million ledger
rows never become 5 million dicts. A ledger spilled to disk in premises buckets
(etl.reader.spill) is built from one bucket at a time, so memory holds one bucket of it."""

from __future__ import annotations

import functools
import gc
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import orjson

from etl.model import Bundle, BundleRejected, Problem, unknown_premises
from etl.publisher import community, history, reuse, shrink
from etl.publisher.grouping import Groups, plain, values_of
from etl.publisher.json_rows import JsonRows
from etl.publisher.sections import PremisesSections, community_sections
from etl.reader.headers import table_for
from etl.reader.spill import SpilledTable
from etl.snapshot.document import (
    ALLOWANCE_FIELDS,
    FEE_FIELDS,
    FORMAT_VERSION,
    LEDGER_COLUMNS,
    READING_COLUMNS,
)
from etl.snapshot.store import (
    DOCUMENTS_FILE,
    Generation,
    GenerationWriter,
    SnapshotStore,
    body_digest,
)

CHILD_TABLES = ("ledger", "fees", "allowances")
# Every table whose rows belong to a premises (readings are optional: a bundle without them
# is still a complete one, see _Builder.complete).
PREMISES_TABLES = (*CHILD_TABLES, "readings")
# The figures of a community in the manifest.
COUNT_KEYS = ("premises", "ledger", "fees", "allowances", "readings")
CHUNK = 2000  # premises per batch written to SQLite; bounds the Python objects alive at once

Progress = Callable[[int, int], None]
LEDGER_ORDER = ("date", "_file", "_row")  # a premises' ledger rows in a document


@dataclass
class PublishResult:
    """What an import did, for the CLI summary and the sync report."""

    generation: str | None  # None: the bundle changed nothing, no generation was written
    counts: dict[str, int] = field(default_factory=dict)
    communities: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rebuilt: int = 0  # premises documents built from this bundle (the rest were copied)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time by stage

    @property
    def changed(self) -> bool:
        return self.generation is not None


def _unknown_premises(bundle: Bundle, table: str, ids: set[str]) -> list[Problem]:
    frame = bundle.tables[table]
    if isinstance(frame, SpilledTable):
        rows = frame.rows_of(ids)
        return [
            Problem(frame.file, table, row, "premises_id", pid, unknown_premises(pid))
            for pid, row in zip(rows["premises_id"].tolist(), rows["_row"].tolist(), strict=True)
        ]
    frame = frame[frame["premises_id"].isin(ids).to_numpy()]
    return [
        Problem(file, table, row, "premises_id", pid, unknown_premises(pid))
        for pid, file, row in zip(
            frame["premises_id"].tolist(),
            values_of(frame, "_file"),
            values_of(frame, "_row", None),
            strict=True,
        )
    ]


@dataclass
class _Plan:
    """Which premises get a new document, and where each part of it comes from."""

    build: dict[str, str]  # premises id -> community id, for every document built now
    copy: list[str]  # communities copied unchanged from the previous generation
    dropped: dict[str, list[str]]  # replaced community -> premises it no longer has


def _plan(bundle: Bundle, prev_owner: dict[str, str], premises: PremisesSections) -> _Plan:
    touched = bundle.communities()
    build: dict[str, str] = {}
    if "premises" in bundle.tables:
        build.update(premises.owner)
        # A community listed only in the communities table keeps no premises it had.
        referable = {p: c for p, c in prev_owner.items() if c not in touched}
    else:
        # Only community details (or only child tables): every touched community keeps its
        # premises and gets its details refreshed in each of them.
        build.update({p: c for p, c in prev_owner.items() if c in touched})
        referable = dict(prev_owner)
    problems: list[Problem] = []
    for table in PREMISES_TABLES:
        frame = bundle.tables.get(table)
        if frame is None or len(frame) == 0:
            continue
        listed = (
            frame.premises_ids
            if isinstance(frame, SpilledTable)
            else set(frame["premises_id"].unique().tolist())
        )
        missing = {p for p in listed if p not in build and p not in referable}
        if missing:
            problems += _unknown_premises(bundle, table, missing)
        build.update({p: referable[p] for p in listed if p not in build and p in referable})
    if problems:
        raise BundleRejected(problems)
    previous_communities = set(prev_owner.values())
    dropped: dict[str, list[str]] = {}
    for pid, cid in prev_owner.items():
        if cid in touched and pid not in build:
            dropped.setdefault(cid, []).append(pid)
    copy = sorted(c for c in previous_communities if c not in touched)
    return _Plan(build=build, copy=copy, dropped=dropped)


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


def _json_default(value: Any) -> Any:
    """Values orjson does not know (only reached for odd cells, never on the fast path)."""
    if isinstance(value, Decimal):
        return str(value)
    plain_value = plain(value)
    if plain_value is value:
        raise TypeError(f"cannot publish a {type(value).__name__} value: {value!r}")
    return plain_value


def _table_file(bundle: Bundle, table: str) -> str:
    """The file a table came from, for a problem that has no row of its own."""
    frame = bundle.tables.get(table)
    if isinstance(frame, SpilledTable):
        return frame.file
    if frame is not None and len(frame) and "_file" in frame.columns:
        return str(frame["_file"].iloc[0])
    for source in bundle.sources:
        if table_for(PurePosixPath(source.name).stem) == table:
            return source.name
    return bundle.sources[0].name if len(bundle.sources) == 1 else ""


def _read_only(generation: Generation) -> sqlite3.Connection:
    """A connection of this thread's own to a generation's documents (never written)."""
    uri = f"file:{generation.path / DOCUMENTS_FILE}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True)


class _PublishedLedgers:
    """The previous generation's ledgers, for keeping history: which premises have published
    rows before a date is answered in SQL (no document is parsed in Python unless rows are
    kept), so re-importing a whole-history export costs little."""

    def __init__(self, previous: Generation) -> None:
        self.db = _read_only(previous)

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


class _PublishedReadings:
    """The previous generation's readings of premises rebuilt from a bundle without readings
    (kept as published): looked up in SQL per batch, so no whole document is parsed."""

    def __init__(self, previous: Generation) -> None:
        self.db = _read_only(previous)

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


class _Hashed:
    """A table's per-premises hashes (Groups.span_hashes) worked out once, for input digests
    asked a ledger bucket at a time."""

    def __init__(self, groups: Groups) -> None:
        self._hashes = groups.span_hashes()

    def span_hashes(self) -> dict[str, int]:
        return self._hashes


def _has_readings(generation: Generation) -> bool:
    """Whether a generation may hold readings: its manifest counts them per community (one
    written before readings existed has none, and says nothing of them)."""
    entries = generation.manifest.get("communities", {}).values()
    return any(entry.get("readings") for entry in entries)


class _Builder:
    """Builds the documents of one plan, in premises batches."""

    def __init__(
        self,
        bundle: Bundle,
        previous: Generation | None,
        plan: _Plan,
        premises: PremisesSections,
        *,
        replace_history: bool = False,
    ) -> None:
        self.previous = previous
        self.plan = plan
        self.communities = community_sections(bundle)
        self.premises = premises
        tables = bundle.tables
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
            _PublishedReadings(previous)
            if previous is not None
            and self.readings is None
            and self.complete
            and _has_readings(previous)
            else None
        )
        # Keeping history needs a previous generation (a first import costs nothing here).
        self.published = (
            _PublishedLedgers(previous)
            if previous is not None and self.has_ledger and not replace_history
            else None
        )
        self.allowed = history.tolerance(bundle.kind)
        self.ledger_file = _table_file(bundle, "ledger") if self.published else ""
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
        self.digests: dict[str, str] = {}
        self.records: list[reuse.Record] = []
        self.reused: set[str] = set()
        self.done = 0  # documents written or reused, for the progress display
        self._hashed: dict[str, _Hashed | None] | None = None
        self._json: JsonRows | None = None  # the ledger's rows as JSON text
        self._fees_json: JsonRows | None = None  # the fee lines as JSON objects

    def input_digests(self, ids: list[str]) -> dict[str, str]:
        """What each of these documents of a complete bundle is built from ({} for other
        bundles); the ledger's Groups must hold their rows (`parts`)."""
        if not self.complete:
            return {}
        if self._hashed is None:  # the same for every bucket: worked out once
            self._hashed = {
                name: _Hashed(groups) if groups is not None else None
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
        ids = sorted(self.plan.build)
        if self.spilled is None:
            self.premises.load(ids)
            yield ids
            return
        of = self.spilled.bucket_of(ids)
        for bucket in range(self.spilled.buckets):
            self.ledger = None  # the previous bucket goes before the next is loaded
            frame = self.spilled.frame(bucket)
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
                self._json = JsonRows(self.ledger, _json_default)
            ledger_text = self._json.text(selected) if selected is not None else None
            sums = self.ledger.sums
            charge_sums, payment_sums = sums.get("charge", {}), sums.get("payment", {})
            firsts = self.published.first_dates(ids) if self.published is not None else {}
        if self.fees is not None:
            fees_at, selected = self.fees.select(ids)
            if self._fees_json is None:
                self._fees_json = JsonRows(self.fees, _json_default, FEE_KEYS)
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
            yield pid, cid, orjson.dumps(doc, default=_json_default)


Job = list | Callable[[sqlite3.Connection], None]  # documents to add, or work on the file


def _write_behind(writer: GenerationWriter, batches: Iterator[Job]) -> None:
    """Insert documents in a second thread while the next batch is built: SQLite releases the
    GIL while it works, so on two cores writing costs little extra wall time. A job that is
    not a batch of documents (copying reused ones) runs there too: one thread writes."""
    handoff: queue.Queue[Job | None] = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def consume() -> None:
        try:
            while (batch := handoff.get()) is not None:
                if callable(batch):
                    batch(writer.db)
                else:  # hashing here too: hashlib lets go of the GIL for a long body
                    writer.add_digested([(p, c, body_digest(b), b) for p, c, b in batch])
        except BaseException as exc:  # re-raised in the building thread below
            failure.append(exc)
            while handoff.get() is not None:  # unblock the producer
                pass

    thread = threading.Thread(target=consume, name="publish-writer", daemon=True)
    thread.start()
    try:
        for batch in batches:
            if failure:
                break
            handoff.put(batch)
    finally:
        handoff.put(None)
        thread.join()
    if failure:
        raise failure[0]


def _previous_counts(previous: Generation, writer_db: Any, cid: str) -> dict[str, Any]:
    """A copied community's figures: from the previous manifest, or counted in SQL when that
    manifest does not carry them (or the community was partly rebuilt)."""
    row = writer_db.execute(
        "SELECT count(*), coalesce(sum(json_array_length(body, '$.ledger.rows')), 0),"
        " coalesce(sum(json_array_length(body, '$.fees')), 0),"
        " coalesce(sum(json_array_length(body, '$.allowances')), 0),"
        " coalesce(sum(json_array_length(body, '$.readings.rows')), 0)"
        " FROM documents WHERE community_id = ?",
        (cid,),
    ).fetchone()
    return dict(zip(COUNT_KEYS, row, strict=True))


def publish(
    bundle: Bundle,
    store: SnapshotStore,
    *,
    keep: int = 10,
    progress: Progress | None = None,
    allow_shrink: bool = False,
    replace_history: bool = False,
) -> PublishResult:
    """Write the generation `bundle` leads to and make it current, unless it equals the current
    one. Raises BundleRejected when the bundle refers to premises that exist nowhere,
    HistoryMismatch when an opening balance contradicts the published history it continues
    (not with `replace_history`: the export's ledger replaces the published one whole), and
    ShrinkRefused when it would remove more of a community than shrink.SHRINK_LIMITS allow
    (not with `allow_shrink`); then (as on any error) the current generation stays as it was."""
    with _no_cyclic_gc():
        return _publish(bundle, store, keep, progress, allow_shrink, replace_history)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Building documents allocates millions of short-lived lists and tuples, none of them in
    reference cycles; the cycle collector would rescan them all again and again (measured: 40%
    of the build time for 5 million ledger rows). Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _reused(
    builder: _Builder, ids: list[str], recorded: dict[str, tuple[str, list[int]]]
) -> list[str]:
    """The premises of `ids` whose inputs did not change since the previous generation
    recorded them (etl.publisher.reuse), counted as if built; the builder builds the others."""
    digests = builder.input_digests(ids)
    builder.digests = digests  # this part's: the records of its documents are made next
    same = sorted(pid for pid, digest in digests.items() if recorded.get(pid, ("",))[0] == digest)
    for pid in same:
        c = builder.counts.setdefault(builder.plan.build[pid], [0, 0, 0, 0, 0])
        c[0] += 1
        for i, n in enumerate(recorded[pid][1], 1):
            c[i] += n
    builder.reused.update(same)
    builder.done += len(same)
    return same


def _jobs(
    builder: _Builder, previous: Generation | None, progress: Progress | None
) -> Iterator[Job]:
    """The writer's work, part by part (etl.reader.spill's buckets): the unchanged documents
    copied from the previous generation, then the others built."""
    recorded = reuse.previous(previous) if previous is not None and builder.complete else {}
    for ids in builder.parts():
        same = _reused(builder, ids, recorded)
        if same:
            yield functools.partial(_copy, previous=previous, ids=same)
        yield from builder.batches(ids, progress)


def _copy(db: sqlite3.Connection, previous: Generation, ids: list[str]) -> None:
    reuse.copy(db, previous, ids)


def _published_counts(
    previous: Generation, cids: set[str], manifest_entries: dict[str, Any]
) -> dict[str, dict[str, int]]:
    """What the current generation publishes for these communities: premises, ledger rows,
    fee lines (from its manifest, or counted when an older manifest lacks them)."""
    keys = ("premises", "ledger", "fees")
    figures: dict[str, dict[str, int]] = {}
    db = None
    try:
        for cid in sorted(cids):
            entry = manifest_entries.get(cid, {})
            if all(k in entry for k in keys):
                figures[cid] = {k: entry[k] for k in keys}
                continue
            db = db or _read_only(previous)
            counted = _previous_counts(previous, db, cid)
            if counted["premises"]:
                figures[cid] = {k: counted[k] for k in keys}
    finally:
        if db is not None:
            db.close()
    return figures


def _publish(
    bundle: Bundle,
    store: SnapshotStore,
    keep: int,
    progress: Progress | None,
    allow_shrink: bool = False,
    replace_history: bool = False,
) -> PublishResult:
    previous = store.current()
    prev_owner = previous.premises_communities() if previous is not None else {}
    premises = PremisesSections(bundle)
    plan = _plan(bundle, prev_owner, premises)
    builder = _Builder(bundle, previous, plan, premises, replace_history=replace_history)
    warnings = list(bundle.warnings)
    for cid, gone in sorted(plan.dropped.items()):
        shown = ", ".join(sorted(gone)[:10]) + (" ..." if len(gone) > 10 else "")
        warnings.append(
            f"community {cid}: {len(gone)} premises not in this export were removed ({shown})"
        )

    writer = store.start()
    try:
        reuse.create(writer.db)
        copied = writer.copy_from(previous, plan.copy) if previous is not None else 0
        if copied:
            writer.discard(plan.build)
            reuse.copy_kept(writer.db, previous)  # type: ignore[arg-type]
        community.write(bundle, previous, writer)
        try:
            _write_behind(writer, _jobs(builder, previous, progress))
        finally:
            if builder.published is not None:
                builder.published.close()
            if builder.published_readings is not None:
                builder.published_readings.close()
        if builder.problems:
            raise history.HistoryMismatch(builder.problems)
        digest = writer.content_digest()
        if previous is not None and previous.manifest.get("content_digest") == digest:
            writer.abort()
            return PublishResult(None, warnings=warnings, rebuilt=len(plan.build))

        prev_communities = previous.manifest.get("communities", {}) if previous else {}
        communities: dict[str, dict[str, Any]] = {}
        for cid, figures in builder.counts.items():
            as_of = builder.communities[cid]["as_of"] if cid in builder.communities else None
            communities[cid] = {"as_of": as_of, **dict(zip(COUNT_KEYS, figures, strict=True))}
        for cid in plan.copy:
            prev_entry = prev_communities.get(cid, {})
            if cid in builder.counts or any(k not in prev_entry for k in COUNT_KEYS):
                figures = _previous_counts(previous, writer.db, cid)
            else:
                figures = {k: prev_entry[k] for k in COUNT_KEYS}
            communities[cid] = {"as_of": prev_entry.get("as_of"), **figures}
        extras = writer.community_counts()
        for cid, entry in communities.items():
            if entry["as_of"] is None:  # refreshed from documents that keep their details
                entry["as_of"] = prev_communities.get(cid, {}).get("as_of")
            entry.update(extras.get(cid, {"announcements": 0, "documents": 0}))
        communities = {c: communities[c] for c in sorted(communities) if communities[c]["premises"]}
        counts = {
            k: sum(e[k] for e in communities.values())
            for k in ("premises", "ledger", "fees", "allowances")
        }
        if previous is not None and not allow_shrink:
            # Copied communities are unchanged: only those this import rebuilt can shrink.
            changed = (set(builder.counts) | set(plan.dropped) | bundle.communities()) & set(
                prev_owner.values()
            )
            problems = shrink.shrink_problems(
                _published_counts(previous, changed, prev_communities),
                communities,
                plan.dropped,
                {t: _table_file(bundle, t) for t in shrink.SHRINK_LIMITS},
            )
            if problems:
                raise shrink.ShrinkRefused(problems)
        manifest = {
            "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sources": [
                {"name": s.name, "sha256": s.sha256, "size": s.size} for s in bundle.sources
            ],
            "kind": bundle.kind,
            "communities": communities,
            "counts": counts,
            "content_digest": digest,
            "previous": previous.id if previous is not None else None,
            "warnings": warnings,
        }
        generation = writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    store.prune(keep)
    return PublishResult(
        generation.id,
        counts=counts,
        communities=communities,
        warnings=warnings,
        rebuilt=len(plan.build) - len(builder.reused),
    )
