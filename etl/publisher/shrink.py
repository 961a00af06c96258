"""The shrink guard (docs/import-format.md, "Shrink guard"): an export that would remove much of
what is published for a community is more likely cut short (a ledger file with only its header,
a half-copied folder) than meant, so it is refused unless the importer says `allow_shrink`
(`ebok import --allow-shrink`).

The limits are module constants for now: `ebok/settings.py` is the place for them once it can
take them (`EBOK_SHRINK_*`).
"""

from __future__ import annotations

from collections.abc import Mapping

from etl.model import BundleRejected, Problem

# The share of a community's published premises, ledger rows and fee lines an import may
# remove; more is refused. Premises: any removal (0.0).
SHRINK_LIMITS: dict[str, float] = {"premises": 0.0, "ledger": 0.20, "fees": 0.20}
WHAT = {"premises": "premises", "ledger": "ledger rows", "fees": "fee lines"}

HINT = (
    "If the export is complete and the removal is intended, publish it anyway with "
    "`ebok import --allow-shrink PATH`."
)


class ShrinkRefused(BundleRejected):
    """The bundle is valid but would remove more published data than an export should."""

    hint = HINT

    def report(self) -> str:
        return f"{super().report()}\n{self.hint}"


def _percent(share: float) -> str:
    return f"{share * 100:.3g}%"


def shrink_problems(
    published: Mapping[str, Mapping[str, int]],
    new: Mapping[str, Mapping[str, int]],
    removed_premises: Mapping[str, list[str]],
    files: Mapping[str, str],
    limits: Mapping[str, float] = SHRINK_LIMITS,
) -> list[Problem]:
    """One Problem per community and table whose removal exceeds its limit. `published` and
    `new` map community id -> {"premises", "ledger", "fees"} counts (a community missing from
    `new` has nothing left); `removed_premises` lists the premises each community loses."""
    problems = []
    for cid in sorted(published):
        before, after = published[cid], new.get(cid, {})
        for table, limit in limits.items():
            was, now = int(before.get(table, 0)), int(after.get(table, 0))
            gone = removed_premises.get(cid, []) if table == "premises" else []
            removed = len(gone) if table == "premises" else max(0, was - now)
            if was <= 0 or removed / was <= limit:
                continue
            names = ""
            if gone:
                names = " (" + ", ".join(sorted(gone)[:10]) + (", ..." if len(gone) > 10 else "")
                names += ")"
            allowed = "none may be removed" if limit <= 0 else f"at most {_percent(limit)}"
            problems.append(
                Problem(
                    files.get(table, ""),
                    table,
                    None,
                    WHAT[table],
                    f"{was} -> {now}",
                    f"community {cid}: this export would remove {removed} of the {was} "
                    f"published {WHAT[table]}{names} ({_percent(removed / was)}; {allowed}): "
                    f"published {was}, this export {now}",
                )
            )
    return problems
