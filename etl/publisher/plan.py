"""Which premises an import builds, and where each part of their documents comes from.

The merge rules are in etl.publisher.publish's docstring; this module applies the ones that
decide the set of documents: the premises the bundle lists (or keeps), those of the communities
it replaces that it no longer has, and rows naming premises that exist nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from etl.model import Bundle, BundleRejected, Problem, unknown_premises
from etl.publisher.grouping import values_of
from etl.publisher.sections import PremisesSections
from etl.reader.headers import table_for
from etl.reader.spill import SpilledTable

CHILD_TABLES = ("ledger", "fees", "allowances")
# Every table whose rows belong to a premises (readings are optional: a bundle without them
# is still a complete one, see Builder.complete).
PREMISES_TABLES = (*CHILD_TABLES, "readings")


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
class Plan:
    """Which premises get a new document, and where each part of it comes from."""

    build: dict[str, str]  # premises id -> community id, for every document built now
    copy: list[str]  # communities copied unchanged from the previous generation
    dropped: dict[str, list[str]]  # replaced community -> premises it no longer has


def plan_for(bundle: Bundle, prev_owner: dict[str, str], premises: PremisesSections) -> Plan:
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
    return Plan(build=build, copy=copy, dropped=dropped)


def table_file(bundle: Bundle, table: str) -> str:
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
