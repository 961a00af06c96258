"""Reader for the native `#`-delimited export of a legacy Polish ledger system.

The export is a folder per community (its name is the community id) of headerless text files
in ISO-8859-2; docs/legacy-format.md describes it and how it maps onto our tables. It is
recognised by its file names (`detect`), so the accountant drops the folder (or a ZIP of it)
into the inbox as it is. The bank account, which the export lacks, comes from
communities.toml.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pandas as pd

from etl.legacy import checks
from etl.legacy.community import community_settings
from etl.legacy.records import (
    Card,
    ChargeLine,
    FeeSchedule,
    parse_as_of,
    parse_lok,
    parse_nal,
    parse_pow,
    parse_wplaty,
)
from etl.legacy.source import AS_OF_SUFFIX, Export, detect, load_exports
from etl.legacy.tables import fees_frame, ledger_frame, premises_frame
from etl.model import Bundle, BundleRejected, Problem
from etl.snapshot.store import Generation

__all__ = ["detect", "read_legacy"]


def read_legacy(
    path: Path, *, communities_file: Path | None = None, previous: Generation | None = None
) -> Bundle:
    """Read the legacy export(s) under `path` into one validated Bundle (kind "legacy").

    Raises BundleRejected listing every problem of every community; then nothing is published,
    as with any bundle (accepted whole or not at all)."""
    path = Path(path)
    exports, stray = load_exports(path)
    problems: list[Problem] = []
    warnings = [f"{name}: unknown file, ignored" for name in stray]
    parts = [_read_one(e, communities_file, previous, problems, warnings) for e in exports]
    owners = Counter(pid for part in parts for pid in part["premises"]["premises_id"])
    for pid, n in owners.items():
        if n > 1:
            problems.append(
                Problem(path.name, "premises", None, "premises code", pid,
                        f"premises {pid} appears in {n} communities' lok.txt")
            )  # fmt: skip
    if problems:
        raise BundleRejected(problems)
    tables = {
        name: pd.concat([part[name] for part in parts], ignore_index=True)
        for name in ("communities", "premises", "ledger", "fees")
    }
    for name in ("ledger", "fees"):
        money = ["charge", "payment"] if name == "ledger" else ["amount"]
        tables[name] = tables[name].astype(dict.fromkeys(money, "int64"))
    return Bundle(
        tables=tables,
        sources=[s for e in exports for s in e.sources()],
        warnings=warnings,
        kind="legacy",
    )


def _read_one(
    export: Export,
    communities_file: Path | None,
    previous: Generation | None,
    problems: list[Problem],
    warnings: list[str],
) -> dict[str, pd.DataFrame]:
    """One community's tables; its problems are added to `problems`."""
    before = len(problems)
    warnings += [f"{export.label(n)}: unknown file, ignored" for n in export.unknown]

    def need(name: str, table: str) -> str:
        text = export.text(name)
        if text is None:
            problems.append(Problem(export.label(name), table, None, "", "", "file missing"))
        return text or ""

    lok, wpl, nal = (export.label(n) for n in ("lok.txt", "wplaty.txt", "nal_czynsz.txt"))
    codes: set[str] = set()
    people = parse_lok(lok, need("lok.txt", "premises"), problems, codes)
    cards = parse_wplaty(wpl, need("wplaty.txt", "ledger"), problems)
    charge_lines = parse_nal(nal, need("nal_czynsz.txt", "ledger"), problems, warnings)
    pow_text = export.text("pow_czynsz.txt")
    if pow_text is None:
        warnings.append(f"{export.label('pow_czynsz.txt')}: missing, no fee schedule shown")
        schedule = FeeSchedule("", "", [])
    else:
        schedule = parse_pow(export.label("pow_czynsz.txt"), pow_text, problems, warnings)
    as_of = _as_of(export, problems)

    premises = premises_frame(export.label("lok.txt"), export.community_id, people, problems)
    known = set(premises["premises_id"]) | codes
    for label, table, items in (
        (wpl, "ledger", cards),
        (nal, "ledger", charge_lines),
        (export.label("pow_czynsz.txt"), "fees", schedule.lines),
    ):
        for item in items:
            if item.premises not in known:
                problems.append(
                    Problem(label, table, item.line, "premises code", item.premises,
                            f"premises {item.premises} is not among the owners' premises "
                            "in lok.txt")
                )  # fmt: skip

    def previous_closing(premises_id: str) -> tuple[int, int] | None:
        if previous is None:
            return None
        return checks.published_closing(previous.document(premises_id))

    totals = checks.month_totals(charge_lines)
    problems += checks.check_duplicates(wpl, cards)
    problems += checks.check_closing(wpl, cards)
    problems += checks.check_months(wpl, "nal_czynsz.txt", cards, totals)
    problems += checks.check_openings(wpl, cards, previous_closing)
    _warn_uncovered(nal, cards, charge_lines, warnings)
    owners: dict[str, set[str]] = {}
    for person in people:
        owners.setdefault(person.premises, set()).add(person.person_id)
    warnings += checks.owner_warnings(wpl, cards, owners)

    community = community_settings(
        export.community_id, communities_file, previous, people, problems, warnings
    )
    if len(problems) > before:
        return {"premises": premises}
    community.update(
        as_of=as_of.isoformat(),  # type: ignore[union-attr]
        fee_notes={"header": schedule.header, "footer": schedule.footer},
    )
    premises["community_id"] = export.community_id
    for column in ("postal_code", "city"):
        premises[column] = premises[column].where(premises[column] != "", community[column])
    premises["payer_address"] = [
        f"{street}/{number}, {postal} {city}".replace("/, ", ", ").strip(" ,")
        for street, number, postal, city in zip(
            premises["street"],
            premises["number"],
            premises["postal_code"],
            premises["city"],
            strict=True,
        )
    ]  # the contract's default: the premises address, as printed on the payment slip
    return {
        "communities": pd.DataFrame([community]),
        "premises": premises,
        "ledger": ledger_frame(wpl, cards, charge_lines, as_of),  # type: ignore[arg-type]
        "fees": fees_frame(export.label("pow_czynsz.txt"), schedule.lines),
    }


def _as_of(export: Export, problems: list[Problem]) -> date | None:
    names = sorted(n for n in export.files if n.endswith(AS_OF_SUFFIX))
    if not names:
        problems.append(
            Problem(export.label("*" + AS_OF_SUFFIX), "communities", None, "as_of", "",
                    "file missing: it holds the date the data is valid for (YYYYMMDD)")
        )  # fmt: skip
        return None
    dates = {parse_as_of(export.label(n), export.text(n) or "", problems) for n in names}
    if len(dates) > 1 and None not in dates:
        problems.append(
            Problem(export.label(names[0]), "communities", 1, "as_of", "",
                    f"{len(names)} as-of files with different dates")
        )  # fmt: skip
    return max((d for d in dates if d), default=None)


def _warn_uncovered(
    file: str, cards: list[Card], lines: list[ChargeLine], warnings: list[str]
) -> None:
    """Charge lines for a month no card covers are not shown; say so rather than drop them."""
    covered = {(c.premises, c.year) for c in cards}
    missing = sorted(
        {(c.premises, c.period[0]) for c in lines if c.period} - covered,
    )
    for premises, year in missing:
        warnings.append(
            f"{file}: premises {premises} has charge lines for {year} but no account card "
            "for that year in wplaty.txt; they are not shown"
        )
