"""The optional tables of `ebok demo-data`: meter readings, announcements, community documents.

- Readings: each flat has a cold and a hot water meter, and in a third of the communities a
  heat meter (GJ), in another third a gas meter; a shop (użytkowy) has a cold water meter;
  garages and storerooms have none. One reading at the end of each of the last
  READING_MONTHS months, with its consumption: water by the number of occupants, heat by
  area and season. Values are integers of thousandths, written as exact decimals.
- Announcements: three per community around the as-of date: one until further notice, one
  from just after the as-of date for two months, one that ended before it.
- Documents: five PDFs per community (etl.demo.pdf) in `dokumenty/<community code>/`:
  resolutions, the financial statement, meeting minutes and the house rules.

Randomness comes from a generator of its own ([seed, 2]), so the other tables do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from etl.demo.columns import Col, Table
from etl.demo.ledger import Population, first_day
from etl.demo.pdf import document_pdf

READING_MONTHS = 12
DOCUMENTS_DIR = "dokumenty"
# Meter codes, as the export words them, their serial prefix and unit.
METERS = ("zimna woda", "ciepła woda", "ciepło", "gaz")
SERIAL_PREFIX = ("ZW", "CW", "CO", "G")
UNITS = ("m3", "m3", "GJ", "m3")
# Heating need by calendar month (January first), in thousandths of GJ per m² and month.
HEAT_PER_M2 = (95, 85, 65, 35, 12, 0, 0, 0, 10, 40, 65, 88)


def readings(pop: Population) -> Table:
    rng = np.random.default_rng([pop.seed, 2])
    kind, community, occupants = pop.kind, pop.community, pop.occupants
    flats, shops = kind == 0, kind == 1
    meter_of = [
        (np.flatnonzero(flats | shops), 0),
        (np.flatnonzero(flats), 1),
        (np.flatnonzero(flats & (community % 3 == 0)), 2),
        (np.flatnonzero(flats & (community % 3 == 1)), 3),
    ]
    premises = np.concatenate([p for p, _ in meter_of])
    meter = np.concatenate([np.full(len(p), m) for p, m in meter_of])
    order = np.lexsort((meter, premises))
    premises, meter = premises[order], meter[order]
    count = len(premises)
    months = min(pop.months, READING_MONTHS)
    first = pop.last_month - months + 1
    month = first + np.arange(months)
    ends = np.array([first_day(m + 1) - 1 for m in month.tolist()], dtype=np.int64)

    # Monthly consumption in thousandths of the meter's unit.
    people = np.maximum(occupants[premises], 1)
    noise = rng.uniform(0.7, 1.3, (count, months))
    cold = np.where(kind[premises] == 1, 5000, 2600 * people)[:, None] * noise
    hot = (1100 * people)[:, None] * noise
    area = (pop.area[premises] // 100)[:, None]
    season = np.array([HEAT_PER_M2[m % 12] for m in month.tolist()])[None, :]
    heat = area * season * noise / 10
    gas = 9000 * noise
    used = np.select(
        [meter[:, None] == 0, meter[:, None] == 1, meter[:, None] == 2],
        [cold, hot, heat],
        gas,
    ).astype(np.int64)
    start = rng.integers(5_000, 900_000, count)[:, None]
    value = start + np.cumsum(used, axis=1)
    serial_number = rng.integers(10_000_000, 99_999_999, count)
    serials = [
        f"{SERIAL_PREFIX[m]}-{s}"
        for m, s in zip(meter.tolist(), serial_number.tolist(), strict=True)
    ]
    rows = np.repeat(np.arange(count), months)
    return Table(
        "readings",
        [
            Col("premises_id", "text", premises[rows], pop.premises_ids),
            Col("meter", "text", meter[rows], METERS),
            Col("serial", "text", rows, serials),
            Col("date", "date", np.tile(ends, count)),
            Col("reading", "dec", value.reshape(-1), scale=3),
            Col("unit", "text", meter[rows], UNITS),
            Col("consumption", "dec", used.reshape(-1), scale=3),
        ],
    )


@dataclass(frozen=True)
class _Community:
    id: str
    code: str
    name: str
    street: str


def announcements(communities: list[_Community], as_of: date) -> Table:
    rows: list[tuple[int, date, date | None, str, str]] = []
    for c, com in enumerate(communities):
        rows += [
            (
                c,
                as_of - timedelta(days=11),
                None,
                "Dyżury zarządcy i kontakt w sprawie rozliczeń",
                f"Zarządca nieruchomości {com.street} pełni dyżur w każdy wtorek w godz. "
                "16:00–18:00 w lokalu administracji.\n\n"
                "W sprawie rozliczeń prosimy pisać na adres biuro@zarzadca.example.pl lub "
                "dzwonić pod numer 12 345 67 89. Odpowiadamy w ciągu 3 dni roboczych.\n\n"
                "Aktualne informacje: https://www.zarzadca.example.pl/wspolnoty",
            ),
            (
                c,
                as_of + timedelta(days=2),
                as_of + timedelta(days=61),
                "Odczyt wodomierzy i przegląd instalacji gazowej",
                "W dniach 16–18 grudnia odbędzie się odczyt wodomierzy oraz coroczny przegląd "
                "szczelności instalacji gazowej.\n\n"
                "Prosimy o udostępnienie lokali w godz. 8:00–15:00 (przegląd trwa <15 minut). "
                "Osoby nieobecne prosimy o kontakt z administracją w celu ustalenia innego "
                "terminu.",
            ),
            (
                c,
                as_of - timedelta(days=60),
                as_of - timedelta(days=30),
                "Zebranie ogółu właścicieli – zmiana sali",
                "Zebranie odbędzie się w sali nr 2 Domu Kultury.",
            ),
        ]
    com_ids = [com.id for com in communities]
    return Table(
        "announcements",
        [
            Col("community_id", "text", np.array([r[0] for r in rows]), com_ids),
            Col("valid_from", "date", np.array([r[1].toordinal() for r in rows])),
            Col(
                "valid_to",
                "date",
                np.array([(r[2] or r[1]).toordinal() for r in rows]),
                present=np.array([r[2] is not None for r in rows]),
            ),
            Col("title", "text", np.arange(len(rows)), [r[3] for r in rows]),
            Col("text", "text", np.arange(len(rows)), [r[4] for r in rows]),
        ],
    )


def documents(communities: list[_Community], as_of: date) -> tuple[Table, dict[str, bytes]]:
    """The documents table and the PDFs, by their names inside the documents folder."""
    year = as_of.year
    meeting = date(year, 3, 25)
    rows: list[tuple[int, date, str, str, str]] = []
    files: dict[str, bytes] = {}
    for c, com in enumerate(communities):
        items = [
            (
                meeting,
                f"Uchwała nr 1/{year} w sprawie zatwierdzenia planu gospodarczego na rok {year}",
                "uchwała",
                f"uchwala-01-{year}.pdf",
                [
                    f"Właściciele lokali {com.name} zatwierdzają plan gospodarczy na rok "
                    f"{year} w brzmieniu stanowiącym załącznik do uchwały.",
                    "Uchwała wchodzi w życie z dniem podjęcia.",
                ],
            ),
            (
                meeting,
                f"Uchwała nr 2/{year} w sprawie wysokości zaliczek na fundusz remontowy",
                "uchwała",
                f"uchwala-02-{year}.pdf",
                [
                    "Ustala się zaliczkę na fundusz remontowy w wysokości 3,15 zł za m² "
                    "powierzchni użytkowej lokalu miesięcznie, od 1 stycznia.",
                    "Uchwała wchodzi w życie z dniem podjęcia.",
                ],
            ),
            (
                meeting,
                f"Protokół z zebrania ogółu właścicieli lokali z dnia {meeting:%d.%m.%Y}",
                "protokół",
                f"protokol-{meeting:%Y-%m-%d}.pdf",
                [
                    f"Zebranie ogółu właścicieli lokali {com.name} otworzył zarządca.",
                    "Podjęto uchwały nr 1 i 2. Wolne wnioski: remont klatki schodowej.",
                ],
            ),
            (
                date(year, 3, 10),
                f"Sprawozdanie finansowe za rok {year - 1}",
                "sprawozdanie finansowe",
                f"sprawozdanie-{year - 1}.pdf",
                [
                    f"Sprawozdanie finansowe {com.name} za rok {year - 1}: bilans, rachunek "
                    "wyników i informacja dodatkowa.",
                ],
            ),
            (
                date(year - 2, 6, 12),
                "Regulamin porządku domowego",
                "regulamin",
                "regulamin-porzadku-domowego.pdf",
                [
                    "Cisza nocna obowiązuje w godzinach 22:00–6:00.",
                    "Rowery i wózki przechowuje się w wózkowni, nie na klatce schodowej.",
                ],
            ),
        ]
        for day, title, kind, name, paragraphs in items:
            path = f"{com.code}/{name}"
            files[path] = document_pdf(title, [com.name, com.street, *paragraphs])
            rows.append((c, day, title, kind, path))
    com_ids = [com.id for com in communities]
    n = np.arange(len(rows))
    return (
        Table(
            "documents",
            [
                Col("community_id", "text", np.array([r[0] for r in rows]), com_ids),
                Col("date", "date", np.array([r[1].toordinal() for r in rows])),
                Col("title", "text", n, [r[2] for r in rows]),
                Col("kind", "text", n, [r[3] for r in rows]),
                Col("file", "text", n, [r[4] for r in rows]),
            ],
        ),
        files,
    )


def community_list(ids: list[str], codes: list[str], names: list[str], streets: list[str]):
    return [_Community(*c) for c in zip(ids, codes, names, streets, strict=True)]
