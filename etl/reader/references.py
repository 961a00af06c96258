"""Reference checks: every row points at a community or premises that will exist.

What is known is this bundle plus what is already published and not replaced by it: a bundle's
premises rows for a community replace that community's published premises, so rows of other
tables may refer to the published premises of the communities the bundle has no premises for.
Announcements and documents name a community of this bundle or a published one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.model import unknown_premises
from etl.reader import cell_columns
from etl.reader.raw import Problems, RawTable
from etl.reader.spill import SpilledTable
from etl.snapshot.store import Generation


def member_of(series: pd.Series, values: set[str]) -> np.ndarray:
    """Membership per row, looked up once per distinct value."""
    if isinstance(series.dtype, pd.CategoricalDtype):  # a table validated in blocks
        member = np.array([v.strip() in values for v in series.cat.categories.tolist()] + [False])
        return member[series.cat.codes.to_numpy()]
    indices, distinct = cell_columns.distinct(series)
    member = np.array([v in values for v in distinct.to_pylist()], dtype=bool)
    return member[indices] if len(member) else np.zeros(len(series), dtype=bool)


def check(
    tables: dict[str, pd.DataFrame],
    raws: dict[str, RawTable],
    previous: Generation | None,
    problems: Problems,
    *,
    unreadable: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Add a problem for every unknown community or premises and every premises id that
    would move from a community this bundle does not replace.

    A table in `unreadable` is in the bundle but could not be read (a required column missing,
    an encoding that cannot be told…): what refers to it is not checked, since every row would
    be "unknown" for that one cause."""
    prev_owner: dict[str, str] = previous.premises_communities() if previous else {}
    known_communities = set(previous.community_ids()) if previous else set()
    if "communities" in tables:
        known_communities |= set(tables["communities"]["community_id"])
    bundle_premises = tables.get("premises")
    replaced = (
        set(bundle_premises["community_id"].unique().tolist())
        if bundle_premises is not None
        else set()
    )
    ids: list[str] = []  # the bundle's premises, as a list: a Series iterates slowly
    if bundle_premises is not None:
        raw = raws["premises"]
        community = bundle_premises["community_id"]
        unknown = np.flatnonzero(~member_of(community, known_communities | {""}))
        if "communities" in unreadable:
            unknown = unknown[:0]
        problems.rows(
            raw,
            unknown,
            "community_id",
            lambda v: f"unknown community {v}: not in communities nor published",
        )
        ids = bundle_premises["premises_id"].tolist()
        owners = [prev_owner.get(p, "") for p in ids]
        taken_at = np.flatnonzero([o != "" and o not in replaced for o in owners])
        problems.rows(
            raw,
            taken_at,
            "premises_id",
            lambda v: f"premises id {v} already belongs to community {prev_owner[v]}",
        )
    for table in ("announcements", "documents"):
        if table not in tables or "communities" in unreadable:
            continue
        named = tables[table]["community_id"]
        unknown = np.flatnonzero(~member_of(named, known_communities | {""}))
        problems.rows(
            raws[table],
            unknown,
            "community_id",
            lambda v: f"unknown community {v}: not in communities nor published",
        )
    known = {p for p, c in prev_owner.items() if c not in replaced}
    known.update(ids)
    known.add("")  # an empty id is reported as empty, not as unknown
    for table in ("ledger", "fees", "allowances", "readings"):
        if table not in tables or "premises" in unreadable:
            continue
        if isinstance(tables[table], SpilledTable):
            _check_spilled(tables[table], raws[table], known, problems)  # type: ignore[arg-type]
            continue
        unknown = np.flatnonzero(~member_of(tables[table]["premises_id"], known))
        problems.rows(
            raws[table],
            unknown,
            "premises_id",
            unknown_premises,
        )


def _check_spilled(table: SpilledTable, raw: RawTable, known: set[str], problems: Problems) -> None:
    """The unknown premises of a table spilled to disk: its distinct ids are known without
    reading it, and only the rows of unknown ones are looked up (in file order)."""
    unknown = table.premises_ids - known
    if not unknown:
        return
    rows = table.rows_of(unknown)
    named = RawTable(raw.table, raw.file, rows, None, raw.headers, raw.polish)
    problems.rows(named, np.arange(len(rows)), "premises_id", unknown_premises)
