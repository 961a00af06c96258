"""Mapping the legacy export's records onto our normalised tables (docs/legacy-format.md,
"Mapping onto the model"). Pure functions: records in, DataFrames out."""

from __future__ import annotations

from datetime import date

import pandas as pd

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
