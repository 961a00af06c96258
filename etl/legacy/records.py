"""The records of the legacy `#` export's files (docs/legacy-format.md), read line by line.

Each file becomes a list of small records: the owners of lok.txt (`Person`), the charge lines of
nal_czynsz.txt and pow_czynsz.txt (`ChargeLine`), the yearly cards of wplaty.txt (`Card`) and
the as-of date; a bad line becomes a `Problem` naming the file, the line number, the premises
code when it is known, and the field. Lines and fields are split and read by fields.py; the
column readers (charges.py, cards.py) send here the lines their checks do not pass. Pure
functions: text in, records and problems out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

from etl.legacy.fields import (
    MONEY,
    PERIOD,
    Fields,
    format_decimal,
    numbered_lines,
    split_fields,
    zl,
)
from etl.model import Problem
from etl.reader import cells

# Digits are ASCII 0-9, as in fields.py (which says why).
_YEAR = re.compile(r"[0-9]{4}")
_DIGITS = re.compile(r"[0-9]+")
_GROSZ = Decimal("0.01")


def _rows(
    file: str, table: str, text: str, count: int, absorb: int | None, problems: list[Problem]
) -> list[Fields]:
    return _fields(file, table, numbered_lines(text), count, absorb, problems)


def _fields(
    file: str,
    table: str,
    lines: list[tuple[int, str]],
    count: int,
    absorb: int | None,
    problems: list[Problem],
) -> list[Fields]:
    out = []
    for number, line in lines:
        values = split_fields(line, count, absorb)
        if values is None:
            n = len(line.split("#"))
            problems.append(Problem(file, table, number, "", line, f"{n} fields, expected {count}"))
            continue
        out.append(Fields(file, table, number, values, problems))
    return out


@dataclass(frozen=True)
class Person:
    """An owner's line of lok.txt (persons whose id does not start with W are skipped)."""

    line: int
    person_id: str
    name: str
    premises: str
    street: str
    building: str
    flat: str
    postal_code: str
    city: str
    email: str
    share: str  # decimal string or ""


def parse_lok(
    file: str, text: str, problems: list[Problem], codes: set[str] | None = None
) -> list[Person]:
    """The owners. Lines of other persons are skipped unread. `codes` collects the premises
    codes of owners' lines even when a line is refused, so that the premises' cards and
    charge lines are not reported again as belonging to no premises."""
    people = []
    owners = "\n".join(line if line.lstrip().startswith("W") else "" for line in text.split("\n"))
    for f in _rows(file, "premises", owners, 14, 1, problems):
        person_id = f.text(0)
        f.premises = f.text(3)
        if codes is not None and f.premises:
            codes.add(f.premises)
        if not f.premises:
            f.fail("premises code", "", "owner without a premises code")
        if not f.text(1):
            f.fail("owner name", "", "owner without a name")
        share = _share(f)
        if f.ok:
            people.append(
                Person(
                    f.line,
                    person_id,
                    " ".join(f.text(1).split()),
                    f.premises,
                    f.text(4),
                    f.text(5),
                    f.text(6),
                    f.text(7),
                    f.text(8),
                    f.text(9),
                    share,
                )
            )
    return people


def parse_others(text: str) -> list[Person]:
    """Persons who are not owners (tenants, contacts), read leniently: they only give a premises
    that has no owner at all in lok.txt (a council-owned flat) its address and payer. These
    lines are not checked, so a line that does not read is skipped, not refused."""
    out = []
    for number, line in numbered_lines(text):
        if line.lstrip().startswith("W"):
            continue
        values = split_fields(line, 14, 1)
        if values is None:
            continue
        v = [value.strip() for value in values]
        if v[3] and v[1]:
            name = " ".join(v[1].split())
            out.append(Person(number, v[0], name, *v[3:10], ""))  # type: ignore[arg-type]
    return out


def _share(f: Fields) -> str:
    """numerator / denominator; both empty or both 0 means the export gives no share."""
    num, den = f.text(12), f.text(13)
    if not num.strip("0") and not den.strip("0"):
        return ""
    try:
        if _DIGITS.fullmatch(num) and _DIGITS.fullmatch(den):
            value = cells.parse_share(f"{num}/{den}")
        else:
            value = cells.parse_decimal(num) / cells.parse_decimal(den)
            if not 0 < value <= 1:
                raise ValueError("a share must be above 0 and at most 1")
    except (ValueError, ArithmeticError) as exc:
        reason = "division by zero in the share" if isinstance(exc, ArithmeticError) else exc
        f.fail("share", f"{num}/{den}", str(reason))
        return ""
    return format_decimal(value)


@dataclass(slots=True)  # not frozen: a community has 10^5 of them, and frozen init is slow
class ChargeLine:
    """One line of a month's charge (nal_czynsz.txt, or pow_czynsz.txt's schedule)."""

    line: int
    premises: str
    period: tuple[int, int] | None  # None for the fee schedule
    line_no: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal
    total: int  # grosze, as given

    def detail(self) -> dict[str, object]:
        return {
            "description": self.description,
            "quantity": format(self.quantity, "f"),
            "unit": self.unit,
            "rate": format(self.rate, "f"),
            "amount": self.total,
        }


def charge_line(
    f: Fields, premises: int, period: int | None, first: int, warnings: list[str]
) -> ChargeLine | None:
    """Fields from `first` on: line no, description, quantity, unit, unit price, total."""
    f.premises = f.text(premises)
    if not f.premises:
        f.fail("premises code", "", "line without a premises code")
    when = f.period(period, "period") if period is not None else None
    quantity = f.decimal(first + 2, "quantity", places=6)
    rate = f.decimal(first + 4, "unit price")
    total = f.money(first + 5, "total")
    if not f.ok or quantity is None or rate is None or total is None:
        return None
    if abs(quantity * rate * 100 - total) > 1:
        warnings.append(
            f"{f.file}, line {f.line}, premises {f.premises}: total {zl(total)} differs from "
            f"quantity × price {zl(expected_grosze(quantity, rate))}; the total is used as given"
        )
    return ChargeLine(
        f.line,
        f.premises,
        when,
        f.text(first),
        " ".join(f.text(first + 1).split()),
        quantity,
        f.text(first + 3),
        rate,
        total,
    )


_QUANTITY = re.compile(r"^[+-]?[0-9]{1,15}(?:[.,][0-9]{0,6})?$")
_RATE = re.compile(r"^[+-]?([0-9]{1,15}([.,][0-9]*)?|[.,][0-9]+)$")


# Room for quantity × price of 15 + 15 digits before the point (fields.LARGEST) and its grosze:
# in the default 28 digits, quantize() of such a product raises InvalidOperation.
_WIDE = Context(prec=40)


def expected_grosze(quantity: Decimal, rate: Decimal) -> int:
    """quantity × price in grosze, rounded half-up: what the total should read."""
    value = _WIDE.multiply(quantity, rate).quantize(_GROSZ, ROUND_HALF_UP, _WIDE)
    return int(value.scaleb(2, _WIDE))


def plain_charge(file: str, number: int, line: str, warnings: list[str]) -> ChargeLine | None:
    """The common, well-formed nal_czynsz line, without the per-field bookkeeping of `Fields`
    (a community has 10^5 of them). None sends the line through the checking path."""
    p = line.split("#")
    if len(p) != 11:
        return None
    premises, period = p[1].strip(), p[4].strip()
    quantity, rate, total = p[7].strip(), p[9].strip(), p[10].strip()
    money = MONEY.match(total)
    if not (
        premises
        and PERIOD.match(period)
        and "01" <= period[4:] <= "12"
        and period[:4] != "0000"
        and money
        and _QUANTITY.match(quantity)
        and _RATE.match(rate)
    ):
        return None
    sign, whole, cents = money.groups()
    grosze = int(whole) * 100 + int((cents or "").ljust(2, "0"))
    grosze = -grosze if sign == "-" else grosze
    q, r = Decimal(quantity.replace(",", ".")), Decimal(rate.replace(",", "."))
    if abs(q * r * 100 - grosze) > 1:
        expected = expected_grosze(q, r)
        warnings.append(
            f"{file}, line {number}, premises {premises}: total {zl(grosze)} differs from "
            f"quantity × price {zl(expected)}; the total is used as given"
        )
    return ChargeLine(
        number, premises, (int(period[:4]), int(period[4:])), p[5].strip(),
        " ".join(p[6].split()), q, p[8].strip(), r, grosze,
    )  # fmt: skip


@dataclass(frozen=True)
class Card:
    """One yearly account card of wplaty.txt. Money in grosze; closing > 0 means overpaid."""

    line: int
    owner_id: str
    premises: str
    year: int
    date_from: date
    date_to: date
    opening_debt: int
    opening_surplus: int
    charges: tuple[int, ...]  # the 12 monthly columns, in file order
    payments: tuple[int, ...]
    closing: int
    # (year, month) each column stands for: January..December of `year` as written; a card
    # that starts later in the year may be read from its start month (checks.read_months).
    months: tuple[tuple[int, int], ...] = ()

    @property
    def opening(self) -> int:
        return self.opening_surplus - self.opening_debt


def parse_wplaty(file: str, text: str, problems: list[Problem]) -> list[Card]:
    return card_lines(file, numbered_lines(text), problems)


def card_lines(file: str, lines: list[tuple[int, str]], problems: list[Problem]) -> list[Card]:
    """The cards of wplaty.txt's (line number, line) pairs: non-blank lines, CR dropped."""
    cards = []
    for f in _fields(file, "ledger", lines, 34, None, problems):
        f.premises = f.text(1)
        if not f.premises:
            f.fail("premises code", "", "card without a premises code")
        year = _year(f)
        start, end = f.date(3, "date from"), f.date(4, "date to")
        debt = f.money(5, "opening debt", empty_is_zero=True)
        surplus = f.money(6, "opening surplus", empty_is_zero=True)
        charges, payments = [], []
        for month in range(12):
            charges.append(f.money(9 + 2 * month, f"charges {month + 1:02d}", empty_is_zero=True))
            payments.append(
                f.money(10 + 2 * month, f"payments {month + 1:02d}", empty_is_zero=True)
            )
        closing = f.money(33, "closing balance", empty_is_zero=True)
        if not f.ok or year is None:
            continue
        cards.append(
            Card(
                f.line,
                f.text(0),
                f.premises,
                year,
                start or date(year, 1, 1),
                end or date(year, 12, 31),
                debt,
                surplus,
                tuple(charges),
                tuple(payments),
                closing,
                tuple((year, month) for month in range(1, 13)),
            )  # type: ignore[arg-type]
        )
    return cards


def _year(f: Fields) -> int | None:
    """The card's year: four ASCII digits, and not 0000, which no calendar has (a card of
    year 0000 with no dates would start on a 1 January that `date` cannot make)."""
    text = f.text(2)
    if not _YEAR.fullmatch(text):
        f.fail("year", f.values[2], "not a year YYYY")
        return None
    if text == "0000":
        f.fail("year", f.values[2], "not a year YYYY: there is no year 0000")
        return None
    return int(text)


def parse_as_of(file: str, text: str, problems: list[Problem]) -> date | None:
    lines = numbered_lines(text)
    raw = lines[0][1].strip() if lines else ""
    m = re.fullmatch(r"([0-9]{4})([0-9]{2})([0-9]{2})", raw)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        pass
    problems.append(
        Problem(file, "communities", 1, "as_of", raw, "not a date YYYYMMDD (the as-of date)")
    )
    return None
