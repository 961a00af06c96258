"""The account cards of wplaty.txt read column-wise: 27 money fields a card, as plain amounts.

A card passes here when its premises code is given, its year reads `YYYY`, its dates are empty
or `dd/mm/yyyy` and every money field is empty or a plain amount of at most 2 decimals; its
figures are then the grosze its digits say. Every other line goes through
`records.card_lines`, which names each problem's file, line, field and value as it always has.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.legacy import columns
from etl.legacy.columns import Distinct, bools
from etl.legacy.records import Card, card_lines, parse_wplaty
from etl.model import Problem

FIELDS = 34
# opening debt, opening surplus, the 12 (charges, payments) pairs, closing balance
MONEY = [5, 6, *range(9, 33), 33]
_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")  # ASCII digits, as fields._DATE


def parse_cards(file: str, source: columns.Source, problems: list[Problem]) -> list[Card]:
    """The cards in file order; a refused line's problems as `records.card_lines` makes them."""
    split = columns.split(source, FIELDS)
    if split is None:
        return parse_wplaty(file, source.text(), problems)
    fast, passed = _vectorised(split)
    slow = card_lines(file, split.rest(~passed), problems)
    if not slow:
        return fast
    return sorted(fast + slow, key=lambda c: c.line)


def _vectorised(split: columns.Split) -> tuple[list[Card], np.ndarray]:
    col = split.columns
    n = len(split.numbers)
    premises = Distinct(col[1], split.codec)
    year = Distinct(col[2], split.codec)
    year_ok = pc.match_substring_regex(year.values, r"^[0-9]{4}$")
    years = year.rows(columns.ints(year.values, year_ok))
    passed = (
        premises.rows(bools(pc.not_equal(premises.values, "")))
        & year.rows(bools(year_ok))
        & (years > 0)
    )
    days = Distinct(pa.concat_arrays([col[3], col[4]]), split.codec)
    parsed = [_day(text) for text in days.values.to_pylist()]
    day_ok = days.rows(np.array([d is not False for d in parsed], dtype=bool))
    passed &= day_ok[:n] & day_ok[n:]
    figures = Distinct(pa.concat_arrays([col[i] for i in MONEY]), split.codec)
    ok, amounts = columns.grosze(figures.values)
    empty = bools(pc.equal(figures.values, ""))
    money = figures.rows(np.where(empty, 0, amounts)).reshape(len(MONEY), n)
    passed &= figures.rows(ok | empty).reshape(len(MONEY), n).all(axis=0)
    keep = np.flatnonzero(passed)
    day = np.empty(len(parsed), dtype=object)
    day[:] = [d or None for d in parsed]
    owners, codes = Distinct(col[0], split.codec), premises
    cards = []
    for line, owner, code, y, start, end, figures_ in zip(
        split.numbers[keep].tolist(),
        _text(owners, keep),
        _text(codes, keep),
        years[keep].tolist(),
        day[days.index[keep]].tolist(),
        day[days.index[keep + n]].tolist(),
        money[:, keep].T.tolist(),
        strict=True,
    ):
        cards.append(
            Card(
                line,
                owner,
                code,
                y,
                start or date(y, 1, 1),
                end or date(y, 12, 31),
                figures_[0],
                figures_[1],
                tuple(figures_[2:26:2]),
                tuple(figures_[3:26:2]),
                figures_[26],
                _months(y),
            )
        )
    return cards, passed


def _text(column: Distinct, keep: np.ndarray) -> list[str]:
    distinct = np.empty(len(column.values), dtype=object)
    distinct[:] = column.values.to_pylist()
    return distinct[column.index[keep]].tolist()


def _day(text: str) -> date | None | bool:
    """A `dd/mm/yyyy` date; None for an empty field; False for anything else (the line is then
    read field by field, which says what is wrong)."""
    if not text:
        return None
    m = _DATE.fullmatch(text)
    if not m:
        return False
    try:
        return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return False


@cache
def _months(year: int) -> tuple[tuple[int, int], ...]:
    return tuple((year, month) for month in range(1, 13))
