"""Builders for real-shaped legacy `#` exports: ISO-8859-2 bytes, CRLF or LF, decimal commas,
dates dd/mm/yyyy, periods YYYYMM, exactly as the old ledger system writes them.

A test describes owners, charge lines and payments; the builder derives the cards' monthly
charges and closing balances from them, so a consistent export is the default and each test
breaks exactly the figure it is about. `read`, `rejected` and `publish` run a built export
through the reader or `ebok sync`, for test modules that each hold one shape of real exports.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from etl.legacy import reader as legacy
from etl.model import BundleRejected

ACCOUNT = "61 1090 1014 0000 0712 1981 2874"
ACCOUNT_DIGITS = "61109010140000071219812874"
P1, P2, P3 = (f"KLO11-KLO11-00000-0000{n}M" for n in (1, 2, 4))  # klonowa()'s premises


def zl(grosze: int, sep: str = ",") -> str:
    return f"{Decimal(grosze) / 100:.2f}".replace(".", sep)


@dataclass
class Owner:
    person_id: str
    name: str
    premises: str
    flat: str
    street: str = "Klonowa"
    building: str = "11"
    postal_code: str = "30-001"
    city: str = "Kraków"
    email: str = ""
    share: tuple[str, str] = ("523", "10000")

    def line(self) -> str:
        return "#".join(
            [
                self.person_id, self.name, "", self.premises, self.street, self.building,
                self.flat, self.postal_code, self.city, self.email, "", "", *self.share,
            ]
        )  # fmt: skip


@dataclass
class Charge:
    """A charge line: quantity × price, the total rounded half-up unless given."""

    premises: str
    period: str  # YYYYMM
    line_no: int
    description: str
    quantity: str
    unit: str
    price: str
    total: int | None = None  # grosze
    owner: str = "W000001"

    @property
    def amount(self) -> int:
        if self.total is not None:
            return self.total
        q = Decimal(self.quantity.replace(",", "."))
        p = Decimal(self.price.replace(",", "."))
        return int((q * p).quantize(Decimal("0.01"), ROUND_HALF_UP) * 100)

    def nal_line(self) -> str:
        y, m = int(self.period[:4]), int(self.period[4:])
        last = 28 if m == 2 else 30 if m in (4, 6, 9, 11) else 31
        return "#".join(
            [
                self.owner, self.premises, f"01/{m:02d}/{y}", f"{last}/{m:02d}/{y}",
                self.period, str(self.line_no), self.description, self.quantity, self.unit,
                self.price, zl(self.amount),
            ]
        )  # fmt: skip

    def pow_line(self) -> str:
        return "#".join(
            [
                self.owner, self.premises, str(self.line_no), self.description, self.quantity,
                self.unit, self.price, zl(self.amount),
            ]
        )  # fmt: skip


@dataclass
class CardSpec:
    """A yearly card. Monthly charges default to the charge lines' sums; closing to the
    card's own arithmetic. Override either to make a check fail.

    `payments` and `charges` are keyed by column (1..12). Column 1 stands for January of
    `year`, or for `first_month` (e.g. (2025, 7): columns July 2025 .. June 2026, the way a
    card starting 01/07/2025 may be written); the charge lines' sums are placed accordingly."""

    premises: str
    year: int
    owner: str = "W000001"
    opening_debt: int = 0
    opening_surplus: int = 0
    payments: dict[int, int] = field(default_factory=dict)  # column -> grosze
    charges: dict[int, int] | None = None  # column -> grosze; None: from the charge lines
    closing: int | None = None
    date_from: str = ""  # dd/mm/yyyy; default 01/01/<year>
    date_to: str = ""  # default 31/12/<year>
    first_month: tuple[int, int] | None = None

    def months(self) -> list[tuple[int, int]]:
        year, month = self.first_month or (self.year, 1)
        first = year * 12 + month - 1
        return [(n // 12, n % 12 + 1) for n in range(first, first + 12)]


@dataclass
class LegacyExport:
    community_id: str = "KLO11"
    as_of: str | None = "20261120"
    owners: list[Owner] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # raw lok.txt lines of non-owners
    charges: list[Charge] = field(default_factory=list)
    fees: list[Charge] = field(default_factory=list)
    cards: list[CardSpec] = field(default_factory=list)
    header: str = "Szanowni Państwo,\nod 1 stycznia zmieniają się stawki."
    # None: pow_czynsz.txt as some exports write it, header, one `#` line, the fee lines
    footer: str | None = "Wpłaty prosimy kierować na rachunek wspólnoty."
    crlf: bool = True
    extra_files: dict[str, bytes] = field(default_factory=dict)
    omit: tuple[str, ...] = ()
    # The `.wmb` date files by name (`nalicz_ost_wys.wmb`: "20251130"); None: one file
    # `<id>_ost_wys.wmb` holding `as_of` (no file at all when `as_of` is None too).
    wmb: dict[str, str] | None = None

    def _sums(self) -> dict[tuple[str, int, int], int]:
        sums: dict[tuple[str, int, int], int] = {}
        for c in self.charges:
            key = (c.premises, int(c.period[:4]), int(c.period[4:]))
            sums[key] = sums.get(key, 0) + c.amount
        return sums

    def month_charges(self, premises: str, year: int) -> list[int]:
        sums = self._sums()
        return [sums.get((premises, year, m), 0) for m in range(1, 13)]

    def card_line(self, card: CardSpec, sums: dict | None = None) -> str:
        sums = self._sums() if sums is None else sums
        charges = [sums.get((card.premises, *month), 0) for month in card.months()]
        if card.charges is not None:
            charges = [card.charges.get(m, 0) for m in range(1, 13)]
        payments = [card.payments.get(m, 0) for m in range(1, 13)]
        closing = card.closing
        if closing is None:
            closing = card.opening_surplus - card.opening_debt + sum(payments) - sum(charges)
        months = [zl(v) for pair in zip(charges, payments, strict=True) for v in pair]
        return "#".join(
            [
                card.owner, card.premises, str(card.year), card.date_from or f"01/01/{card.year}",
                card.date_to or f"31/12/{card.year}", zl(card.opening_debt),
                zl(card.opening_surplus), "", "", *months, zl(closing),
            ]
        )  # fmt: skip

    def closing(self, premises: str) -> int:
        """The closing balance of the premises' latest card, as the builder writes it."""
        card = max((c for c in self.cards if c.premises == premises), key=lambda c: c.year)
        line = self.card_line(card).split("#")
        return int(Decimal(line[-1].replace(",", ".")) * 100)

    def files(self) -> dict[str, bytes]:
        nl = "\r\n" if self.crlf else "\n"
        sums = self._sums()

        def encode(lines: list[str]) -> bytes:
            return (nl.join(lines) + nl).encode("iso-8859-2")

        out = {
            "lok.txt": encode([o.line() for o in self.owners] + self.others),
            "nal_czynsz.txt": encode([c.nal_line() for c in self.charges]),
            "pow_czynsz.txt": encode(
                self.header.split("\n")
                + ["#"]
                + ([] if self.footer is None else [*self.footer.split("\n"), "#"])
                + [f.pow_line() for f in self.fees]
            ),  # fmt: skip
            "wplaty.txt": encode([self.card_line(c, sums) for c in self.cards]),
            **{name: encode([when]) for name, when in self.wmb_files().items()},
            **self.extra_files,
        }
        return {k: v for k, v in out.items() if k not in self.omit}

    def wmb_files(self) -> dict[str, str]:
        if self.wmb is not None:
            return dict(self.wmb)
        if self.as_of is None:
            return {}
        return {f"{self.community_id.lower()}_ost_wys.wmb": self.as_of}

    def write(self, parent: Path) -> Path:
        """The community folder, named by its id, inside `parent`."""
        folder = parent / self.community_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.files().items():
            (folder / name).write_bytes(data)
        return folder

    def write_zip(self, path: Path, *, top_folder: bool = True) -> Path:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in self.files().items():
                zf.writestr(f"{self.community_id}/{name}" if top_folder else name, data)
        return path


def klonowa(year: int = 2026) -> LegacyExport:
    """A small community shaped like a real export: co-owners (one with `#` in the name), a
    tenant who is not an owner, a sub-grosz price, a negative correction, arrears, a surplus."""
    p1, p2, p3 = (f"KLO11-KLO11-00000-0000{n}M" for n in (1, 2, 4))
    export = LegacyExport(
        owners=[
            Owner("W000001", "Kowalski Jan", p1, "1", email="jan.kowalski@example.pl"),
            Owner("W000002", "Kowalska Żaneta", p1, "1"),
            Owner("W000003", "Spółka Śląsk #2 Sp. z o.o.", p2, "2", share=("1120", "10000")),
            Owner("W000004", "Źródłowska Ąnna", p3, "4", email="zrodlo@example.pl"),
        ],
        others=[
            "N000009#Najemca Łukasz##" + p3 + "#Klonowa#11#4#30-001#Kraków####0#0",
        ],
    )
    for premises, area, owner in ((p1, "54,30", "W000001"), (p2, "112,00", "W000003")):
        for month in range(1, 12):
            period = f"{year}{month:02d}"
            export.charges += [
                Charge(premises, period, 1, "Zaliczka na koszty zarządu", area, "m2", "2,10",
                       owner=owner),
                Charge(premises, period, 2, "Fundusz remontowy", area, "m2", "3,15",
                       owner=owner),
                Charge(premises, period, 3, "Woda zimna", "3,456789", "m3", "12,3456",
                       owner=owner),
            ]  # fmt: skip
    export.charges.append(
        Charge(p1, f"{year}06", 4, "Wyrównanie zaliczek", "-1", "szt", "85,40", owner="W000001")
    )
    export.charges += [
        Charge(p3, f"{year}{m:02d}", 1, "Zaliczka na koszty zarządu", "40,5", "m2", "2,10")
        for m in range(1, 12)
    ]
    export.fees = [
        Charge(p1, "", 1, "Zaliczka na koszty zarządu", "54,30", "m2", "2,10"),
        Charge(p1, "", 2, "Fundusz remontowy", "54,30", "m2", "3,15"),
        Charge(p1, "", 3, "Woda zimna", "3,456789", "m3", "12,3456"),
        Charge(p2, "", 1, "Zaliczka na koszty zarządu", "112,00", "m2", "2,10"),
        Charge(p3, "", 1, "Zaliczka na koszty zarządu", "40,5", "m2", "2,10"),
    ]
    export.cards = [
        CardSpec(p1, year, opening_debt=12000, payments={m: 33000 for m in range(1, 11)}),
        CardSpec(p2, year, "W000003", opening_surplus=5000,
                 payments={1: 70000, 3: 140000, 7: 200000, 10: -5000, 11: 50000}),
        CardSpec(p3, year, "W000004", payments={m: 8505 for m in range(1, 11)}),
    ]  # fmt: skip
    return export


def communities_toml(path: Path, community_id: str = "KLO11", **fields: str) -> Path:
    values = {
        "name": "Wspólnota Mieszkaniowa Klonowa 11",
        "bank_account": ACCOUNT,
        **fields,
    }
    body = f'[communities."{community_id}"]\n' + "".join(
        f'{k} = "{v}"\n' for k, v in values.items() if v is not None
    )
    path.write_text(body, "utf-8")
    return path


# --- reading and publishing a built export in a test ------------------------------------------


def read(tmp_path: Path, export: LegacyExport, toml: Path | None = None, **kwargs):
    """The export read from a folder under `tmp_path`, with `toml` as its communities.toml;
    without one, a communities.toml for the export's community is written there."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    if toml is None:
        toml = communities_toml(tmp_path / "communities.toml", export.community_id)
    folder = export.write(tmp_path / "inbox")
    return legacy.read_legacy(folder, communities_file=toml, **kwargs)


def rejected(
    tmp_path: Path, export: LegacyExport, toml: Path | None = None, **kwargs
) -> BundleRejected:
    import pytest  # here, not at the top: bench/legacy_bench.py uses these builders too

    with pytest.raises(BundleRejected) as info:
        read(tmp_path, export, toml, **kwargs)
    return info.value


def rows(bundle, premises_id: str) -> list[tuple[str, str, int, int]]:
    """(date, description, charge, payment) of a premises' ledger rows."""
    ledger = bundle.tables["ledger"]
    own = ledger[ledger["premises_id"] == premises_id]
    return list(zip(own["date"], own["description"], own["charge"], own["payment"], strict=True))


def balance(bundle, premises_id: str) -> int:
    return sum(payment - charge for _, _, charge, payment in rows(bundle, premises_id))


def publish(settings, capsys, export: LegacyExport) -> None:
    from ebok.cli import main

    communities_toml(settings.communities_file, export.community_id)
    export.write(settings.inbox_dir)
    status = main(["--data-dir", str(settings.data_dir), "sync", "--min-age", "0"])
    output = capsys.readouterr()
    assert status == 0, output.out + output.err
