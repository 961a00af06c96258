"""The writer thread's work for one import, in order (etl.publisher.publish runs it): the new
generation set up (empty, or a copy of the previous one less what goes), then part by part the
unchanged documents copied (or, in a copy, left where they are) and the others built.

Which documents are unchanged: those whose inputs' digests the previous generation recorded
(etl.publisher.reuse), and those of premises the bundle keeps unread (etl.reader.ledger_delta),
whose figures come from the previous manifest.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from etl.model import Bundle
from etl.publisher import community, reuse
from etl.publisher.builder import Builder, Job, Progress
from etl.publisher.plan import Plan
from etl.snapshot.generation import Generation
from etl.snapshot.writer import GenerationWriter

# The figures of a community in the manifest.
COUNT_KEYS = ("premises", "ledger", "fees", "allowances", "readings")


def _reused(
    builder: Builder, ids: list[str], recorded: dict[str, tuple[str, Sequence[int]]]
) -> list[str]:
    """The premises of `ids` whose inputs did not change since the previous generation
    recorded them (etl.publisher.reuse), counted as if built; the builder builds the others."""
    digests = builder.input_digests(ids)
    builder.digests = digests  # this part's: the records of its documents are made next
    same = sorted(pid for pid, digest in digests.items() if recorded.get(pid, ("",))[0] == digest)
    _count_reused(builder, same, recorded)
    return same


def _figures(
    ids: Iterable[str], owner: dict[str, str], recorded: dict[str, tuple[str, Sequence[int]]]
) -> dict[str, list[int]]:
    """community -> [premises, ledger, fees, allowances, readings] of these premises, from
    their records: tens of thousands of them for a re-import, summed a column at a time."""
    per_community: dict[str, list[Sequence[int]]] = {}
    for pid in ids:
        per_community.setdefault(owner[pid], []).append(recorded[pid][1])
    return {
        cid: [len(rows), *map(sum, zip(*rows, strict=True))] for cid, rows in per_community.items()
    }


def _count_reused(
    builder: Builder, same: list[str], recorded: dict[str, tuple[str, Sequence[int]]]
) -> None:
    for cid, figures in _figures(same, builder.plan.build, recorded).items():
        c = builder.counts.setdefault(cid, [0, 0, 0, 0, 0])
        for i, n in enumerate(figures):
            c[i] += n
    builder.reused.update(same)
    builder.done += len(same)


def _records(
    builder: Builder, previous: Generation | None, prev_owner: dict[str, str]
) -> dict[str, tuple[str, Sequence[int]]]:
    """The previous generation's records this import compares with (etl.publisher.reuse):
    of every premises, or, when the bundle keeps premises unread (etl.reader.ledger_delta),
    of the others only."""
    if previous is None or not builder.complete:
        return {}
    if not builder.kept:
        return reuse.previous(previous)
    return reuse.previous(previous, (prev_owner.keys() | builder.plan.build.keys()) - builder.kept)


def _kept(
    builder: Builder,
    previous: Generation | None,
    prev_owner: dict[str, str],
    recorded: dict[str, tuple[str, Sequence[int]]],
) -> list[str]:
    """The bundle's kept premises (etl.reader.ledger_delta), counted as reused; raises
    StaleKept when the current generation cannot give their documents as they would be built.
    Their figures are their communities' in the previous manifest less those of the previous
    premises not kept (tens of thousands of records are not read to add them up again)."""
    kept = builder.kept
    if not kept:
        return []
    assert previous is not None  # a bundle keeps premises of the current generation only
    if previous.manifest.get("built_under") != builder.stamp:
        raise reuse.StaleKept
    figures = previous.manifest.get("communities", {})
    others = prev_owner.keys() - kept
    counted = reuse.recorded_count(previous) == len(prev_owner) and all(
        p in recorded for p in others
    )
    left = _figures(others, prev_owner, recorded) if counted else {}
    per_community = collections.Counter(prev_owner.values())
    if not counted or any(
        any(k not in figures.get(cid, {}) for k in COUNT_KEYS) for cid in per_community
    ):  # an older generation: every record read and added up
        everything = reuse.previous(previous)
        if any(pid not in everything for pid in kept):
            raise reuse.StaleKept
        _count_reused(builder, list(kept), everything)
        return list(kept)
    for cid, premises in per_community.items():
        gone = left.get(cid, [0, 0, 0, 0, 0])
        if premises == gone[0]:
            continue  # no premises of it kept
        c = builder.counts.setdefault(cid, [0, 0, 0, 0, 0])
        for i, key in enumerate(COUNT_KEYS):
            c[i] += figures[cid][key] - gone[i]
    builder.reused.update(kept)
    builder.done += len(kept)
    return list(kept)


def jobs(
    writer: GenerationWriter,
    builder: Builder,
    previous: Generation | None,
    prev_owner: dict[str, str],
    progress: Progress | None,
    based: bool,
) -> Iterator[Job]:
    """The writer's work, part by part (etl.reader.spill's buckets): the unchanged documents
    copied from the previous generation, then the others built. `based`: the writer started
    from the previous generation's file, so the unchanged documents are there already and
    the previous ones of those built are deleted instead."""
    recorded = _records(builder, previous, prev_owner)
    kept = _kept(builder, previous, prev_owner, recorded)
    for ids in builder.parts():
        same = _reused(builder, ids, recorded)
        if based:  # the previous documents are there: those built anew go
            built = [pid for pid in ids if pid not in builder.reused]
            yield functools.partial(_replaced, writer, built)
            yield from builder.batches(ids, progress)
            continue
        if kept:  # copied together: most of the previous documents, copied whole
            same, kept = sorted([*kept, *same]), []
        if same:
            yield functools.partial(reuse.copy, generation=previous, ids=same)
        yield from builder.batches(ids, progress)
    if kept and not based:
        yield functools.partial(reuse.copy, generation=previous, ids=kept)


def _replaced(writer: GenerationWriter, ids: list[str], db: Any) -> None:
    """The previous documents (and records) of premises about to be built, deleted."""
    writer.discard(ids)
    reuse.forget(db, ids)


def setup(
    writer: GenerationWriter,
    bundle: Bundle,
    previous: Generation | None,
    plan: Plan,
    prev_owner: dict[str, str],
    based: bool,
    db: Any,
) -> None:
    """The new generation before documents are added: with `based`, the previous one's file
    less the premises gone (and the communities' own tables), else an empty one with the
    communities this import does not touch copied in; then the communities' announcements
    and documents (etl.publisher.community)."""
    reuse.create(db)
    if based:
        copied = set(plan.copy)
        gone = [p for p in prev_owner.keys() - plan.build.keys() if prev_owner[p] not in copied]
        writer.leave_out(gone)
        reuse.forget(db, gone)
    elif previous is not None and writer.copy_from(previous, plan.copy):
        writer.discard(plan.build)
        reuse.copy_kept(db, previous)
    community.write(bundle, previous, writer)
