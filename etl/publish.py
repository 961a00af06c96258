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
- identical content (same content digest as the current generation) publishes nothing.

Documents are built column-wise: each table is sorted once, cut into per-premises slices by
group boundaries, and each slice becomes JSON through the C encoder, so 5 million ledger rows
never become 5 million dicts.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from etl.model import Bundle, BundleRejected, Problem
from etl.store import Generation, GenerationWriter, SnapshotStore

SCHEMA = 1
LEDGER_COLUMNS = [
    "date",
    "document",
    "description",
    "period",
    "charge",
    "payment",
    "file",
    "row",
    "details",
]
COMMUNITY_FIELDS = (
    "community_id",
    "name",
    "street",
    "postal_code",
    "city",
    "bank_account",
    "nip",
    "as_of",
    "fee_notes",
)
PREMISES_FIELDS = (
    "number",
    "street",
    "postal_code",
    "city",
    "kind",
    "area_m2",
    "share",
    "occupants",
    "payer_name",
    "payer_address",
    "bank_account",
    "email",
)
FEE_FIELDS = ("component", "basis", "quantity", "rate", "amount", "valid_from")
ALLOWANCE_FIELDS = ("decision", "issuer", "valid_from", "valid_to", "monthly_amount")
CHILD_TABLES = ("ledger", "fees", "allowances")
CHUNK = 2000  # premises per batch written to SQLite; bounds the Python objects alive at once

Progress = Callable[[int, int], None]


@dataclass
class PublishResult:
    """What an import did, for the CLI summary and the sync report."""

    generation: str | None  # None: the bundle changed nothing, no generation was written
    counts: dict[str, int] = field(default_factory=dict)
    communities: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rebuilt: int = 0  # premises documents built from this bundle (the rest were copied)

    @property
    def changed(self) -> bool:
        return self.generation is not None


def _plain(value: Any) -> Any:
    """pandas missing markers (NA, NaN, NaT) become JSON null; numpy scalars plain Python."""
    if value is None or isinstance(value, (str, list, dict)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, float) and value.is_integer():
        return int(value)  # an integer column that pandas widened to float around a gap
    return value


def _values(frame: pd.DataFrame, name: str, default: Any = "") -> list[Any]:
    """A column as JSON-ready Python values (for the small tables: a pass per value)."""
    if name not in frame.columns:
        return [default] * len(frame)
    series = frame[name]
    if series.dtype.kind in "iub" or (series.dtype != object and not series.isna().any()):
        return series.tolist()
    return [_plain(v) for v in series.tolist()]


class _Column:
    """One column of a big table, ready to be cut into Python lists in sorted order.

    Text is kept as integer codes into its distinct values, so a batch becomes a list by a
    numpy take over shared string objects instead of creating one string per row."""

    def __init__(
        self, series: pd.Series | None, order: np.ndarray | None, default: Any, size: int
    ) -> None:
        self.values: np.ndarray | None = None
        self.codes: np.ndarray | None = None
        self.default = default
        self.size = size
        if series is None:
            return
        if series.dtype.kind in "iu":
            self.values = series.to_numpy() if order is None else series.to_numpy()[order]
            return
        try:
            codes, uniques = pd.factorize(series)
        except TypeError:  # unhashable cells (lists of details)
            self.values = np.array([_plain(v) for v in series.tolist()], dtype=object)
            if order is not None:
                self.values = self.values[order]
            return
        lookup = [_plain(v) for v in uniques.tolist()] + [None]  # code -1 (missing) -> None
        if len(lookup) == 1 or (len(lookup) == 2 and codes.min() == 0):
            self.default = lookup[0]  # one value throughout (the file name, empty details)
            return
        self.values = np.array(lookup, dtype=object)
        self.codes = codes if order is None else codes[order]

    def take(self, rows: slice | np.ndarray) -> list[Any]:
        if self.values is None:
            n = len(range(self.size)[rows]) if isinstance(rows, slice) else len(rows)
            return [self.default] * n
        if self.codes is None:
            return self.values[rows].tolist()
        return self.values.take(self.codes[rows]).tolist()


class _Groups:
    """One table sorted once by (premises, *order); a premises' rows are one contiguous span."""

    def __init__(
        self, frame: pd.DataFrame, order: tuple[str, ...], columns: dict[str, Any]
    ) -> None:
        if len(frame) == 0:  # an empty table may come without its columns
            frame = pd.DataFrame({"premises_id": pd.Series([], dtype=object)})
        pid_codes, pids = pd.factorize(frame["premises_id"])
        sorted_order = _row_order(frame, pid_codes, order)
        sorted_pids = pid_codes if sorted_order is None else pid_codes[sorted_order]
        starts = np.flatnonzero(np.diff(sorted_pids)) + 1
        starts = np.concatenate([np.zeros(min(1, len(frame)), dtype=np.intp), starts])
        ends = np.concatenate([starts[1:], np.full(min(1, len(frame)), len(frame))])
        ids = pids.take(sorted_pids[starts]).tolist()
        self.spans: dict[str, tuple[int, int]] = dict(
            zip(ids, zip(starts.tolist(), ends.tolist(), strict=True), strict=True)
        )
        self.columns = {
            name: _Column(
                frame[name] if name in frame.columns else None, sorted_order, default, len(frame)
            )
            for name, default in columns.items()
        }
        self.sums: dict[str, dict[str, int]] = {}
        for name, column in self.columns.items():
            if (
                column.codes is None
                and column.values is not None
                and column.values.dtype.kind in "iu"
            ):
                totals = np.add.reduceat(column.values, starts) if len(starts) else []
                self.sums[name] = dict(zip(ids, np.asarray(totals).tolist(), strict=True))

    def take(self, premises_ids: list[str]) -> tuple[dict[str, tuple[int, int]], list[list]]:
        """Rows of these premises: {id: (start, end) into the lists}, and the column lists in
        the order the constructor was given."""
        spans = [(pid, self.spans[pid]) for pid in premises_ids if pid in self.spans]
        local: dict[str, tuple[int, int]] = {}
        if not spans:
            return local, [[] for _ in self.columns]
        contiguous = all(a[1][1] == b[1][0] for a, b in zip(spans, spans[1:], strict=False))
        offset = 0
        for pid, (s, e) in spans:
            local[pid] = (offset, offset + e - s)
            offset += e - s
        if contiguous:
            rows: slice | np.ndarray = slice(spans[0][1][0], spans[-1][1][1])
        else:
            rows = np.concatenate([np.arange(s, e) for _, (s, e) in spans])
        return local, [c.take(rows) for c in self.columns.values()]


def _community_sections(bundle: Bundle) -> dict[str, dict[str, Any]]:
    frame = bundle.tables.get("communities")
    if frame is None or len(frame) == 0:
        return {}
    cols = [_values(frame, f, None if f == "fee_notes" else "") for f in COMMUNITY_FIELDS]
    return {
        vals[0]: dict(zip(COMMUNITY_FIELDS, vals, strict=True)) for vals in zip(*cols, strict=True)
    }


def _premises_sections(bundle: Bundle) -> dict[str, tuple[str, dict[str, Any]]]:
    frame = bundle.tables.get("premises")
    if frame is None or len(frame) == 0:
        return {}
    cols = [_values(frame, f, None if f == "occupants" else "") for f in PREMISES_FIELDS]
    return {
        pid: (cid, dict(zip(PREMISES_FIELDS, vals, strict=True)))
        for pid, cid, *vals in zip(
            frame["premises_id"].tolist(), frame["community_id"].tolist(), *cols, strict=True
        )
    }


def _sort_codes(series: pd.Series) -> np.ndarray:
    """Integer keys that sort like the values (ISO dates and file names sort as text)."""
    if series.dtype.kind in "iu":
        return series.to_numpy()
    try:  # ISO dates: parsed in C, no hashing of millions of strings
        days = pa.array(series.array).cast(pa.date32()).cast(pa.int32())
        if days.null_count == 0:
            return days.to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        pass
    return pd.factorize(series, sort=True)[0]


def _row_order(
    frame: pd.DataFrame, pid_codes: np.ndarray, order: tuple[str, ...]
) -> np.ndarray | None:
    """The permutation that sorts rows by (premises, *order), or None when they already are
    sorted (exports usually list a premises' rows together, in date order)."""
    if len(frame) == 0:
        return None
    rows = frame["_row"].to_numpy() if "_row" in frame.columns else None
    one_file = "_file" not in frame.columns or bool(
        (frame["_file"] == frame["_file"].iloc[0]).all()
    )
    source_order = rows is not None and one_file and bool(np.all(rows[1:] > rows[:-1]))
    keys = [c for c in order if c in frame.columns and c not in ("_file", "_row")]
    if not source_order:
        sort_keys = [_sort_codes(frame[c]) for c in reversed(order) if c in frame.columns]
        return np.lexsort([*sort_keys, pid_codes])
    # In source order already: a stable sort on (premises, *keys) keeps it within ties.
    key = pid_codes.astype(np.int64)
    for c in keys:
        codes = _sort_codes(frame[c]).astype(np.int64)
        codes -= codes.min()
        key = key * (int(codes.max()) + 1) + codes
    if bool(np.all(key[1:] >= key[:-1])):
        return None
    return np.argsort(key, kind="stable")


def _unknown_premises(bundle: Bundle, table: str, ids: set[str]) -> list[Problem]:
    frame = bundle.tables[table]
    frame = frame[frame["premises_id"].isin(ids).to_numpy()]
    reason = "no such premises in this bundle or in the published data"
    return [
        Problem(file, table, row, "premises_id", pid, reason)
        for pid, file, row in zip(
            frame["premises_id"].tolist(),
            _values(frame, "_file"),
            _values(frame, "_row", None),
            strict=True,
        )
    ]


@dataclass
class _Plan:
    """Which premises get a new document, and where each part of it comes from."""

    build: dict[str, str]  # premises id -> community id, for every document built now
    copy: list[str]  # communities copied unchanged from the previous generation
    dropped: dict[str, list[str]]  # replaced community -> premises it no longer has


def _plan(bundle: Bundle, prev_owner: dict[str, str], premises: dict) -> _Plan:
    touched = bundle.communities()
    build: dict[str, str] = {}
    if "premises" in bundle.tables:
        build.update({pid: cid for pid, (cid, _) in premises.items()})
        # A community listed only in the communities table keeps no premises it had.
        referable = {p: c for p, c in prev_owner.items() if c not in touched}
    else:
        # Only community details (or only child tables): every touched community keeps its
        # premises and gets its details refreshed in each of them.
        build.update({p: c for p, c in prev_owner.items() if c in touched})
        referable = dict(prev_owner)
    problems: list[Problem] = []
    for table in CHILD_TABLES:
        frame = bundle.tables.get(table)
        if frame is None or len(frame) == 0:
            continue
        listed = set(frame["premises_id"].unique().tolist())
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


class _Builder:
    """Builds the documents of one plan, in premises batches."""

    def __init__(
        self, bundle: Bundle, previous: Generation | None, plan: _Plan, premises: dict
    ) -> None:
        self.previous = previous
        self.plan = plan
        self.communities = _community_sections(bundle)
        self.premises = premises
        tables = bundle.tables
        self.ledger = (
            _Groups(tables["ledger"], ("date", "_file", "_row"), LEDGER_SOURCE)
            if "ledger" in tables
            else None
        )
        self.fees = (
            _Groups(tables["fees"], ("_file", "_row"), FEE_SOURCE) if "fees" in tables else None
        )
        self.allowances = (
            _Groups(tables["allowances"], ("_file", "_row"), ALLOWANCE_SOURCE)
            if "allowances" in tables
            else None
        )
        self.complete = all(t in tables for t in ("communities", "premises", *CHILD_TABLES))
        self._prev_community: dict[str, dict[str, Any]] = {}
        # Per community: [premises, ledger rows, fees, allowances] in the built documents.
        self.counts: dict[str, list[int]] = {}

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

    def batches(self, progress: Progress | None) -> Iterator[list[tuple[str, str, bytes]]]:
        ids = sorted(self.plan.build)
        total = len(ids)
        for start in range(0, total, CHUNK):
            yield list(self._batch(ids[start : start + CHUNK]))
            if progress is not None:
                progress(min(start + CHUNK, total), total)

    def _batch(self, ids: list[str]) -> Iterator[tuple[str, str, bytes]]:
        if self.ledger is not None:
            ledger_at, cols = self.ledger.take(ids)
            ledger_rows = list(zip(*cols, strict=True))
            sums = self.ledger.sums
            charge_sums, payment_sums = sums.get("charge", {}), sums.get("payment", {})
        if self.fees is not None:
            fees_at, cols = self.fees.take(ids)
            fee_rows = [dict(zip(FEE_KEYS, v, strict=True)) for v in zip(*cols, strict=True)]
        if self.allowances is not None:
            allow_at, cols = self.allowances.take(ids)
            allow_rows = [
                dict(zip(ALLOWANCE_KEYS, v, strict=True)) for v in zip(*cols, strict=True)
            ]
        for pid in ids:
            cid = self.plan.build[pid]
            prev_doc = None
            if self.previous is not None and not (self.complete and pid in self.premises):
                prev_doc = self.previous.document(pid)
            if pid in self.premises:
                premises = self.premises[pid][1]
            elif prev_doc is not None:
                premises = prev_doc["premises"]
            else:  # _plan admits no such premises
                raise AssertionError(pid)
            if self.ledger is not None:
                s, e = ledger_at.get(pid, (0, 0))
                rows: list[Any] = ledger_rows[s:e]
                charges, payments = charge_sums.get(pid, 0), payment_sums.get(pid, 0)
            else:
                rows = prev_doc["ledger"]["rows"] if prev_doc else []
                charges = sum(r[4] for r in rows)
                payments = sum(r[5] for r in rows)
            if self.fees is not None:
                s, e = fees_at.get(pid, (0, 0))
                fees = fee_rows[s:e]
            else:
                fees = prev_doc["fees"] if prev_doc else []
            if self.allowances is not None:
                s, e = allow_at.get(pid, (0, 0))
                allowances = allow_rows[s:e]
            else:
                allowances = prev_doc["allowances"] if prev_doc else []
            doc = {
                "schema": SCHEMA,
                "premises_id": pid,
                "community": self._community(cid, prev_doc),
                "premises": premises,
                "ledger": {"columns": LEDGER_COLUMNS, "rows": rows},
                "fees": fees,
                "allowances": allowances,
                "totals": {
                    "charges": charges,
                    "payments": payments,
                    "balance": payments - charges,
                    "monthly_fees": sum(f["amount"] for f in fees),
                },
            }
            c = self.counts.setdefault(cid, [0, 0, 0, 0])
            c[0] += 1
            c[1] += len(rows)
            c[2] += len(fees)
            c[3] += len(allowances)
            yield pid, cid, orjson.dumps(doc)


def _write_behind(writer: GenerationWriter, batches: Iterator[list]) -> None:
    """Hash and insert documents in a second thread while the next batch is built: SQLite
    and hashlib release the GIL, so on two cores writing costs almost no extra wall time."""
    handoff: queue.Queue[list | None] = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def drain() -> Iterator[tuple[str, str, bytes]]:
        while (batch := handoff.get()) is not None:
            yield from batch

    def consume() -> None:
        try:
            writer.add_many(drain())
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
        " coalesce(sum(json_array_length(body, '$.allowances')), 0)"
        " FROM documents WHERE community_id = ?",
        (cid,),
    ).fetchone()
    return dict(zip(("premises", "ledger", "fees", "allowances"), row, strict=True))


def publish(
    bundle: Bundle,
    store: SnapshotStore,
    *,
    keep: int = 10,
    progress: Progress | None = None,
) -> PublishResult:
    """Write the generation `bundle` leads to and make it current, unless it equals the current
    one. Raises BundleRejected when the bundle refers to premises that exist nowhere; then (as
    on any error) the current generation stays as it was."""
    previous = store.current()
    prev_owner = previous.premises_communities() if previous is not None else {}
    premises = _premises_sections(bundle)
    plan = _plan(bundle, prev_owner, premises)
    builder = _Builder(bundle, previous, plan, premises)
    warnings = list(bundle.warnings)
    for cid, gone in sorted(plan.dropped.items()):
        shown = ", ".join(sorted(gone)[:10]) + (" ..." if len(gone) > 10 else "")
        warnings.append(
            f"community {cid}: {len(gone)} premises not in this export were removed ({shown})"
        )

    writer = store.start()
    try:
        copied = writer.copy_from(previous, plan.copy) if previous is not None else 0
        if copied:
            writer.discard(plan.build)
        _write_behind(writer, builder.batches(progress))
        digest = writer.content_digest()
        if previous is not None and previous.manifest.get("content_digest") == digest:
            writer.abort()
            return PublishResult(None, warnings=warnings, rebuilt=len(plan.build))

        prev_communities = previous.manifest.get("communities", {}) if previous else {}
        communities: dict[str, dict[str, Any]] = {}
        for cid, (n, ledger, fees, allowances) in builder.counts.items():
            as_of = builder.communities[cid]["as_of"] if cid in builder.communities else None
            communities[cid] = {
                "as_of": as_of,
                "premises": n,
                "ledger": ledger,
                "fees": fees,
                "allowances": allowances,
            }
        for cid in plan.copy:
            prev_entry = prev_communities.get(cid, {})
            if cid in builder.counts or "ledger" not in prev_entry:
                figures = _previous_counts(previous, writer.db, cid)
            else:
                figures = {k: prev_entry[k] for k in ("premises", "ledger", "fees", "allowances")}
            communities[cid] = {"as_of": prev_entry.get("as_of"), **figures}
        for cid, entry in communities.items():
            if entry["as_of"] is None:  # refreshed from documents that keep their details
                entry["as_of"] = prev_communities.get(cid, {}).get("as_of")
        communities = {c: communities[c] for c in sorted(communities) if communities[c]["premises"]}
        counts = {
            k: sum(e[k] for e in communities.values())
            for k in ("premises", "ledger", "fees", "allowances")
        }
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
        rebuilt=len(plan.build),
    )
