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

Which documents are built is planned in etl.publisher.plan; etl.publisher.builder builds
them column-wise, a batch of premises (and a bucket of a spilled ledger) at a time, while a
second thread here writes them (`_write_behind`), doing what etl.publisher.work lists for it;
documents whose inputs did not change are copied from the previous generation instead
(etl.publisher.reuse), and a re-import that keeps most of them (etl.reader.ledger_delta) starts
from a copy of the previous generation's file."""

from __future__ import annotations

import functools
import itertools
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from etl import cycles
from etl.model import Bundle
from etl.publisher import history, reuse, shrink, work
from etl.publisher.builder import Builder, Job, Progress
from etl.publisher.plan import plan_for, table_file
from etl.publisher.published import read_only
from etl.publisher.sections import PremisesSections
from etl.publisher.work import COUNT_KEYS
from etl.snapshot.generation import Generation
from etl.snapshot.store import SnapshotStore
from etl.snapshot.writer import GenerationWriter, body_digest


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
    ahead: GenerationWriter | None = None,
) -> PublishResult:
    """Write the generation `bundle` leads to and make it current, unless it equals the current
    one. Raises BundleRejected when the bundle refers to premises that exist nowhere,
    HistoryMismatch when an opening balance contradicts the published history it continues
    (not with `replace_history`: the export's ledger replaces the published one whole), and
    ShrinkRefused when it would remove more of a community than shrink.SHRINK_LIMITS allow
    (not with `allow_shrink`); then (as on any error) the current generation stays as it was.
    `ahead`: a writer started from a copy of the current generation while the bundle was read
    (etl.sync), used when the new generation is to start so, else abandoned."""
    with cycles.paused():
        return _publish(bundle, store, keep, progress, allow_shrink, replace_history, ahead)


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
            db = db or read_only(previous)
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
    ahead: GenerationWriter | None = None,
) -> PublishResult:
    try:
        previous = store.current()
        prev_owner = previous.premises_communities() if previous is not None else {}
    except BaseException:
        if ahead is not None:
            ahead.abort()
        raise
    # Most documents kept (etl.reader.ledger_delta): the new generation starts as a copy of the
    # previous file, made while the documents to build are planned, less what is not kept.
    based = previous is not None and len(bundle.kept) >= reuse.BASE_COPY * len(prev_owner)
    if ahead is not None and not (based and previous is not None and ahead.base == previous.id):
        ahead.abort()  # before starting another: SnapshotStore.start drops unfinished ones
        ahead = None
    writer = ahead or store.start(base=previous if based else None)
    try:
        premises = PremisesSections(bundle)
        plan = plan_for(bundle, prev_owner, premises)
        builder = Builder(bundle, previous, plan, premises, replace_history=replace_history)
        warnings = list(bundle.warnings)
        for cid, gone in sorted(plan.dropped.items()):
            shown = ", ".join(sorted(gone)[:10]) + (" ..." if len(gone) > 10 else "")
            warnings.append(
                f"community {cid}: {len(gone)} premises not in this export were removed ({shown})"
            )
        setup = functools.partial(work.setup, writer, bundle, previous, plan, prev_owner, based)
        jobs = work.jobs(writer, builder, previous, prev_owner, progress, based)
        if based:  # in the writer's thread, which waits for the copy while digests are made
            jobs = itertools.chain([setup], jobs)
        else:
            setup(writer.db)
        try:
            _write_behind(writer, jobs)
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
                {t: table_file(bundle, t) for t in shrink.SHRINK_LIMITS},
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
            "built_under": builder.stamp,
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
