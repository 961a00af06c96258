"""Fees, housing allowances and ledger history for `ebok demo-data`, as numpy integer arrays.

A premises' monthly charge is the sum of its fee components (quantity x rate, half-up), lower in
earlier years (fees rise every January). Payers fall into habits that give the portal something
to show: settled to the grosz, occasional misses (arrears), standing orders rounded up
(overpayment, sometimes refunded), irregular round sums, chronic debtors. Corrections appear as a
ledger really has them: negative water settlements and returned payments.

The ledger is produced in chunks of premises, each with its own seeded generator, so memory stays
flat at any size and the output depends only on the arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from etl.demo.columns import Col, Table

CHUNK = 4096  # premises per ledger chunk; part of the output's identity, do not tune casually
COMPONENTS = (
    "Zaliczka na koszty zarządu",
    "Fundusz remontowy",
    "Woda i ścieki",
    "Wywóz odpadów",
    "Centralne ogrzewanie",
    "Ubezpieczenie",
    "Konserwacja dźwigu",
)
BASES = ("m2", "osoba", "m3", "lokal")
# Payment habits and how common they are.
SETTLED, MISSES, STANDING_ORDER, IRREGULAR, DEBTOR = range(5)
HABIT_P = (0.5, 0.2, 0.12, 0.13, 0.05)
DESCRIPTIONS = ("Bilans otwarcia", "Wpłata", "Wpłata gotówkowa", "Zwrot nadpłaty", "Zwrot wpłaty")


def first_day(month: int) -> int:
    """Ordinal of the first day of an absolute month (year * 12 + month - 1)."""
    return date(month // 12, month % 12 + 1, 1).toordinal()


@dataclass
class Population:
    """The premises the tables describe, plus what the ledger needs to stay consistent with
    the fees and allowances tables."""

    premises_ids: list[str]
    community: np.ndarray
    kind: np.ndarray  # index into demo.KINDS
    area: np.ndarray  # hundredths of m2
    occupants: np.ndarray
    last_month: int  # absolute month
    months: int
    seed: int
    monthly_total: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    allow_start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    allow_amount: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def first_month(self) -> int:
        return self.last_month - self.months + 1

    def fees(self, rng: np.random.Generator, communities: int) -> Table:
        c, kind, occ, area = self.community, self.kind, self.occupants, self.area
        n = len(kind)

        def rate(low: int, high: int) -> np.ndarray:  # grosze per unit, per community
            return rng.integers(low, high + 1, communities)[c]

        water_m3 = (rng.random(communities) < 0.5)[c]
        heating = (rng.random(communities) < 0.65)[c]
        lift = (rng.random(communities) < 0.5)[c]
        flat, shop, people = kind == 0, kind == 1, (kind == 0) & (occ > 0)
        ones = np.full(n, 100)
        shop_water = rng.integers(2, 16, n) * 100
        # (component, who pays it, basis, quantity in hundredths, rate in grosze)
        rows = [
            (0, np.ones(n, bool), 0, area, rate(150, 320)),
            (1, np.ones(n, bool), 0, area, rate(100, 450)),
            (
                2,
                people,
                np.where(water_m3, 2, 1),
                np.where(water_m3, occ * 320, occ * 100),
                np.where(water_m3, rate(1450, 1900), rate(5400, 7200)),
            ),
            (2, shop, 2, shop_water, rate(1450, 1900)),
            (3, people, 1, occ * 100, rate(2800, 3800)),
            (3, shop, 3, ones, rate(9000, 20000)),
            (4, (flat | shop) & heating, 0, area, rate(280, 460)),
            (5, kind <= 2, 0, area, rate(8, 20)),
            (6, (flat | shop) & lift, 3, ones, rate(1500, 3200)),
        ]
        parts = []
        for comp, who, basis, qty, unit in rows:
            idx = np.flatnonzero(who)
            basis = np.broadcast_to(basis, (n,))[idx]
            parts.append((idx, np.full(len(idx), comp), basis, qty[idx], unit[idx]))
        pidx, comp, basis, qty, unit = (np.concatenate(x) for x in zip(*parts, strict=True))
        order = np.lexsort((comp, pidx))
        pidx, comp, basis, qty, unit = (
            pidx[order],
            comp[order],
            basis[order],
            qty[order],
            unit[order],
        )
        amount = (qty * unit + 50) // 100  # quantity x rate, half-up to the grosz
        self.monthly_total = np.zeros(n, np.int64)
        np.add.at(self.monthly_total, pidx, amount)
        since = first_day(max(self.first_month, self.last_month // 12 * 12))
        return Table(
            "fees",
            [
                Col("premises_id", "text", pidx, self.premises_ids),
                Col("component", "text", comp, COMPONENTS),
                Col("basis", "text", basis, BASES),
                Col("quantity", "dec", qty, scale=2),
                Col("rate", "dec", unit, scale=2),
                # One community's export leaves the amount for the importer to compute.
                Col("amount", "money", amount, present=c[pidx] % 3 != 2),
                Col("valid_from", "date", np.full(len(pidx), since)),
            ],
        )

    def allowances(self, rng: np.random.Generator, issuers: list[str]) -> Table:
        """Housing allowances (dodatki mieszkaniowe): six-month decisions, about half still
        current at the as-of date, half expired."""
        eligible = np.flatnonzero((self.kind == 0) & (self.occupants > 0))
        count = min(len(eligible), max(2, round(0.05 * len(eligible))))
        who = np.sort(rng.choice(eligible, count, replace=False))
        current = rng.permutation(np.arange(count) % 2 == 0)
        m = self.months
        start = np.where(
            current, m - rng.integers(1, 6, count), rng.integers(-3, max(-2, m - 6), count)
        )
        total = self.monthly_total[who]
        amount = (total * rng.integers(15, 41, count) // 100) // 100 * 100
        amount = np.minimum(np.maximum(amount, 5000), total * 40 // 100)
        self.allow_start = np.full(len(self.kind), -(10**6), np.int64)
        self.allow_amount = np.zeros(len(self.kind), np.int64)
        self.allow_start[who], self.allow_amount[who] = start, amount
        begin = self.first_month + start
        number = rng.integers(100, 9999, count)
        decisions = [
            f"DM/{n}/{b // 12}" if i % 2 else f"SOM-04.5321.{n}.{b // 12}"
            for i, (n, b) in enumerate(zip(number.tolist(), begin.tolist(), strict=True))
        ]
        return Table(
            "allowances",
            [
                Col("premises_id", "text", who, self.premises_ids),
                Col("decision", "text", np.arange(count), decisions),
                Col("issuer", "text", self.community[who], issuers),
                Col("valid_from", "date", np.array([first_day(b) for b in begin.tolist()])),
                Col("valid_to", "date", np.array([first_day(b + 6) - 1 for b in begin.tolist()])),
                Col("monthly_amount", "money", amount),
            ],
        )


@dataclass
class _Vocab:
    descriptions: list[str]
    documents: list[str]
    periods: list[str]
    first: np.ndarray  # ordinal of each month's first day
    day0: int
    days: int  # days in the whole history

    def bank(self, day: np.ndarray, cash: np.ndarray | bool = False) -> np.ndarray:
        """Bank statement (WB) or cash receipt (KP) document for each posting day."""
        return 2 + 2 * len(self.first) + (day - self.day0) + np.where(cash, self.days, 0)


def _vocab(pop: Population) -> _Vocab:
    m = pop.months
    months = pop.first_month + np.arange(m)
    first = np.array([first_day(x) for x in months.tolist()] + [first_day(pop.last_month + 1)])
    ym = [(x // 12, x % 12 + 1) for x in months.tolist()]
    days = [date.fromordinal(d) for d in range(first[0], first[-1])]
    doy = [f"{d.timetuple().tm_yday}/{d.year}" for d in days]
    return _Vocab(
        descriptions=[*DESCRIPTIONS]
        + [f"Naliczenie opłat {mm:02d}/{y}" for y, mm in ym]
        + [f"Dodatek mieszkaniowy {mm:02d}/{y}" for y, mm in ym]
        + [f"Wyrównanie zaliczek na wodę za {y - 1}" for y, _ in ym],
        documents=["", f"BO/{ym[0][0]}"]
        + [f"NAL/{mm:02d}/{y}" for y, mm in ym]
        + [f"PK/{mm:02d}/{y}" for y, mm in ym]
        + [f"WB {x}" for x in doy]
        + [f"KP {x}" for x in doy],
        periods=[""] + [f"{y}-{mm:02d}" for y, mm in ym],
        first=first[:-1],
        day0=int(first[0]),
        days=int(first[-1] - first[0]),
    )


def ledger_chunks(pop: Population) -> Iterator[Table]:
    """The ledger table in chunks of premises, each sorted by premises, date, kind of entry."""
    vocab = _vocab(pop)
    for start in range(0, len(pop.premises_ids), CHUNK):
        rng = np.random.default_rng([pop.seed, 1, start // CHUNK])
        yield _ledger_chunk(pop, slice(start, start + CHUNK), rng, vocab)


def _ledger_chunk(pop: Population, s: slice, rng: np.random.Generator, v: _Vocab) -> Table:
    m = pop.months
    mi = np.arange(m)
    months = pop.first_month + mi
    total, occ = pop.monthly_total[s], pop.occupants[s]
    p = len(total)
    divisor = 100 + 5 * (pop.last_month // 12 - months // 12)  # fees rose 5% each January
    charge = (total[:, None] * 100 + divisor // 2) // divisor
    a0 = pop.allow_start[s][:, None]
    allow = np.where((mi >= a0) & (mi <= a0 + 5), pop.allow_amount[s][:, None], 0)
    march = (months % 12 == 2) & (mi >= 1)
    settle = (rng.random((p, m)) < 0.35) & march & (occ > 0)[:, None]
    pct = np.where(
        rng.random((p, m)) < 0.7, -rng.integers(5, 26, (p, m)), rng.integers(5, 21, (p, m))
    )
    corr = np.where(settle, charge * pct // 100, 0)
    net = charge - allow + corr

    habit = rng.choice(5, p, p=HABIT_P)
    habit = np.where(pop.kind[s] == 1, habit % 2, habit)  # businesses pay, if late
    low = np.array([5, 10, 10, 5, 100])[habit]
    high = np.array([30, 150, 200, 100, 600])[habit]
    sign = np.where(habit == STANDING_ORDER, 1, np.where(rng.random(p) < 0.7, -1, 1))
    sign = np.where((habit == MISSES) | (habit == DEBTOR), -1, sign)
    opening = sign * np.maximum(charge[:, 0] * rng.integers(low, high + 1) // 100, 100)

    u, share = rng.random((p, m)), rng.integers(80, 126, (p, m))
    settled = net.copy()
    settled[:, 0] -= opening
    miss = u < 0.12
    caught_up = np.roll(miss, 1, axis=1) & ~miss & (rng.random((p, m)) < 0.6)
    caught_up[:, 0] = False
    late = np.where(miss, 0, net) + np.where(caught_up, np.roll(net, 1, axis=1), 0)
    rounded_up = (net + 4999) // 5000 * 5000
    irregular = np.where(u < 0.15, 0, (net * share // 100 + 500) // 1000 * 1000)
    debtor = np.where(u < 0.6, 0, np.maximum((net * share // 100 + 5000) // 10000 * 10000, 10000))
    pay = np.choose(habit[:, None], [settled, late, rounded_up, irregular, debtor])
    paid = pay > 0
    day = v.first[None, :] + np.where(
        (habit == SETTLED)[:, None], rng.integers(2, 15, (p, m)), rng.integers(4, 27, (p, m))
    )
    cash = rng.random((p, m)) < 0.05
    returned = paid & (habit == IRREGULAR)[:, None] & (rng.random((p, m)) < 0.03)

    refund_at = rng.integers(min(12, m - 1), m, p)
    balance = opening[:, None] + np.cumsum(np.where(paid, pay, 0) + allow - charge - corr, axis=1)
    refund = balance[np.arange(p), refund_at] * 8 // 10 // 100 * 100
    refunded = (habit == STANDING_ORDER) & (rng.random(p) < 0.4) & (refund >= 10000) & (m > 12)

    # Per row: premises, day, entry order, description, document, period, amount, is-a-charge,
    # and an entry code that determines date, description, document and period (the writer
    # formats those four once per code instead of once per row).
    groups: list[tuple[np.ndarray, ...]] = []

    def add(mask, day_, order, desc, doc, period, amount, is_charge, entry):
        r, c = np.nonzero(mask)

        def pick(a):  # the value of each selected cell, from a scalar, month, premises or grid
            a = np.asarray(a)
            if a.ndim == 0:
                return np.full(len(r), a)
            if a.ndim == 1:
                return a[c]
            return a[r, 0] if a.shape[1] == 1 else a.reshape(-1)[r * m + c]

        fields = (day_, order, desc, doc, period, amount, is_charge, entry)
        groups.append((r, *(pick(x) for x in fields)))

    opening_is_debt = (opening < 0)[:, None]
    by_day = 1 + 4 * m - v.day0  # entry codes of postings that differ by day
    add(np.ones((p, 1), bool), v.day0, 0, 0, 1, 0, np.abs(opening)[:, None], opening_is_debt, 0)
    add(np.ones((p, m), bool), v.first, 1, 5 + mi, 2 + mi, 1 + mi, charge, True, 1 + mi)
    add(allow > 0, v.first + 9, 2, 5 + m + mi, v.bank(v.first + 9), 1 + mi, allow, False,
        1 + m + mi)  # fmt: skip
    add(corr != 0, v.first + 14, 3, 5 + 2 * m + mi, 2 + m + mi, 0, corr, True, 1 + 2 * m + mi)
    add(paid, day, 4, np.where(cash, 2, 1), v.bank(day, cash), 0, pay, False,
        by_day + 2 * day + cash)  # fmt: skip
    add(returned, day + 1, 5, 4, v.bank(day + 1), 0, -pay, False, by_day + 2 * v.days + day + 1)
    at = np.zeros((p, m), bool)
    at[np.arange(p), refund_at] = refunded
    add(at, v.first + 25, 6, 3, v.bank(v.first + 25), 0, -refund[:, None], False, 1 + 3 * m + mi)

    r, d, o, desc, doc, per, amount, is_charge, entry = (
        np.concatenate([g[i] for g in groups]) for i in range(9)
    )
    # Rows are unique by (premises, day, entry order); one integer key sorts them at once.
    # The row number rides in the low bits: sorting plain integers is several times faster
    # than an argsort.
    key = (r * (len(v.documents) + 1) + (d - v.day0)) * 8 + o
    order = np.sort((key << 24) | np.arange(len(key))) & ((1 << 24) - 1)
    is_charge = is_charge[order].astype(bool)
    amount = amount[order]
    fused = [(1, 5, entry[order]), (5, 7, amount * 2 + is_charge)]
    return Table(
        "ledger",
        [
            Col("premises_id", "text", r[order], pop.premises_ids[s]),
            Col("date", "date", d[order]),
            Col("description", "text", desc[order], v.descriptions),
            Col("document", "text", doc[order], v.documents),
            Col("period", "text", per[order], v.periods),
            Col("charge", "money", amount, present=is_charge),
            Col("payment", "money", amount, present=~is_charge),
        ],
        fused,
    )
