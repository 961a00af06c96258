"""Balance checks on the legacy export: the account cards must agree with themselves, with the
charge lines, and with what residents were last shown.

Any failure rejects the whole community (nothing of it is published), because a resident
would otherwise see a balance that the accountant's own card contradicts.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from etl.legacy.fields import zl
from etl.legacy.records import Card
from etl.model import Problem

CLOSING_TOLERANCE = 1  # grosze
MONTH_TOLERANCE = 5
OPENING_TOLERANCE = 1


@dataclasses.dataclass(frozen=True)
class Published:
    """What residents were last shown for a premises: the date of its latest ledger row, the
    date its ledger data ran to (the charges date, else the document's as-of date), and
    its balance."""

    last_row: date
    covered_to: date
    balance: int


PreviousClosing = Callable[[str], "Published | None"]


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


def check_months(
    file: str, nal_file: str, cards: Iterable[Card], totals: dict[tuple[str, int, int], int]
) -> list[Problem]:
    """A card's month charges = the sum of that premises' charge lines for the period (the
    month the card's column stands for, see `read_months`)."""
    problems = []
    for card in cards:
        for column, (charged, (year, month)) in enumerate(
            zip(card.charges, card.months, strict=True), 1
        ):
            lines = totals.get((card.premises, year, month), 0)
            if charged == 0 and lines == 0:
                continue
            if abs(charged - lines) > MONTH_TOLERANCE:
                problems.append(
                    Problem(
                        file,
                        "ledger",
                        card.line,
                        f"charges {column:02d}",
                        zl(charged),
                        f"premises {card.premises}, period {year}{month:02d}: charges on "
                        f"the card {zl(charged)} ≠ sum of {nal_file} totals {zl(lines)}",
                    )
                )
    return problems


Months = tuple[tuple[int, int], ...]


def _from_start(card: Card) -> Months:
    """The 12 months from the card's start month on (07/2025 … 06/2026)."""
    first = card.date_from.year * 12 + card.date_from.month - 1
    return tuple((n // 12, n % 12 + 1) for n in range(first, first + 12))


def _misses(card: Card, months: Months, totals: dict[tuple[str, int, int], int] | None) -> int:
    """Months whose card charges differ from the charge lines under this reading (check 2)."""
    if totals is None:
        return 0
    return sum(
        1
        for charged, (year, month) in zip(card.charges, months, strict=True)
        if abs(charged - totals.get((card.premises, year, month), 0)) > MONTH_TOLERANCE
    )


def _outside(card: Card, months: Months) -> list[int]:
    """Columns holding a figure for a month outside the card's date from .. date to."""
    since = (card.date_from.year, card.date_from.month)
    until = (card.date_to.year, card.date_to.month)
    figures = zip(card.charges, card.payments, months, strict=True)
    return [
        column
        for column, (charged, paid, month) in enumerate(figures, 1)
        if (charged or paid) and not since <= month <= until
    ]


def read_months(
    file: str,
    cards: list[Card],
    totals: dict[tuple[str, int, int], int] | None,
    problems: list[Problem],
    warnings: list[str],
) -> list[Card]:
    """Which month each of a card's 12 column pairs stands for.

    The columns are January..December of the card's year. A card that starts later in the
    year (date from 01/07/2025: books begun in July, or a July-June financial year) is
    ambiguous: its columns may still be January..December, or run from its start month
    (July 2025 .. June 2026). The reading taken is the one the balance checks agree with: with
    charge lines (`totals`; None without nal_czynsz.txt) the one whose months match them
    (check 2), then the one that leaves no figure outside the card's own months, and on a tie
    the start month's. Without charge lines, a card that neither reading fits is refused with
    its line rather than dated by a guess."""
    out = []
    for card in cards:
        if card.date_from.month == 1:
            out.append(card)
            continue
        readings = {"start": _from_start(card), "calendar": card.months}
        # min() keeps the first of equals: the start-month reading on a tie
        name = min(
            readings,
            key=lambda k: (_misses(card, readings[k], totals), len(_outside(card, readings[k]))),
        )
        months = readings[name]
        out.append(dataclasses.replace(card, months=months))
        stray = _outside(card, months)
        if stray and totals is None:
            columns = ", ".join(f"{c:02d}" for c in stray)
            problems.append(
                Problem(file, "ledger", card.line, "date from", f"{card.date_from:%d/%m/%Y}",
                        f"premises {card.premises}, year {card.year}: the card runs "
                        f"{card.date_from:%d/%m/%Y}–{card.date_to:%d/%m/%Y}, but its monthly "
                        f"columns {columns} hold figures outside those dates, whether read as "
                        "January..December or from its start month; without nal_czynsz.txt "
                        "nothing tells which months they are")
            )  # fmt: skip
            continue
        if stray and _misses(card, months, totals):
            continue  # check 2 refuses the card with its months
        (y0, m0), (y1, m1) = months[0], months[-1]
        how = "from its start month" if name == "start" else "as January..December"
        warnings.append(
            f"{file}, line {card.line}: the card of premises {card.premises} starts "
            f"{card.date_from:%d/%m/%Y}; its 12 monthly columns are read {how}: "
            f"{m0:02d}/{y0}–{m1:02d}/{y1}"
        )
    return out


def check_openings(
    file: str,
    cards: list[Card],
    previous_closing: PreviousClosing,
    warnings: list[str] | None = None,
) -> list[Problem]:
    """Each card's opening = the closing it continues: the previous year's card in this export,
    else the balance last published for the premises when that was the balance at the end of
    the year before the card (its latest row in that year, its ledger data running to the day
    before the card starts). Published data that stopped earlier in that year cannot be
    compared: the card's opening includes what was booked after it; a warning says so."""
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
                start = card.date_from
                if published is None or not (_year_before(start) <= published.last_row < start):
                    continue  # nothing published, a re-import of the card's year, or older
                if published.covered_to < start - timedelta(days=1):
                    if warnings is not None:
                        warnings.append(
                            f"{file}, line {card.line}: premises {premises}: the published "
                            f"data ran only to {published.covered_to:%d/%m/%Y}, so the "
                            f"opening {zl(card.opening)} of {card.year} is not compared with "
                            f"its balance {zl(published.balance)}"
                        )
                    continue
                closing = published.balance
                source = f"the published balance for {published.last_row.year}"
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


def _year_before(day: date) -> date:
    if day.year == 1:
        return date.min  # no year 0: nothing published can lie in the year before
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


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


def published_closing(document: dict[str, Any] | None) -> Published | None:
    """What a published document showed: its latest ledger row's date, the date its ledger
    data ran to (`as_of_parts.ledger`, the charges date of a legacy export, else `as_of`) and
    its `totals.balance`."""
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
    community = document.get("community") or {}
    parts = community.get("as_of_parts") or {}
    covered = parts.get("ledger") or community.get("as_of") or max(dates)
    return Published(
        date.fromisoformat(max(dates)[:10]),
        date.fromisoformat(str(covered)[:10]),
        int(document["totals"]["balance"]),
    )


def owner_warnings(file: str, cards: Iterable[Card], owners: dict[str, set[str]]) -> list[str]:
    """A card kept for someone who is not (any more) an owner of the premises in lok.txt."""
    return [
        f"{file}, line {card.line}: the card of premises {card.premises} is kept for "
        f"{card.owner_id}, who is not among its owners in lok.txt "
        f"({', '.join(sorted(owners[card.premises]))})"
        for card in cards
        if card.premises in owners and card.owner_id not in owners[card.premises]
    ]
