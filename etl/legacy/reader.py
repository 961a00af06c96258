"""Reader for the native `#`-delimited export of a legacy Polish ledger system.

The export is a folder per community (its name is the community id) of headerless text files
in ISO-8859-2; docs/legacy-format.md describes it and how it maps onto our tables. It is
recognised by its file names (`detect`), so the accountant drops the folder (or a ZIP of it)
into the inbox as it is. The bank account, which the export lacks, comes from
communities.toml.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd

from etl.legacy import charges, checks
from etl.legacy.cards import parse_cards
from etl.legacy.charges import FeeSchedule, parse_nal, parse_pow
from etl.legacy.columns import Source
from etl.legacy.community import community_settings
from etl.legacy.fields import zl
from etl.legacy.ledger import ledger_frame
from etl.legacy.records import (
    Card,
    Person,
    parse_as_of,
    parse_lok,
    parse_others,
)
from etl.legacy.source import AS_OF_SUFFIX, Export, detect, load_exports
from etl.legacy.tables import fees_frame, not_yet_due, premises_frame
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
    with _no_cycle_collection():
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
        name: _concat([part[name] for part in parts])
        for name in ("communities", "premises", "ledger", "fees")
    }
    return Bundle(
        tables=tables,
        sources=[s for e in exports for s in e.sources()],
        warnings=warnings,
        kind="legacy",
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The communities' rows of one table; money columns int64 (as each part has them)."""
    if len(frames) == 1:
        return frames[0]  # one community: its frame as it is, not a copy of 10^5 rows
    frame = pd.concat(frames, ignore_index=True)
    money = [c for c in ("charge", "payment", "amount") if c in frame.columns]
    return frame.astype(dict.fromkeys(money, "int64"))


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Reading makes 10^5 small dicts per community (each month's charge breakdown) and no
    reference cycles; the cycle collector's passes over them took a quarter of the read."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    lok_text = need("lok.txt", "premises")
    people = parse_lok(lok, lok_text, problems, codes)
    wpl_source = export.source("wplaty.txt")
    if wpl_source is None:
        problems.append(Problem(wpl, "ledger", None, "", "", "file missing"))
    cards = parse_cards(wpl, wpl_source or Source.of_text(""), problems)
    nal_source = export.source("nal_czynsz.txt")
    charge_lines: pd.DataFrame | None = None
    if nal_source is None:
        warnings.append(
            f"{nal}: missing; the ledger shows the cards' monthly charges without a breakdown"
        )
    else:
        charge_lines = parse_nal(nal, nal_source, problems, warnings)
    pow_text = export.text("pow_czynsz.txt")
    if pow_text is None:
        warnings.append(f"{export.label('pow_czynsz.txt')}: missing, no fee schedule shown")
        schedule = FeeSchedule("", "", charges.empty())
    else:
        schedule = parse_pow(export.label("pow_czynsz.txt"), pow_text, problems, warnings)
    as_of, parts = _as_of(export, cards, problems, warnings)

    owners: dict[str, set[str]] = {}
    for person in people:
        owners.setdefault(person.premises, set()).add(person.person_id)
    frames = (
        (nal, "ledger", charges.empty() if charge_lines is None else charge_lines),
        (export.label("pow_czynsz.txt"), "fees", schedule.lines),
    )
    listed = [set(f["premises"].to_numpy()) for _, _, f in frames]  # codes of the lines
    wanted = {c.premises for c in cards}.union(*listed) - set(owners) - codes
    people = people + _ownerless(lok, lok_text, wanted, cards, warnings)
    premises = premises_frame(lok, export.community_id, people, problems)
    known = set(premises["premises_id"]) | codes
    unknown = [(wpl, "ledger", c.line, c.premises) for c in cards if c.premises not in known]
    for (label, table, lines), distinct in zip(frames, listed, strict=True):
        if distinct <= known:
            continue
        stray = lines[~lines["premises"].isin(known)]
        found = zip(stray["line"], stray["premises"], strict=True)
        unknown += [(label, table, n, p) for n, p in found]
    for label, table, line, code in unknown:
        problems.append(
            Problem(label, table, int(line), "premises code", code,
                    f"premises {code} is not among the premises in lok.txt")
        )  # fmt: skip

    def previous_closing(premises_id: str) -> checks.Published | None:
        if previous is None:
            return None
        return checks.published_closing(previous.document(premises_id))

    totals = None if charge_lines is None else charges.month_totals(charge_lines)
    cards = checks.read_months(wpl, cards, totals, problems, warnings)
    problems += checks.check_duplicates(wpl, cards)
    problems += checks.check_closing(wpl, cards)
    if totals is not None:
        problems += checks.check_months(wpl, "nal_czynsz.txt", cards, totals)
        _warn_uncovered(nal, cards, totals, warnings)
    problems += checks.check_openings(wpl, cards, previous_closing, warnings)
    warnings += checks.owner_warnings(wpl, cards, owners)

    community = community_settings(
        export.community_id, communities_file, previous, people, problems, warnings
    )
    if len(problems) > before or as_of is None:
        return {"premises": premises}
    charges_to = date.fromisoformat(parts["ledger"]) if "ledger" in parts else None
    _warn_not_yet_due(wpl, cards, charges_to, warnings)
    community.update(
        as_of=as_of.isoformat(),
        fee_notes={"header": schedule.header, "footer": schedule.footer},
        as_of_parts=parts,
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
        "ledger": ledger_frame(wpl, cards, charge_lines, as_of, charges_to),
        "fees": fees_frame(export.label("pow_czynsz.txt"), schedule.lines),
    }


def _ownerless(
    file: str, text: str, codes: set[str], cards: list[Card], warnings: list[str]
) -> list[Person]:
    """Payers for premises that have a card, charge or fee lines but no owner (`W…`) in
    lok.txt: a council-owned flat lists only its tenant. The premises takes its address from
    the persons lok.txt lists for it, and its payer is the person the card is kept for when
    listed, else those persons. A code lok.txt does not list at all stays refused."""
    if not codes:
        return []
    listed: dict[str, list[Person]] = {}
    for person in parse_others(text):
        if person.premises in codes:
            listed.setdefault(person.premises, []).append(person)
    holders = {(c.premises, c.owner_id) for c in cards}
    out = []
    for code, persons in listed.items():
        payers = [p for p in persons if (code, p.person_id) in holders] or persons
        out += payers
        names = ", ".join(dict.fromkeys(p.name for p in payers))
        warnings.append(
            f"{file}, line {payers[0].line}: premises {code} has no owner (W…) in lok.txt "
            f"(e.g. a council-owned flat); shown with payer {names}"
        )
    return out


def _as_of(
    export: Export, cards: list[Card], problems: list[Problem], warnings: list[str]
) -> tuple[date | None, dict[str, str]]:
    """The as-of date of the data and of each part.

    `lokal_ost_wys.wmb`, `nalicz_ost_wys.wmb` and `pow_czynsz_ost_wys.wmb` date the premises,
    the charges and the fee schedule, and may differ; any other `*_ost_wys.wmb` dates every
    part without its own file. The data's as-of date is the newest. Without any such file the
    data run to the account cards' end date: that is the as-of date, and the parts are
    empty (`{}`), which the portal words as "według karty kontowej do …"."""
    names = sorted(n for n in export.files if n.endswith(AS_OF_SUFFIX))
    if not names:
        end = max((c.date_to for c in cards), default=None)
        if end is None:
            problems.append(
                Problem(export.label("*" + AS_OF_SUFFIX), "communities", None, "as_of", "",
                        "file missing, and no account card in wplaty.txt to date the data "
                        "by: it holds the date the data is valid for (YYYYMMDD)")
            )  # fmt: skip
            return None, {}
        warnings.append(
            f"{export.label('*' + AS_OF_SUFFIX)}: missing; the data are shown as of the "
            f"account cards' end date {end:%d/%m/%Y}"
        )
        return end, {}
    dated: dict[str, list[tuple[str, date | None]]] = {}
    for name in names:
        part = AS_OF_PARTS.get(name[: -len(AS_OF_SUFFIX)], "")
        when = parse_as_of(export.label(name), export.text(name) or "", problems)
        dated.setdefault(part, []).append((name, when))
    parts: dict[str, date] = {}
    for part, found in dated.items():
        dates = {when for _, when in found if when}
        if len(dates) > 1:
            problems.append(
                Problem(export.label(found[0][0]), "communities", 1, "as_of", "",
                        f"{len(found)} as-of files with different dates, and nothing says "
                        "which part of the data each dates")
            )  # fmt: skip
        if dates:
            parts[part] = max(dates)
    common = parts.pop("", None)
    if common is not None:
        for part in ("premises", "ledger", "fees"):
            parts.setdefault(part, common)
    if not parts:
        return None, {}
    ordered = {k: parts[k].isoformat() for k in ("premises", "ledger", "fees") if k in parts}
    return max(parts.values()), ordered


# The `.wmb` date files by the part of the data they date (the name before `_ost_wys.wmb`).
AS_OF_PARTS = {
    "lokal": "premises",
    "lok": "premises",
    "lokale": "premises",
    "nalicz": "ledger",
    "nal_czynsz": "ledger",
    "naliczenia": "ledger",
    "pow_czynsz": "fees",
    "pow": "fees",
}


def _warn_not_yet_due(
    file: str, cards: list[Card], charges_to: date | None, warnings: list[str]
) -> None:
    """Charges a card holds for periods after the charges date: not shown as due; say so."""
    later = [(card, not_yet_due(card, charges_to)) for card in cards]
    later = [(card, due) for card, due in later if due]
    if not later or charges_to is None:
        return
    periods = sorted({f"{m:02d}/{y}" for _, due in later for y, m, _ in due})
    total = sum(g for _, due in later for _, _, g in due)
    warnings.append(
        f"{file}: {len(later)} card(s) hold charges for {', '.join(periods)}, after the "
        f"charges date {charges_to:%d/%m/%Y}; not shown as due (together {zl(total)})"
    )


def _warn_uncovered(
    file: str, cards: list[Card], totals: dict[tuple[str, int, int], int], warnings: list[str]
) -> None:
    """Charge lines for a month no card covers are not shown; say so rather than drop them."""
    covered = {(c.premises, *month) for c in cards for month in c.months}
    missing = sorted({(p, year) for p, year, month in totals if (p, year, month) not in covered})
    for premises, year in missing:
        warnings.append(
            f"{file}: premises {premises} has charge lines for {year} that no account card in "
            "wplaty.txt covers; they are not shown"
        )
