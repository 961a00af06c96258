"""Mapping the legacy export's records onto our normalised tables (docs/legacy-format.md,
"Mapping onto the model"). Pure functions: records in, DataFrames out."""

from __future__ import annotations

import calendar
import functools
from datetime import date

import pandas as pd

from etl.legacy import charges
from etl.legacy.records import Card, Person
from etl.model import COLUMNS, SOURCE_COLUMNS, Problem

ROUNDING = "Zaokrąglenie do salda karty"


def premises_frame(
    label: str, community_id: str, people: list[Person], problems: list[Problem]
) -> pd.DataFrame:
    """One premises per code among the owners (W persons); co-owners' names joined."""
    by_code: dict[str, list[Person]] = {}
    for person in people:
        by_code.setdefault(person.premises, []).append(person)
    rows = []
    for code, owners in by_code.items():
        first = owners[0]
        names = list(dict.fromkeys(p.name for p in owners))
        rows.append(
            {
                "premises_id": code,
                "community_id": community_id,
                "number": first.flat,
                "street": " ".join(f"{first.street} {first.building}".split()),
                "postal_code": first.postal_code,
                "city": first.city,
                "kind": "",
                "area_m2": "",
                "share": next((p.share for p in owners if p.share), ""),
                "occupants": None,
                "payer_name": ", ".join(names),
                "payer_address": "",
                "bank_account": "",
                "email": next((p.email for p in owners if p.email), ""),
                "_file": label,
                "_row": first.line,
            }
        )
        if not first.flat:
            problems.append(
                Problem(label, "premises", first.line, "flat no", "",
                        f"premises {code} has no flat number")
            )  # fmt: skip
    columns = list(rows[0]) if rows else ["premises_id", "community_id", "_file", "_row"]
    return pd.DataFrame(rows, columns=columns)


@functools.cache
def _month(year: int, month: int) -> tuple[date, date, str, str, str]:
    """First and last day, the charge and payment rows' descriptions and the period: every
    card of a community has the same months."""
    last = date(year, month, calendar.monthrange(year, month)[1])
    mm = f"{month:02d}/{year}"
    return date(year, month, 1), last, f"Naliczenie {mm}", f"Wpłaty {mm}", f"{year}-{month:02d}"


@functools.lru_cache(maxsize=4096)
def _iso(day: date) -> str:
    return day.isoformat()


def not_yet_due(card: Card, charges_to: date | None) -> list[tuple[int, int, int]]:
    """(year, month, grosze) of the card's charges for periods that begin after the charges
    date (`nalicz_ost_wys.wmb`): booked ahead on the card, but not due at the data's date."""
    if charges_to is None:
        return []
    return [
        (year, month, charge)
        for charge, (year, month) in zip(card.charges, card.months, strict=True)
        if charge and date(year, month, 1) > charges_to
    ]


def ledger_frame(
    file: str,
    cards: list[Card],
    lines: pd.DataFrame | None,
    as_of: date,
    charges_to: date | None = None,
) -> pd.DataFrame:
    """The ledger rows of the cards (docs/legacy-format.md, "Ledger rows from the cards").
    `lines` None: the export has no nal_czynsz.txt, so charges carry no breakdown.
    `charges_to`: charges for periods after it are not shown (`not_yet_due`)."""
    details = {} if lines is None else charges.details(lines)
    rows: list[tuple] = []

    def row(card: Card, when: date, text: str, period: str, charge: int, payment: int, det=None):
        rows.append(
            (card.premises, when.isoformat(), text, period, charge, payment, det, card.line)
        )

    add = rows.append
    running: dict[str, int] = {}  # the cards' balance so far, per premises
    for card in sorted(cards, key=lambda c: (c.premises, c.year)):
        code, line = card.premises, card.line
        if code not in running:
            running[code] = card.opening
            if card.opening:
                opening = card.opening
                row(card, card.date_from, "Bilans otwarcia", "", max(-opening, 0), max(opening, 0))
        later = {(y, m) for y, m, _ in not_yet_due(card, charges_to)}
        start = (card.date_from.year, card.date_from.month)
        until = min(as_of, card.date_to)
        # Charge row: the month's first day (the card's start day in its first month).
        # Payment row: the month's last day, but not after the as-of date or the card's end,
        # nor before the charge. Each month in its own month, whichever months the card's
        # columns stand for.
        for charge, payment, month in zip(card.charges, card.payments, card.months, strict=True):
            if not charge and not payment:
                continue
            first, last, charged, paid, period = _month(*month)
            on = card.date_from if month == start else first
            if charge and month not in later:
                breakdown = None
                if lines is not None:
                    breakdown = list(details.get((code, *month), ()))
                add((code, _iso(on), charged, period, charge, 0, breakdown, line))
            if payment:
                add((code, _iso(max(on, min(last, until))), paid, "", 0, payment, None, line))
        # The checks let a card's sums miss its closing (or the year before's) by a grosz;
        # residents must still see the card's closing balance, so the grosz gets its own row.
        computed = running[card.premises] + sum(card.payments) - sum(card.charges)
        if card.closing != computed:
            fix = card.closing - computed
            when = max(card.date_from, min(card.date_to, as_of))
            row(card, when, ROUNDING, "", max(-fix, 0), max(fix, 0))
        running[card.premises] = card.closing
    if not rows:
        return pd.DataFrame(columns=LEDGER_COLUMNS).astype({"charge": "int64", "payment": "int64"})
    premises, when, text, period, charge, payment, det, line = zip(*rows, strict=True)
    frame = pd.DataFrame(
        {
            "premises_id": premises,
            "date": when,
            "description": text,
            "document": "",
            "period": period,
            "charge": pd.Series(charge, dtype="int64"),
            "payment": pd.Series(payment, dtype="int64"),
            "details": pd.Series(det, dtype=object),
            "_file": file,
            "_row": line,
        },
        columns=LEDGER_COLUMNS,
    )
    return frame


LEDGER_COLUMNS = [*COLUMNS["ledger"], *SOURCE_COLUMNS]
FEES_COLUMNS = [*COLUMNS["fees"], *SOURCE_COLUMNS]


def fees_frame(file: str, lines: pd.DataFrame) -> pd.DataFrame:
    """One fee per pow_czynsz.txt line (charges.COLUMNS)."""
    frame = pd.DataFrame(
        {
            "premises_id": lines["premises"],
            "component": lines["description"],
            "basis": lines["unit"],
            "quantity": lines["quantity"],
            "rate": lines["rate"],
            "amount": lines["total"],
            "valid_from": "",
            "_file": file,
            "_row": lines["line"],
        },
        columns=FEES_COLUMNS,
    )
    text = ("premises_id", "component", "basis", "quantity", "rate")
    return frame.astype({"amount": "int64", **dict.fromkeys(text, "str")})
