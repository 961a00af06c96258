"""History across imports (docs/import-format.md, "History across imports").

Ledger systems export the current year with an opening balance, not every year since the
building was handed over. So a premises' published ledger is merged with the new export's rows
instead of being replaced by them:

- D, the new export's first date for the premises, is the date of its earliest ledger row;
- published rows dated before D are kept; published rows on or after D are replaced by the
  export's rows (an export that overlaps published periods replaces them from D on);
- the export's opening balance is the sum (payment − charge) of its opening rows dated D, the
  rows whose description says so (`Bilans otwarcia`, `Saldo początkowe`, `Saldo otwarcia`,
  `BO`, optionally followed by a date or year; case, diacritics and punctuation ignored), or 0
  when it has none. It must equal the balance of the kept rows (to the grosz; legacy bundles
  within 0,01, like the legacy cross-year check), or the bundle is refused;
- when it does, the opening rows are dropped: the kept rows already produce that balance, and
  the ledger reads as the earlier years followed by the new rows. A legacy difference of 0,01
  stays as a row of its own (the legacy mapping's rounding row), so the balance is the card's;
- a premises the export has no ledger rows for keeps all its published rows, when their balance
  is 0 (the export's balance for it); otherwise the bundle is refused;
- without kept rows (nothing published for the premises, or nothing before D) the export's rows
  are used as they are, opening rows included, as before.

`replace_history` (`ebok import --replace-history`) skips all of this: the export's rows replace
the published ones, for a bundle that holds the whole history.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from etl.legacy.checks import OPENING_TOLERANCE
from etl.legacy.tables import ROUNDING
from etl.model import BundleRejected, Problem
from etl.snapshot.document import LEDGER_COLUMNS
from etl.snapshot.money import decimal_text

_DATE = LEDGER_COLUMNS.index("date")
_DESCRIPTION = LEDGER_COLUMNS.index("description")
_CHARGE = LEDGER_COLUMNS.index("charge")
_PAYMENT = LEDGER_COLUMNS.index("payment")
_FILE = LEDGER_COLUMNS.index("file")
_ROW = LEDGER_COLUMNS.index("row")

# Descriptions of an opening-balance row, normalised (lower case, no diacritics, punctuation
# as spaces); a date or year may follow ("BO 2026", "Saldo początkowe na dzień 01.01.2026 r.").
OPENING_PHRASES = ("bilans otwarcia", "saldo poczatkowe", "saldo otwarcia", "bo", "b o")
_OPENING = re.compile(
    r"(?:" + "|".join(OPENING_PHRASES) + r")(?: (?:na|za|z|dzien|r|rok|roku|\d+))*"
)
_PUNCTUATION = re.compile(r"[\W_]+")

HINT = (
    "If this export holds the whole history of these premises, import it with "
    "`ebok import --replace-history PATH`: the earlier published rows are then dropped."
)


class HistoryMismatch(BundleRejected):
    """The export's opening balance contradicts the published history it continues."""

    hint = HINT

    def report(self) -> str:
        return f"{super().report()}\n{self.hint}"


@lru_cache(maxsize=4096)
def is_opening(description: Any) -> bool:
    """Whether a ledger row's description marks it as an opening balance."""
    if not isinstance(description, str) or not description:
        return False
    text = unicodedata.normalize("NFKD", description.replace("ł", "l").replace("Ł", "L"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = _PUNCTUATION.sub(" ", text).strip()
    return _OPENING.fullmatch(text) is not None


def zl(grosze: int) -> str:
    """`-12000` → `-120,00`, as the refusals write money."""
    return decimal_text(grosze, ",")


def tolerance(kind: str) -> int:
    """Grosze an opening balance may differ from the published one: the legacy export's own
    cross-year check allows 0,01; the contract's exports must agree to the grosz."""
    return OPENING_TOLERANCE if kind == "legacy" else 0


def published_rows(document: dict[str, Any]) -> list[list[Any]]:
    """A published document's ledger rows as lists in LEDGER_COLUMNS order (as written now)."""
    ledger = document["ledger"]
    if list(ledger["columns"]) == list(LEDGER_COLUMNS):
        return ledger["rows"]
    at = [ledger["columns"].index(name) for name in LEDGER_COLUMNS]
    return [[row[i] for i in at] for row in ledger["rows"]]


def merge(
    premises_id: str,
    published: list[list[Any]],
    new: Sequence[Sequence[Any]],
    charges: int,
    payments: int,
    *,
    allowed: int,
    ledger_file: str,
) -> tuple[list[Any], int, int, Problem | None]:
    """The premises' ledger after this import: the published rows before the export's first
    date, then the export's rows without its opening rows. `charges`/`payments` are the sums
    of `new`; returned are the rows and the sums over them, or a Problem when the export's
    opening balance differs from the published balance by more than `allowed` grosze."""
    first = new[0][_DATE] if new else None
    kept = published if first is None else published[: bisect_left(published, first, key=_day)]
    if not kept:
        return list(new), charges, payments, None
    kept_charges = sum(r[_CHARGE] for r in kept)
    kept_payments = sum(r[_PAYMENT] for r in kept)
    balance = kept_payments - kept_charges
    openings: list[int] = []
    for i, row in enumerate(new):
        if row[_DATE] != first:
            break
        if is_opening(row[_DESCRIPTION]):
            openings.append(i)
    opening = sum(new[i][_PAYMENT] - new[i][_CHARGE] for i in openings)
    difference = opening - balance
    if abs(difference) > allowed:
        return [], 0, 0, _mismatch(premises_id, kept, new, openings, opening, balance, ledger_file)
    rows: list[Any] = list(kept)
    if openings:
        at = openings[0]
        source = new[at]
        dropped = set(openings)
        rest = [row for i, row in enumerate(new) if i not in dropped]
        charges -= sum(new[i][_CHARGE] for i in openings)
        payments -= sum(new[i][_PAYMENT] for i in openings)
    else:
        at, source, rest = 0, (new[0] if new else None), list(new)
    if difference and source is not None:
        # Within the legacy tolerance: show the card's balance, the grosz as a row of its own.
        charge, payment = max(-difference, 0), max(difference, 0)
        fix = [first, "", ROUNDING, "", charge, payment, source[_FILE], source[_ROW], None]
        rest.insert(at, fix)
        charges += charge
        payments += payment
    rows += rest
    return rows, charges + kept_charges, payments + kept_payments, None


def _day(row: Sequence[Any]) -> str:
    return row[_DATE]


def _mismatch(
    premises_id: str,
    kept: list[list[Any]],
    new: Sequence[Sequence[Any]],
    openings: list[int],
    opening: int,
    balance: int,
    ledger_file: str,
) -> Problem:
    if not new:
        last = kept[-1][_DATE]
        return Problem(
            ledger_file,
            "ledger",
            None,
            "premises_id",
            premises_id,
            f"no ledger rows for premises {premises_id} in this export, so its balance would "
            f"be 0,00, but the published balance on {last} is {zl(balance)} (is the export "
            "cut short?)",
        )
    first = new[0][_DATE]
    before = (date.fromisoformat(first) - timedelta(days=1)).isoformat()
    where = f"the published balance {zl(balance)} on {before} for premises {premises_id}"
    if not openings:
        row = new[0]
        return Problem(
            row[_FILE],
            "ledger",
            row[_ROW],
            "description",
            str(row[_DESCRIPTION] or ""),
            f"opening balance 0,00 (no opening balance row such as `Bilans otwarcia` on "
            f"{first}, the export's first date) differs from {where}",
        )
    row = new[openings[0]]
    column = "payment" if row[_PAYMENT] else "charge"
    return Problem(
        row[_FILE],
        "ledger",
        row[_ROW],
        column,
        zl(row[_PAYMENT] if row[_PAYMENT] else row[_CHARGE]),
        f"opening balance {zl(opening)} differs from {where}",
    )
