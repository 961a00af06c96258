"""The account turnover a resident reads: ledger rows with a running balance, a year filter,
a summary per year, pages, and the same rows as a CSV that Polish Excel opens without an
import wizard.

Pure functions over the published document (docs/snapshots.md); money stays integer grosze.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from etl.snapshot.document import Document, ledger_rows
from etl.snapshot.money import decimal_text
from portal.web.format import date_pl

PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class Entry:
    date: str
    document: str
    description: str
    period: str
    charge: int
    payment: int
    balance: int  # running: Σ payment − Σ charge up to and including this row
    details: tuple[dict[str, Any], ...]
    file: str
    row: int

    @property
    def year(self) -> int:
        return int(self.date[:4])


def entries(document: Document) -> list[Entry]:
    """Rows in published order (by date, then by source order) with the balance after each."""
    balance = 0
    out: list[Entry] = []
    for r in ledger_rows(document):
        charge, payment = int(r.charge or 0), int(r.payment or 0)
        balance += payment - charge
        out.append(
            Entry(
                date=r.date,
                document=r.document or "",
                description=r.description or "",
                period=r.period or "",
                charge=charge,
                payment=payment,
                balance=balance,
                details=tuple(r.details or ()),
                file=r.file,
                row=r.row,
            )
        )
    return out


def years(rows: Sequence[Entry]) -> list[int]:
    """Years that have rows, newest first (the order of the filter's options)."""
    return sorted({e.year for e in rows}, reverse=True)


def filter_year(rows: Sequence[Entry], year: int | None) -> list[Entry]:
    if year is None:
        return list(rows)
    return [e for e in rows if e.year == year]


def opening_balance(rows: Sequence[Entry], year: int | None) -> int:
    """Balance carried into `year` (0 for the whole history): what the first shown row's
    running balance starts from."""
    if year is None:
        return 0
    carried = 0
    for e in rows:
        if e.year >= year:
            break
        carried = e.balance
    return carried


@dataclass(frozen=True, slots=True)
class YearSummary:
    """One year of the account: the balance carried in, its turnover, the balance carried out
    (closing = opening + payments − charges; the next year's opening)."""

    year: int
    opening: int
    charges: int
    payments: int
    closing: int


def year_summaries(rows: Sequence[Entry]) -> list[YearSummary]:
    """A summary per year that has rows, oldest first. An opening-balance row is a row like
    any other here: the first year opens at 0 and the row counts among its charges or
    payments (what the import kept of earlier years is in the years before)."""
    turnover: dict[int, list[int]] = {}
    for e in rows:
        sums = turnover.setdefault(e.year, [0, 0])
        sums[0] += e.charge
        sums[1] += e.payment
    out: list[YearSummary] = []
    carried = 0
    for year in sorted(turnover):
        charges, payments = turnover[year]
        closing = carried + payments - charges
        out.append(YearSummary(year, carried, charges, payments, closing))
        carried = closing
    return out


@dataclass(frozen=True)
class Page:
    items: list[Entry]
    number: int
    pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(rows: Sequence[Entry], page: int, per_page: int = PER_PAGE) -> Page:
    """Page `page` (1-based; out-of-range numbers are clamped, not errors: an old bookmark
    after a re-import still shows something)."""
    pages = max(1, math.ceil(len(rows) / per_page))
    number = min(max(1, page), pages)
    start = (number - 1) * per_page
    return Page(list(rows[start : start + per_page]), number, pages, len(rows))


def _csv_amount(grosze: int) -> str:
    # No thousands separator: Excel would read "1 234,56" as text. Decimal comma for pl-PL.
    return decimal_text(grosze, ",")


def _csv_text(value: str) -> str:
    """Text cells that Excel would run as a formula get a leading apostrophe (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


CSV_HEADER = ("Data", "Dokument", "Opis", "Okres", "Obciążenie", "Wpłata", "Saldo")
CSV_OPENING = "Saldo otwarcia"


def to_csv(rows: Sequence[Entry], year: int | None = None, opening: int = 0) -> bytes:
    """UTF-8 with BOM (so Excel detects the encoding), `;` (the pl-PL list separator),
    decimal comma, DD.MM.YYYY, CRLF line ends. For one `year`, the rows begin with its
    opening-balance line: `opening`, the balance carried from before it, dated 1 January."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    if year is not None:
        writer.writerow((f"01.01.{year}", "", CSV_OPENING, "", "", "", _csv_amount(opening)))
    for e in rows:
        writer.writerow(
            (
                date_pl(e.date),
                _csv_text(e.document),
                _csv_text(e.description),
                _csv_text(e.period),
                _csv_amount(e.charge),
                _csv_amount(e.payment),
                _csv_amount(e.balance),
            )
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def csv_filename(premises_id: str, year: int | None) -> str:
    """An ASCII name safe in a Content-Disposition header and on any file system."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", premises_id).strip("_") or "lokal"
    return f"obroty-{safe}-{year}.csv" if year else f"obroty-{safe}.csv"
