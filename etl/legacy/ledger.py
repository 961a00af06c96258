"""The ledger rows of the account cards (docs/legacy-format.md, "Ledger rows from the cards"),
made for all cards at once: their twelve months are arrays, so a community's 10^5 card
months cost no Python call each.

Per premises, cards in year order: the opening balance (earliest card only), then each month's
charge (its first day, the card's start day in its first month; not for a month after the
charges date) and payments (its last day, but not after the as-of date or the card's end, nor
before the charge), then the rounding grosz that brings the rows to the card's own closing.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from etl.legacy import charges
from etl.legacy.records import Card
from etl.legacy.tables import ROUNDING
from etl.model import COLUMNS, SOURCE_COLUMNS

OPENING = "Bilans otwarcia"
LEDGER_COLUMNS = [*COLUMNS["ledger"], *SOURCE_COLUMNS]
_SLOTS = (
    32  # a card's rows in order: opening 0, month k charge 1 + 2k, payments 2 + 2k, rounding 25
)


def _day(value: date) -> np.datetime64:
    return np.datetime64(value, "D")


def ledger_frame(
    file: str,
    cards: list[Card],
    lines: pd.DataFrame | None,
    as_of: date,
    charges_to: date | None = None,
) -> pd.DataFrame:
    """`lines` None: the export has no nal_czynsz.txt, so charges carry no breakdown.
    `charges_to`: charges for periods after it are not shown (`tables.not_yet_due`)."""
    if not cards:
        return pd.DataFrame(columns=LEDGER_COLUMNS).astype({"charge": "int64", "payment": "int64"})
    cards = sorted(cards, key=lambda c: (c.premises, c.year))
    charged = np.array([c.charges for c in cards], dtype=np.int64)
    paid = np.array([c.payments for c in cards], dtype=np.int64)
    months = np.array([c.months for c in cards], dtype=np.int64)  # (n, 12, 2)
    ym = months[:, :, 0] * 12 + months[:, :, 1] - 1  # months since year 0
    epoch = 1970 * 12
    first = (ym - epoch).astype("datetime64[M]").astype("datetime64[D]")
    last = (ym + 1 - epoch).astype("datetime64[M]").astype("datetime64[D]") - np.timedelta64(1, "D")
    start = np.array([_day(c.date_from) for c in cards])
    end = np.array([_day(c.date_to) for c in cards])
    start_ym = np.array([c.date_from.year * 12 + c.date_from.month - 1 for c in cards])
    on = np.where(ym == start_ym[:, None], start[:, None], first)
    until = np.minimum(end, _day(as_of))
    paid_on = np.maximum(on, np.minimum(last, until[:, None]))
    due = np.ones_like(charged, dtype=bool)
    if charges_to is not None:
        due = first <= _day(charges_to)
    opening = np.array([c.opening for c in cards], dtype=np.int64)
    closing = np.array([c.closing for c in cards], dtype=np.int64)
    premises = np.array([c.premises for c in cards], dtype=object)
    earliest = np.r_[True, premises[1:] != premises[:-1]]
    before = np.where(earliest, opening, np.r_[0, closing[:-1]])
    fix = closing - (before + paid.sum(axis=1) - charged.sum(axis=1))
    rounding_on = np.maximum(start, np.minimum(end, _day(as_of)))

    row_card, row_month = np.nonzero((charged != 0) & due)
    pay_card, pay_month = np.nonzero(paid != 0)
    open_card = np.flatnonzero(earliest & (opening != 0))
    fix_card = np.flatnonzero(fix != 0)
    kinds = np.concatenate(
        [
            np.zeros(len(open_card), dtype=np.int64),
            np.ones(len(row_card), dtype=np.int64),
            np.full(len(pay_card), 2),
            np.full(len(fix_card), 3),
        ]
    )
    owner = np.concatenate([open_card, row_card, pay_card, fix_card])
    month = np.concatenate(
        [np.zeros_like(open_card), row_month, pay_month, np.zeros_like(fix_card)]
    )
    slot = np.concatenate(
        [np.zeros_like(open_card), 1 + 2 * row_month, 2 + 2 * pay_month, np.full(len(fix_card), 25)]
    )
    order = np.argsort(owner * _SLOTS + slot, kind="stable")
    kinds, owner, month = kinds[order], owner[order], month[order]
    when = np.concatenate(
        [
            start[open_card],
            on[row_card, row_month],
            paid_on[pay_card, pay_month],
            rounding_on[fix_card],
        ]
    )[order]
    charge = np.concatenate(
        [
            np.maximum(-opening[open_card], 0),
            charged[row_card, row_month],
            np.zeros(len(pay_card), dtype=np.int64),
            np.maximum(-fix[fix_card], 0),
        ]
    )[order]
    payment = np.concatenate(
        [
            np.maximum(opening[open_card], 0),
            np.zeros(len(row_card), dtype=np.int64),
            paid[pay_card, pay_month],
            np.maximum(fix[fix_card], 0),
        ]
    )[order]
    row_ym = ym[owner, month]
    text, period = _labels(row_ym, kinds)
    details = np.full(len(order), None, dtype=object)
    if lines is not None:
        breakdown = charges.details(lines)
        rows = np.flatnonzero(kinds == 1)
        keys = zip(
            premises[owner[rows]].tolist(),
            (row_ym[rows] // 12).tolist(),
            (row_ym[rows] % 12 + 1).tolist(),
            strict=True,
        )
        details[rows] = [list(breakdown.get(key, ())) for key in keys]
    return pd.DataFrame(
        {
            "premises_id": premises[owner].tolist(),
            "date": np.datetime_as_string(when, unit="D").tolist(),
            "description": text,
            "document": "",
            "period": period,
            "charge": pd.Series(charge, dtype="int64"),
            "payment": pd.Series(payment, dtype="int64"),
            "details": pd.Series(details, dtype=object),
            "_file": file,
            "_row": np.array([c.line for c in cards], dtype=np.int64)[owner],
        },
        columns=LEDGER_COLUMNS,
    )


def _labels(row_ym: np.ndarray, kinds: np.ndarray) -> tuple[list[str], list[str]]:
    """Each row's description and period: `Naliczenie MM/YYYY` and `YYYY-MM` for a charge,
    `Wpłaty MM/YYYY` for payments; each month's words made once."""
    distinct, index = np.unique(row_ym, return_inverse=True)
    mm = [f"{m % 12 + 1:02d}/{m // 12}" for m in distinct.tolist()]
    table = np.empty((4, len(distinct)), dtype=object)
    table[0] = OPENING
    table[1] = [f"Naliczenie {x}" for x in mm]
    table[2] = [f"Wpłaty {x}" for x in mm]
    table[3] = ROUNDING
    periods = np.empty((4, len(distinct)), dtype=object)
    periods[:] = ""
    periods[1] = [f"{m // 12}-{m % 12 + 1:02d}" for m in distinct.tolist()]
    return table[kinds, index].tolist(), periods[kinds, index].tolist()
