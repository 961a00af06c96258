"""Balance checks on the legacy export: the account cards must agree with themselves, with the
charge lines, and with what residents were last shown.

Any failure rejects the whole community (nothing of it is published), because a resident
would otherwise see a balance that the accountant's own card contradicts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from etl.legacy.records import Card, ChargeLine, zl
from etl.model import Problem

CLOSING_TOLERANCE = 1  # grosze
MONTH_TOLERANCE = 5
OPENING_TOLERANCE = 1

PreviousClosing = Callable[[str], "tuple[int, int] | None"]


def check_closing(file: str, cards: Iterable[Card]) -> list[Problem]:
    """closing = opening (surplus − debt) + Σ payments − Σ charges."""
    problems = []
    for card in cards:
        computed = card.opening + sum(card.payments) - sum(card.charges)
        if abs(computed - card.closing) > CLOSING_TOLERANCE:
            problems.append(
                Problem(
                    file,
                    "ledger",
                    card.line,
                    "closing balance",
                    zl(card.closing),
                    f"premises {card.premises}, year {card.year}: closing balance "
                    f"{zl(card.closing)} ≠ opening {zl(card.opening)} + payments "
                    f"{zl(sum(card.payments))} − charges {zl(sum(card.charges))} "
                    f"= {zl(computed)}",
                )
            )
    return problems


def month_totals(lines: Iterable[ChargeLine]) -> dict[tuple[str, int, int], int]:
    totals: dict[tuple[str, int, int], int] = defaultdict(int)
    for line in lines:
        if line.period is not None:
            totals[(line.premises, *line.period)] += line.total
    return totals


def check_months(
    file: str, nal_file: str, cards: Iterable[Card], totals: dict[tuple[str, int, int], int]
) -> list[Problem]:
    """A card's month charges = the sum of that premises' charge lines for the period."""
    problems = []
    for card in cards:
        for month, charged in enumerate(card.charges, 1):
            lines = totals.get((card.premises, card.year, month), 0)
            if charged == 0 and lines == 0:
                continue
            if abs(charged - lines) > MONTH_TOLERANCE:
                problems.append(
                    Problem(
                        file,
                        "ledger",
                        card.line,
                        f"charges {month:02d}",
                        zl(charged),
                        f"premises {card.premises}, period {card.year}{month:02d}: charges on "
                        f"the card {zl(charged)} ≠ sum of {nal_file} totals {zl(lines)}",
                    )
                )
    return problems


def check_openings(
    file: str, cards: list[Card], previous_closing: PreviousClosing
) -> list[Problem]:
    """Each card's opening = the closing it continues: the previous year's card in this export,
    else the balance last published for the premises when that covered the year before."""
    problems = []
    by_premises: dict[str, list[Card]] = defaultdict(list)
    for card in cards:
        by_premises[card.premises].append(card)
    for premises, own in by_premises.items():
        own.sort(key=lambda c: c.year)
        for i, card in enumerate(own):
            if i > 0:
                before = own[i - 1]
                if before.year != card.year - 1:
                    continue
                closing, source = before.closing, f"the {before.year} card (line {before.line})"
            else:
                published = previous_closing(premises)
                if published is None or published[0] != card.year - 1:
                    continue
                closing, source = published[1], f"the published balance for {published[0]}"
            if abs(card.opening - closing) > OPENING_TOLERANCE:
                problems.append(
                    Problem(
                        file,
                        "ledger",
                        card.line,
                        "opening balance",
                        zl(card.opening),
                        f"premises {premises}, year {card.year}: opening balance "
                        f"{zl(card.opening)} (surplus − debt) ≠ closing balance {zl(closing)} "
                        f"of {source}",
                    )
                )
    return problems


def check_duplicates(file: str, cards: Iterable[Card]) -> list[Problem]:
    """One card per premises and year: two (e.g. the seller's and the buyer's after a sale)
    would each need a balance of their own, which a premises document cannot show."""
    seen: dict[tuple[str, int], Card] = {}
    problems = []
    for card in cards:
        key = (card.premises, card.year)
        if key in seen:
            problems.append(
                Problem(
                    file,
                    "ledger",
                    card.line,
                    "year",
                    str(card.year),
                    f"premises {card.premises}: a second card for {card.year} (owner "
                    f"{card.owner_id}; the first, owner {seen[key].owner_id}, is on line "
                    f"{seen[key].line})",
                )
            )
        else:
            seen[key] = card
    return problems


def published_closing(document: dict[str, Any] | None) -> tuple[int, int] | None:
    """(year, balance) of a published document: the year of its latest ledger row and its
    `totals.balance`, i.e. the balance residents were shown at the end of that year's data."""
    if not document:
        return None
    ledger = document.get("ledger") or {}
    columns = ledger.get("columns") or []
    rows = ledger.get("rows") or []
    if "date" not in columns or not rows:
        return None
    at = columns.index("date")
    dates = [str(r[at]) for r in rows if r[at]]
    if not dates:
        return None
    return int(max(dates)[:4]), int(document["totals"]["balance"])


def owner_warnings(file: str, cards: Iterable[Card], owners: dict[str, set[str]]) -> list[str]:
    """A card kept for someone who is not (any more) an owner of the premises in lok.txt."""
    return [
        f"{file}, line {card.line}: the card of premises {card.premises} is kept for "
        f"{card.owner_id}, who is not among its owners in lok.txt "
        f"({', '.join(sorted(owners[card.premises]))})"
        for card in cards
        if card.premises in owners and card.owner_id not in owners[card.premises]
    ]
