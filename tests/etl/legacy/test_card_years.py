"""The years a real export's cards cover (other importers of the same format meet these
shapes): a card that starts in July, July..December or July..June, and one year per export,
the next year's opening continuing the published closing. Dates of an export are in
test_export_dates.py, the shapes of its lines in test_line_shapes.py. Each test checks the
figures and wording a resident sees."""

from __future__ import annotations

import pytest

from etl.legacy import reader as legacy
from etl.model import BundleRejected
from etl.snapshot.store import SnapshotStore
from tests.builders import ledger_row, make_document, page, publish_documents
from tests.etl.legacy_builders import (
    P1,
    P2,
    CardSpec,
    Charge,
    LegacyExport,
    Owner,
    balance,
    communities_toml,
    klonowa,
    publish,
    read,
    rejected,
    rows,
)

# --- a card that starts on 1 July ---------------------------------------------------------

ZALICZKA = 11403  # 54,30 m² × 2,10


def july(first_month: tuple[int, int] | None, *, lines: bool = True) -> LegacyExport:
    """P1's card starts 01/07/2025 (the books begin in July), 114,03 charged a month and paid
    July to November. `first_month` (2025, 7): the card's columns run from July; None: they
    are January..December, July's in column 7."""
    shift = 0 if first_month else 6
    export = LegacyExport(
        as_of="20251231",
        owners=[Owner("W000001", "Kowalski Jan", P1, "1")],
        charges=[
            Charge(P1, f"2025{m:02d}", 1, "Zaliczka na koszty zarządu", "54,30", "m2", "2,10")
            for m in range(7, 13)
        ],
        cards=[
            CardSpec(
                P1,
                2025,
                opening_debt=5000,
                date_from="01/07/2025",
                first_month=first_month,
                payments={c + shift: ZALICZKA for c in range(1, 6)},
            ),
        ],  # fmt: skip
    )
    if not lines:
        export.cards[0].charges = {c + shift: ZALICZKA for c in range(1, 7)}
        export.charges = []
        export.omit = ("nal_czynsz.txt",)
    return export


JULY_ROWS = [
    ("2025-07-01", "Bilans otwarcia", 5000, 0),
    ("2025-07-01", "Naliczenie 07/2025", ZALICZKA, 0),
    ("2025-07-31", "Wpłaty 07/2025", 0, ZALICZKA),
]


@pytest.mark.parametrize("first_month", [(2025, 7), None], ids=["from-july", "jan-dec"])
@pytest.mark.parametrize("lines", [True, False], ids=["with-lines", "card-only"])
def test_a_card_from_july_dates_julys_rows_in_july(tmp_path, first_month, lines):
    export = july(first_month, lines=lines)
    bundle = read(tmp_path, export)
    shown = sorted(rows(bundle, P1))
    assert shown[:3] == sorted(JULY_ROWS)
    assert min(r[0] for r in shown) == "2025-07-01"  # nothing before the card starts
    charges = [(r[0], r[1]) for r in shown if r[2] and r[1].startswith("Naliczenie")]
    assert charges == [(f"2025-{m:02d}-01", f"Naliczenie {m:02d}/2025") for m in range(7, 13)]
    assert ("2025-11-30", "Wpłaty 11/2025", 0, ZALICZKA) in shown
    assert balance(bundle, P1) == export.closing(P1) == -5000 - ZALICZKA
    how = "from its start month" if first_month else "as January..December"
    (warning,) = [w for w in bundle.warnings if "starts 01/07/2025" in w]
    assert how in warning and "KLO11/wplaty.txt, line 1" in warning


def test_a_july_to_june_card_runs_into_the_next_year(tmp_path):
    export = july((2025, 7), lines=False)
    card = export.cards[0]
    card.date_to = "30/06/2026"
    card.charges = {c: ZALICZKA for c in range(1, 13)}
    export.as_of = "20260630"
    bundle = read(tmp_path, export)
    charged = [r[1] for r in rows(bundle, P1) if r[2] and r[1].startswith("Naliczenie")]
    assert charged[0] == "Naliczenie 07/2025" and charged[-1] == "Naliczenie 06/2026"
    assert ("2026-06-01", "Naliczenie 06/2026", ZALICZKA, 0) in rows(bundle, P1)
    assert balance(bundle, P1) == export.closing(P1)


def test_a_july_card_that_no_reading_fits_is_refused_with_its_line(tmp_path):
    export = july(None, lines=False)
    export.cards[0].charges = {c: ZALICZKA for c in range(1, 13)}  # 12 months in July..Dec
    (problem,) = rejected(tmp_path, export).problems
    assert (problem.file, problem.row, problem.column) == ("KLO11/wplaty.txt", 1, "date from")
    assert problem.value == "01/07/2025" and P1 in problem.reason


def test_a_july_card_is_checked_against_the_charge_lines_of_its_own_months(tmp_path):
    export = july((2025, 7))
    export.cards[0].charges = {c: ZALICZKA for c in range(1, 7)}
    export.cards[0].charges[2] += 100  # August on the card: 115,03; the lines say 114,03
    (problem,) = rejected(tmp_path, export).problems
    assert (problem.row, problem.column) == (1, "charges 02")
    assert "period 202508" in problem.reason and "115,03" in problem.reason


def test_the_resident_sees_the_july_card_from_july(settings, capsys, signed_in):
    export = july((2025, 7))
    publish(settings, capsys, export)
    ledger = page(signed_in(P1, login="kowalski"), P1, "ledger")
    assert "Naliczenie 07/2025" in ledger and "01.07.2025" in ledger and "31.07.2025" in ledger
    assert "Naliczenie 01/2025" not in ledger
    assert "Dane według stanu na 31.12.2025" in ledger


# --- one year per export: the next year's opening continues the published closing ----------


def test_next_years_export_may_differ_from_the_published_closing_by_a_grosz(settings, capsys):
    first = klonowa(2025)
    first.as_of = "20251231"
    publish(settings, capsys, first)
    following = klonowa(2026)
    following.as_of = "20261231"  # the whole year: the next export is compared with it
    for card in following.cards:
        closing = first.closing(card.premises) + 1  # 0,01 over: tolerated
        card.opening_debt, card.opening_surplus = max(-closing, 0), max(closing, 0)
    publish(settings, capsys, following)
    document = SnapshotStore(settings.snapshots_dir).current().document(P2)
    assert document["totals"]["balance"] == following.closing(P2)

    again = klonowa(2027)
    again.as_of = "20271120"
    for card in again.cards:
        closing = following.closing(card.premises) + (2 if card.premises == P1 else 0)
        card.opening_debt, card.opening_surplus = max(-closing, 0), max(closing, 0)
    toml = communities_toml(settings.data_dir / "c.toml")
    store = SnapshotStore(settings.snapshots_dir)
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(again.write(settings.data_dir / "x"), communities_file=toml,
                           previous=store.current())  # fmt: skip
    (problem,) = info.value.problems  # P1's opening, 0,02 off
    assert problem.column == "opening balance" and P1 in problem.reason


def test_published_data_that_stopped_before_the_year_end_is_not_compared(tmp_path, store):
    published = make_document(
        P1,
        community_id="KLO11",
        as_of="2025-11-30",
        ledger=[ledger_row("2025-11-01", "Naliczenie 11/2025", charge=11900)],
    )
    previous = publish_documents(store, [published])
    bundle = read(tmp_path, klonowa(2026), previous=previous)  # opens with 120,00 owed
    (warning,) = [w for w in bundle.warnings if "not compared" in w]
    assert P1 in warning and "30/11/2025" in warning

    published["community"]["as_of"] = "2025-12-31"  # the year's end: compared, and refused
    previous = publish_documents(store, [published])
    (problem,) = rejected(tmp_path / "again", klonowa(2026), previous=previous).problems
    assert problem.column == "opening balance" and "-119,00" in problem.reason
